//! Display preferences kept in localStorage (`argus.prefs`): the chart type and which columns
//! each table shows. The server renders the defaults; the browser applies the stored choice
//! once hydrated and saves every change.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::state::time::{browser_zone_name, TimeZone};

/// localStorage key of the preferences (JSON, as gloo-storage writes it).
pub const PREFS_STORAGE_KEY: &str = "argus.prefs";

/// How a chart of several series is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    /// Bars, the series stacked.
    #[default]
    Stacked,
    /// Bars side by side.
    Bars,
    /// One line per series.
    Lines,
}

impl ChartKind {
    pub const ALL: [ChartKind; 3] = [ChartKind::Stacked, ChartKind::Bars, ChartKind::Lines];

    pub fn label(self) -> &'static str {
        match self {
            ChartKind::Stacked => "Stacked bars",
            ChartKind::Bars => "Bars",
            ChartKind::Lines => "Lines",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChartKind::Stacked => "stacked",
            ChartKind::Bars => "bars",
            ChartKind::Lines => "lines",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prefs {
    #[serde(default)]
    pub chart: ChartKind,
    /// Per table, the keys of the columns the user hid.
    #[serde(default)]
    pub hidden_columns: BTreeMap<String, BTreeSet<String>>,
    /// The clock times are shown in.
    #[serde(default)]
    pub time_zone: TimeZone,
}

impl Prefs {
    pub fn is_hidden(&self, table: &str, column: &str) -> bool {
        self.hidden_columns
            .get(table)
            .is_some_and(|c| c.contains(column))
    }

    /// Shows `column` of `table` if it was hidden, hides it otherwise.
    pub fn toggle_column(&mut self, table: &str, column: &str) {
        let hidden = self.hidden_columns.entry(table.to_owned()).or_default();
        if !hidden.remove(column) {
            hidden.insert(column.to_owned());
        }
        if hidden.is_empty() {
            self.hidden_columns.remove(table);
        }
    }
}

#[derive(Clone, Copy)]
struct PrefsContext(RwSignal<Prefs>);

/// Provides the preferences app-wide (from [`crate::App`]).
pub fn provide_prefs() {
    let prefs = RwSignal::new(Prefs::default());
    #[cfg(feature = "browser")]
    {
        use gloo_storage::{LocalStorage, Storage};
        let loaded = StoredValue::new(false);
        let hydrated = crate::state::hydration::use_hydrated();
        Effect::new(move |_| {
            // Not before the page is hydrated (a split-off page hydrates later than the app).
            if !hydrated.get() {
                return;
            }
            let current = prefs.get();
            if !loaded.get_value() {
                loaded.set_value(true);
                if let Ok(stored) = LocalStorage::get::<Prefs>(PREFS_STORAGE_KEY) {
                    if stored != current {
                        prefs.set(stored);
                    }
                }
                return;
            }
            // Private browsing may refuse storage: the choice then lasts for this page.
            let _ = LocalStorage::set(PREFS_STORAGE_KEY, &current);
        });
    }
    provide_context(PrefsContext(prefs));
}

/// The preferences (defaults outside the app, e.g. in a component test).
pub fn use_prefs() -> RwSignal<Prefs> {
    use_context::<PrefsContext>()
        .map(|c| c.0)
        .unwrap_or_else(|| RwSignal::new(Prefs::default()))
}

/// Buttons choosing the chart type.
#[component]
pub fn ChartKindPicker() -> impl IntoView {
    let prefs = use_prefs();
    view! {
        <span class="segmented" role="group" aria-label="Chart type">
            "Chart "
            {ChartKind::ALL.into_iter().map(|k| view! {
                <button type="button" class="button button-secondary button-small"
                    aria-pressed=move || (prefs.with(|p| p.chart) == k).to_string()
                    data-testid=format!("chart-{}", k.as_str())
                    on:click=move |_| prefs.update(|p| p.chart = k)>{k.label()}</button>
            }).collect_view()}
        </span>
    }
}

/// A "Columns" menu of checkboxes showing or hiding the columns of `table`.
#[component]
pub fn ColumnChooser(
    table: &'static str,
    columns: Vec<(&'static str, &'static str)>,
) -> impl IntoView {
    let prefs = use_prefs();
    view! {
        <details class="column-chooser" data-testid=format!("columns-{table}")>
            <summary class="button button-secondary button-small">"Columns"</summary>
            <fieldset>
                <legend class="muted">"Show columns"</legend>
                {columns.into_iter().map(|(key, label)| view! {
                    <label>
                        <input type="checkbox" data-testid=format!("column-{key}")
                            prop:checked=move || !prefs.with(|p| p.is_hidden(table, key))
                            on:change=move |_| prefs.update(|p| p.toggle_column(table, key)) />
                        " " {label}
                    </label>
                }).collect_view()}
            </fieldset>
        </details>
    }
}

/// The zone times are shown in (UTC on the server and until the preference is read).
pub fn use_time_zone() -> Signal<TimeZone> {
    let prefs = use_prefs();
    Signal::derive(move || prefs.with(|p| p.time_zone))
}

/// `t` as text in chrono's `fmt` (`%Z`: the zone), following the chosen zone.
pub fn when(t: DateTime<Utc>, fmt: &'static str) -> impl Fn() -> String + Clone + Send + Sync {
    let tz = use_time_zone();
    move || tz.get().format(t, fmt)
}

/// A picker for the zone: UTC or the browser's.
#[component]
pub fn TimeZonePicker() -> impl IntoView {
    let prefs = use_prefs();
    // The browser's zone name is known only once hydrated; the server says "Browser time".
    let name = RwSignal::new(None::<String>);
    Effect::new(move |_| name.set(browser_zone_name()));
    let on_change = move |ev: leptos::ev::Event| {
        let tz = if event_target_value(&ev) == "browser" {
            TimeZone::Browser
        } else {
            TimeZone::Utc
        };
        prefs.update(|p| p.time_zone = tz);
    };
    view! {
        <label>
            "Time zone"
            <select data-testid="time-zone" on:change=on_change
                prop:value=move || prefs.with(|p| p.time_zone.as_str())>
                <option value="utc">"UTC"</option>
                <option value="browser">
                    {move || match name.get() {
                        Some(n) => format!("Browser ({n})"),
                        None => "Browser time".to_owned(),
                    }}
                </option>
            </select>
        </label>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_toggle_and_the_stored_form_is_stable() {
        let mut p = Prefs::default();
        p.toggle_column("usage", "cost");
        assert!(p.is_hidden("usage", "cost"));
        assert!(!p.is_hidden("cost", "cost"));
        p.chart = ChartKind::Lines;
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"{"chart":"lines","hidden_columns":{"usage":["cost"]},"time_zone":"utc"}"#
        );
        assert_eq!(serde_json::from_str::<Prefs>(&json).unwrap(), p);
        p.toggle_column("usage", "cost");
        assert_eq!(
            p,
            Prefs {
                chart: ChartKind::Lines,
                ..Prefs::default()
            }
        );
        // Anything unknown or missing falls back to the defaults.
        assert_eq!(
            serde_json::from_str::<Prefs>("{}").unwrap(),
            Prefs::default()
        );
    }
}
