//! Scores over the filter bar's window on the Evaluations page: each score overall and by
//! version, agent or environment (`?by=`), and two versions compared (`?a=…&b=…`) with the
//! significance of the difference. Everything lives in the URL, so a comparison is a link.

use crate::state::codec::resource;
use argus_types::{ScoreStat, ScoreSummaries, ScoreType, VersionComparison};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::evals::{compare_versions, get_score_summary, get_score_trends};
use crate::components::charts::{BinChart, LineChart};
use crate::components::page::LoadError;
use crate::state::filters::{use_filters, with_param};

const PATH: &str = "/evaluations";

/// A stat as a person reads it: the mean (or share true) and the count, or the top labels.
fn show(data_type: ScoreType, s: &ScoreStat) -> String {
    if s.n == 0 {
        return "–".into();
    }
    match (data_type, s.mean) {
        (ScoreType::Boolean, Some(m)) => format!("{:.0}% true · n={}", m * 100.0, s.n),
        (ScoreType::Numeric, Some(m)) => match s.sd {
            Some(sd) => format!("{m:.3} ± {sd:.3} · n={}", s.n),
            None => format!("{m:.3} · n={}", s.n),
        },
        _ => {
            let top: Vec<String> = s
                .labels
                .iter()
                .take(3)
                .map(|l| format!("{} {:.0}%", l.label, l.count as f64 * 100.0 / s.n as f64))
                .collect();
            format!("{} · n={}", top.join(", "), s.n)
        }
    }
}

#[component]
pub fn ScoreSummaryView() -> impl IntoView {
    let filters = use_filters();
    let query = use_query_map();
    let by = move || {
        query
            .with(|q| q.get("by"))
            .unwrap_or_else(|| "version".into())
    };
    let summary = resource(
        move || (filters.get(), by()),
        |(f, by)| get_score_summary(f, Some(by), Some(true)),
    );
    let trends = resource(
        move || (filters.get(), by()),
        |(f, by)| get_score_trends(f, Some(by), Some(true)),
    );
    view! {
        <section class="card" aria-label="Scores by group" data-testid="score-summary">
            <h2>"Scores over the window"</h2>
            <p>
                <span class="segmented" aria-label="Group by">
                    "By "
                    {["version", "agent", "environment"].into_iter().map(|b| view! {
                        <a href=move || query.with(|q| with_param(PATH, q, "by", b))
                            aria-current=move || (by() == b).to_string()
                            data-testid=format!("summary-by-{b}")>{b}</a>
                    }).collect_view()}
                </span>
            </p>
            <Transition fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match summary.await {
                        Ok(s) => view! { <SummaryTable summary=s /> }.into_any(),
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
            <Transition>
                {move || Suspend::new(async move {
                    match trends.await {
                        Ok(list) => view! { <Trends list by=by() /> }.into_any(),
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <Compare />
    }
}

#[component]
fn SummaryTable(summary: ScoreSummaries) -> impl IntoView {
    if summary.scores.is_empty() {
        return view! { <p class="empty" data-testid="summary-empty">"No scores in this window."</p> }
            .into_any();
    }
    let distributions = summary
        .scores
        .iter()
        .filter(|s| !s.histogram.is_empty())
        .take(6)
        .map(|s| {
            let median = s
                .p50
                .map(|m| format!(" · median ≈ {}", edge(m)))
                .unwrap_or_default();
            let title = format!("How {} spreads", s.name);
            view! {
                <figure class="histogram" data-testid="score-histogram">
                    <figcaption><strong>{s.name.clone()}</strong>{median}</figcaption>
                    <BinChart bins=coarse(&s.histogram) title unit_label="scores" />
                </figure>
            }
        })
        .collect_view();
    let rows = summary
        .scores
        .into_iter()
        .map(|s| {
            let groups = s
                .groups
                .iter()
                .take(6)
                .map(|g| {
                    let key = if g.key.is_empty() { "(unknown)".to_owned() } else { g.key.clone() };
                    view! { <li><strong>{key}</strong> " " {show(s.data_type, &g.stat)}</li> }
                })
                .collect_view();
            let better = match s.higher_is_better {
                Some(true) => "higher is better",
                Some(false) => "lower is better",
                None => "",
            };
            view! {
                <tr data-testid="summary-row">
                    <td><strong>{s.name.clone()}</strong><br /><span class="muted">{format!("{} {better}", s.data_type)}</span></td>
                    <td data-testid="summary-overall">{show(s.data_type, &s.overall)}</td>
                    <td><ul class="plain">{groups}</ul></td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="table" data-testid="summary-table">
                <thead><tr><th scope="col">"Score"</th><th scope="col">"Overall"</th><th scope="col">{format!("By {}", summary.by)}</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <div class="histogram-grid" aria-label="Distributions">{distributions}</div>
    }
    .into_any()
}

/// A bin edge as a label: at most two decimals, no trailing zeros.
fn edge(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A histogram in at most 12 bars (neighbouring bins added up), each labelled by its lower edge.
fn coarse(bins: &[argus_types::HistBin]) -> Vec<(String, i64)> {
    let per = bins.len().div_ceil(12).max(1);
    bins.chunks(per)
        .map(|c| (edge(c[0].lo), c.iter().map(|b| b.count).sum()))
        .collect()
}

/// Two versions side by side: a GET form, so the comparison is in the URL.
#[component]
fn Compare() -> impl IntoView {
    let filters = use_filters();
    let query = use_query_map();
    let pair = move || {
        query.with(|q| {
            let a = q.get("a").filter(|v| !v.trim().is_empty())?;
            let b = q.get("b").filter(|v| !v.trim().is_empty())?;
            Some((a, b))
        })
    };
    let result = resource(
        move || (filters.get(), pair()),
        |(f, pair)| async move {
            match pair {
                Some((a, b)) => compare_versions(f, a, b).await.map(Some),
                None => Ok(None),
            }
        },
    );
    // The form keeps the window and the other filters.
    let hidden = move || {
        filters
            .get()
            .pairs()
            .into_iter()
            .filter(|(k, _)| *k != "version")
            .map(|(k, v)| view! { <input type="hidden" name=k value=v /> })
            .collect_view()
    };
    let (a0, b0) = pair().unwrap_or_default();
    view! {
        <section class="card" aria-label="Compare versions" data-testid="compare">
            <h2>"Compare two versions"</h2>
            <form method="get" action=PATH class="form-inline" data-testid="compare-form">
                {hidden}
                <label>"Version A" <input type="text" name="a" value=a0 required data-testid="compare-a" /></label>
                <label>"Version B" <input type="text" name="b" value=b0 required data-testid="compare-b" /></label>
                <button type="submit" class="button button-small" data-testid="compare-submit">"Compare"</button>
            </form>
            <p class="muted">"Pick the agent in the filter bar to compare its versions. Welch's t-test for numbers, a two-proportion z-test for true/false; p < 0.05 is marked significant."</p>
            <Transition>
                {move || Suspend::new(async move {
                    match result.await {
                        Ok(Some(c)) => view! { <CompareTable comparison=c /> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn CompareTable(comparison: VersionComparison) -> impl IntoView {
    if comparison.scores.is_empty() {
        return view! { <p class="empty" data-testid="compare-empty">"Neither version has scores in this window."</p> }
            .into_any();
    }
    let rows = comparison
        .scores
        .into_iter()
        .map(|c| {
            let verdict = match &c.test {
                Some(t) if t.significant => format!("significant (p = {:.4})", t.p_value),
                Some(t) => format!("not significant (p = {:.3})", t.p_value),
                None => "too few scores to test".into(),
            };
            view! {
                <tr data-testid="compare-row">
                    <td><strong>{c.name.clone()}</strong></td>
                    <td>{show(c.data_type, &c.a)}</td>
                    <td>{show(c.data_type, &c.b)}</td>
                    <td data-testid="compare-verdict">{verdict}</td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="table" data-testid="compare-table">
                <thead><tr>
                    <th scope="col">"Score"</th>
                    <th scope="col">{format!("A: {}", comparison.a)}</th>
                    <th scope="col">{format!("B: {}", comparison.b)}</th>
                    <th scope="col">"Difference"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Each score's trend over the window, a line per group (booleans as the share true).
#[component]
fn Trends(list: Vec<argus_types::ScoreTrend>, by: String) -> impl IntoView {
    use argus_types::Unit;
    let charts = list
        .into_iter()
        .take(6)
        .map(|t| {
            let share = t.data_type == ScoreType::Boolean;
            let series: Vec<(String, Vec<Option<f64>>)> = t
                .series
                .iter()
                .map(|s| {
                    let key = if s.key.is_empty() {
                        "(unknown)".to_owned()
                    } else {
                        s.key.clone()
                    };
                    let values = s
                        .values
                        .iter()
                        .map(|v| v.map(|v| if share { v * 100.0 } else { v }))
                        .collect();
                    (key, values)
                })
                .collect();
            let unit = if share { Unit::Percent } else { Unit::Number };
            let what = if share { "share true" } else { "mean" };
            view! {
                <div class="trend" data-testid="score-trend">
                    <h3>{t.name.clone()}</h3>
                    <LineChart steps=t.steps series step_seconds=t.step_seconds unit
                        title=format!("{} ({what}) by {by}", t.name) />
                </div>
            }
        })
        .collect_view();
    view! { <div class="card-grid trends">{charts}</div> }
}
