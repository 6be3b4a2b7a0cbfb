//! One KPI card (value, change against the previous period, sparkline) and the link to the
//! traces behind it: the home page's and an agent's.

use argus_types::{Filters, Kpi};
use leptos::prelude::*;

use crate::components::charts::Sparkline;
use crate::format;
use crate::state::filters::href;

/// Whether a rise of this KPI is bad news (shown red), good news, or neither.
fn rise_is_bad(key: &str) -> Option<bool> {
    match key {
        "error_rate" | "avg_latency" | "p95_latency" | "cost" => Some(true),
        _ => None,
    }
}

/// The traces behind a KPI: the list with the same filters, narrowed or sorted to match.
pub fn kpi_traces(key: &str, f: &Filters) -> String {
    let extra = match key {
        "error_rate" => "status=error",
        "avg_latency" | "p95_latency" => "sort=latency",
        "cost" => "sort=cost",
        _ => "",
    };
    let base = href("/traces", f);
    match (extra.is_empty(), base.contains('?')) {
        (true, _) => base,
        (false, true) => format!("{base}&{extra}"),
        (false, false) => format!("{base}?{extra}"),
    }
}

/// One KPI card: value, change against the previous period, sparkline; its title opens the
/// traces behind it.
#[component]
pub fn KpiCard(kpi: Kpi, filters: Filters) -> impl IntoView {
    let traces = kpi_traces(&kpi.key, &filters);
    let change = format::change(kpi.value, kpi.previous);
    let tone = match (rise_is_bad(&kpi.key), kpi.value, kpi.previous) {
        (Some(true), Some(c), Some(p)) if c > p * 1.05 => "kpi-change bad",
        (Some(true), Some(c), Some(p)) if c < p * 0.95 => "kpi-change good",
        _ => "kpi-change",
    };
    let previous = format::value(kpi.unit, kpi.previous);
    view! {
        <section class="card kpi" data-testid=format!("kpi-{}", kpi.key)>
            <h3><a href=traces title="Show the traces" data-testid="kpi-traces">{kpi.label.clone()}</a></h3>
            <p class="kpi-value" data-testid="kpi-value">{format::value(kpi.unit, kpi.value)}</p>
            <p class=tone title=format!("previous period: {previous}")>
                {change} <span class="muted">" vs previous"</span>
            </p>
            <Sparkline values=kpi.spark label=kpi.label />
        </section>
    }
}
