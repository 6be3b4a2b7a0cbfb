//! Home: the workspace's KPIs over the chosen range and filters, requests and errors over time,
//! and the agents that cost most and fail most. Filters live in the URL (shareable; rendered on
//! the server, so a pasted link shows exactly that page without JavaScript); the data refetches
//! every 30 seconds while the tab is visible (`?refresh=N` changes the interval), keeping the
//! old numbers on screen until the new ones arrive.

use crate::state::codec::{resource, Json};
use argus_types::{Activity, AgentStat, ConnectInfo, Dimension, Filters, HomeKpis, Unit};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::metrics::{get_filter_options, get_home};
use crate::api::system::get_connect;
use crate::components::charts::RequestsChart;
use crate::components::connect::{use_connect, ConnectPanel};
use crate::components::filter_bar::FilterBar;
use crate::components::kpi_card::{kpi_traces, KpiCard};
use crate::components::page::{updated_label, Loaded, Notices};
use crate::error::AppError;
use crate::format;
use crate::state::filters::{href, use_filter_memory, use_filters, use_refresh};
use crate::state::query_cache::use_page_data;
use crate::state::session::use_session;

const PATH: &str = "/";

#[component]
pub fn HomePage() -> impl IntoView {
    let session = use_session();
    let filters = use_filters();
    use_filter_memory(PATH);
    let query = use_query_map();
    let refresh_seconds = Signal::derive(move || {
        query.with(|q| {
            q.get("refresh")
                .and_then(|v| v.trim_end_matches('s').parse::<u64>().ok())
                .unwrap_or(30)
        })
    });
    let (tick, refresh) = use_refresh(refresh_seconds);
    let home = use_page_data("home", filters, tick, |f| get_home(f, Some(true)));
    let options = resource(move || tick.get() / 10, |_| get_filter_options());
    let alerts = resource(move || tick.get(), |_| crate::api::alerts::get_alert_feed());
    // A workspace that never received a trace gets the setup panel instead of empty cards:
    // `setup` (read once) decides, `connect` (polled until a trace arrives) fills the panel,
    // which stays until the page is left, its link to the first trace in it.
    let setup = resource(|| (), |_| get_connect());
    let connect = use_connect();
    view! {
        <Title text="Home · Argus" />
        <Transition fallback=|| view! { <div class="card skeleton" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                session.0.await.ok().flatten().map(|s| view! {
                    <div class="page-header">
                        <div>
                            <h1 data-testid="home-title">{s.workspace.name.clone()}</h1>
                            <p class="muted">
                                "Signed in as " {s.name.clone()} " · "
                                <span data-testid="home-role">{s.workspace.role.label()}</span>
                            </p>
                        </div>
                        <div class="page-actions">
                            <Transition>
                                {move || Suspend::new(async move {
                                    home.await.ok().map(|h| view! {
                                        <span class="muted" data-testid="last-updated">
                                            {updated_label(&h.kpis.window, h.kpis.generated_at)}
                                        </span>
                                    })
                                })}
                            </Transition>
                            <button type="button" class="button button-secondary button-small"
                                data-testid="refresh" on:click=move |_| refresh()>"Refresh"</button>
                        </div>
                    </div>
                })
            })}
        </Transition>
        <Transition>
            {move || Suspend::new(async move {
                let opts = options.await.unwrap_or_default();
                view! { <FilterBar path=PATH options=opts /> }
            })}
        </Transition>
        <Transition>
            {move || Suspend::new(async move {
                // Shown only while something fires or is pending (or a budget is in trouble).
                alerts.await.ok().filter(|f| !(f.firing.is_empty() && f.pending.is_empty() && f.budgets.is_empty())).map(|f| view! {
                    <section class="card" aria-label="Alerts" data-testid="home-alerts">
                        <h2><a href="/alerts">{format!("Alerts: {} firing, {} pending", f.firing.len(), f.pending.len())}</a></h2>
                        {(!(f.firing.is_empty() && f.pending.is_empty())).then(|| view! {
                            <div class="table-scroll" tabindex="0"><table class="table compact">
                                <thead><tr><th>"State"</th><th>"Rule"</th><th>"Why"</th><th class="num">"Value"</th><th>"Since"</th><th></th></tr></thead>
                                <tbody>{f.firing.into_iter().chain(f.pending).take(10).map(|i| view! {
                                    <crate::pages::alerts::InstanceRow i />
                                }).collect_view()}</tbody>
                            </table></div>
                        })}
                        {f.budgets.into_iter().map(|b| {
                            let who = if b.scope_value.is_empty() { "The workspace".to_owned() } else { b.scope_value.clone() };
                            view! { <p data-testid="home-budget">{format!("{who}: {} of {} this month{}", format::value(Unit::Usd, Some(b.spent_usd)), format::value(Unit::Usd, Some(b.amount_usd)),
                                b.exceeds_on.map(|d| format!(", projected to run out on {}", d.format("%b %-d"))).unwrap_or_default())}</p> }
                        }).collect_view()}
                    </section>
                })
            })}
        </Transition>
        <Transition>
            {move || Suspend::new(async move {
                setup.await.ok().filter(|i| i.latest_trace.is_none()).map(|_| view! {
                    <ConnectPanel info=connect home=true />
                })
            })}
        </Transition>
        <Loaded resource=home skeleton="kpi-grid" view=move |h| view! { <Kpis kpis=h.kpis filters setup /> } />
        <section class="card">
            <h2>"Requests and errors"</h2>
            <Loaded resource=home skeleton="chart" view=move |h| view! {
                <RequestsChart points=h.series.points step_seconds=h.series.window.step_seconds
                    title=format!("Requests and errors, {}", h.series.window.label)
                    traces=filters.get_untracked().without_period().to_query() />
            } />
        </section>
        <section class="card">
            <h2>"Activity"</h2>
            <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    home.await.ok().map(|h| view! { <ActivityList activity=h.activity filters=filters.get_untracked() /> })
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Kpis(
    kpis: HomeKpis,
    filters: Memo<Filters>,
    setup: Resource<Result<ConnectInfo, AppError>, Json>,
) -> impl IntoView {
    let empty = kpis
        .kpis
        .iter()
        .find(|k| k.key == "requests")
        .and_then(|k| k.value)
        .unwrap_or(0.0)
        == 0.0
        && kpis.kpis.iter().all(|k| k.value.unwrap_or(0.0) == 0.0);
    view! {
        <Notices notices=kpis.notices.clone() />
        // Only for a workspace with traces elsewhere in time (else the setup panel says it).
        {empty.then(|| view! { <Transition>{move || Suspend::new(async move {
            setup.await.ok().filter(|i| i.latest_trace.is_some()).map(|_| view! {
                <div class="callout" data-testid="no-data">
                    <p>"No traces in this range: pick a longer range, or see "
                        <a href="/settings/connect">"how to connect an agent"</a>"."</p>
                </div>
            })
        })}</Transition> })}
        <div class="kpi-grid">
            {kpis.kpis.into_iter().map(|k| view! { <KpiCard kpi=k filters=filters.get_untracked() /> }).collect_view()}
        </div>
        <div class="card-grid">
            <section class="card">
                <h2>"Top agents by cost"</h2>
                <AgentTable agents=kpis.top_by_cost filters metric="cost" />
            </section>
            <section class="card">
                <h2>"Top agents by errors"</h2>
                <AgentTable agents=kpis.top_by_errors filters metric="errors" />
            </section>
        </div>
    }
}

#[component]
fn AgentTable(
    agents: Vec<AgentStat>,
    filters: Memo<Filters>,
    metric: &'static str,
) -> impl IntoView {
    if agents.is_empty() {
        return view! { <p class="empty">"Nothing in this range."</p> }.into_any();
    }
    let f = filters.get_untracked();
    view! {
        <div class="table-scroll" tabindex="0"><table class="table" data-testid=format!("top-{metric}")>
            <thead><tr><th>"Agent"</th><th>"Department"</th><th class="num">"Requests"</th>
                <th class="num">"Errors"</th><th class="num">"Cost"</th></tr></thead>
            <tbody>
                {agents.into_iter().map(|a| {
                    let only = f.with_dim(Dimension::Agent, &a.agent);
                    let link = href(PATH, &only);
                    let failed = format!("{}{}status=error", href("/traces", &only),
                        if only.is_empty() { "?" } else { "&" });
                    let costly = kpi_traces("cost", &only);
                    view! {
                        <tr>
                            <td><a href=link>{a.agent.clone()}</a></td>
                            <td>{a.department.clone()}</td>
                            <td class="num">{format::value(Unit::Count, Some(a.requests as f64))}</td>
                            <td class="num"><a href=failed data-testid="agent-errors">{format::value(Unit::Count, Some(a.errors as f64))}</a></td>
                            <td class="num"><a href=costly>{format::value(Unit::Usd, Some(a.cost_usd))}</a></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
    .into_any()
}

/// What an event is, as a short badge, and whether it is bad news.
fn event_badge(kind: &str) -> (&'static str, bool) {
    match kind {
        "new_agent" => ("new agent", false),
        "new_model" => ("new model", false),
        "new_version" => ("new version", false),
        "error_spike" => ("error spike", true),
        _ => ("cost spike", true),
    }
}

/// The activity stream: newest first, each event linking to the page that explains it.
#[component]
fn ActivityList(activity: Activity, filters: Filters) -> impl IntoView {
    if activity.events.is_empty() {
        return view! {
            <p class="empty" data-testid="activity-empty">
                "Nothing notable in this range: no new agents, models or versions, no error or cost spikes."
            </p>
        }
        .into_any();
    }
    let step = activity.window.step_seconds;
    view! {
        <ul class="activity" data-testid="activity">
            {activity.events.into_iter().map(|e| {
                let (badge, bad) = event_badge(&e.kind);
                let at = if step >= 86_400 && activity.window.rollup == "daily" {
                    e.at.format("%b %-d").to_string()
                } else {
                    e.at.format("%b %-d %H:%M").to_string()
                };
                let link = match e.kind.as_str() {
                    "new_model" => href("/cost", &filters.with_dim(Dimension::Model, &e.subject)),
                    "error_spike" => href("/performance", &filters.with_dim(Dimension::Agent, &e.agent)),
                    "cost_spike" => href("/cost", &filters.with_dim(Dimension::Agent, &e.agent)),
                    _ => href(PATH, &filters.with_dim(Dimension::Agent, &e.agent)),
                };
                view! {
                    <li data-testid="activity-event" data-kind=e.kind.clone()>
                        <time datetime=e.at.to_rfc3339()>{at}</time>
                        <span class=if bad { "badge badge-bad" } else { "badge" }>{badge}</span>
                        <a href=link>{e.message.clone()}</a>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}
