//! Small SVG charts, rendered on the server (visible without JavaScript). Every chart has a
//! `<title>` and a `<desc>` summarising it; every bar carries its own `<title>`, which browsers
//! show as a tooltip on hover. Colours come from CSS variables, so both themes read well.

use argus_types::{SeriesPoint, Unit};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::format;
use crate::state::prefs::use_time_zone;
use crate::state::prefs::ChartKind;
use crate::state::time::TimeZone;

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

fn time_label(tz: TimeZone, t: DateTime<Utc>, step_seconds: i64) -> String {
    if step_seconds >= 86_400 {
        tz.format(t, "%b %-d")
    } else {
        tz.format(t, "%b %-d %H:%M")
    }
}

/// [`time_label`] in the chosen time zone, as reactive text.
fn label(t: DateTime<Utc>, step_seconds: i64) -> impl Fn() -> String + Clone + Send + Sync {
    let tz = use_time_zone();
    move || time_label(tz.get(), t, step_seconds)
}

/// The end of a chart whose steps run from `first` to `last` (the end of the last step), and the
/// labels of its first and last step in the chosen time zone, as reactive text (its description).
fn span(
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    step_seconds: i64,
) -> (
    DateTime<Utc>,
    impl Fn() -> (String, String) + Clone + Send + Sync,
) {
    let tz = use_time_zone();
    let labels = move || {
        let tz = tz.get();
        (
            time_label(tz, first, step_seconds),
            time_label(tz, last, step_seconds),
        )
    };
    (last + chrono::Duration::seconds(step_seconds), labels)
}

/// Drag across a time chart to zoom: the range selected becomes the page's `from`/`to` (a new
/// history entry, so Back returns to the range before). The chart (the only child) has a
/// `view_box = (width, height, left)` whose plot runs from `left` to `width` and covers
/// `[from, to)`. A click that did not drag stays a click (a bar's link still opens).
#[component]
fn Zoom(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    view_box: (f64, f64, f64),
    children: Children,
) -> impl IntoView {
    // The selection, in pixels from the wrapper's left edge.
    let selection = RwSignal::new(None::<(f64, f64)>);
    let node = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "browser")]
    let (on_down, on_move, on_up, on_cancel, on_click) = {
        use leptos::wasm_bindgen::JsCast;
        use leptos_router::hooks::{use_location, use_navigate, use_query_map};
        let (width, height, left) = view_box;
        let filters = crate::state::filters::use_filters();
        let query = use_query_map();
        let location = use_location();
        let navigate = use_navigate();
        // clientX where the drag began, and whether it moved far enough to be a drag.
        let start = StoredValue::new(None::<f64>);
        let dragged = StoredValue::new(false);
        // Events are delegated: the wrapper is the node, not the event's current target.
        let wrapper = move |_: &leptos::ev::PointerEvent| {
            node.get_untracked()
                .and_then(|el| el.dyn_into::<web_sys::Element>().ok())
        };
        // (wrapper's left, plot's left, plot's right) in client pixels: the SVG keeps its
        // aspect ratio, centred in its box.
        let geometry = move |el: &web_sys::Element| {
            let wrap = el.get_bounding_client_rect();
            let svg = el
                .first_element_child()
                .map(|s| s.get_bounding_client_rect())
                .unwrap_or_else(|| wrap.clone());
            let scale = (svg.width() / width).min(svg.height() / height).max(1e-9);
            let x0 = svg.left() + (svg.width() - width * scale) / 2.0;
            (wrap.left(), x0 + left * scale, x0 + width * scale)
        };
        let on_down = move |ev: leptos::ev::PointerEvent| {
            let Some(el) = wrapper(&ev) else { return };
            if ev.button() != 0 || !ev.is_primary() {
                return;
            }
            let (_, x0, x1) = geometry(&el);
            let x = f64::from(ev.client_x());
            if (x0..=x1).contains(&x) {
                start.set_value(Some(x));
                dragged.set_value(false);
            }
        };
        let on_move = move |ev: leptos::ev::PointerEvent| {
            let (Some(s), Some(el)) = (start.get_value(), wrapper(&ev)) else {
                return;
            };
            let (wrap_left, x0, x1) = geometry(&el);
            let x = f64::from(ev.client_x()).clamp(x0, x1);
            if !dragged.get_value() && (x - s).abs() >= 4.0 {
                dragged.set_value(true);
                // Only a drag captures the pointer: a plain click still reaches its link.
                let _ = el.set_pointer_capture(ev.pointer_id());
            }
            if dragged.get_value() {
                selection.set(Some((s.min(x) - wrap_left, s.max(x) - wrap_left)));
            }
        };
        let on_up = move |ev: leptos::ev::PointerEvent| {
            let (Some(s), Some(el)) = (start.get_value(), wrapper(&ev)) else {
                return;
            };
            start.set_value(None);
            selection.set(None);
            if !dragged.get_value() {
                return;
            }
            let (_, x0, x1) = geometry(&el);
            let x = f64::from(ev.client_x()).clamp(x0, x1);
            let at = |px: f64| {
                let share = ((px - x0) / (x1 - x0).max(1.0)).clamp(0.0, 1.0);
                let ms = ((to - from).num_milliseconds() as f64 * share) as i64;
                from + chrono::TimeDelta::milliseconds(ms)
            };
            use chrono::DurationRound;
            let minute = chrono::TimeDelta::minutes(1);
            let a = at(s.min(x));
            let b = at(s.max(x));
            let a = a.duration_trunc(minute).unwrap_or(a);
            let b = b.duration_round_up(minute).unwrap_or(b);
            let next = filters.with_untracked(|f| {
                argus_types::Custom::new(a, Some(b))
                    .ok()
                    .map(|c| f.with_custom(c))
            });
            if let Some(next) = next {
                let path = location.pathname.get_untracked();
                let href =
                    query.with_untracked(|q| crate::state::filters::with_period(&path, q, &next));
                navigate(&href, Default::default());
            }
        };
        let on_cancel = move |_: leptos::ev::PointerEvent| {
            start.set_value(None);
            dragged.set_value(false);
            selection.set(None);
        };
        // The click that ends a drag is not a click on the bar under it.
        let on_click = move |ev: leptos::ev::MouseEvent| {
            if dragged.get_value() {
                dragged.set_value(false);
                ev.prevent_default();
                ev.stop_propagation();
            }
        };
        (on_down, on_move, on_up, on_cancel, on_click)
    };
    #[cfg(not(feature = "browser"))]
    let (on_down, on_move, on_up, on_cancel, on_click) = {
        let _ = (from, to, view_box);
        (
            |_: leptos::ev::PointerEvent| {},
            |_: leptos::ev::PointerEvent| {},
            |_: leptos::ev::PointerEvent| {},
            |_: leptos::ev::PointerEvent| {},
            |_: leptos::ev::MouseEvent| {},
        )
    };
    view! {
        <div class="chart-zoom" data-testid="chart-zoom" node_ref=node title="Drag across the chart to zoom"
            on:pointerdown=on_down on:pointermove=on_move on:pointerup=on_up
            on:pointercancel=on_cancel on:click:capture=on_click>
            {children()}
            <div class="zoom-selection" data-testid="zoom-selection"
                hidden=move || selection.get().is_none()
                style:left=move || format!("{}px", selection.get().map_or(0.0, |s| s.0))
                style:width=move || format!("{}px", selection.get().map_or(0.0, |s| s.1 - s.0))>
            </div>
        </div>
    }
}

/// Requests (bars) and errors (red bars in front) per step, with a y axis in requests and the
/// first, middle and last times on the x axis.
#[component]
pub fn RequestsChart(
    points: Vec<SeriesPoint>,
    step_seconds: i64,
    title: String,
    /// With the filters' query (`dept=support&…`, may be empty): each bar links to the traces
    /// of its step.
    #[prop(optional)]
    traces: Option<String>,
) -> impl IntoView {
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
    let y = move |v: f64| plot_h - v / max * (plot_h - 8.0);
    let first = points[0].t;
    let (end, labels) = span(first, points[points.len() - 1].t, step_seconds);
    let desc = move || {
        let (from, to) = labels();
        format!(
            "{} requests and {} errors, {from} to {to}, peak {} per step.",
            format::thousands(total as u64),
            format::thousands(errors as u64),
            format::thousands(max as u64)
        )
    };
    let ticks = [0.0, max / 2.0, max];
    let n = points.len();
    let x_labels = [0, n / 2, n - 1];
    let aria = title.clone();
    view! {
        <Zoom from=first to=end view_box=(W, H, LEFT)>
        <svg class="chart" viewBox=format!("0 0 {W} {H}") role="figure" aria-label=aria data-testid="requests-chart">
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
                let counts = format!(
                    "{} requests, {} errors",
                    format::thousands(p.requests.max(0) as u64),
                    format::thousands(p.errors.max(0) as u64)
                );
                let when = label(p.t, step_seconds);
                let tip = move || format!("{}: {counts}", when());
                let href = traces.as_ref().map(|dims| {
                    let stamp = |t: DateTime<Utc>| {
                        argus_types::encode(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    };
                    let to = p.t + chrono::Duration::seconds(step_seconds);
                    let sep = if dims.is_empty() { "" } else { "&" };
                    format!("/traces?from={}&to={}{sep}{dims}", stamp(p.t), stamp(to))
                });
                // Inside <g>, `a` is SVG's link: the whole bar opens its step's traces.
                view! {
                    <g class="bar">
                        <a href=href.clone() data-testid="chart-bar-link" aria-label=tip.clone()>
                            <title>{tip.clone()}</title>
                            <rect class="bar-requests" x=x + 0.5 y=y(p.requests as f64)
                                width=(bar_w - 1.0).max(0.5) height=plot_h - y(p.requests as f64)></rect>
                            <rect class="bar-errors" x=x + 0.5 y=y(p.errors as f64)
                                width=(bar_w - 1.0).max(0.5) height=plot_h - y(p.errors as f64)></rect>
                        </a>
                    </g>
                }
            }).collect_view()}
            {x_labels.into_iter().map(|i| {
                let anchor = if i == 0 { "start" } else if i == n - 1 { "end" } else { "middle" };
                let x = LEFT + (i as f64 + if i == n - 1 { 1.0 } else { 0.0 }) * bar_w;
                view! {
                    <text class="axis-x" x=x y=H - 4.0 text-anchor=anchor>
                        {label(points[i].t, step_seconds)}
                    </text>
                }
            }).collect_view()}
        </svg>
        </Zoom>
        <p class="chart-legend">
            <span class="swatch swatch-requests"></span>"Requests"
            <span class="swatch swatch-errors"></span>"Errors"
        </p>
    }
    .into_any()
}

/// The plot area shared by the multi-series charts: width, height and margins.
const W: f64 = 600.0;
const H: f64 = 200.0;
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 22.0;

/// The y grid with labels in `unit`, for values up to `max` (scaled by `y`).
fn y_axis(max: f64, unit: Unit, y: impl Fn(f64) -> f64) -> impl IntoView {
    [0.0, max / 2.0, max]
        .into_iter()
        .map(|t| {
            view! {
                <g class="axis">
                    <line x1=LEFT x2=W y1=y(t) y2=y(t)></line>
                    <text x=LEFT - 6.0 y=y(t) + 4.0 text-anchor="end">
                        {format::value(unit, Some(t))}
                    </text>
                </g>
            }
        })
        .collect_view()
}

/// The first, middle and last step times under the plot.
fn x_axis(steps: &[DateTime<Utc>], step_seconds: i64, bar_w: f64) -> impl IntoView {
    let n = steps.len();
    [0, n / 2, n - 1]
        .into_iter()
        .map(|i| {
            let anchor = if i == 0 {
                "start"
            } else if i == n - 1 {
                "end"
            } else {
                "middle"
            };
            let x = LEFT + (i as f64 + if i == n - 1 { 1.0 } else { 0.0 }) * bar_w;
            view! {
                <text class="axis-x" x=x y=H - 4.0 text-anchor=anchor>
                    {label(steps[i], step_seconds)}
                </text>
            }
        })
        .collect_view()
}

fn legend(keys: Vec<String>) -> impl IntoView {
    view! {
        <p class="chart-legend">
            {keys.into_iter().enumerate().map(|(s, k)| view! {
                <span class=format!("swatch series-{s}")></span>{k}
            }).collect_view()}
        </p>
    }
}

/// Several series over time (at most six), drawn as `kind`: stacked bars, bars side by side,
/// or lines; a y axis in `unit`, a legend, and a tooltip per value.
#[component]
pub fn StackedChart(
    steps: Vec<DateTime<Utc>>,
    series: Vec<(String, Vec<f64>)>,
    step_seconds: i64,
    unit: Unit,
    title: String,
    #[prop(optional)] kind: ChartKind,
) -> impl IntoView {
    let n = steps.len();
    let value = |s: &[f64], i: usize| s.get(i).copied().unwrap_or(0.0);
    let totals: Vec<f64> = (0..n)
        .map(|i| series.iter().map(|(_, v)| value(v, i)).sum())
        .collect();
    if n == 0 || totals.iter().all(|t| *t <= 0.0) {
        return view! {
            <p class="empty chart-empty" data-testid="chart-empty">"Nothing in this range."</p>
        }
        .into_any();
    }
    if kind == ChartKind::Lines {
        let lines = series
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(Some).collect()))
            .collect();
        return view! { <LineChart steps series=lines step_seconds unit title /> }.into_any();
    }
    let max = match kind {
        ChartKind::Stacked => totals.iter().copied().fold(0.0_f64, f64::max),
        _ => series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0_f64, f64::max),
    };
    let plot_h = H - BOTTOM;
    let bar_w = (W - LEFT) / n as f64;
    let scale = move |v: f64| v / max * (plot_h - 8.0);
    let total = format::value(unit, Some(totals.iter().sum()));
    let split = series
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let first = steps[0];
    let (end, labels) = span(first, steps[n - 1], step_seconds);
    let desc = move || {
        let (from, to) = labels();
        format!("{total} in all from {from} to {to}, split by {split}.")
    };
    let keys: Vec<String> = series.iter().map(|(k, _)| k.clone()).collect();
    let width = series.len().max(1) as f64;
    view! {
        <Zoom from=first to=end view_box=(W, H, LEFT)>
        <svg class="chart" viewBox=format!("0 0 {W} {H}") role="img" data-testid="stacked-chart"
            data-kind=kind.as_str()>
            <title>{title}</title>
            <desc>{desc}</desc>
            {y_axis(max, unit, move |v| plot_h - scale(v))}
            {(0..n).map(|i| {
                let x = LEFT + i as f64 * bar_w;
                let mut base = plot_h;
                series.iter().enumerate().map(|(s, (key, values))| {
                    let v = value(values, i);
                    let h = scale(v);
                    let (bx, by, bw) = if kind == ChartKind::Stacked {
                        base -= h;
                        (x + 0.5, base, (bar_w - 1.0).max(0.5))
                    } else {
                        let w = (bar_w - 1.0).max(0.5) / width;
                        (x + 0.5 + s as f64 * w, plot_h - h, w)
                    };
                    let what = format!("{key}: {}", format::value(unit, Some(v)));
                    let when = label(steps[i], step_seconds);
                    let tip = move || format!("{} · {what}", when());
                    view! {
                        <rect class=format!("series-{s}") x=bx y=by width=bw height=h>
                            <title>{tip}</title>
                        </rect>
                    }
                }).collect_view()
            }).collect_view()}
            {x_axis(&steps, step_seconds, bar_w)}
        </svg>
        </Zoom>
        {legend(keys)}
    }
    .into_any()
}

/// Lines over time (at most six series; `None` leaves a gap), a y axis in `unit`, and a
/// tooltip per step listing every series' value there.
#[component]
pub fn LineChart(
    steps: Vec<DateTime<Utc>>,
    series: Vec<(String, Vec<Option<f64>>)>,
    step_seconds: i64,
    unit: Unit,
    title: String,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let n = steps.len();
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .fold(0.0_f64, f64::max);
    let any = series.iter().any(|(_, v)| v.iter().any(Option::is_some));
    if n == 0 || !any {
        return view! {
            <p class="empty chart-empty" data-testid="chart-empty">"Nothing in this range."</p>
        }
        .into_any();
    }
    let max = if max > 0.0 { max } else { 1.0 };
    let plot_h = H - BOTTOM;
    let bar_w = (W - LEFT) / n as f64;
    let x = move |i: usize| LEFT + (i as f64 + 0.5) * bar_w;
    let y = move |v: f64| plot_h - v / max * (plot_h - 8.0);
    let paths: Vec<(usize, String)> = series
        .iter()
        .enumerate()
        .map(|(s, (_, values))| {
            let mut d = String::new();
            let mut pen_up = true;
            for (i, v) in values.iter().enumerate() {
                match v {
                    Some(v) => {
                        let cmd = if pen_up { "M" } else { "L" };
                        d.push_str(&format!("{cmd}{:.1},{:.1} ", x(i), y(*v)));
                        pen_up = false;
                    }
                    None => pen_up = true,
                }
            }
            (s, d)
        })
        .collect();
    let summary: Vec<String> = series
        .iter()
        .map(|(k, v)| {
            let peak = v.iter().flatten().copied().fold(f64::NAN, f64::max);
            format!(
                "{k} peaks at {}",
                format::value(unit, (!peak.is_nan()).then_some(peak))
            )
        })
        .collect();
    let summary = summary.join("; ");
    let first = steps[0];
    let (end, labels) = span(first, steps[n - 1], step_seconds);
    let desc = move || {
        let (from, to) = labels();
        format!("From {from} to {to}: {summary}.")
    };
    let keys: Vec<String> = series.iter().map(|(k, _)| k.clone()).collect();
    view! {
        <Zoom from=first to=end view_box=(W, H, LEFT)>
        <svg class="chart" viewBox=format!("0 0 {W} {H}") role="img"
            data-testid=testid.unwrap_or("line-chart") data-kind="lines">
            <title>{title}</title>
            <desc>{desc}</desc>
            {y_axis(max, unit, y)}
            {paths.into_iter().map(|(s, d)| view! {
                <path class=format!("line series-{s}") d=d></path>
            }).collect_view()}
            {(0..n).map(|i| {
                let values = series
                    .iter()
                    .map(|(k, v)| {
                        format!("{k}: {}", format::value(unit, v.get(i).copied().flatten()))
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                let when = label(steps[i], step_seconds);
                let tip = move || format!("{}\n{values}", when());
                view! {
                    <g class="hover">
                        <title>{tip}</title>
                        <rect class="hit" x=LEFT + i as f64 * bar_w y=0 width=bar_w height=plot_h></rect>
                        {series.iter().enumerate().filter_map(|(s, (_, v))| {
                            v.get(i).copied().flatten().map(|v| view! {
                                <circle class=format!("point series-{s}") cx=x(i) cy=y(v) r=3></circle>
                            })
                        }).collect_view()}
                    </g>
                }
            }).collect_view()}
            {x_axis(&steps, step_seconds, bar_w)}
        </svg>
        </Zoom>
        {legend(keys)}
    }
    .into_any()
}

/// A histogram: one bar per labelled bin, with its count as tooltip.
#[component]
pub fn BinChart(
    bins: Vec<(String, i64)>,
    title: String,
    unit_label: &'static str,
) -> impl IntoView {
    let total: i64 = bins.iter().map(|b| b.1).sum();
    if total == 0 {
        return view! {
            <p class="empty chart-empty" data-testid="chart-empty">"Nothing in this range."</p>
        }
        .into_any();
    }
    let n = bins.len();
    let max = bins.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let plot_h = H - BOTTOM;
    let bar_w = (W - LEFT) / n as f64;
    let y = move |v: f64| plot_h - v / max * (plot_h - 8.0);
    let desc = format!(
        "{} {unit_label} in {n} bins from {} to {}.",
        format::thousands(total as u64),
        bins[0].0,
        bins[n - 1].0
    );
    view! {
        <svg class="chart" viewBox=format!("0 0 {W} {H}") role="img" data-testid="bin-chart">
            <title>{title}</title>
            <desc>{desc}</desc>
            {y_axis(max, Unit::Count, y)}
            {bins.iter().enumerate().map(|(i, (label, count))| {
                let x = LEFT + i as f64 * bar_w;
                let share = *count as f64 * 100.0 / total as f64;
                let tip = format!("{label}: {} {unit_label} ({share:.1} %)", format::thousands(*count as u64));
                view! {
                    <g>
                        <rect class="bar-bin" x=x + 1.0 y=y(*count as f64)
                            width=(bar_w - 2.0).max(0.5) height=plot_h - y(*count as f64)>
                            <title>{tip}</title>
                        </rect>
                        <text class="axis-x" x=x + bar_w / 2.0 y=H - 4.0 text-anchor="middle">{label.clone()}</text>
                    </g>
                }
            }).collect_view()}
        </svg>
    }
    .into_any()
}
