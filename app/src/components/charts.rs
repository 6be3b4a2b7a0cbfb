//! Small SVG charts, rendered on the server (visible without JavaScript). Every chart has a
//! `<title>` and a `<desc>` summarising it; every bar carries its own `<title>`, which browsers
//! show as a tooltip on hover. Colours come from CSS variables, so both themes read well.

use argus_types::{SeriesPoint, Unit};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::format;

/// A sparkline of `values` (gaps for `None`), 100 × 24 units, scaled to its own range.
#[component]
pub fn Sparkline(values: Vec<Option<f64>>, label: String) -> impl IntoView {
    let max = values.iter().flatten().copied().fold(0.0_f64, f64::max);
    let min = values
        .iter()
        .flatten()
        .copied()
        .fold(max, f64::min)
        .min(0.0);
    let n = values.len().max(2) as f64 - 1.0;
    let span = (max - min).max(f64::EPSILON);
    let mut d = String::new();
    let mut pen_up = true;
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let x = i as f64 / n * 100.0;
                let y = 22.0 - (v - min) / span * 20.0;
                d.push_str(&format!("{}{x:.2},{y:.2} ", if pen_up { "M" } else { "L" }));
                pen_up = false;
            }
            None => pen_up = true,
        }
    }
    view! {
        <svg class="sparkline" viewBox="0 0 100 24" preserveAspectRatio="none" role="img"
            aria-label=format!("{label} trend")>
            <path d=d vector-effect="non-scaling-stroke"></path>
        </svg>
    }
}

fn time_label(t: DateTime<Utc>, step_seconds: i64) -> String {
    if step_seconds >= 86_400 {
        t.format("%b %-d").to_string()
    } else {
        t.format("%b %-d %H:%M").to_string()
    }
}

/// Requests (bars) and errors (red bars in front) per step, with a y axis in requests and the
/// first, middle and last times on the x axis.
#[component]
pub fn RequestsChart(points: Vec<SeriesPoint>, step_seconds: i64, title: String) -> impl IntoView {
    const W: f64 = 600.0;
    const H: f64 = 180.0;
    const LEFT: f64 = 48.0;
    const BOTTOM: f64 = 22.0;
    let total: i64 = points.iter().map(|p| p.requests).sum();
    let errors: i64 = points.iter().map(|p| p.errors).sum();
    if points.is_empty() || total == 0 {
        return view! {
            <p class="empty chart-empty" data-testid="chart-empty">"No requests in this range."</p>
        }
        .into_any();
    }
    let max = points.iter().map(|p| p.requests).max().unwrap_or(1).max(1) as f64;
    let plot_w = W - LEFT;
    let plot_h = H - BOTTOM;
    let bar_w = plot_w / points.len() as f64;
    let y = |v: f64| plot_h - v / max * (plot_h - 8.0);
    let desc = format!(
        "{} requests and {} errors, {} to {}, peak {} per step.",
        format::thousands(total as u64),
        format::thousands(errors as u64),
        time_label(points[0].t, step_seconds),
        time_label(points[points.len() - 1].t, step_seconds),
        format::thousands(max as u64)
    );
    let ticks = [0.0, max / 2.0, max];
    let n = points.len();
    let x_labels = [0, n / 2, n - 1];
    view! {
        <svg class="chart" viewBox=format!("0 0 {W} {H}") role="img" data-testid="requests-chart">
            <title>{title}</title>
            <desc>{desc}</desc>
            {ticks.into_iter().map(|t| view! {
                <g class="axis">
                    <line x1=LEFT x2=W y1=y(t) y2=y(t)></line>
                    <text x=LEFT - 6.0 y=y(t) + 4.0 text-anchor="end">
                        {format::value(Unit::Count, Some(t))}
                    </text>
                </g>
            }).collect_view()}
            {points.iter().enumerate().map(|(i, p)| {
                let x = LEFT + i as f64 * bar_w;
                let tip = format!(
                    "{}: {} requests, {} errors",
                    time_label(p.t, step_seconds),
                    format::thousands(p.requests.max(0) as u64),
                    format::thousands(p.errors.max(0) as u64)
                );
                view! {
                    <g class="bar">
                        <title>{tip}</title>
                        <rect class="bar-requests" x=x + 0.5 y=y(p.requests as f64)
                            width=(bar_w - 1.0).max(0.5) height=plot_h - y(p.requests as f64)></rect>
                        <rect class="bar-errors" x=x + 0.5 y=y(p.errors as f64)
                            width=(bar_w - 1.0).max(0.5) height=plot_h - y(p.errors as f64)></rect>
                    </g>
                }
            }).collect_view()}
            {x_labels.into_iter().map(|i| {
                let anchor = if i == 0 { "start" } else if i == n - 1 { "end" } else { "middle" };
                let x = LEFT + (i as f64 + if i == n - 1 { 1.0 } else { 0.0 }) * bar_w;
                view! {
                    <text class="axis-x" x=x y=H - 4.0 text-anchor=anchor>
                        {time_label(points[i].t, step_seconds)}
                    </text>
                }
            }).collect_view()}
        </svg>
        <p class="chart-legend">
            <span class="swatch swatch-requests"></span>"Requests"
            <span class="swatch swatch-errors"></span>"Errors"
        </p>
    }
    .into_any()
}

/// Stacked bars: one colour per series (at most six), a y axis in `unit`, a legend, and a
/// tooltip per segment.
#[component]
pub fn StackedChart(
    steps: Vec<DateTime<Utc>>,
    series: Vec<(String, Vec<f64>)>,
    step_seconds: i64,
    unit: Unit,
    title: String,
) -> impl IntoView {
    const W: f64 = 600.0;
    const H: f64 = 200.0;
    const LEFT: f64 = 56.0;
    const BOTTOM: f64 = 22.0;
    let n = steps.len();
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            series
                .iter()
                .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().fold(0.0_f64, f64::max);
    if n == 0 || max <= 0.0 {
        return view! {
            <p class="empty chart-empty" data-testid="chart-empty">"Nothing in this range."</p>
        }
        .into_any();
    }
    let plot_w = W - LEFT;
    let plot_h = H - BOTTOM;
    let bar_w = plot_w / n as f64;
    let scale = |v: f64| v / max * (plot_h - 8.0);
    let desc = format!(
        "{} in all from {} to {}, split by {}.",
        format::value(unit, Some(totals.iter().sum())),
        time_label(steps[0], step_seconds),
        time_label(steps[n - 1], step_seconds),
        series
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let ticks = [0.0, max / 2.0, max];
    let x_labels = [0, n / 2, n - 1];
    let legend: Vec<(usize, String)> = series.iter().map(|(k, _)| k.clone()).enumerate().collect();
    view! {
        <svg class="chart" viewBox=format!("0 0 {W} {H}") role="img" data-testid="stacked-chart">
            <title>{title}</title>
            <desc>{desc}</desc>
            {ticks.into_iter().map(|t| view! {
                <g class="axis">
                    <line x1=LEFT x2=W y1=plot_h - scale(t) y2=plot_h - scale(t)></line>
                    <text x=LEFT - 6.0 y=plot_h - scale(t) + 4.0 text-anchor="end">
                        {format::value(unit, Some(t))}
                    </text>
                </g>
            }).collect_view()}
            {(0..n).map(|i| {
                let x = LEFT + i as f64 * bar_w;
                let mut base = plot_h;
                series.iter().enumerate().map(|(s, (key, values))| {
                    let v = values.get(i).copied().unwrap_or(0.0);
                    let h = scale(v);
                    base -= h;
                    let tip = format!("{} · {key}: {}", time_label(steps[i], step_seconds), format::value(unit, Some(v)));
                    view! {
                        <rect class=format!("series-{s}") x=x + 0.5 y=base width=(bar_w - 1.0).max(0.5) height=h>
                            <title>{tip}</title>
                        </rect>
                    }
                }).collect_view()
            }).collect_view()}
            {x_labels.into_iter().map(|i| {
                let anchor = if i == 0 { "start" } else if i == n - 1 { "end" } else { "middle" };
                let x = LEFT + (i as f64 + if i == n - 1 { 1.0 } else { 0.0 }) * bar_w;
                view! {
                    <text class="axis-x" x=x y=H - 4.0 text-anchor=anchor>
                        {time_label(steps[i], step_seconds)}
                    </text>
                }
            }).collect_view()}
        </svg>
        <p class="chart-legend">
            {legend.into_iter().map(|(s, k)| view! {
                <span class=format!("swatch series-{s}")></span>{k}
            }).collect_view()}
        </p>
    }
    .into_any()
}
