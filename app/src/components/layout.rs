use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::theme_toggle::ThemeToggle;

/// The pages the navigation links to. Only pages that exist are listed.
const NAV: &[(&str, &str)] = &[("/status", "System status")];

/// Header, navigation and the main area around every page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="app-header">
            <A href="/" attr:class="brand">
                <svg class="brand-mark" viewBox="0 0 32 32" aria-hidden="true">
                    <circle cx="16" cy="16" r="13"></circle>
                    <circle cx="16" cy="16" r="5"></circle>
                </svg>
                <span class="brand-name">"Argus"</span>
            </A>
            <nav class="app-nav" aria-label="Main">
                {NAV
                    .iter()
                    .map(|(href, label)| {
                        view! { <A href=*href>{*label}</A> }
                    })
                    .collect_view()}
            </nav>
            <div class="app-header-actions">
                <ThemeToggle />
            </div>
        </header>
        <main id="main" class="app-main">
            {children()}
        </main>
    }
}
