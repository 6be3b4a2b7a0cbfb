//! Settings → Prices: the workspace's own model prices, the models seen without a price, and
//! the re-pricing jobs a change starts.

use crate::state::codec::resource;
use argus_types::{PriceJob, Prices, Role, WorkspacePrice};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::prices::{get_prices, RemovePrice, SetPrice};
use crate::components::forms::ActionError;
use crate::components::page::LoadError;
use crate::components::prices::{usd, PriceForm, UnpricedTable};
use crate::components::settings_nav::SettingsNav;
use crate::format::date;
use crate::format::thousands;
use crate::state::session::use_session;
use crate::state::session::{my_role, role_now};

#[component]
pub fn PricesPage() -> impl IntoView {
    let session = use_session();
    let set = ServerAction::<SetPrice>::new();
    let remove = ServerAction::<RemovePrice>::new();
    let prices = resource(
        move || (set.version().get(), remove.version().get()),
        |_| get_prices(),
    );
    let query = use_query_map();
    let prefill = Signal::derive(move || query.with(|q| q.get("price_for")).unwrap_or_default());
    let role = my_role();
    let can_manage = move || role.get().is_some_and(|r| r >= Role::Admin);
    let queued = move || {
        set.value()
            .get()
            .or_else(|| remove.value().get())
            .and_then(|r| r.ok())
    };
    view! {
        <Title text="Prices · Argus" />
        <div class="page-header"><div><h1>"Settings"</h1></div></div>
        <SettingsNav />
        <section class="card">
            <h2>"Model prices"</h2>
            <p class="muted">
                "A span's cost is the cost it sent (" <code>"gen_ai.usage.cost"</code>
                "), else this workspace's price for its model, else the built-in catalog. "
                "Prices are USD per million tokens; a price for " <code>"gpt-4o"</code>
                " also applies to dated and routed names such as " <code>"gpt-4o-2024-08-06"</code>
                ". Saving or removing a price re-prices the model's past spans in the background."
            </p>
            {move || queued().map(|job| view! {
                <div class="callout callout-ok" role="status" data-testid="price-queued">
                    <p>{format!("Saved. Re-pricing the past spans of {} in the background.", job.model)}</p>
                </div>
            })}
            <Transition>
                {move || can_manage().then(|| view! {
                    <PriceForm action=set prefill />
                    <ActionError action=set />
                    <ActionError action=remove />
                })}
            </Transition>
            <Transition fallback=|| view! { <p class="muted">"Loading prices…"</p> }>
                {move || Suspend::new(async move {
                    let manage = role_now(session).await.is_some_and(|r| r >= Role::Admin);
                    match prices.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(p) => view! { <PriceSections prices=p remove manage /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The form setting a workspace price (admins), pre-filled with `prefill` as the model.
#[component]
fn PriceSections(prices: Prices, remove: ServerAction<RemovePrice>, manage: bool) -> impl IntoView {
    let Prices {
        workspace,
        unpriced,
        jobs,
        catalog_version,
    } = prices;
    view! {
        <h3>"This workspace's prices"</h3>
        {if workspace.is_empty() {
            view! {
                <p class="empty" data-testid="no-prices">
                    "No workspace prices: every model is priced by the built-in catalog (version "
                    {catalog_version} ")."
                </p>
            }.into_any()
        } else {
            view! { <PriceTable prices=workspace remove manage /> }.into_any()
        }}
        <h3>"Models without a price"</h3>
        {if unpriced.is_empty() {
            view! { <p class="empty" data-testid="no-unpriced">"Every model seen has a price."</p> }.into_any()
        } else {
            view! { <UnpricedTable models=unpriced manage form_path="/settings/prices" /> }.into_any()
        }}
        {(!jobs.is_empty()).then(|| view! {
            <h3>"Re-pricing"</h3>
            <JobTable jobs />
            <p><a href="/settings/prices">"Refresh"</a></p>
        })}
    }
}

#[component]
fn PriceTable(
    prices: Vec<WorkspacePrice>,
    remove: ServerAction<RemovePrice>,
    manage: bool,
) -> impl IntoView {
    view! {
        <div class="table-scroll" tabindex="0"><table class="table" data-testid="price-table">
            <thead>
                <tr>
                    <th>"Model"</th><th class="num">"Input"</th><th class="num">"Output"</th>
                    <th class="num">"Cached input"</th><th class="num">"Cache write"</th><th>"Updated"</th><th></th>
                </tr>
            </thead>
            <tbody>
                {prices.into_iter().map(|p| {
                    let model = p.model.clone();
                    view! {
                        <tr data-testid="price-row">
                            <td class="mono">{p.model.clone()}</td>
                            <td class="num">{usd(p.input)}</td>
                            <td class="num">{usd(p.output)}</td>
                            <td class="num">{p.cached_input.map_or_else(|| "= input".to_owned(), usd)}</td>
                            <td class="num">{p.cache_write.map_or_else(|| "= input".to_owned(), usd)}</td>
                            <td>{date(&p.updated_at)}</td>
                            <td>
                                {manage.then(|| view! {
                                    <ActionForm action=remove>
                                        <input type="hidden" name="model" value=model />
                                        <button type="submit" class="button button-danger button-small">"Remove"</button>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
}

/// The models seen without a price; for admins, each links to the price form on `form_path`.
#[component]
fn JobTable(jobs: Vec<PriceJob>) -> impl IntoView {
    view! {
        <div class="table-scroll" tabindex="0"><table class="table" data-testid="job-table">
            <thead>
                <tr><th>"Model"</th><th>"Status"</th><th class="num">"Spans re-priced"</th><th>"Started"</th><th>"Finished"</th></tr>
            </thead>
            <tbody>
                {jobs.into_iter().map(|j| view! {
                    <tr data-testid="job-row">
                        <td class="mono">{j.model.clone()}</td>
                        <td title=j.error.clone().unwrap_or_default()>{j.status.as_str()}</td>
                        <td class="num">{thousands(j.spans_updated.max(0) as u64)}</td>
                        <td>{date(&j.created_at)}</td>
                        <td>{j.finished_at.as_ref().map_or_else(String::new, date)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
}
