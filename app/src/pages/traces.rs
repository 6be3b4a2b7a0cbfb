//! The traces list (`/traces`): the dashboard's filters plus the list's own (status, session,
//! user, latency, cost, tags, metadata, free text), three sorts, keyset pages. Everything is
//! in the URL, so a link is the same list, rendered on the server, usable without JavaScript.

use crate::state::codec::resource;
use argus_types::{TraceFilters, TracePage, TraceRow, Unit};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::api::explorer::get_traces;
use crate::api::metrics::get_filter_options;
use crate::components::badges::status_badge_view;
use crate::components::datasets::AddToDataset;
use crate::components::filter_bar::FilterBar;
use crate::components::page::{DataHeader, Loaded, Notices};
use crate::format;
use crate::state::filters::{trace_filters, use_filters, use_refresh, with_param};
use crate::state::prefs::when;
use crate::state::prefs::{use_prefs, ColumnChooser};
use crate::state::query_cache::cached;

const PATH: &str = "/traces";

/// The list's optional columns: key, label (time, name and status always show).
pub const COLUMNS: [(&str, &str); 10] = [
    ("agent", "Agent"),
    ("latency", "Latency"),
    ("tokens", "Tokens"),
    ("cost", "Cost"),
    ("model", "Models"),
    ("spans", "Spans"),
    ("session", "Session"),
    ("user", "User"),
    ("tags", "Tags"),
    ("scores", "Scores"),
];

#[component]
pub fn TracesPage() -> impl IntoView {
    let filters = use_filters();
    let query = use_query_map();
    let extra = Memo::new(move |_| query.with(trace_filters));
    let (tick, refresh) = use_refresh(Signal::derive(|| 30));
    let page = resource(
        move || (filters.get(), extra.get(), tick.get()),
        |(f, x, tick)| {
            let key = format!("traces?{}&{:?}", f.to_query(), x.pairs());
            cached(key, tick > 0, get_traces(f, x, Some(true)))
        },
    );
    let options = resource(|| (), |_| get_filter_options());
    let updated = Signal::derive(move || {
        page.get()
            .and_then(|r| r.ok())
            .map(|p| format!("{} · {} shown", p.window.label, p.data.len()))
    });
    view! {
        <Title text="Traces · Argus" />
        <DataHeader title="Traces"
            subtitle="Every trace, newest first: filter, search, sort, open one to see its spans."
            updated refresh=Callback::new(move |_| refresh()) />
        <Transition>
            {move || Suspend::new(async move {
                let opts = options.await.unwrap_or_default();
                view! { <FilterBar path=PATH options=opts /> }
            })}
        </Transition>
        {move || view! { <TraceFilterForm query=query.get() /> }}
        // The view reads the URL: a new cursor or column re-renders from the same data.
        <Loaded resource=page skeleton="table"
            view=move |p| view! { <TraceTable page=p query=query.get() /> } />
        {move || view! { <AddToDataset keep=list_query(&query.get()) /> }}
        {move || view! { <DeletionPanel query=query.get() /> }}
    }
}

/// The list's own filters, as a GET form that keeps the dashboard filters (hidden fields).
#[component]
fn TraceFilterForm(query: ParamsMap) -> impl IntoView {
    let x = trace_filters(&query);
    let keep: Vec<(String, String)> = [
        "range", "from", "to", "dept", "env", "version", "agent", "model",
    ]
    .into_iter()
    .filter_map(|k| query.get(k).map(|v| (k.to_owned(), v)))
    .collect();
    let text =
        |name: &'static str, label: &'static str, value: Option<String>, hint: &'static str| {
            view! {
                <label>
                    {label}
                    <input type="text" name=name value=value.unwrap_or_default() placeholder=hint
                        data-testid=format!("trace-filter-{name}") />
                </label>
            }
        };
    let select = |name: &'static str,
                  label: &'static str,
                  value: Option<String>,
                  choices: &'static [(&'static str, &'static str)]| {
        view! {
            <label>
                {label}
                <select name=name data-testid=format!("trace-filter-{name}")>
                    {choices.iter().map(|(v, l)| {
                        let selected = value.as_deref().unwrap_or("") == *v;
                        view! { <option value=*v selected=selected>{*l}</option> }
                    }).collect_view()}
                </select>
            </label>
        }
    };
    view! {
        <form class="filters card trace-filters" method="get" action=PATH data-testid="trace-filters">
            {keep.into_iter().map(|(k, v)| view! { <input type="hidden" name=k value=v /> }).collect_view()}
            <label class="search">
                "Search"
                <input type="search" name="q" value=x.q.clone().unwrap_or_default()
                    placeholder="words in span names, inputs, outputs" data-testid="trace-search" />
            </label>
            {select("status", "Status", x.status.clone(), &[("", "Any status"), ("ok", "OK"), ("error", "Error")])}
            {text("session", "Session", x.session.clone(), "session id")}
            {text("user", "User", x.user.clone(), "end user id")}
            {text("min_latency", "Min latency (ms)", x.min_latency.clone(), "e.g. 2000")}
            {text("min_cost", "Min cost ($)", x.min_cost.clone(), "e.g. 0.05")}
            {text("tags", "Tags", x.tags.clone(), "vip, beta")}
            {text("meta", "Metadata", x.meta.clone(), "key=value")}
            {text("score", "Score", x.score.clone(), "helpfulness<0.5")}
            {select("sort", "Sort", x.sort.clone(), &[("", "Newest"), ("latency", "Slowest"), ("cost", "Most expensive")])}
            {select("limit", "Per page", x.limit.clone(), &[("", "50"), ("100", "100")])}
            <button type="submit" class="button button-small" data-testid="trace-filters-apply">"Apply"</button>
            {(x != TraceFilters::default()).then(|| {
                let clear = query_without(&query, &["status", "session", "user", "min_latency", "min_cost", "tags", "meta", "score", "q", "sort", "limit", "cursor"]);
                view! { <a class="button button-small button-ghost" href=clear>"Clear"</a> }
            })}
        </form>
    }
}

/// The export of the list's filters (every page, not only this one).
fn export_link(query: &ParamsMap, format: &str) -> String {
    let mut q = query.clone();
    q.remove("limit");
    with_param("/api/v1/traces/export", &q, "format", format)
}

/// `/traces` with `query` minus `keys`.
fn query_without(query: &ParamsMap, keys: &[&str]) -> String {
    let mut q = query.clone();
    for k in keys {
        q.remove(k);
    }
    with_param(PATH, &q, "cursor", "")
}

#[component]
fn TraceTable(page: TracePage, query: ParamsMap) -> impl IntoView {
    let prefs = use_prefs();
    let hidden = move |c: &'static str| prefs.with(|p| p.is_hidden("traces", c));
    let (newer, older) = match page.meta.sort.as_str() {
        "latency" => ("← Slower", "Faster →"),
        "cost" => ("← Costlier", "Cheaper →"),
        _ => ("← Newer", "Older →"),
    };
    let prev = page
        .meta
        .prev_cursor
        .as_ref()
        .map(|c| with_param(PATH, &query, "cursor", c));
    let next = page
        .meta
        .next_cursor
        .as_ref()
        .map(|c| with_param(PATH, &query, "cursor", c));
    let first = query
        .get("cursor")
        .is_some()
        .then(|| with_param(PATH, &query, "cursor", ""));
    let empty = page.data.is_empty();
    let names = score_columns(&page.data);
    let score_heads = names
        .iter()
        .map(|n| {
            view! {
                <th class="num" hidden=move || hidden("scores") data-column="scores"
                    data-testid="score-column" title=format!("The trace's latest {n} score")>{n.clone()}</th>
            }
        })
        .collect_view();
    view! {
        <section class="card">
            <Notices notices=page.notices.clone() />
            <div class="table-tools">
                <a class="button button-secondary button-small" href=export_link(&query, "csv")
                    download data-testid="export-csv">"Export CSV"</a>
                <a class="button button-secondary button-small" href=export_link(&query, "jsonl")
                    download data-testid="export-jsonl">"Export JSONL"</a>
                <ColumnChooser table="traces" columns=COLUMNS.to_vec() />
            </div>
            {if empty {
                view! {
                    <div class="empty" data-testid="traces-empty">
                        <p>"No traces match these filters in this range."</p>
                        <p class="muted">"Widen the range, clear a filter, or send traces (see Settings → API keys)."</p>
                    </div>
                }.into_any()
            } else {
                view! {
                    <div class="table-scroll" tabindex="0"><table class="table traces" data-testid="traces-table">
                        <thead>
                            <tr>
                                <th>"Time"</th>
                                <th>"Trace"</th>
                                <th>"Status"</th>
                                {COLUMNS.into_iter().filter(|(key, _)| *key != "scores").map(|(key, label)| view! {
                                    <th class:num=matches!(key, "latency" | "tokens" | "cost" | "spans")
                                        hidden=move || hidden(key) data-column=key>{label}</th>
                                }).collect_view()}
                                {score_heads}
                            </tr>
                        </thead>
                        <tbody>
                            {page.data.into_iter().map(|t| {
                                let names = names.clone();
                                view! { <TraceLine t names hidden /> }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            }}
            <nav class="pager" aria-label="Pages">
                {first.map(|h| view! { <a class="button button-secondary button-small" href=h data-testid="page-first">"First page"</a> })}
                {match prev {
                    Some(h) => view! { <a class="button button-secondary button-small" href=h rel="prev" data-testid="page-prev">{newer}</a> }.into_any(),
                    None => view! { <span class="button button-secondary button-small" aria-disabled="true">{newer}</span> }.into_any(),
                }}
                {match next {
                    Some(h) => view! { <a class="button button-secondary button-small" href=h rel="next" data-testid="page-next">{older}</a> }.into_any(),
                    None => view! { <span class="button button-secondary button-small" aria-disabled="true">{older}</span> }.into_any(),
                }}
            </nav>
        </section>
    }
}

/// The most scores a page shows as columns (the commonest names on the page).
const SCORE_COLUMNS: usize = 8;

/// The score names on a page, a column each: the commonest first (ties by name).
fn score_columns(rows: &[TraceRow]) -> Vec<String> {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in rows.iter().flat_map(|t| &t.scores) {
        *counts.entry(s.name.as_str()).or_default() += 1;
    }
    let mut names: Vec<(&str, usize)> = counts.into_iter().collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    names
        .into_iter()
        .take(SCORE_COLUMNS)
        .map(|(n, _)| n.to_owned())
        .collect()
}

#[component]
fn TraceLine(
    t: TraceRow,
    names: Vec<String>,
    hidden: impl Fn(&'static str) -> bool + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let href = format!("/traces/{}", t.trace_id);
    let cell = move |key: &'static str, class: &'static str, text: String| {
        view! { <td class=class hidden=move || hidden(key) data-column=key>{text}</td> }
    };
    view! {
        <tr data-testid="trace-row" data-trace-id=t.trace_id.clone()>
            <td class="nowrap">{when(t.start_time, "%m-%d %H:%M:%S")}</td>
            <td><a href=href data-testid="trace-link">{t.name.clone()}</a></td>
            <td>{status_badge_view(&t.status)}</td>
            {cell("agent", "", t.agent.clone())}
            {cell("latency", "num", format::value(Unit::Ms, Some(t.latency_ms)))}
            {cell("tokens", "num", format::value(Unit::Tokens, Some((t.input_tokens + t.output_tokens) as f64)))}
            {cell("cost", "num", format::value(Unit::Usd, Some(t.cost_usd)))}
            {cell("model", "", t.models.join(", "))}
            {cell("spans", "num", t.span_count.to_string())}
            <td hidden=move || hidden("session") data-column="session">
                {t.session_id.clone().map(|s| view! { <a href=format!("/sessions/{}", argus_types::encode(&s))>{s.clone()}</a> })}
            </td>
            {cell("user", "", t.user_id.clone().unwrap_or_default())}
            {cell("tags", "", t.tags.join(", "))}
            {names.into_iter().map(|n| {
                let value = t.scores.iter().find(|s| s.name == n).map(|s| s.value.clone()).unwrap_or_default();
                view! {
                    <td class="num" hidden=move || hidden("scores") data-column="scores"
                        data-testid="trace-score" data-score=n>{value}</td>
                }
            }).collect_view()}
        </tr>
    }
}

/// The list's filters in the URL (dashboard and list filters; not the page or the sort), for
/// the forms that act on every matching trace.
fn list_query(query: &ParamsMap) -> Vec<(String, String)> {
    [
        "range",
        "from",
        "to",
        "dept",
        "env",
        "version",
        "agent",
        "model",
        "status",
        "session",
        "user",
        "min_latency",
        "min_cost",
        "tags",
        "meta",
        "score",
        "q",
    ]
    .into_iter()
    .filter_map(|k| query.get(k).map(|v| (k.to_owned(), v)))
    .collect()
}

/// For admins: delete every trace the list's filters match (a background job), after an
/// explicit confirmation; and the workspace's latest deletions with their progress.
#[component]
pub fn DeletionPanel(query: ParamsMap) -> impl IntoView {
    use crate::api::explorer::{get_deletions, DeleteTraces};
    let session = crate::state::session::use_session();
    let delete = ServerAction::<DeleteTraces>::new();
    // While a deletion runs its progress refreshes every 2 seconds, else with the page.
    let running = RwSignal::new(false);
    let (tick, _) = use_refresh(Signal::derive(move || if running.get() { 2 } else { 30 }));
    let jobs = resource(
        move || (delete.version().get(), tick.get()),
        |_| get_deletions(),
    );
    Effect::new(move |_| {
        if let Some(Ok(list)) = jobs.get() {
            running.set(list.iter().any(|d| !d.status.is_finished()));
        }
    });
    let keep = list_query(&query);
    let described = if keep.is_empty() {
        "every trace of the last 24 hours".to_owned()
    } else {
        format!(
            "every trace matching {}",
            keep.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let error = move || {
        delete
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| view! { <p class="callout callout-error" role="alert">{e.message().to_owned()}</p> })
    };
    view! {
        <Transition>
            {move || {
                let keep = keep.clone();
                let described = described.clone();
                Suspend::new(async move {
                    let admin = session.0.await.ok().flatten()
                        .is_some_and(|s| s.workspace.role >= argus_types::Role::Admin);
                    admin.then(|| view! {
                        <details class="card danger-zone" data-testid="delete-matching">
                            <summary>"Delete traces…"</summary>
                            <ActionForm action=delete attr:class="form-inline">
                                {keep.into_iter().map(|(k, v)| view! { <input type="hidden" name=k value=v /> }).collect_view()}
                                <p>"Deletes " <strong>{described}</strong>
                                    ", with their spans; the dashboard's numbers are recomputed. This cannot be undone."</p>
                                <label class="checkbox">
                                    <input type="checkbox" required data-testid="delete-confirm" />
                                    " I understand"
                                </label>
                                <button type="submit" class="button button-danger button-small" data-testid="delete-submit">"Delete"</button>
                            </ActionForm>
                            {error}
                        </details>
                    })
                })
            }}
        </Transition>
        <Transition>
            {move || Suspend::new(async move {
                let list = jobs.await.unwrap_or_default();
                (!list.is_empty()).then(|| view! {
                    <section class="card" data-testid="deletions">
                        <h2>"Deletions"</h2>
                        <div class="table-scroll" tabindex="0"><table class="table compact">
                            <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Status"</th><th class="num">"Deleted"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|d| view! {
                                    <tr data-testid="deletion-row" data-status=d.status.as_str()>
                                        <td class="nowrap">{when(d.created_at, "%Y-%m-%d %H:%M:%S")}</td>
                                        <td>{d.requested_by_name.clone().unwrap_or_else(|| if d.requested_by.is_none() { "retention".into() } else { "a former member".into() })}</td>
                                        <td><code>{d.filter.clone()}</code></td>
                                        <td>{d.status.as_str()}{d.error.clone().map(|e| format!(": {e}"))}</td>
                                        <td class="num">{format!("{} of {}", d.deleted, d.matched.map_or("?".to_owned(), |m| m.to_string()))}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    </section>
                })
            })}
        </Transition>
    }
}
