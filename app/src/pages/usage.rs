//! Usage: requests or tokens over time, split by department, agent or model (`?by=`, `?show=`),
//! and every group in a table sortable by any column (`?sort=`). All choices live in the URL,
//! so the page renders on the server and works without JavaScript.

use crate::state::codec::resource;
use argus_types::{Unit, UsageBreakdown, UsageRow};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::api::metrics::{get_filter_options, get_usage_breakdown};
use crate::components::charts::StackedChart;
use crate::components::filter_bar::FilterBar;
use crate::components::page::Loaded;
use crate::format;
use crate::state::filters::{use_filter_memory, use_filters, use_refresh, with_param};
use crate::state::prefs::{use_prefs, ChartKindPicker, ColumnChooser};
use crate::state::query_cache::cached;

const PATH: &str = "/usage";

const COLUMNS: [(&str, &str, Unit); 8] = [
    ("requests", "Requests", Unit::Count),
    ("errors", "Errors", Unit::Count),
    ("input", "Input tokens", Unit::Tokens),
    ("output", "Output tokens", Unit::Tokens),
    ("cached", "Cached tokens", Unit::Tokens),
    ("reasoning", "Reasoning tokens", Unit::Tokens),
    ("tokens", "Total tokens", Unit::Tokens),
    ("cost", "Cost", Unit::Usd),
];

fn column(r: &UsageRow, key: &str) -> f64 {
    match key {
        "errors" => r.errors as f64,
        "input" => r.input_tokens as f64,
        "output" => r.output_tokens as f64,
        "cached" => r.cache_read_tokens as f64,
        "reasoning" => r.reasoning_tokens as f64,
        "tokens" => (r.input_tokens + r.output_tokens) as f64,
        "cost" => r.cost_usd,
        _ => r.requests as f64,
    }
}

#[component]
pub fn UsagePage() -> impl IntoView {
    let filters = use_filters();
    use_filter_memory(PATH);
    let query = use_query_map();
    let param = move |k: &'static str, default: &'static str| {
        move || {
            query
                .with(|q| q.get(k).filter(|v| !v.is_empty()))
                .unwrap_or_else(|| default.to_owned())
        }
    };
    let by = param("by", "department");
    let (tick, refresh) = use_refresh(Signal::derive(|| 30));
    let data = resource(
        move || (filters.get(), by(), tick.get()),
        |(f, by, tick)| {
            let key = format!("usage?by={by}&{}", f.to_query());
            cached(key, tick > 0, get_usage_breakdown(Some(by), f, Some(true)))
        },
    );
    let options = resource(|| (), |_| get_filter_options());
    view! {
        <Title text="Usage · Argus" />
        <div class="page-header">
            <div>
                <h1>"Usage"</h1>
                <p class="muted">"Requests and tokens over time, by department, agent or model."</p>
            </div>
            <div class="page-actions">
                <button type="button" class="button button-secondary button-small"
                    on:click=move |_| refresh()>"Refresh"</button>
            </div>
        </div>
        <Transition>
            {move || Suspend::new(async move {
                let opts = options.await.unwrap_or_default();
                view! { <FilterBar path=PATH options=opts /> }
            })}
        </Transition>
        <section class="card">
            <p>
                <span class="segmented" aria-label="Split by">
                    "Split by "
                    {["department", "agent", "model"].into_iter().map(|b| view! {
                        <a href=move || query.with(|q| with_param(PATH, q, "by", b))
                            aria-current=move || (by() == b).to_string()
                            data-testid=format!("by-{b}")>{b}</a>
                    }).collect_view()}
                </span>
                <ChartKindPicker />
                <span class="segmented" aria-label="Show">
                    "Show "
                    {["requests", "tokens"].into_iter().map(|s| view! {
                        <a href=move || query.with(|q| with_param(PATH, q, "show", s))
                            aria-current=move || (param("show", "requests")() == s).to_string()
                            data-testid=format!("show-{s}")>{s}</a>
                    }).collect_view()}
                </span>
            </p>
            // The view reads the URL (tracked inside Suspend too): a new sort or view
            // re-renders from the same data.
            <Loaded resource=data skeleton="chart" view=move |u| {
                let current = query.get();
                let show = current.get("show").unwrap_or_default();
                let sort = current.get("sort").unwrap_or_default();
                view! { <UsageView usage=u show sort query=current /> }
            } />
        </section>
    }
}

#[component]
fn UsageView(usage: UsageBreakdown, show: String, sort: String, query: ParamsMap) -> impl IntoView {
    let tokens = show == "tokens";
    let series: Vec<(String, Vec<f64>)> = usage
        .series
        .iter()
        .map(|s| {
            let values = if tokens { &s.tokens } else { &s.requests };
            (s.key.clone(), values.iter().map(|v| *v as f64).collect())
        })
        .collect();
    let what = if tokens { "Tokens" } else { "Requests" };
    let title = format!("{what} by {}, {}", usage.by, usage.window.label);
    let sort_key = COLUMNS
        .iter()
        .map(|c| c.0)
        .find(|k| *k == sort)
        .unwrap_or("requests");
    let mut rows = usage.rows.clone();
    rows.sort_by(|a, b| {
        column(b, sort_key)
            .total_cmp(&column(a, sort_key))
            .then_with(|| a.key.cmp(&b.key))
    });
    let by = usage.by.clone();
    let prefs = use_prefs();
    let hidden = move |c: &'static str| prefs.with(|p| p.is_hidden("usage", c));
    let steps = usage.steps.clone();
    let step_seconds = usage.window.step_seconds;
    let unit = if tokens { Unit::Tokens } else { Unit::Count };
    view! {
        {move || view! {
            <StackedChart steps=steps.clone() series=series.clone() step_seconds unit
                title=title.clone() kind=prefs.with(|p| p.chart) />
        }}
        <div class="table-tools">
            <ColumnChooser table="usage" columns=COLUMNS.iter().map(|(k, l, _)| (*k, *l)).collect() />
        </div>
        {if rows.is_empty() {
            view! { <p class="empty" data-testid="usage-empty">"No usage in this range."</p> }.into_any()
        } else {
            view! {
                <div class="table-scroll" tabindex="0"><table class="table" data-testid="usage-table">
                    <thead>
                        <tr>
                            <th>{by}</th>
                            {COLUMNS.into_iter().map(|(key, label, _)| {
                                let href = with_param(PATH, &query, "sort", key);
                                view! {
                                    <th class="num" hidden=move || hidden(key) data-column=key
                                        aria-sort=(key == sort_key).then_some("descending")>
                                        <a href=href
                                            data-testid=format!("sort-{key}")>{label}</a>
                                    </th>
                                }
                            }).collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        {rows.into_iter().map(|r| view! {
                            <tr data-testid="usage-row">
                                <td>{r.key.clone()}</td>
                                {COLUMNS.into_iter().map(|(key, _, unit)| view! {
                                    <td class="num" hidden=move || hidden(key) data-column=key>
                                        {format::value(unit, Some(column(&r, key)))}
                                    </td>
                                }).collect_view()}
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
            }.into_any()
        }}
    }
}
