//! Guardrails (`/guardrails`): what the checks decided over the filter bar's window — by
//! action over time, violations by check, the agents with the most, shadow policies' "would
//! block" rates — the latest decisions linking to their traces, and the policies with their
//! editor and "try it" box.

use crate::state::codec::resource;
use argus_types::{GuardSummary, Unit};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::guardrails::{get_guard_summary, list_guard_decisions};
use crate::api::metrics::get_filter_options;
use crate::components::charts::StackedChart;
use crate::components::filter_bar::FilterBar;
use crate::components::guardrails::{DecisionTable, Policies};
use crate::components::page::LoadError;
use crate::format;
use crate::state::filters::use_filters;

const PATH: &str = "/guardrails";

#[component]
pub fn GuardrailsPage() -> impl IntoView {
    let filters = use_filters();
    let query = use_query_map();
    let acted = move || query.with(|q| q.get("acted").is_some_and(|v| v == "true"));
    let summary = resource(move || filters.get(), |f| get_guard_summary(f, Some(true)));
    let decisions = resource(
        move || (filters.get(), acted()),
        |(f, acted)| {
            list_guard_decisions(
                None,
                f.agent.as_ref().map(|a| a.as_str().to_owned()),
                Some(acted),
                None,
                Some(50),
            )
        },
    );
    let options = resource(|| (), |_| get_filter_options());
    view! {
        <Title text="Guardrails · Argus" />
        <div class="page-header"><div>
            <h1>"Guardrails"</h1>
            <p class="muted">"PII, secrets, prompt injection and banned content, checked in process before a model or a tool sees them: "
                <code>"POST /api/v1/guardrails/check"</code>"."</p>
        </div></div>
        <Transition>
            {move || Suspend::new(async move {
                let opts = options.await.unwrap_or_default();
                view! { <FilterBar path=PATH options=opts /> }
            })}
        </Transition>
        <Transition fallback=|| view! { <div class="kpi-grid skeleton" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                match summary.await {
                    Ok(s) => view! { <SummaryView summary=s /> }.into_any(),
                    Err(e) => view! { <LoadError error=e /> }.into_any(),
                }
            })}
        </Transition>
        <section class="card" aria-label="Recent decisions" data-testid="guard-decisions">
            <h2>"Recent decisions"</h2>
            <p class="segmented" aria-label="Which decisions">
                <a href=PATH aria-current=move || (!acted()).then_some("true")>"All"</a>
                <a href=format!("{PATH}?acted=true") aria-current=move || acted().then_some("true") data-testid="acted-only">"Acted or would act"</a>
            </p>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match decisions.await {
                        Ok(list) => view! { <DecisionTable decisions=list /> }.into_any(),
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <Policies />
    }
}

fn pct(n: i64, of: i64) -> String {
    if of == 0 {
        "–".into()
    } else {
        format!("{:.1}%", n as f64 * 100.0 / of as f64)
    }
}

#[component]
fn SummaryView(summary: GuardSummary) -> impl IntoView {
    let s = summary;
    let steps: Vec<_> = s.series.iter().map(|b| b.at).collect();
    let series = vec![
        (
            "allow".to_owned(),
            s.series.iter().map(|b| b.allow as f64).collect(),
        ),
        (
            "flag".to_owned(),
            s.series.iter().map(|b| b.flag as f64).collect(),
        ),
        (
            "redact".to_owned(),
            s.series.iter().map(|b| b.redact as f64).collect(),
        ),
        (
            "block".to_owned(),
            s.series.iter().map(|b| b.block as f64).collect(),
        ),
    ];
    let kpi = |label: &'static str, key: &'static str, value: i64, of: Option<i64>| {
        view! {
            <section class="card kpi" data-testid=format!("guard-kpi-{key}")>
                <h3>{label}</h3>
                <p class="kpi-value" data-testid="kpi-value">{format::thousands(value.max(0) as u64)}</p>
                <p class="kpi-change">{of.map(|of| format!("{} of checks", pct(value, of)))}</p>
            </section>
        }
    };
    view! {
        <div class="kpi-grid">
            {kpi("Checks", "decisions", s.decisions, None)}
            {kpi("Blocked", "blocked", s.blocked, Some(s.decisions))}
            {kpi("Redacted", "redacted", s.redacted, Some(s.decisions))}
            {kpi("Flagged", "flagged", s.flagged, Some(s.decisions))}
        </div>
        <section class="card" aria-label="Decisions over time" data-testid="guard-chart">
            <h2>"Decisions over time"</h2>
            <StackedChart steps series step_seconds=s.step_seconds unit=Unit::Count
                title="Guardrail decisions by action".to_owned() />
        </section>
        <div class="card-grid">
            <section class="card" aria-label="Violations by check" data-testid="guard-by-check">
                <h2>"Violations by check"</h2>
                {if s.by_check.is_empty() {
                    view! { <p class="empty">"Nothing found in this range."</p> }.into_any()
                } else {
                    view! {
                        <div class="table-scroll" tabindex="0"><table class="table compact">
                            <thead><tr><th>"Check"</th><th class="num">"Violations"</th></tr></thead>
                            <tbody>{s.by_check.iter().map(|c| view! {
                                <tr><td>{c.name.clone()}</td><td class="num">{format::thousands(c.violations.max(0) as u64)}</td></tr>
                            }).collect_view()}</tbody>
                        </table></div>
                    }.into_any()
                }}
            </section>
            <section class="card" aria-label="Top agents" data-testid="guard-top-agents">
                <h2>"Top agents by violations"</h2>
                {if s.top_agents.is_empty() {
                    view! { <p class="empty">"No agent tripped a check in this range."</p> }.into_any()
                } else {
                    view! {
                        <div class="table-scroll" tabindex="0"><table class="table compact">
                            <thead><tr><th>"Agent"</th><th class="num">"Violations"</th><th class="num">"Blocked"</th></tr></thead>
                            <tbody>{s.top_agents.iter().map(|a| {
                                let href = format!("{PATH}?agent={}", argus_types::encode(&a.name));
                                view! {
                                    <tr><td><a href=href>{a.name.clone()}</a></td>
                                        <td class="num">{format::thousands(a.violations.max(0) as u64)}</td>
                                        <td class="num">{format::thousands(a.blocks.max(0) as u64)}</td></tr>
                                }
                            }).collect_view()}</tbody>
                        </table></div>
                    }.into_any()
                }}
            </section>
            <section class="card" aria-label="Shadow mode" data-testid="guard-shadow">
                <h2>"Shadow mode"</h2>
                {if s.shadow.is_empty() {
                    view! { <p class="empty">"No policy in shadow mode checked anything in this range. Set "
                        <code>"\"shadow\": true"</code>" to see a policy's effect before enforcing it."</p> }.into_any()
                } else {
                    view! {
                        <div class="table-scroll" tabindex="0"><table class="table compact">
                            <thead><tr><th>"Policy"</th><th class="num">"Checks"</th><th class="num">"Would block"</th>
                                <th class="num">"Would redact"</th><th class="num">"Would flag"</th></tr></thead>
                            <tbody>{s.shadow.iter().map(|p| view! {
                                <tr data-testid="shadow-row"><td>{p.policy.clone()}</td>
                                    <td class="num">{format::thousands(p.decisions.max(0) as u64)}</td>
                                    <td class="num" data-testid="would-block">{pct(p.would_block, p.decisions)}</td>
                                    <td class="num">{pct(p.would_redact, p.decisions)}</td>
                                    <td class="num">{pct(p.would_flag, p.decisions)}</td></tr>
                            }).collect_view()}</tbody>
                        </table></div>
                    }.into_any()
                }}
            </section>
        </div>
    }
}
