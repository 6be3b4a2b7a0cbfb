//! Performance: latency p50/p95/p99 and the error rate over time (from merged histograms,
//! within 1 %), the distribution of latencies, and the slowest agents and models. Filters live
//! in the URL; the page renders on the server and works without JavaScript.

use crate::state::codec::resource;
use argus_types::{Dimension, Filters, LatencyBin, LatencyStat, Performance, Unit};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::metrics::{get_filter_options, get_performance};
use crate::components::charts::{BinChart, LineChart};
use crate::components::filter_bar::FilterBar;
use crate::components::page::{updated_label, DataHeader, Loaded, Notices};
use crate::format;
use crate::state::filters::{href, use_filter_memory, use_filters, use_refresh};
use crate::state::prefs::{use_prefs, ColumnChooser};
use crate::state::query_cache::use_page_data;

const PATH: &str = "/performance";

/// The latency table's columns: key, label.
const COLUMNS: [(&str, &str); 7] = [
    ("requests", "Requests"),
    ("error_rate", "Error rate"),
    ("avg", "Avg"),
    ("p50", "p50"),
    ("p95", "p95"),
    ("p99", "p99"),
    ("errors", "Errors"),
];

#[component]
pub fn PerformancePage() -> impl IntoView {
    let filters = use_filters();
    use_filter_memory(PATH);
    let (tick, refresh) = use_refresh(Signal::derive(|| 30));
    let report = use_page_data("performance", filters, tick, |f| {
        get_performance(f, Some(true))
    });
    let options = resource(|| (), |_| get_filter_options());
    let updated = Signal::derive(move || {
        report
            .get()
            .and_then(|r| r.ok())
            .map(|r| updated_label(&r.window, r.generated_at))
    });
    view! {
        <Title text="Performance · Argus" />
        <DataHeader title="Performance"
            subtitle="Latency percentiles and errors over time, the slowest agents and models."
            updated refresh=Callback::new(move |_| refresh()) />
        <Transition>
            {move || Suspend::new(async move {
                let opts = options.await.unwrap_or_default();
                view! { <FilterBar path=PATH options=opts /> }
            })}
        </Transition>
        <Loaded resource=report skeleton="kpi-grid"
            view=move |r| view! { <PerformanceView report=r filters=filters.get_untracked() /> } />
    }
}

fn ms(v: Option<f64>) -> String {
    format::value(Unit::Ms, v)
}

/// `≤ 1 ms`, `50–100 ms`, `> 60 s`.
fn bin_label(b: &LatencyBin) -> String {
    let short = |v: f64| {
        if v >= 1000.0 {
            format!("{} s", v / 1000.0)
        } else {
            format!("{v} ms")
        }
    };
    match b.to_ms {
        None => format!("> {}", short(b.from_ms)),
        Some(to) if b.from_ms == 0.0 => format!("≤ {}", short(to)),
        Some(to) => format!("{}–{}", short(b.from_ms).trim_end_matches(" ms"), short(to)),
    }
}

#[component]
fn PerformanceView(report: Performance, filters: Filters) -> impl IntoView {
    let o = &report.overall;
    let steps: Vec<_> = report.points.iter().map(|p| p.t).collect();
    let latency = vec![
        (
            "p50".to_owned(),
            report.points.iter().map(|p| p.p50_ms).collect(),
        ),
        (
            "p95".to_owned(),
            report.points.iter().map(|p| p.p95_ms).collect(),
        ),
        (
            "p99".to_owned(),
            report.points.iter().map(|p| p.p99_ms).collect(),
        ),
    ];
    let errors = vec![(
        "error rate".to_owned(),
        report.points.iter().map(|p| p.error_rate).collect(),
    )];
    let bins: Vec<(String, i64)> = report
        .distribution
        .iter()
        .map(|b| (bin_label(b), b.count))
        .collect();
    let what = if filters.model.is_some() {
        "calls"
    } else {
        "requests"
    };
    let step_seconds = report.window.step_seconds;
    let label = report.window.label.clone();
    // "Alert on this": the rule editor, prefilled with the chart's measure and filters.
    let alert_link = |metric: &str, threshold: Option<f64>| {
        let mut q = vec![("metric".to_owned(), metric.to_owned())];
        if let Some(t) = threshold.filter(|t| t.is_finite() && *t > 0.0) {
            q.push(("threshold".into(), format!("{:.0}", t.ceil())));
        }
        for (k, v) in [
            ("agent", &filters.agent),
            ("dept", &filters.dept),
            ("env", &filters.env),
        ] {
            if let Some(v) = v {
                q.push((k.into(), v.as_str().to_owned()));
            }
        }
        let query: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{k}={}", argus_types::encode(v)))
            .collect();
        format!("/alerts?{}", query.join("&"))
    };
    let latency_alert = alert_link("latency_p95", o.p95_ms.map(|v| v * 1.5));
    let error_alert = alert_link("error_rate", Some(5.0));
    view! {
        <Notices notices=report.notices.clone() />
        <div class="kpi-grid">
            {[("p50", "p50 latency", ms(o.p50_ms)), ("p95", "p95 latency", ms(o.p95_ms)),
              ("p99", "p99 latency", ms(o.p99_ms)), ("avg", "Avg latency", ms(o.avg_ms)),
              ("error_rate", "Error rate", format::value(Unit::Percent, o.error_rate)),
              ("requests", "Requests", format::value(Unit::Count, Some(o.requests as f64)))]
                .into_iter().map(|(key, title, value)| view! {
                    <section class="card kpi" data-testid=format!("perf-{key}")>
                        <h3>{title}</h3>
                        <p class="kpi-value" data-testid="kpi-value">{value}</p>
                    </section>
                }).collect_view()}
        </div>
        <section class="card">
            <div class="card-header">
                <h2>"Latency over time"</h2>
                <a href=latency_alert class="button button-secondary button-small" data-testid="alert-on-latency">"Alert on this"</a>
            </div>
            <LineChart steps=steps.clone() series=latency step_seconds unit=Unit::Ms
                title=format!("Latency p50, p95 and p99 of {what}, {label}") testid="latency-chart" />
        </section>
        <section class="card">
            <div class="card-header">
                <h2>"Error rate over time"</h2>
                <a href=error_alert class="button button-secondary button-small">"Alert on this"</a>
            </div>
            <LineChart steps series=errors step_seconds unit=Unit::Percent
                title=format!("Error rate of {what}, {label}") testid="error-rate-chart" />
        </section>
        <section class="card">
            <h2>"Latency distribution"</h2>
            <BinChart bins title=format!("How many {what} took how long, {label}") unit_label=what />
        </section>
        <section class="card">
            <div class="card-header">
                <h2>"Slowest agents"</h2>
                <ColumnChooser table="latency" columns=COLUMNS.to_vec() />
            </div>
            <LatencyTable rows=report.slowest_agents dim=Dimension::Agent filters=filters.clone() />
        </section>
        <section class="card">
            <h2>"Slowest models"</h2>
            <LatencyTable rows=report.slowest_models dim=Dimension::Model filters />
        </section>
    }
}

fn cell(s: &LatencyStat, key: &str) -> String {
    match key {
        "requests" => format::value(Unit::Count, Some(s.requests as f64)),
        "errors" => format::value(Unit::Count, Some(s.errors as f64)),
        "error_rate" => format::value(Unit::Percent, s.error_rate),
        "avg" => ms(s.avg_ms),
        "p50" => ms(s.p50_ms),
        "p99" => ms(s.p99_ms),
        _ => ms(s.p95_ms),
    }
}

/// Agents or models by p95, slowest first; the columns the user hid are not shown.
#[component]
fn LatencyTable(rows: Vec<LatencyStat>, dim: Dimension, filters: Filters) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="empty">"No requests in this range."</p> }.into_any();
    }
    let prefs = use_prefs();
    let hidden = move |c: &'static str| prefs.with(|p| p.is_hidden("latency", c));
    view! {
        <div class="table-scroll" tabindex="0"><table class="table" data-testid=format!("slowest-{}", dim.key())>
            <thead><tr>
                <th>{dim.label()}</th>
                {COLUMNS.into_iter().map(|(c, l)| view! {
                    <th class="num" hidden=move || hidden(c) data-column=c>{l}</th>
                }).collect_view()}
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let link = href(PATH, &filters.with_dim(dim, &r.key));
                    view! {
                        <tr data-testid="latency-row">
                            <td><a href=link>{r.key.clone()}</a></td>
                            {COLUMNS.into_iter().map(|(c, _)| view! {
                                <td class="num" hidden=move || hidden(c) data-column=c>{cell(&r, c)}</td>
                            }).collect_view()}
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
    .into_any()
}
