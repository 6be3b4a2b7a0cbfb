use leptos::prelude::*;

/// Switches between light and dark. Both icons are rendered and CSS shows the one that fits
/// the current `data-theme`, so server and browser render the same markup.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let on_click = move |_| {
        #[cfg(feature = "browser")]
        {
            use crate::state::theme;
            theme::apply(theme::current().toggled());
        }
    };
    view! {
        <button
            type="button"
            class="icon-button theme-toggle"
            aria-label="Toggle light or dark theme"
            title="Toggle light or dark theme"
            data-testid="theme-toggle"
            on:click=on_click
        >
            // Shown in the light theme: switch to dark.
            <svg class="theme-icon theme-icon-moon" viewBox="0 0 24 24" aria-hidden="true">
                <path d="M21 12.8A9 9 0 1 1 11.2 3a7 7 0 0 0 9.8 9.8z"></path>
            </svg>
            // Shown in the dark theme: switch to light.
            <svg class="theme-icon theme-icon-sun" viewBox="0 0 24 24" aria-hidden="true">
                <circle cx="12" cy="12" r="4.5"></circle>
                <path d="M12 1.5v3M12 19.5v3M1.5 12h3M19.5 12h3M4.6 4.6l2.1 2.1M17.3 17.3l2.1 2.1M4.6 19.4l2.1-2.1M17.3 6.7l2.1-2.1"></path>
            </svg>
        </button>
    }
}
