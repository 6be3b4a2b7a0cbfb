//! The filter bar every dashboard page shares: the range and the dimension dropdowns, as a GET
//! form (it works without JavaScript: Apply); with JavaScript every change navigates at once,
//! keeping the page's other parameters. The selections follow the URL (Back, Forward).
//!
//! The period is a preset or an absolute from/to (calendar and time inputs, in the chosen time
//! zone), and steps back or forward by its own length; the time charts zoom into a range
//! dragged across them ([`crate::components::charts`]).

use argus_types::{Custom, Dimension, FilterOptions, Filters, Range, Step};
use chrono::Utc;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::state::filters::{use_filters, with_param, with_period};
use crate::state::prefs::{use_time_zone, TimeZonePicker};

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

/// A link to the period just before or after the current one (none after a period that ends
/// now). The link is computed when drawn; a click computes it again at that moment.
#[component]
fn StepLink(path: &'static str, step: Step) -> impl IntoView {
    let filters = use_filters();
    let query = use_query_map();
    let navigate = use_navigate();
    let target = move || {
        filters
            .with(|f| f.stepped(step, Utc::now()))
            .map(|next| query.with(|q| with_period(path, q, &next)))
    };
    let on_click = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        let next = filters.with_untracked(|f| f.stepped(step, Utc::now()));
        if let Some(next) = next {
            let href = query.with_untracked(|q| with_period(path, q, &next));
            navigate(&href, NavigateOptions::default());
        }
    };
    let (label, text, testid) = match step {
        Step::Earlier => ("Earlier: the period before this one", "◀", "step-earlier"),
        Step::Later => ("Later: the period after this one", "▶", "step-later"),
    };
    view! {
        <a class="button button-secondary button-small step" href=target
            aria-disabled=move || target().is_none().then_some("true")
            aria-label=label title=label data-testid=testid on:click=on_click>{text}</a>
    }
}

/// The absolute period: from and to (calendar and time), in the chosen time zone. Without
/// JavaScript the form sends them as UTC; with it, each change navigates at once.
#[component]
fn PeriodInputs(path: &'static str) -> impl IntoView {
    let filters = use_filters();
    let query = use_query_map();
    let navigate = use_navigate();
    let tz = use_time_zone();
    let error = RwSignal::new(None::<String>);
    let shown = move |end: &'static str| {
        move || {
            let tz = tz.get();
            filters
                .with(|f| {
                    let c = f.custom?;
                    let t = if end == "from" {
                        Some(c.from())
                    } else {
                        c.to()
                    };
                    t.map(|t| tz.input_value(t))
                })
                .unwrap_or_default()
        }
    };
    let on_change = move |end: &'static str| {
        let navigate = navigate.clone();
        move |ev: leptos::ev::Event| {
            let raw = event_target_value(&ev);
            let value = tz.get_untracked().from_input(&raw);
            if value.is_none() && !raw.trim().is_empty() {
                return; // still being typed
            }
            let f = filters.get_untracked();
            let (from, _) = f.period(Utc::now());
            let to = f.custom.and_then(|c| c.to());
            let next: Result<Filters, String> = match (end, value) {
                // Clearing from goes back to the preset.
                ("from", None) => Ok(f.with_range(None)),
                ("from", Some(v)) => Custom::new(v, to)
                    .map(|c| f.with_custom(c))
                    .map_err(|n| n.message),
                // A blank "to" is "until now".
                (_, v) => Custom::new(f.custom.map(|c| c.from()).unwrap_or(from), v)
                    .map(|c| f.with_custom(c))
                    .map_err(|n| n.message),
            };
            match next {
                Ok(next) => {
                    error.set(None);
                    let href = query.with_untracked(|q| with_period(path, q, &next));
                    navigate(&href, NavigateOptions::default());
                }
                Err(message) => error.set(Some(format!("{end}: {message}"))),
            }
        }
    };
    view! {
        <label>
            "From"
            <input type="datetime-local" name="from" step="60" data-testid="filter-from"
                value=shown("from") prop:value=shown("from") on:change=on_change("from") />
        </label>
        <label>
            "To"
            <input type="datetime-local" name="to" step="60" data-testid="filter-to"
                value=shown("to") prop:value=shown("to") on:change=on_change("to") />
        </label>
        {move || error.get().map(|e| view! {
            <span class="form-error" role="alert" data-testid="period-error">{e}</span>
        })}
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
            <span class="period-steps" role="group" aria-label="Move the period">
                <StepLink path step=Step::Earlier />
                <StepLink path step=Step::Later />
            </span>
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
            <PeriodInputs path />
            <TimeZonePicker />
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
