//! Sessions (`/sessions`): the conversations active in the range, newest first, 50 a page;
//! one session (`/sessions/{id}`): its traces in order, as a conversation, with its totals.

use crate::state::codec::resource;
use argus_types::{SessionDetail, SessionPage, Unit};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use leptos_router::params::ParamsMap;

use crate::api::explorer::{get_session, get_sessions};
use crate::api::metrics::get_filter_options;
use crate::components::badges::status_badge_view;
use crate::components::filter_bar::FilterBar;
use crate::components::messages::Messages;
use crate::components::page::{DataHeader, LoadError, Loaded};
use crate::components::pager::Pager;
use crate::format;
use crate::pages::not_found::NotFound;
use crate::state::filters::{use_filters, use_refresh, with_param};
use crate::state::prefs::when;

const PATH: &str = "/sessions";

#[component]
pub fn SessionsPage() -> impl IntoView {
    let filters = use_filters();
    let query = use_query_map();
    let page_no = Memo::new(move |_| query.with(|q| q.get("page")));
    let (tick, refresh) = use_refresh(Signal::derive(|| 30));
    let page = resource(
        move || (filters.get(), page_no.get(), tick.get()),
        |(f, page, _)| get_sessions(f, page, Some(true)),
    );
    let options = resource(|| (), |_| get_filter_options());
    let updated = Signal::derive(move || {
        page.get()
            .and_then(|r| r.ok())
            .map(|p| format!("{} · {} sessions", p.window.label, p.meta.total))
    });
    view! {
        <Title text="Sessions · Argus" />
        <DataHeader title="Sessions"
            subtitle="Conversations: the traces that share a session id, most recent first."
            updated refresh=Callback::new(move |_| refresh()) />
        <Transition>
            {move || Suspend::new(async move {
                let opts = options.await.unwrap_or_default();
                view! { <FilterBar path=PATH options=opts /> }
            })}
        </Transition>
        <Loaded resource=page skeleton="table"
            view=move |p| view! { <SessionTable page=p query=query.get() /> } />
    }
}

#[component]
fn SessionTable(page: SessionPage, query: ParamsMap) -> impl IntoView {
    let m = page.meta;
    let link = |n: u32| with_param(PATH, &query, "page", &n.to_string());
    let prev = (m.page > 1).then(|| link(m.page - 1));
    let next = m.has_more.then(|| link(m.page + 1));
    if page.sessions.is_empty() {
        return view! {
            <section class="card empty" data-testid="sessions-empty">
                <p>"No sessions in this range."</p>
                <p class="muted">"Send a session_id with your traces (gen_ai.conversation.id or session.id over OTLP) to group them."</p>
            </section>
        }
        .into_any();
    }
    view! {
        <section class="card">
            <div class="table-scroll" tabindex="0"><table class="table" data-testid="sessions-table">
                <thead><tr><th>"Session"</th><th>"Last activity"</th><th class="num">"Traces"</th>
                    <th class="num">"Errors"</th><th class="num">"Tokens"</th><th class="num">"Cost"</th>
                    <th>"Agents"</th><th>"User"</th></tr></thead>
                <tbody>
                    {page.sessions.into_iter().map(|s| view! {
                        <tr data-testid="session-row">
                            <td><a href=format!("/sessions/{}", argus_types::encode(&s.session_id))>{s.session_id.clone()}</a></td>
                            <td class="nowrap">{when(s.last_seen, "%m-%d %H:%M:%S")}</td>
                            <td class="num">{format::thousands(s.traces.max(0) as u64)}</td>
                            <td class="num">{format::thousands(s.errors.max(0) as u64)}</td>
                            <td class="num">{format::value(Unit::Tokens, Some(s.tokens as f64))}</td>
                            <td class="num">{format::value(Unit::Usd, Some(s.cost_usd))}</td>
                            <td>{s.agents.join(", ")}</td>
                            <td>{s.user_id.clone().unwrap_or_default()}</td>
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
pub fn SessionPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let session = resource(move || id.get(), get_session);
    view! {
        <Title text="Session · Argus" />
        <Transition fallback=|| view! { <div class="card skeleton" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                match session.await {
                    Err(e) if e.code() == argus_types::ErrorCode::ResourceNotFound => view! { <NotFound /> }.into_any(),
                    Err(e) => view! { <LoadError error=e /> }.into_any(),
                    Ok(s) => view! { <SessionView session=s /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn SessionView(session: SessionDetail) -> impl IntoView {
    let t = &session.total;
    let shown = session.traces.len() as i64;
    view! {
        <div class="page-header">
            <div>
                <p class="muted"><a href=PATH>"Sessions"</a> " / " <code>{session.session_id.clone()}</code></p>
                <h1 data-testid="session-title">"Session " {session.session_id.clone()}</h1>
            </div>
            <div class="page-actions">
                <a class="button button-secondary button-small"
                    href=format!("/traces?range=90d&session={}", argus_types::encode(&session.session_id))>"As a trace list"</a>
            </div>
        </div>
        <section class="card kv-grid" data-testid="session-totals">
            <div><span class="muted">"Traces"</span>{format::thousands(t.traces.max(0) as u64)}</div>
            <div><span class="muted">"Errors"</span>{format::thousands(t.errors.max(0) as u64)}</div>
            <div><span class="muted">"Tokens"</span>{format::value(Unit::Tokens, Some(t.tokens as f64))}</div>
            <div><span class="muted">"Cost"</span>{format::value(Unit::Usd, Some(t.cost_usd))}</div>
            <div><span class="muted">"From"</span>{when(t.first_seen, "%Y-%m-%d %H:%M:%S %Z")}</div>
            <div><span class="muted">"To"</span>{when(t.last_seen, "%Y-%m-%d %H:%M:%S %Z")}</div>
            <div><span class="muted">"Agents"</span>{t.agents.join(", ")}</div>
            <div><span class="muted">"User"</span>{t.user_id.clone().unwrap_or_else(|| "–".into())}</div>
        </section>
        {(t.traces > shown).then(|| view! {
            <p class="callout">{format!("Showing the first {shown} of {} traces.", t.traces)}</p>
        })}
        <ol class="conversation" data-testid="conversation">
            {session.traces.into_iter().map(|turn| {
                let tr = turn.trace;
                view! {
                    <li class="card turn" data-testid="session-turn">
                        <p class="turn-head">
                            <a href=format!("/traces/{}", tr.trace_id) data-testid="turn-link">{tr.name.clone()}</a>
                            " " {status_badge_view(&tr.status)}
                            <span class="muted">{format!(" {} · {} · {} · {}", tr.start_time.format("%H:%M:%S"), tr.agent,
                                format::value(Unit::Ms, Some(tr.latency_ms)), format::value(Unit::Usd, Some(tr.cost_usd)))}</span>
                        </p>
                        {turn.input.map(|v| view! { <div class="turn-input"><Messages value=v /></div> })}
                        {turn.output.map(|v| view! { <div class="turn-output"><Messages value=v /></div> })}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}
