//! The tabs every settings page shares.

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn SettingsNav() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Settings">
            <A href="/settings/connect">"Connect"</A>
            <A href="/settings/api-keys">"API keys"</A>
            <A href="/settings/members">"Members"</A>
            <A href="/settings/prices">"Prices"</A>
            <A href="/settings/workspace">"Workspace"</A>
            <A href="/settings/account">"Account"</A>
        </nav>
    }
}
