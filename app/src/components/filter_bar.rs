//! The filter bar every dashboard page shares: the range and the dimension dropdowns, as a GET
//! form (it works without JavaScript: Apply); with JavaScript every change navigates at once,
//! keeping the page's other parameters. The selections follow the URL (Back, Forward).

use argus_types::{Dimension, FilterOptions, Range};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::state::filters::{use_filters, with_param};

/// One dropdown of the filter bar: "all" plus the values the workspace has sent (and the
/// current value, even when it is not among them).
#[component]
fn FilterSelect(
    dim: Dimension,
    all: &'static str,
    values: Vec<String>,
    path: &'static str,
) -> impl IntoView {
    let name = dim.key();
    let label = dim.label();
    let filters = use_filters();
    let current = filters.with_untracked(|f| f.dim(dim).map(ToString::to_string));
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
    let value = move || filters.with(|f| f.dim(dim).map(ToString::to_string).unwrap_or_default());
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
    let preset = f.preset();
    let navigate = use_navigate();
    let on_range = move |ev: leptos::ev::Event| {
        let next = query.with_untracked(|q| with_param(path, q, "range", &event_target_value(&ev)));
        navigate(&next, NavigateOptions::default());
    };
    let range_value = move || filters.with(|f| f.preset().map(Range::as_str).unwrap_or_default());
    view! {
        <form class="filters card" method="get" action=path data-testid="filter-bar">
            <label>
                "Range"
                <select name="range" on:change=on_range prop:value=range_value data-testid="filter-range">
                    {preset.is_none().then(|| view! { <option value="" selected>"Custom"</option> })}
                    {Range::ALL.into_iter().map(|r| {
                        let selected = preset == Some(r);
                        view! { <option value=r.as_str() selected=selected>{r.label()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <FilterSelect dim=Dimension::Department all="All departments"
                values=options.departments path />
            <FilterSelect dim=Dimension::Environment all="All environments"
                values=options.environments path />
            <FilterSelect dim=Dimension::Version all="All versions"
                values=options.versions path />
            <FilterSelect dim=Dimension::Agent all="All agents"
                values=options.agents path />
            <FilterSelect dim=Dimension::Model all="All models"
                values=options.models path />
            <button type="submit" class="button button-secondary button-small">"Apply"</button>
            {(!f.is_empty()).then(|| view! {
                <a class="button button-small button-ghost" href=path data-testid="clear-filters">"Clear"</a>
            })}
        </form>
    }
}
