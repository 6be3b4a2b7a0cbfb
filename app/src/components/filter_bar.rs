//! The filter bar every dashboard page shares: the range and the dimension dropdowns, as a GET
//! form (it works without JavaScript: Apply); with JavaScript every change navigates at once,
//! keeping the page's other parameters. The selections follow the URL (Back, Forward).

use argus_types::{FilterOptions, Filters, RANGES};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::state::filters::{use_filters, with_param};

/// One dropdown of the filter bar: "all" plus the values the workspace has sent (and the
/// current value, even when it is not among them).
#[component]
fn FilterSelect(
    name: &'static str,
    label: &'static str,
    all: &'static str,
    values: Vec<String>,
    current: Option<String>,
    path: &'static str,
) -> impl IntoView {
    let filters = use_filters();
    let query = use_query_map();
    let navigate = use_navigate();
    let mut values = values;
    if let Some(c) = &current {
        if !values.contains(c) {
            values.push(c.clone());
        }
    }
    let on_change = move |ev: leptos::ev::Event| {
        let next = query.with_untracked(|q| with_param(path, q, name, &event_target_value(&ev)));
        navigate(&next, NavigateOptions::default());
    };
    // The URL is the truth: Back and Forward move the selection too.
    let value = move || field(&filters.get(), name).unwrap_or_default();
    view! {
        <label>
            {label}
            <select name=name on:change=on_change prop:value=value data-testid=format!("filter-{name}")>
                <option value="" selected=current.is_none()>{all}</option>
                {values.into_iter().map(|v| {
                    let selected = current.as_deref() == Some(v.as_str());
                    view! { <option value=v.clone() selected=selected>{v.clone()}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}

/// The filters as a GET form: it works without JavaScript (Apply); with it, every change
/// navigates at once.
#[component]
pub fn FilterBar(path: &'static str, options: FilterOptions) -> impl IntoView {
    let filters = use_filters();
    let query = use_query_map();
    let f = filters.get_untracked();
    let custom = f.from.is_some() || f.to.is_some();
    let range = f.range.clone();
    let navigate = use_navigate();
    let on_range = move |ev: leptos::ev::Event| {
        let next = query.with_untracked(|q| with_param(path, q, "range", &event_target_value(&ev)));
        navigate(&next, NavigateOptions::default());
    };
    let range_value = move || {
        let f = filters.get();
        if f.from.is_some() || f.to.is_some() {
            String::new()
        } else {
            f.range
                .unwrap_or_else(|| argus_types::DEFAULT_RANGE.to_owned())
        }
    };
    view! {
        <form class="filters card" method="get" action=path data-testid="filter-bar">
            <label>
                "Range"
                <select name="range" on:change=on_range prop:value=range_value data-testid="filter-range">
                    {custom.then(|| view! { <option value="" selected>"Custom"</option> })}
                    {RANGES.into_iter().map(|r| {
                        let selected = !custom
                            && range.as_deref().unwrap_or(argus_types::DEFAULT_RANGE) == r;
                        view! { <option value=r selected=selected>{range_label(r)}</option> }
                    }).collect_view()}
                </select>
            </label>
            <FilterSelect name="dept" label="Department" all="All departments"
                values=options.departments current=f.dept.clone() path />
            <FilterSelect name="env" label="Environment" all="All environments"
                values=options.environments current=f.env.clone() path />
            <FilterSelect name="version" label="Version" all="All versions"
                values=options.versions current=f.version.clone() path />
            <FilterSelect name="agent" label="Agent" all="All agents"
                values=options.agents current=f.agent.clone() path />
            <FilterSelect name="model" label="Model" all="All models"
                values=options.models current=f.model.clone() path />
            <button type="submit" class="button button-secondary button-small">"Apply"</button>
            {(!f.is_empty()).then(|| view! {
                <a class="button button-small button-ghost" href=path data-testid="clear-filters">"Clear"</a>
            })}
        </form>
    }
}

/// The value of one dimension filter.
fn field(f: &Filters, name: &str) -> Option<String> {
    match name {
        "dept" => f.dept.clone(),
        "env" => f.env.clone(),
        "version" => f.version.clone(),
        "agent" => f.agent.clone(),
        _ => f.model.clone(),
    }
}

fn range_label(r: &str) -> &'static str {
    match r {
        "1h" => "Last hour",
        "24h" => "Last 24 hours",
        "7d" => "Last 7 days",
        "30d" => "Last 30 days",
        _ => "Last 90 days",
    }
}
