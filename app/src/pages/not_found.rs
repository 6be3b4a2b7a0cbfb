use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// The page for any path no route matches; answered with HTTP 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found · Argus" />
        <section class="empty-state not-found" data-testid="not-found">
            <p class="empty-state-code">"404"</p>
            <h1>"Page not found"</h1>
            <p class="muted">
                "There is nothing at this address. It may have moved, or the link may be mistyped."
            </p>
            <A href="/status" attr:class="button">
                "Go to system status"
            </A>
        </section>
    }
}
