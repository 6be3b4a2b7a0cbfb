//! Whether the browser has taken over the server-rendered page.
//!
//! Pages split off the main bundle (`cargo leptos build --split`) hydrate only once their chunk
//! has loaded, after the app's own effects have run. An app-wide effect that changed state
//! before then (the preferences read from localStorage, say) would leave the page's
//! server-rendered HTML behind: hydration takes the HTML as it is. Such effects wait for
//! [`use_hydrated`]; the browser entry calls [`complete`] when the whole page is hydrated.

use leptos::prelude::*;

#[derive(Clone, Copy)]
struct Hydrated(RwSignal<bool>);

#[cfg(feature = "browser")]
thread_local! {
    static HYDRATED: std::cell::Cell<Option<RwSignal<bool>>> = const { std::cell::Cell::new(None) };
}

/// Provides the flag app-wide (from [`crate::App`]), false until [`complete`].
pub fn provide_hydrated() {
    let hydrated = RwSignal::new(false);
    #[cfg(feature = "browser")]
    HYDRATED.with(|h| h.set(Some(hydrated)));
    provide_context(Hydrated(hydrated));
}

/// True once the page is hydrated (never on the server).
pub fn use_hydrated() -> Signal<bool> {
    use_context::<Hydrated>()
        .map(|h| h.0.into())
        .unwrap_or_else(|| Signal::stored(false))
}

/// Called by the browser entry once the page, its lazily loaded route included, is hydrated
/// (or, in the client-side build, mounted): sets the flag and `data-hydrated` on `<body>`,
/// which tests and CSS wait for.
pub fn complete() {
    #[cfg(feature = "browser")]
    {
        if let Some(hydrated) = HYDRATED.with(std::cell::Cell::get) {
            hydrated.set(true);
        }
        if let Some(body) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.body())
        {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    }
}
