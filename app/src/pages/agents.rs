//! The agents registry (`/agents`, 25 a page) and one agent (`/agents/{id}`): its deployments
//! and last 24 hours, the admin's form for its department and display name, and the
//! dashboard's KPIs filtered to it.

use crate::state::codec::resource;
use argus_types::{AgentInfo, AgentPage, Dimension, Filters, Unit};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use leptos_router::params::ParamsMap;

use crate::api::explorer::{get_agent, get_agents, UpdateAgent};
use crate::api::metrics::get_home_kpis;
use crate::components::kpi_card::KpiCard;
use crate::components::page::{DataHeader, LoadError, Loaded};
use crate::components::pager::Pager;
use crate::format;
use crate::pages::not_found::NotFound;
use crate::state::filters::{href, use_refresh, with_param};
use crate::state::prefs::when;
use crate::state::session::use_session;

const PATH: &str = "/agents";

fn rate(v: Option<f64>) -> String {
    format::value(Unit::Percent, v.map(|r| r * 100.0))
}

#[component]
pub fn AgentsPage() -> impl IntoView {
    let query = use_query_map();
    let (tick, refresh) = use_refresh(Signal::derive(|| 30));
    let page = resource(
        move || (query.with(|q| (q.get("page"), q.get("limit"))), tick.get()),
        |((page, limit), _)| get_agents(page, limit),
    );
    let updated = Signal::derive(move || {
        page.get()
            .and_then(|r| r.ok())
            .map(|p| format!("{} agents", p.meta.total))
    });
    view! {
        <Title text="Agents · Argus" />
        <DataHeader title="Agents"
            subtitle="Every agent that has sent traces: where it runs and how its last 24 hours went."
            updated refresh=Callback::new(move |_| refresh()) />
        <Loaded resource=page skeleton="table"
            view=move |p| view! { <AgentTable page=p query=query.get() /> } />
    }
}

#[component]
fn AgentTable(page: AgentPage, query: ParamsMap) -> impl IntoView {
    let m = page.meta;
    if page.agents.is_empty() {
        return view! {
            <section class="card empty" data-testid="agents-empty">
                <p>"No agents yet."</p>
                <p class="muted">"An agent appears here with its first trace (see Settings → API keys)."</p>
            </section>
        }
        .into_any();
    }
    let link = |n: u32| with_param(PATH, &query, "page", &n.to_string());
    let prev = (m.page > 1).then(|| link(m.page - 1));
    let next = m.has_more.then(|| link(m.page + 1));
    view! {
        <section class="card">
            <div class="table-scroll" tabindex="0"><table class="table" data-testid="agents-table">
                <thead><tr><th>"Agent"</th><th>"Department"</th><th>"Environments"</th><th>"Versions"</th>
                    <th>"Last seen"</th><th class="num">"Requests 24 h"</th><th class="num">"Error rate"</th>
                    <th class="num">"p95"</th><th class="num">"Cost 24 h"</th></tr></thead>
                <tbody>
                    {page.agents.into_iter().map(|a| view! {
                        <tr data-testid="agent-row">
                            <td>
                                <a href=format!("/agents/{}", argus_types::encode(&a.agent))>
                                    {a.display_name.clone().unwrap_or_else(|| a.agent.clone())}
                                </a>
                                {a.display_name.is_some().then(|| view! { <span class="muted">{format!(" {}", a.agent)}</span> })}
                            </td>
                            <td>{a.department.clone()}</td>
                            <td>{a.environments.join(", ")}</td>
                            <td>{a.versions.join(", ")}</td>
                            <td class="nowrap">{when(a.last_seen, "%Y-%m-%d %H:%M")}</td>
                            <td class="num">{format::thousands(a.requests_24h.max(0) as u64)}</td>
                            <td class="num">{rate(a.error_rate_24h)}</td>
                            <td class="num">{format::value(Unit::Ms, a.p95_ms_24h)}</td>
                            <td class="num">{format::value(Unit::Usd, Some(a.cost_usd_24h))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table></div>
            <Pager prev next page=m.page total=m.total limit=m.limit />
        </section>
    }
    .into_any()
}

#[component]
pub fn AgentDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let update = ServerAction::<UpdateAgent>::new();
    let agent = resource(
        move || (id.get(), update.version().get()),
        |(id, _)| get_agent(id),
    );
    view! {
        <Title text="Agent · Argus" />
        <Transition fallback=|| view! { <div class="card skeleton" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                match agent.await {
                    Err(e) if e.code() == argus_types::ErrorCode::ResourceNotFound => view! { <NotFound /> }.into_any(),
                    Err(e) => view! { <LoadError error=e /> }.into_any(),
                    Ok(a) => view! { <AgentView agent=a update /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AgentView(agent: AgentInfo, update: ServerAction<UpdateAgent>) -> impl IntoView {
    let session = use_session();
    let filters = Filters::default().with_dim(Dimension::Agent, &agent.agent);
    let kpis = resource(move || (), {
        let f = filters.clone();
        move |_| get_home_kpis(f.clone(), Some(true))
    });
    let a = agent.clone();
    let traces = href("/traces", &filters);
    let failed = format!("{traces}&status=error");
    let dashboard = href("/", &filters);
    view! {
        <DataHeader title="Agent" subtitle="Its deployments, its last 24 hours, its traces."
            updated=Signal::derive(|| None) refresh=Callback::new(move |_| {}) />
        <section class="card kv-grid" data-testid="agent-header">
            <div><span class="muted">"Agent"</span><strong data-testid="agent-name">{a.display_name.clone().unwrap_or_else(|| a.agent.clone())}</strong></div>
            <div><span class="muted">"Id"</span><code>{a.agent.clone()}</code></div>
            <div><span class="muted">"Department"</span><span data-testid="agent-department">{a.department.clone()}</span></div>
            <div><span class="muted">"Environments"</span>{a.environments.join(", ")}</div>
            <div><span class="muted">"Versions"</span>{a.versions.join(", ")}</div>
            <div><span class="muted">"First seen"</span>{when(a.first_seen, "%Y-%m-%d %H:%M %Z")}</div>
            <div><span class="muted">"Last seen"</span>{when(a.last_seen, "%Y-%m-%d %H:%M %Z")}</div>
            <div><span class="muted">"Requests 24 h"</span>{format::thousands(a.requests_24h.max(0) as u64)}</div>
            <div><span class="muted">"Error rate 24 h"</span>{rate(a.error_rate_24h)}</div>
            <div><span class="muted">"p95 24 h"</span>{format::value(Unit::Ms, a.p95_ms_24h)}</div>
            <div><span class="muted">"Cost 24 h"</span>{format::value(Unit::Usd, Some(a.cost_usd_24h))}</div>
        </section>
        <p class="page-actions">
            <a class="button button-small" href=traces data-testid="agent-traces">"Its traces"</a>
            <a class="button button-secondary button-small" href=failed>"Its failed traces"</a>
            <a class="button button-secondary button-small" href=dashboard>"Dashboard for this agent"</a>
        </p>
        <Transition fallback=|| view! { <div class="kpi-grid skeleton" aria-busy="true"></div> }>
            {move || {
                let filters = filters.clone();
                Suspend::new(async move {
                kpis.await.ok().map(|k| view! {
                    <p class="muted">{k.window.label.clone()}</p>
                    <div class="kpi-grid" data-testid="agent-kpis">
                        {k.kpis.into_iter().map(|kpi| view! { <KpiCard kpi filters=filters.clone() /> }).collect_view()}
                    </div>
                })
                })
            }}
        </Transition>
        <Transition>
            {move || {
                let a = agent.clone();
                Suspend::new(async move {
                    let admin = session.0.await.ok().flatten().is_some_and(|s| s.workspace.role >= argus_types::Role::Admin);
                    admin.then(|| view! { <AgentForm agent=a update /> })
                })
            }}
        </Transition>
    }
}

#[component]
fn AgentForm(agent: AgentInfo, update: ServerAction<UpdateAgent>) -> impl IntoView {
    let error = move || {
        update
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| view! { <p class="callout callout-error" role="alert">{e.message().to_owned()}</p> })
    };
    view! {
        <section class="card">
            <h2>"Edit"</h2>
            <ActionForm action=update attr:class="form-inline" attr:data-testid="agent-form">
                <input type="hidden" name="id" value=agent.agent.clone() />
                <label>"Department"
                    <input type="text" name="department" required maxlength="200" value=agent.department.clone()
                        data-testid="agent-department-input" />
                </label>
                <label>"Display name"
                    <input type="text" name="display_name" maxlength="200" value=agent.display_name.clone().unwrap_or_default()
                        placeholder=agent.agent.clone() data-testid="agent-display-input" />
                </label>
                <button type="submit" class="button button-small" data-testid="agent-save">"Save"</button>
            </ActionForm>
            {error}
        </section>
    }
}
