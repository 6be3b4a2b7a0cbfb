//! The Argus UI: Leptos components and pages, and the server functions they call.
//!
//! Built twice: with `ssr` into the server (rendering, server functions) and with `hydrate`
//! into the browser bundle (interactivity).
#![forbid(unsafe_code)]
// Nested views are nested types: the release wasm build computes their layouts past the default
// depth (the API reference's table tripped it).
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod error;
pub mod format;
pub mod pages;
pub mod state;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Redirect, Route, Router, Routes};
use leptos_router::{lazy_route, path, Lazy, LazyRoute, SsrMode};

use crate::components::layout::Layout;
use crate::pages::account::{AccountPage, InvitePage, ResetPasswordPage};
use crate::pages::agents::{AgentDetailPage, AgentsPage};
use crate::pages::alerts::AlertsPage;
use crate::pages::api_docs::ApiDocsPage;
use crate::pages::api_keys::ApiKeysPage;
use crate::pages::auth::{LoginPage, SignUpPage};
use crate::pages::connect::ConnectPage;
use crate::pages::cost::CostPage;
use crate::pages::dataset::DatasetPage;
use crate::pages::evaluations::EvaluationsPage;
use crate::pages::guardrails::GuardrailsPage;
use crate::pages::home::HomePage;
use crate::pages::members::MembersPage;
use crate::pages::not_found::NotFound;
use crate::pages::performance::PerformancePage;
use crate::pages::prices::PricesPage;
use crate::pages::queue::QueuePage;
use crate::pages::sessions::{SessionPage, SessionsPage};
use crate::pages::status::StatusPage;
use crate::pages::trace::TracePage;
use crate::pages::traces::TracesPage;
use crate::pages::usage::UsagePage;
use crate::pages::workspace::WorkspacePage;
use crate::state::theme::THEME_BOOT_SCRIPT;

/// Whether the page at `path` needs a signed-in user (the server redirects to log in first).
/// The dashboard pages: what the server's page cache may keep (their content depends only on
/// the workspace, the user, the role, the URL and the workspace's data).
pub fn is_dashboard_page(path: &str) -> bool {
    matches!(path, "/" | "/usage" | "/cost" | "/performance")
}

pub fn requires_session(path: &str) -> bool {
    matches!(
        path,
        "/" | "/usage"
            | "/cost"
            | "/performance"
            | "/settings"
            | "/traces"
            | "/sessions"
            | "/agents"
            | "/evaluations"
            | "/guardrails"
            | "/alerts"
            | "/status"
    ) || [
        "/settings/",
        "/traces/",
        "/sessions/",
        "/agents/",
        "/evaluations/",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

/// The log-in page, returning to `next` afterwards.
pub fn login_url(next: &str) -> String {
    let mut encoded = String::with_capacity(next.len());
    for b in next.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("/login?next={encoded}")
}

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                // Before any paint: apply the stored or the system theme (no flash).
                <script nonce=leptos::nonce::use_nonce() inner_html=THEME_BOOT_SCRIPT></script>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // Content-hashed names in release builds (served `immutable`), plain in debug.
                <HashedStylesheet options=options.clone() id="leptos" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// A page loaded with its own part of the bundle (`cargo leptos build --split`): the first
/// visit downloads the shell and the page it opens, not every page. (Grouping pages behind one
/// `#[lazy]` function each, to make fewer chunks, broke hydration of those pages — "entered
/// unreachable code" in tachys' marker cast — so each page is its own `LazyRoute`.)
macro_rules! lazy_page {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        pub struct $route;
        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }
            fn view(this: Self) -> AnyView {
                let _ = this;
                view! { <$page /> }.into_any()
            }
        }
    )*};
}

lazy_page! {
    InvitePageRoute => InvitePage,
    ResetPasswordPageRoute => ResetPasswordPage,
    AccountPageRoute => AccountPage,
    ApiKeysPageRoute => ApiKeysPage,
    ConnectPageRoute => ConnectPage,
    MembersPageRoute => MembersPage,
    UsagePageRoute => UsagePage,
    CostPageRoute => CostPage,
    PerformancePageRoute => PerformancePage,
    PricesPageRoute => PricesPage,
    WorkspacePageRoute => WorkspacePage,
    StatusPageRoute => StatusPage,
    ApiDocsPageRoute => ApiDocsPage,
    TracesPageRoute => TracesPage,
    TracePageRoute => TracePage,
    SessionsPageRoute => SessionsPage,
    SessionPageRoute => SessionPage,
    AgentsPageRoute => AgentsPage,
    EvaluationsPageRoute => EvaluationsPage,
    GuardrailsPageRoute => GuardrailsPage,
    AlertsPageRoute => AlertsPage,
    QueuePageRoute => QueuePage,
    DatasetPageRoute => DatasetPage,
    AgentDetailPageRoute => AgentDetailPage,
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    crate::state::hydration::provide_hydrated();
    crate::state::session::provide_session();
    crate::state::prefs::provide_prefs();

    // The stylesheet is linked by the server's shell (hashed name); the Trunk build injects its
    // own (index.html).
    view! {
        <Title text="Argus" />
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=LoginPage />
                    <Route path=path!("/signup") view=SignUpPage />
                    <Route path=path!("/invite/:token") view={Lazy::<InvitePageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/reset-password") view={Lazy::<ResetPasswordPageRoute>::new()} />
                    <Route path=path!("/settings/account") view={Lazy::<AccountPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/settings") view=|| view! { <Redirect path="/settings/api-keys" /> } />
                    <Route path=path!("/settings/api-keys") view={Lazy::<ApiKeysPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/settings/connect") view={Lazy::<ConnectPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/settings/members") view={Lazy::<MembersPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/usage") view={Lazy::<UsagePageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/cost") view={Lazy::<CostPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/performance") view={Lazy::<PerformancePageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/settings/prices") view={Lazy::<PricesPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/settings/workspace") view={Lazy::<WorkspacePageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/status") view={Lazy::<StatusPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/docs/api") view={Lazy::<ApiDocsPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/traces") view={Lazy::<TracesPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/traces/:id") view={Lazy::<TracePageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/sessions") view={Lazy::<SessionsPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/sessions/:id") view={Lazy::<SessionPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/agents") view={Lazy::<AgentsPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/evaluations") view={Lazy::<EvaluationsPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/guardrails") view={Lazy::<GuardrailsPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/alerts") view={Lazy::<AlertsPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/evaluations/queues/:id") view={Lazy::<QueuePageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/evaluations/datasets/:id") view={Lazy::<DatasetPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/agents/:id") view={Lazy::<AgentDetailPageRoute>::new()} ssr=SsrMode::Async />
                </Routes>
            </Layout>
        </Router>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_url_encodes_next() {
        assert_eq!(
            login_url("/settings/api-keys"),
            "/login?next=/settings/api-keys"
        );
        assert_eq!(login_url("/?a=1&b=2"), "/login?next=/%3Fa%3D1%26b%3D2");
        assert!(requires_session("/settings/members"));
        assert!(!requires_session("/login") && !requires_session("/invite/abc"));
        assert!(requires_session("/status"));
    }
}
