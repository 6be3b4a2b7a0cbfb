//! One trace (`/traces/{id}`): its header, the span waterfall (a tree with timing bars, kinds
//! and errors marked) and the selected span (`?span=`, so a link opens that span): its
//! attributes, token and cost split, and input/output messages, readable and as raw JSON.

use crate::state::codec::resource;
use argus_types::{SpanDetail, TraceDetail, Unit};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde_json::Value;

use crate::api::explorer::get_trace;
use crate::components::badges::status_badge_view;
use crate::components::datasets::AddToDataset;
use crate::components::messages::Messages;
use crate::components::page::LoadError;
use crate::components::scores::TraceScores;
use crate::format;
use crate::pages::not_found::NotFound;
use crate::state::prefs::when;

#[component]
pub fn TracePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    // A page of spans is asked for, or the page the span in the URL is on (read when the
    // trace loads: choosing another span of the page fetches nothing).
    let from =
        Memo::new(move |_| query.with(|q| q.get("spans_from").and_then(|v| v.parse::<i64>().ok())));
    let trace = resource(
        move || (id.get(), from.get()),
        move |(id, from)| {
            let span = query.with_untracked(|q| q.get("span"));
            get_trace(id, span, from)
        },
    );
    view! {
        <Title text="Trace · Argus" />
        <Transition fallback=|| view! { <div class="card skeleton" aria-busy="true"></div> }>
            {move || {
                let selected = query.with(|q| q.get("span"));
                Suspend::new(async move {
                    match trace.await {
                        Err(e) if e.code() == argus_types::ErrorCode::ResourceNotFound => {
                            view! { <NotFound /> }.into_any()
                        }
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(t) => view! { <TraceView trace=t selected /> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// The spans in tree order (each parent before its children, siblings by start) with depth.
/// A span whose parent is missing is shown at the top level.
pub fn tree(spans: &[SpanDetail]) -> Vec<(usize, usize)> {
    use std::collections::HashMap;
    let ids: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.as_str(), i))
        .collect();
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        let parent = s
            .parent_span_id
            .as_deref()
            .and_then(|p| ids.get(p).copied())
            .filter(|p| *p != i);
        children.entry(parent).or_default().push(i);
    }
    for list in children.values_mut() {
        list.sort_by_key(|i| (spans[*i].start_time, spans[*i].span_id.clone()));
    }
    let mut out = Vec::with_capacity(spans.len());
    let mut seen = vec![false; spans.len()];
    let mut stack: Vec<(usize, usize)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|i| (*i, 0)).collect())
        .unwrap_or_default();
    while let Some((i, depth)) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        out.push((i, depth));
        if let Some(kids) = children.get(&Some(i)) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    // Cycles (a malformed trace) leave spans unvisited: show them at the top level.
    out.extend((0..spans.len()).filter(|i| !seen[*i]).map(|i| (i, 0)));
    out
}

#[component]
fn TraceView(trace: TraceDetail, selected: Option<String>) -> impl IntoView {
    let t = &trace.trace;
    let order = tree(&trace.spans);
    // The selected span: the one in the URL, else the first error, else the root.
    let chosen = selected
        .and_then(|id| trace.spans.iter().position(|s| s.span_id == id))
        .or_else(|| trace.spans.iter().position(|s| s.status == "error"))
        .or_else(|| order.first().map(|(i, _)| *i));
    let start = t.start_time;
    let total_us = ((trace.end_time - start).num_microseconds().unwrap_or(0)).max(1) as f64;
    let base = format!("/traces/{}", t.trace_id);
    // Links keep the page of spans they were on.
    let page_param = if trace.span_offset > 0 {
        format!("&spans_from={}", trace.span_offset)
    } else {
        String::new()
    };
    let rows = order
        .iter()
        .map(|(i, depth)| {
            let s = &trace.spans[*i];
            let offset = (s.start_time - start).num_microseconds().unwrap_or(0) as f64;
            let left = (offset / total_us * 100.0).clamp(0.0, 100.0);
            let width = bar_width(s.duration_ms * 1000.0 / total_us * 100.0, left);
            let error = s.status == "error";
            let current = Some(*i) == chosen;
            let href = format!("{base}?span={}{page_param}", s.span_id);
            let kind = s.operation.clone().unwrap_or_else(|| s.kind.clone());
            view! {
                <li class="span-row" class:span-error=error class:span-selected=current
                    data-testid="span-row" data-span-id=s.span_id.clone()>
                    <a href=href aria-current=current.then_some("true")
                        style=format!("padding-left: {}rem", *depth as f64 * 1.1)>
                        <span class="span-name">
                            {error.then(|| view! { <span class="span-mark" title="error">"✕ "</span> })}
                            {s.name.clone()}
                        </span>
                        <span class="span-kind muted">{kind}</span>
                        <span class="span-time num">{format::value(Unit::Ms, Some(s.duration_ms))}</span>
                        <span class="span-track" aria-hidden="true">
                            <span class="span-bar" style=format!("left: {left:.2}%; width: {width:.2}%")></span>
                        </span>
                    </a>
                </li>
            }
        })
        .collect_view();
    // Guardrail checks that named this trace: a row each, under the span they name.
    let guards = trace
        .guardrails
        .iter()
        .map(|d| {
            let offset = (d.at - start).num_microseconds().unwrap_or(0) as f64;
            let left = (offset / total_us * 100.0).clamp(0.0, 99.7);
            let width = bar_width(d.duration_us as f64 / total_us * 100.0, left);
            let blocked = d.action == argus_types::GuardAction::Block;
            let found = crate::components::guardrails::kinds(d);
            let title = format!("{} v{} · {} · found: {found}", d.policy, d.policy_version, d.stage.as_str());
            let href = match &d.span_id {
                Some(s) => format!("{base}?span={s}{page_param}"),
                None => format!("/guardrails?agent={}", argus_types::encode(&d.agent)),
            };
            view! {
                <li class="span-row span-guard" class:span-error=blocked data-testid="guard-span" title=title>
                    <a href=href style="padding-left: 1.1rem">
                        <span class="span-name">"guardrail · " {d.policy.clone()} " "
                            {crate::components::guardrails::action_badge(d.action, d.would, d.shadow)}</span>
                        <span class="span-kind muted">{d.stage.as_str()}</span>
                        <span class="span-time num">{format!("{} µs", d.duration_us)}</span>
                        <span class="span-track" aria-hidden="true">
                            <span class="span-bar" style=format!("left: {left:.2}%; width: {width:.2}%")></span>
                        </span>
                    </a>
                </li>
            }
        })
        .collect_view();
    let span = chosen.map(|i| trace.spans[i].clone());
    view! {
        <div class="page-header">
            <div>
                <p class="muted"><a href="/traces">"Traces"</a> " / " <code>{t.trace_id.clone()}</code></p>
                <h1 data-testid="trace-name">{t.name.clone()} " " {status_badge_view(&t.status)}</h1>
            </div>
            <div class="page-actions">
                <DeleteTrace trace_id=t.trace_id.clone() />
            </div>
        </div>
        <section class="card kv-grid" data-testid="trace-header">
            <div><span class="muted">"Agent"</span>
                <a href=format!("/agents/{}", argus_types::encode(&t.agent)) data-testid="trace-agent">{t.agent.clone()}</a></div>
            <div><span class="muted">"Started"</span>{when(t.start_time, "%Y-%m-%d %H:%M:%S%.3f %Z")}</div>
            <div><span class="muted">"Latency"</span>{format::value(Unit::Ms, Some(t.latency_ms))}</div>
            <div><span class="muted">"Tokens"</span>
                {format!("{} in · {} out", format::thousands(t.input_tokens.max(0) as u64), format::thousands(t.output_tokens.max(0) as u64))}</div>
            <div><span class="muted">"Cost"</span>{format::value(Unit::Usd, Some(t.cost_usd))}
                {(trace.unpriced_spans > 0).then(|| view! { <span class="muted">{format!(" ({} unpriced)", trace.unpriced_spans)}</span> })}</div>
            <div><span class="muted">"Models"</span>{if t.models.is_empty() { "–".to_owned() } else { t.models.join(", ") }}</div>
            <div><span class="muted">"Environment"</span>{format!("{} · {}", t.environment, t.version)}</div>
            <div><span class="muted">"Department"</span>{t.department.clone()}</div>
            <div><span class="muted">"Session"</span>
                {match t.session_id.clone() {
                    Some(s) => {
                        let link = format!("/sessions/{}", argus_types::encode(&s));
                        view! { <a href=link data-testid="trace-session">{s}</a> }.into_any()
                    }
                    None => view! { "–" }.into_any(),
                }}</div>
            <div><span class="muted">"User"</span>{t.user_id.clone().unwrap_or_else(|| "–".into())}</div>
            <div><span class="muted">"Spans"</span>{format!("{} ({} failed)", t.span_count, t.error_count)}</div>
            {(!t.tags.is_empty()).then(|| view! { <div><span class="muted">"Tags"</span>{t.tags.join(", ")}</div> })}
        </section>
        <div class="trace-layout">
            <section class="card waterfall" aria-label="Spans">
                <h2>"Spans"</h2>
                {if trace.spans.is_empty() {
                    view! { <p class="empty">"No spans stored for this trace (they may have been removed by retention)."</p> }.into_any()
                } else {
                    view! { <ol class="span-tree" data-testid="waterfall">{rows}{guards}</ol> }.into_any()
                }}
                <SpanPager base=base.clone() total=trace.span_total offset=trace.span_offset limit=trace.span_limit />
            </section>
            {span.map(|s| view! { <SpanPanel span=s /> })}
        </div>
        <TraceScores trace_id=t.trace_id.clone() />
        <AddToDataset trace_id=t.trace_id.clone() />
    }
}

/// A bar's width in percent: at least 0.3 (visible), never past the track's end. (Not
/// `clamp`: a bar starting at the very end would make its bounds cross, and clamp panics.)
fn bar_width(percent: f64, left: f64) -> f64 {
    percent.min(100.0 - left).max(0.3)
}

/// Previous and next pages of a long trace's spans.
#[component]
fn SpanPager(base: String, total: i64, offset: i64, limit: i64) -> impl IntoView {
    (total > limit).then(|| {
        let last = (offset + limit).min(total);
        let prev = (offset > 0).then(|| format!("{base}?spans_from={}", (offset - limit).max(0)));
        let next = (last < total).then(|| format!("{base}?spans_from={last}"));
        view! {
            <nav class="pager" aria-label="Pages of spans" data-testid="span-pager">
                {match prev {
                    Some(href) => view! { <a class="button button-secondary button-small" href=href>"← Earlier spans"</a> }.into_any(),
                    None => view! { <span></span> }.into_any(),
                }}
                <span class="muted">{format!(
                    "Spans {}–{} of {}",
                    format::thousands((offset + 1) as u64),
                    format::thousands(last as u64),
                    format::thousands(total as u64)
                )}</span>
                {match next {
                    Some(href) => view! { <a class="button button-secondary button-small" href=href data-testid="span-next">"Later spans →"</a> }.into_any(),
                    None => view! { <span></span> }.into_any(),
                }}
            </nav>
        }
    })
}

#[component]
fn SpanPanel(span: SpanDetail) -> impl IntoView {
    let s = &span;
    let raw = serde_json::to_string_pretty(&serde_json::json!({
        "span_id": s.span_id, "parent_span_id": s.parent_span_id, "name": s.name,
        "kind": s.kind, "start_time": s.start_time, "end_time": s.end_time,
        "status": s.status, "status_message": s.status_message, "error_type": s.error_type,
        "attributes": s.attributes, "resource": s.resource, "input": s.input, "output": s.output,
    }))
    .unwrap_or_default();
    let attributes: Vec<(String, String)> = match &s.attributes {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), compact_json(v)))
            .collect(),
        _ => Vec::new(),
    };
    view! {
        <section class="card span-panel" data-testid="span-panel" aria-label="Selected span">
            <h2 data-testid="span-title">{s.name.clone()}</h2>
            <p class="muted">
                {format!("{} · {}", s.kind, format::value(Unit::Ms, Some(s.duration_ms)))}
                {s.model.clone().map(|m| format!(" · {m}"))}
                {s.provider.clone().map(|p| format!(" ({p})"))}
            </p>
            {(s.status == "error").then(|| view! {
                <div class="callout callout-error" role="status" data-testid="span-error">
                    <p>{s.error_type.clone().or_else(|| s.status_message.clone()).unwrap_or_else(|| "error".into())}</p>
                    {s.status_message.clone().filter(|m| Some(m) != s.error_type.as_ref()).map(|m| view! { <p class="muted">{m}</p> })}
                </div>
            })}
            <div class="table-scroll" tabindex="0"><table class="table compact" data-testid="span-usage">
                <tbody>
                    <tr><th>"Input tokens"</th><td class="num">{format::thousands(s.input_tokens.max(0) as u64)}</td></tr>
                    <tr><th>"Output tokens"</th><td class="num">{format::thousands(s.output_tokens.max(0) as u64)}</td></tr>
                    <tr><th>"Cached input"</th><td class="num">{format::thousands(s.cache_read_tokens.max(0) as u64)}</td></tr>
                    <tr><th>"Cache writes"</th><td class="num">{format::thousands(s.cache_creation_tokens.max(0) as u64)}</td></tr>
                    <tr><th>"Reasoning"</th><td class="num">{format::thousands(s.reasoning_tokens.max(0) as u64)}</td></tr>
                    <tr><th>"Cost"</th><td class="num">
                        {match s.cost_usd {
                            Some(c) => format!("{} ({})", format::value(Unit::Usd, Some(c)), s.cost_source.clone().unwrap_or_default()),
                            None if s.model.is_some() && s.input_tokens + s.output_tokens > 0 => "unpriced".to_owned(),
                            None => "–".to_owned(),
                        }}
                    </td></tr>
                </tbody>
            </table></div>
            {s.input.clone().map(|v| view! { <h3>"Input"</h3> <Messages value=v /> })}
            {s.output.clone().map(|v| view! { <h3>"Output"</h3> <Messages value=v /> })}
            <h3>"Attributes"</h3>
            {if attributes.is_empty() {
                view! { <p class="muted">"None."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll" tabindex="0"><table class="table compact attributes" data-testid="span-attributes">
                        <tbody>
                            {attributes.into_iter().map(|(k, v)| view! { <tr><th><code>{k}</code></th><td><code>{v}</code></td></tr> }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            }}
            <details class="raw-json">
                <summary>"Raw JSON"</summary>
                <pre data-testid="span-raw">{raw}</pre>
            </details>
        </section>
    }
}

fn compact_json(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn span(id: &str, parent: Option<&str>, start_ms: i64) -> SpanDetail {
        let at = Utc
            .timestamp_millis_opt(1_700_000_000_000 + start_ms)
            .unwrap();
        SpanDetail {
            span_id: id.into(),
            parent_span_id: parent.map(Into::into),
            name: id.into(),
            kind: "internal".into(),
            start_time: at,
            end_time: at,
            duration_ms: 1.0,
            status: "ok".into(),
            status_message: None,
            error_type: None,
            operation: None,
            model: None,
            provider: None,
            input_tokens: 0,
            output_tokens: 0,
            cache_read_tokens: 0,
            cache_creation_tokens: 0,
            reasoning_tokens: 0,
            cost_usd: None,
            cost_source: None,
            input: None,
            output: None,
            attributes: Value::Null,
            resource: Value::Null,
        }
    }

    #[test]
    fn bars_stay_visible_and_never_panic_at_the_track_end() {
        assert_eq!(bar_width(50.0, 10.0), 50.0);
        assert_eq!(bar_width(0.0, 10.0), 0.3);
        assert_eq!(bar_width(5.0, 99.7), 0.3);
        assert_eq!(bar_width(5.0, 100.0), 0.3);
    }

    #[test]
    fn the_tree_puts_children_under_parents_in_start_order() {
        let spans = vec![
            span("b2", Some("b"), 30),
            span("root", None, 0),
            span("b", Some("root"), 20),
            span("a", Some("root"), 10),
            span("b1", Some("b"), 25),
            span("orphan", Some("missing"), 5),
            // A cycle must not hang or drop spans.
            span("x", Some("y"), 40),
            span("y", Some("x"), 41),
        ];
        let order: Vec<(&str, usize)> = tree(&spans)
            .into_iter()
            .map(|(i, d)| (spans[i].span_id.as_str(), d))
            .collect();
        assert_eq!(
            order,
            [
                ("root", 0),
                ("a", 1),
                ("b", 1),
                ("b1", 2),
                ("b2", 2),
                ("orphan", 0),
                ("x", 0),
                ("y", 0)
            ]
        );
    }
}

/// For admins: delete this trace (a background job), after an explicit confirmation.
#[component]
fn DeleteTrace(trace_id: String) -> impl IntoView {
    use crate::api::explorer::DeleteTraces;
    let session = crate::state::session::use_session();
    let delete = ServerAction::<DeleteTraces>::new();
    let outcome = move || {
        delete.value().get().map(|r| match r {
            Ok(_) => view! {
                <p class="callout" role="status" data-testid="trace-deleted">
                    "Deleting this trace. " <a href="/traces">"Back to the traces"</a>
                </p>
            }
            .into_any(),
            Err(e) => {
                view! { <p class="callout callout-error" role="alert">{e.message().to_owned()}</p> }
                    .into_any()
            }
        })
    };
    view! {
        <Transition>
            {move || {
                let trace_id = trace_id.clone();
                Suspend::new(async move {
                    let admin = session.0.await.ok().flatten()
                        .is_some_and(|s| s.workspace.role >= argus_types::Role::Admin);
                    admin.then(|| view! {
                        <details class="danger-zone" data-testid="delete-trace">
                            <summary>"Delete this trace…"</summary>
                            <ActionForm action=delete attr:class="form-inline">
                                <input type="hidden" name="trace_id" value=trace_id />
                                <label class="checkbox">
                                    <input type="checkbox" required data-testid="delete-trace-confirm" />
                                    " Delete it and its spans for good"
                                </label>
                                <button type="submit" class="button button-danger button-small" data-testid="delete-trace-submit">"Delete"</button>
                            </ActionForm>
                            {outcome}
                        </details>
                    })
                })
            }}
        </Transition>
    }
}
