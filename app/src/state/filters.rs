//! The filter context: `{range, dept, env, version, agent, model}` (or `from`/`to`).
//!
//! The URL is the source of truth: [`use_filters`] reads the query string (so a pasted link
//! renders, on the server, exactly that filtered page), and changing a filter navigates to the
//! new URL client-side (no reload; back and forward restore filters). localStorage remembers
//! the last filters and restores them only when the URL has none ([`use_filter_memory`]).

use argus_types::Filters;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

/// localStorage key of the last filters (JSON, as gloo-storage writes it).
pub const FILTERS_STORAGE_KEY: &str = "argus.filters";

/// The filters in a query string; blank values are unset.
pub fn from_query(q: &ParamsMap) -> Filters {
    Filters::parse(|k| q.get(k))
}

/// The traces list's own parameters in a query string; blank values are unset.
pub fn trace_filters(q: &ParamsMap) -> argus_types::TraceFilters {
    argus_types::TraceFilters::from_lookup(|k| q.get(k))
}

/// The current filters, from the URL.
pub fn use_filters() -> Memo<Filters> {
    let query = use_query_map();
    Memo::new(move |_| query.with(from_query))
}

/// `path` with `filters` as its query string.
pub fn href(path: &str, filters: &Filters) -> String {
    let q = filters.to_query();
    if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{q}")
    }
}

/// `path` with the query `query` in which `key` is set to `value` (an empty value removes it)
/// and every other parameter kept, except that a preset range removes a custom `from`/`to`
/// and any change but the cursor's drops the `cursor` (back to the first page).
pub fn with_param(path: &str, query: &ParamsMap, key: &str, value: &str) -> String {
    with_params(path, query, &[(key, value)])
}

/// [`with_param`] for several parameters at once; a custom `from` removes the preset `range`.
pub fn with_params(path: &str, query: &ParamsMap, set: &[(&str, &str)]) -> String {
    let setting = |k: &str| set.iter().any(|(key, _)| *key == k);
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut keys: Vec<String> = argus_types::FILTER_KEYS
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    for k in query
        .into_iter()
        .map(|(k, _)| k.to_string())
        .chain(set.iter().map(|(k, _)| (*k).to_owned()))
    {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let cursor_only = set.iter().all(|(k, _)| *k == "cursor");
    for k in keys {
        let v = if let Some((_, v)) = set.iter().find(|(key, _)| *key == k) {
            Some((*v).to_owned())
        } else if (setting("range") && (k == "from" || k == "to"))
            || (setting("from") && k == "range")
            || (k == "cursor" && !cursor_only)
        {
            // A preset replaces a custom range and the other way round; any other change
            // starts from the first page.
            None
        } else {
            query.get(&k)
        };
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            pairs.push((k, v));
        }
    }
    if pairs.is_empty() {
        return path.to_owned();
    }
    let q: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={}", argus_types::encode(&v)))
        .collect();
    format!("{path}?{}", q.join("&"))
}

/// `path` with the period of `next` (its `range`, or its `from`/`to`) in place of the one in
/// `query`, every other parameter kept.
pub fn with_period(path: &str, query: &ParamsMap, next: &Filters) -> String {
    let pairs = next.pairs();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    match next.custom {
        Some(_) => with_params(
            path,
            query,
            &[("range", ""), ("from", get("from")), ("to", get("to"))],
        ),
        None => with_params(path, query, &[("range", get("range"))]),
    }
}

/// Remembers the page's filters in localStorage and, when the page is opened with none in its
/// URL, restores the last ones (replacing the history entry, so Back still works).
pub fn use_filter_memory(path: &'static str) {
    let filters = use_filters();
    #[cfg(feature = "browser")]
    {
        use gloo_storage::{LocalStorage, Storage};
        use leptos_router::hooks::use_navigate;
        use leptos_router::NavigateOptions;
        let navigate = use_navigate();
        let first = StoredValue::new(true);
        Effect::new(move |_| {
            let current = filters.get();
            if first.get_value() {
                first.set_value(false);
                if current.is_empty() {
                    if let Ok(stored) = LocalStorage::get::<Filters>(FILTERS_STORAGE_KEY) {
                        if !stored.is_empty() {
                            navigate(
                                &href(path, &stored),
                                NavigateOptions {
                                    replace: true,
                                    ..Default::default()
                                },
                            );
                            return;
                        }
                    }
                }
            }
            // Private browsing may refuse storage: filters then live in the URL only.
            let _ = LocalStorage::set(FILTERS_STORAGE_KEY, &current);
        });
    }
    #[cfg(not(feature = "browser"))]
    let _ = (filters, path);
}

/// A counter that moves every `seconds` while the tab is visible (paused while hidden), and a
/// way to move it now: resources keyed on it refetch. On the server it never moves.
pub fn use_refresh(seconds: Signal<u64>) -> (ReadSignal<u64>, impl Fn() + Copy) {
    let (tick, set_tick) = signal(0u64);
    let refresh = move || set_tick.update(|t| *t += 1);
    #[cfg(feature = "browser")]
    {
        let elapsed = StoredValue::new(0u64);
        if let Ok(handle) = set_interval_with_handle(
            move || {
                let visible = web_sys::window()
                    .and_then(|w| w.document())
                    .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
                if !visible {
                    return;
                }
                elapsed.update_value(|e| *e += 1);
                if elapsed.get_value() >= seconds.get_untracked().max(1) {
                    elapsed.set_value(0);
                    refresh();
                }
            },
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "browser"))]
    let _ = seconds;
    (tick, refresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> ParamsMap {
        let mut q = ParamsMap::new();
        for (k, v) in pairs {
            q.insert((*k).to_owned(), (*v).to_owned());
        }
        q
    }

    #[test]
    fn a_parameter_is_set_and_the_others_kept() {
        let q = query(&[("dept", "support"), ("sort", "cost")]);
        assert_eq!(
            with_param("/usage", &q, "by", "agent"),
            "/usage?dept=support&sort=cost&by=agent"
        );
        assert_eq!(with_param("/usage", &q, "dept", ""), "/usage?sort=cost");
        // Any change but the cursor's goes back to the first page.
        let paged = query(&[("dept", "support"), ("cursor", "abc.def")]);
        assert_eq!(
            with_param("/traces", &paged, "q", "x"),
            "/traces?dept=support&q=x"
        );
        assert_eq!(
            with_param("/traces", &paged, "cursor", "ghi.jkl"),
            "/traces?dept=support&cursor=ghi.jkl"
        );
        assert_eq!(
            with_param("/", &ParamsMap::new(), "by", "model"),
            "/?by=model"
        );
        // A preset range replaces a custom one.
        let custom = query(&[
            ("from", "2026-11-01"),
            ("to", "2026-11-02"),
            ("env", "prod"),
        ]);
        assert_eq!(
            with_param("/", &custom, "range", "7d"),
            "/?range=7d&env=prod"
        );
        assert_eq!(
            with_param("/", &query(&[("agent", "a b&c")]), "model", "gpt-4o"),
            "/?agent=a%20b%26c&model=gpt-4o"
        );
    }

    #[test]
    fn a_period_replaces_the_other_kind_and_keeps_the_rest() {
        let q = query(&[("range", "7d"), ("dept", "support"), ("by", "model")]);
        let custom = Filters::from_query("from=2026-11-01T10:00:00Z&to=2026-11-02T00:00:00Z");
        assert_eq!(
            with_period("/cost", &q, &custom),
            "/cost?from=2026-11-01T10%3A00%3A00Z&to=2026-11-02&dept=support&by=model"
        );
        let back = query(&[
            ("from", "2026-11-01"),
            ("to", "2026-11-02"),
            ("env", "prod"),
        ]);
        assert_eq!(
            with_period("/", &back, &Filters::from_query("range=24h")),
            "/?range=24h&env=prod"
        );
        // An open custom range drops a `to` that was there.
        assert_eq!(
            with_period("/", &back, &Filters::from_query("from=2026-11-03")),
            "/?from=2026-11-03&env=prod"
        );
    }
}
