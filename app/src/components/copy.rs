//! A value shown once, with a button that copies it: new API keys, invitation and password
//! links.

use leptos::prelude::*;

/// Copies text to the clipboard (after hydration; before it, the text can be selected).
#[component]
pub fn CopyButton(text: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let on_click = move |_| {
        #[cfg(feature = "browser")]
        if let Some(w) = web_sys::window() {
            let _ = w.navigator().clipboard().write_text(&text);
            copied.set(true);
        }
        #[cfg(not(feature = "browser"))]
        let _ = &text;
    };
    view! {
        <button type="button" class="button button-secondary button-small" on:click=on_click>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

/// A link made once (an invitation, a password link), with the site's address and a copy
/// button.
#[component]
pub fn OneTimeLink(what: String, path: String, testid: &'static str) -> impl IntoView {
    let origin = {
        #[cfg(feature = "browser")]
        {
            web_sys::window()
                .and_then(|w| w.location().origin().ok())
                .unwrap_or_default()
        }
        #[cfg(not(feature = "browser"))]
        {
            String::new()
        }
    };
    let full = format!("{origin}{path}");
    view! {
        <div class="callout" role="status">
            <p>{what}</p>
            <p class="secret-row">
                <code class="mono" data-testid=testid>{full.clone()}</code>
                <CopyButton text=full />
            </p>
        </div>
    }
}
