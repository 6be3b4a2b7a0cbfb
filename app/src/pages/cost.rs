//! Cost: cost over time stacked by department, by department, model and agent with the cost
//! per 1,000 requests, each department's month-to-date and projected month-end (the method
//! stated), and the models without a price with the form to add one (admins). Filters live in
//! the URL; the page renders on the server and works without JavaScript.

use crate::state::codec::resource;
use argus_types::{CostReport, CostRow, Dimension, Filters, MonthProjection, Role, Unit};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::metrics::{get_cost_report, get_filter_options};
use crate::api::prices::{get_prices, SetPrice};
use crate::components::charts::StackedChart;
use crate::components::filter_bar::FilterBar;
use crate::components::forms::ActionError;
use crate::components::page::{updated_label, DataHeader, LoadError, Loaded, Notices};
use crate::components::prices::{PriceForm, UnpricedTable};
use crate::format;
use crate::state::filters::{href, use_filter_memory, use_filters, use_refresh};
use crate::state::prefs::{use_prefs, ChartKindPicker};
use crate::state::query_cache::use_page_data;
use crate::state::session::use_session;
use crate::state::session::{my_role, role_now};

const PATH: &str = "/cost";

#[component]
pub fn CostPage() -> impl IntoView {
    let filters = use_filters();
    use_filter_memory(PATH);
    let (tick, refresh) = use_refresh(Signal::derive(|| 30));
    let report = use_page_data("cost", filters, tick, |f| get_cost_report(f, Some(true)));
    let options = resource(|| (), |_| get_filter_options());
    let updated = Signal::derive(move || {
        report
            .get()
            .and_then(|r| r.ok())
            .map(|r| updated_label(&r.window, r.generated_at))
    });
    view! {
        <Title text="Cost · Argus" />
        <DataHeader title="Cost"
            subtitle="What the agents cost: over time, by department, model and agent, and where the month is heading."
            updated refresh=Callback::new(move |_| refresh()) />
        <Transition>
            {move || Suspend::new(async move {
                let opts = options.await.unwrap_or_default();
                view! { <FilterBar path=PATH options=opts /> }
            })}
        </Transition>
        <Loaded resource=report skeleton="kpi-grid"
            view=move |r| view! { <CostView report=r filters=filters.get_untracked() /> } />
        <Unpriced />
    }
}

#[component]
fn Card(label: &'static str, value: String, testid: &'static str, note: String) -> impl IntoView {
    view! {
        <section class="card kpi" data-testid=testid>
            <h3>{label}</h3>
            <p class="kpi-value" data-testid="kpi-value">{value}</p>
            <p class="muted">{note}</p>
        </section>
    }
}

#[component]
fn CostView(report: CostReport, filters: Filters) -> impl IntoView {
    let prefs = use_prefs();
    let mtd: f64 = report.projections.iter().map(|p| p.month_to_date_usd).sum();
    let projected: f64 = report.projections.iter().map(|p| p.projected_usd).sum();
    let usd = |v: f64| format::value(Unit::Usd, Some(v));
    let what = if filters.model.is_some() {
        "calls"
    } else {
        "requests"
    };
    let title = format!("Cost by department, {}", report.window.label);
    let steps = report.steps.clone();
    let step_seconds = report.window.step_seconds;
    let series: Vec<(String, Vec<f64>)> = report
        .series
        .iter()
        .map(|s| (s.key.clone(), s.values.clone()))
        .collect();
    view! {
        <Notices notices=report.notices.clone() />
        <div class="kpi-grid">
            <Card label="Cost" testid="cost-total" value=usd(report.total_usd)
                note=format!("{} vs previous", format::change(Some(report.total_usd), Some(report.previous_usd))) />
            <Card label="Requests" testid="cost-requests"
                value=format::value(Unit::Count, Some(report.requests as f64))
                note=format!("{what} in {}", report.window.label.to_lowercase()) />
            <Card label="Per 1,000 requests" testid="cost-per-1k"
                value=format::value(Unit::Usd, report.per_1k_requests) note="cost ÷ requests × 1,000".into() />
            <Card label="Month to date" testid="cost-mtd" value=usd(mtd) note=report.month.clone() />
            <Card label="Projected month-end" testid="cost-projected" value=usd(projected)
                note="from the last 7 days' trend".into() />
        </div>
        <section class="card">
            <div class="card-header">
                <h2>"Cost over time by department"</h2>
                <ChartKindPicker />
            </div>
            {move || view! {
                <StackedChart steps=steps.clone() series=series.clone() step_seconds unit=Unit::Usd
                    title=title.clone() kind=prefs.with(|p| p.chart) />
            }}
        </section>
        <section class="card" data-testid="projections">
            <h2>{format!("This month ({})", report.month)}</h2>
            <p class="muted" data-testid="projection-method">{report.projection_method.clone()}
                " The range filter does not apply here; the other filters do."</p>
            <ProjectionTable rows=report.projections.clone() />
        </section>
        <crate::pages::alerts::Budgets />
        <div class="card-grid">
            <section class="card">
                <h2>"By department"</h2>
                <CostTable rows=report.by_department.clone() dim=Dimension::Department filters=filters.clone() />
            </section>
            <section class="card">
                <h2>"By model"</h2>
                <CostTable rows=report.by_model.clone() dim=Dimension::Model filters=filters.clone() />
            </section>
        </div>
        <section class="card">
            <h2>"By agent"</h2>
            <CostTable rows=report.by_agent dim=Dimension::Agent filters />
        </section>
    }
}

#[component]
fn ProjectionTable(rows: Vec<MonthProjection>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="empty">"No cost this month yet."</p> }.into_any();
    }
    let usd = |v: f64| format::value(Unit::Usd, Some(v));
    view! {
        <div class="table-scroll" tabindex="0"><table class="table" data-testid="projection-table">
            <thead><tr><th>"Department"</th><th class="num">"Month to date"</th>
                <th class="num">"Daily rate (last 7 days)"</th><th class="num">"Projected month-end"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|p| view! {
                    <tr data-testid="projection-row">
                        <td>{p.department}</td>
                        <td class="num">{usd(p.month_to_date_usd)}</td>
                        <td class="num">{usd(p.daily_rate_usd)}</td>
                        <td class="num">{usd(p.projected_usd)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
    .into_any()
}

/// Cost rows, costliest first, each linking to the page filtered to it.
#[component]
fn CostTable(rows: Vec<CostRow>, dim: Dimension, filters: Filters) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="empty">"No cost in this range."</p> }.into_any();
    }
    view! {
        <div class="table-scroll" tabindex="0"><table class="table" data-testid=format!("cost-by-{}", dim.key())>
            <thead><tr><th>{dim.label()}</th><th class="num">"Requests"</th><th class="num">"Cost"</th>
                <th class="num">"Per 1,000"</th><th class="num">"Unpriced spans"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let name = if r.key.starts_with('(') {
                        view! { <span class="muted">{r.key.clone()}</span> }.into_any()
                    } else {
                        let link = href(PATH, &filters.with_dim(dim, &r.key));
                        view! { <a href=link>{r.key.clone()}</a> }.into_any()
                    };
                    view! {
                        <tr data-testid="cost-row">
                            <td>{name}</td>
                            <td class="num">{format::value(Unit::Count, Some(r.requests as f64))}</td>
                            <td class="num">{format::value(Unit::Usd, Some(r.cost_usd))}</td>
                            <td class="num">{format::value(Unit::Usd, r.per_1k_requests)}</td>
                            <td class="num">{(r.unpriced_spans > 0).then(|| format::thousands(r.unpriced_spans as u64))}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
    .into_any()
}

/// The models without a price; admins add one here (the form posts and comes back, and the
/// past spans are re-priced in the background).
#[component]
fn Unpriced() -> impl IntoView {
    let session = use_session();
    let set = ServerAction::<SetPrice>::new();
    let prices = resource(move || set.version().get(), |_| get_prices());
    let query = use_query_map();
    let prefill = Signal::derive(move || query.with(|q| q.get("price_for")).unwrap_or_default());
    let role = my_role();
    let can_manage = move || role.get().is_some_and(|r| r >= Role::Admin);
    view! {
        <section class="card" data-testid="unpriced">
            <h2>"Models without a price"</h2>
            <p class="muted">"Their spans have tokens but no cost, so the numbers above leave them out. "
                "Add a price and their past spans are re-priced in the background; all prices are in "
                <a href="/settings/prices">"Settings → Prices"</a> "."</p>
            {move || set.value().get().and_then(|r| r.ok()).map(|job| view! {
                <div class="callout callout-ok" role="status" data-testid="price-queued">
                    <p>{format!("Saved. Re-pricing the past spans of {} in the background.", job.model)}</p>
                </div>
            })}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let manage = role_now(session).await.is_some_and(|r| r >= Role::Admin);
                    match prices.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(p) if p.unpriced.is_empty() => view! {
                            <p class="empty" data-testid="no-unpriced">"Every model seen has a price."</p>
                        }.into_any(),
                        Ok(p) => view! { <UnpricedTable models=p.unpriced manage form_path=PATH /> }.into_any(),
                    }
                })}
            </Transition>
            <Transition>
                {move || can_manage().then(|| view! {
                    <PriceForm action=set prefill />
                    <ActionError action=set />
                })}
            </Transition>
        </section>
    }
}
