use crate::state::codec::{resource, Json};
use argus_types::Session;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::session::{LogOut, SwitchWorkspace};
use crate::components::shortcuts::NavItem;
use crate::components::theme_toggle::ThemeToggle;
use crate::state::session::{use_session, use_session_refresh};

/// The pages the navigation links to when signed in (only pages that exist), each with the
/// letter that goes there after `g` (the shortcut sheet lists them from here).
pub const NAV: &[NavItem] = &[
    ("/", "Home", Some("h")),
    ("/usage", "Usage", Some("u")),
    ("/cost", "Cost", Some("c")),
    ("/performance", "Performance", Some("p")),
    ("/traces", "Traces", Some("t")),
    ("/sessions", "Sessions", Some("s")),
    ("/agents", "Agents", Some("a")),
    ("/evaluations", "Evaluations", Some("e")),
    ("/guardrails", "Guardrails", Some("r")),
    ("/alerts", "Alerts", Some("l")),
    ("/settings/api-keys", "Settings", Some("k")),
    ("/status", "System status", None),
];

/// Header, navigation and the main area around every page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let session = use_session();
    // The explorer's pages take the whole width (wide tables); dashboards keep a readable one.
    let location = leptos_router::hooks::use_location();
    let main_class = move || {
        let path = location.pathname.get();
        if matches!(path.split('/').nth(1), Some("traces" | "sessions")) {
            "app-main app-main-wide"
        } else {
            "app-main"
        }
    };
    let signed_in = move || session.0.get().and_then(|r| r.ok()).flatten();
    // The bell's feed, created with the layout (resources made inside a branch that appears
    // only after the session loads would hydrate out of order).
    let feed = resource(
        move || signed_in().map(|s| s.workspace.id),
        |workspace| async move {
            match workspace {
                Some(_) => crate::api::alerts::get_alert_feed()
                    .await
                    .map(|f| f.firing.len())
                    .unwrap_or(0),
                None => 0,
            }
        },
    );
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
                <Transition>
                    {move || signed_in().map(|_| {
                        NAV.iter()
                            .map(|(href, label, _)| view! { <A href=*href>{*label}</A> })
                            .collect_view()
                    })}
                </Transition>
            </nav>
            <div class="app-header-actions">
                <Transition>
                    {move || match signed_in() {
                        Some(s) => view! { <Bell feed /> <SessionMenu session=s /> }.into_any(),
                        None => view! {
                            <a href="/login" class="button button-secondary button-small">"Log in"</a>
                        }.into_any(),
                    }}
                </Transition>
                <ThemeToggle />
            </div>
        </header>
        <crate::components::shortcuts::Shortcuts nav=NAV />
        <main id="main" class=main_class>
            {children()}
        </main>
        <footer class="app-footer">
            <a href="/docs/api" data-testid="api-docs-link">"API reference"</a>
            <a href="/api/v1/openapi.json" rel="external">"OpenAPI"</a>
        </footer>
    }
}

/// The bell: how many alerts fire now, linking to them.
#[component]
fn Bell(feed: Resource<usize, Json>) -> impl IntoView {
    // Read inside the header's Transition: the server waits for it and the client hydrates
    // from what the server sent.
    let firing = move || feed.get().unwrap_or(0);
    let label = move || match firing() {
        0 => "Alerts: nothing firing".to_owned(),
        1 => "Alerts: 1 firing".to_owned(),
        n => format!("Alerts: {n} firing"),
    };
    view! {
        <a href="/alerts" class="bell" title=label data-testid="alert-bell"
            data-firing=move || firing().to_string()>
            <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path fill="currentColor"
                d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"></path></svg>
            // The link's name is its (visually hidden) text, not an `aria-label`: a label next
            // to a visible count must contain it (WCAG 2.5.3), and the two, updated apart, can
            // disagree for a moment. The badge is for the eye only (read once, not twice).
            <span class="visually-hidden">{label}</span>
            <span class="bell-count" aria-hidden="true" hidden=move || firing() == 0>{firing}</span>
        </a>
    }
}

/// The workspace switcher and the log-out button.
#[component]
fn SessionMenu(session: Session) -> impl IntoView {
    let switch = ServerAction::<SwitchWorkspace>::new();
    let log_out = ServerAction::<LogOut>::new();
    use_session_refresh(switch);
    use_session_refresh(log_out);
    let current = session.workspace.id;
    view! {
        <ActionForm action=switch attr:class="workspace-switcher" attr:data-testid="workspace-switcher">
            <label class="visually-hidden" for="workspace-select">"Workspace"</label>
            <select id="workspace-select" name="workspace_id" data-testid="workspace-select">
                {session.workspaces.iter().map(|w| view! {
                    <option value=w.id.to_string() selected=w.id == current>{w.name.clone()}</option>
                }).collect_view()}
            </select>
            <button type="submit" class="button button-secondary button-small" data-testid="switch-workspace">
                "Switch"
            </button>
        </ActionForm>
        <span class="user-name muted small" data-testid="user-name" title=session.email.clone()>
            {session.name.clone()}
        </span>
        <ActionForm action=log_out>
            <button type="submit" class="button button-secondary button-small" data-testid="log-out">
                "Log out"
            </button>
        </ActionForm>
    }
}
