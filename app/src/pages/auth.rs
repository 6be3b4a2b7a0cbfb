//! Log in and sign up: plain forms that post without JavaScript and are enhanced after
//! hydration.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::session::{LogIn, SignUp};
use crate::components::forms::{ActionError, Submit};
use crate::state::session::use_session_refresh;

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<LogIn>::new();
    use_session_refresh(action);
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let notice = move || {
        let q = query.read();
        if q.get("signed_up").is_some() {
            Some("If this address was new to Argus, its account is ready: log in.")
        } else if q.get("reset").is_some() {
            Some("Your password is set and every session was signed out: log in.")
        } else {
            None
        }
    };
    view! {
        <Title text="Log in · Argus" />
        <section class="auth-card">
            <h1>"Log in to Argus"</h1>
            {move || notice().map(|n| view! { <p class="callout" role="status" data-testid="login-notice">{n}</p> })}
            <ActionForm action attr:class="form" attr:data-testid="login-form">
                <input type="hidden" name="next" value=next />
                <label>
                    "Email"
                    <input type="email" name="email" autocomplete="username" required autofocus />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required />
                </label>
                <ActionError action />
                <Submit action label="Log in" busy="Logging in…" testid="login-submit" />
            </ActionForm>
            <p class="muted small">"New to Argus? " <a href="/signup">"Create an account"</a></p>
        </section>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    use_session_refresh(action);
    view! {
        <Title text="Sign up · Argus" />
        <section class="auth-card">
            <h1>"Create your Argus account"</h1>
            <p class="muted">"You get a workspace of your own; invite your team to it later."</p>
            <ActionForm action attr:class="form" attr:data-testid="signup-form">
                <label>
                    "Your name"
                    <input type="text" name="name" autocomplete="name" required maxlength="200" autofocus />
                </label>
                <label>
                    "Email"
                    <input type="email" name="email" autocomplete="email" required />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="new-password" required minlength="10" />
                    <span class="hint">"At least 10 characters."</span>
                </label>
                <label>
                    "Workspace name"
                    <input type="text" name="workspace_name" required maxlength="200" placeholder="e.g. Acme AI Platform" />
                </label>
                <ActionError action />
                <Submit action label="Create account" busy="Creating…" testid="signup-submit" />
            </ActionForm>
            <p class="muted small">"Already have an account? " <a href="/login">"Log in"</a></p>
        </section>
    }
}
