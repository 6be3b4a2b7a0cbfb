//! The client's staleness window: a page's data fetched less than [`STALE_AFTER`] ago is
//! reused when the user navigates back to the page (no request, no loading state); a refresh
//! (the 30-second timer or the button) always fetches and renews the entry. On the server
//! every fetch goes through.

use crate::state::codec::{resource, Json};
use std::future::Future;

use argus_types::Filters;
use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::AppError;

/// How long fetched dashboard data is reused on navigation (5 minutes).
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

/// When each entry was fetched (ms since the page loaded) and its value.
#[cfg(feature = "browser")]
type Entries = std::collections::HashMap<String, (f64, std::rc::Rc<dyn std::any::Any>)>;

#[cfg(feature = "browser")]
thread_local! {
    static ENTRIES: std::cell::RefCell<Entries> = Default::default();
}

#[cfg(feature = "browser")]
fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// `fetch`'s result, or the one stored under `key` less than [`STALE_AFTER`] ago unless
/// `fresh` (a refresh) is asked for.
pub async fn cached<T, F>(key: String, fresh: bool, fetch: F) -> Result<T, AppError>
where
    T: Clone + 'static,
    F: Future<Output = Result<T, AppError>>,
{
    #[cfg(feature = "browser")]
    {
        let now = now_ms();
        if !fresh {
            let hit = ENTRIES.with(|e| {
                e.borrow()
                    .get(&key)
                    .filter(|(at, _)| now - at < STALE_AFTER.as_millis() as f64)
                    .and_then(|(_, v)| v.downcast_ref::<T>().cloned())
            });
            if let Some(v) = hit {
                return Ok(v);
            }
        }
        let v = fetch.await?;
        let stored: std::rc::Rc<dyn std::any::Any> = std::rc::Rc::new(v.clone());
        ENTRIES.with(|e| e.borrow_mut().insert(key, (now_ms(), stored)));
        Ok(v)
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = (key, fresh);
        fetch.await
    }
}

/// A dashboard page's data: fetched for the filters in the URL, again on every refresh tick,
/// and reused within [`STALE_AFTER`] when the user comes back to the page (`name` keeps pages
/// apart).
pub fn use_page_data<T, Fut>(
    name: &'static str,
    filters: Memo<Filters>,
    tick: ReadSignal<u64>,
    fetch: fn(Filters) -> Fut,
) -> Resource<Result<T, AppError>, Json>
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    Fut: Future<Output = Result<T, AppError>> + Send + 'static,
{
    resource(
        move || (filters.get(), tick.get()),
        move |(f, tick)| {
            let key = format!("{name}?{}", f.to_query());
            cached(key, tick > 0, fetch(f))
        },
    )
}
