//! The browser entry. Everything else lives in `app`.
//!
//! - `hydrate` (the real build, by cargo-leptos): takes over the server-rendered HTML.
//! - `csr` (the Trunk development build): renders the app in the browser from scratch.
#![forbid(unsafe_code)]

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

#[cfg(all(feature = "csr", not(feature = "hydrate")))]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
