//! The browser entry. Everything else lives in `app`.
//!
//! - `hydrate` (the real build, by cargo-leptos): takes over the server-rendered HTML.
//! - `csr` (the Trunk development build): renders the app in the browser from scratch.
#![forbid(unsafe_code)]
// The hydration future of the whole app is a deeply nested type.
#![recursion_limit = "256"]

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // As `leptos::mount::hydrate_lazy` (a page split off the bundle loads its chunk before it
    // hydrates), then tells the app the whole page is hydrated.
    wasm_bindgen_futures::spawn_local(async {
        let Some(body) = leptos::prelude::document().body() else {
            return;
        };
        leptos::mount::hydrate_from_async(body, app::App)
            .await
            .forget();
        app::state::hydration::complete();
    });
}

#[cfg(all(feature = "csr", not(feature = "hydrate")))]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
    app::state::hydration::complete();
}
