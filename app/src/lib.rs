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
use leptos_router::{path, ChooseView, SsrMode};

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

/// The pages split off the main bundle (`cargo leptos build --split`): home, log-in and
/// sign-up are in it; every other page is loaded with its group the first time one is shown.
/// Groups, not pages, are the split points: the chunks a browser fetches grow with the number of
/// split points that share code (24 pages made 296 chunks, a first visit of /traces 107
/// requests), and pages of one group are visited together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitPage {
    Invite,
    ResetPassword,
    Account,
    ApiKeys,
    Connect,
    Members,
    Prices,
    Workspace,
    Status,
    ApiDocs,
    Usage,
    Cost,
    Performance,
    Traces,
    Trace,
    Sessions,
    Session,
    Agents,
    AgentDetail,
    Evaluations,
    Queue,
    Dataset,
    Guardrails,
    Alerts,
}

impl SplitPage {
    /// The page's group: its `#[lazy]` function.
    fn group(self) -> Group {
        use SplitPage::*;
        match self {
            Invite | ResetPassword | Account => Group::Account,
            ApiKeys | Connect | Members | Prices | Workspace | Status | ApiDocs => Group::Settings,
            Usage | Cost | Performance => Group::Dashboards,
            Traces | Trace | Sessions | Session | Agents | AgentDetail => Group::Explorer,
            Evaluations | Queue | Dataset | Guardrails | Alerts => Group::Quality,
        }
    }
}

#[derive(Clone, Copy)]
enum Group {
    Account,
    Settings,
    Dashboards,
    Explorer,
    Quality,
}

impl ChooseView for SplitPage {
    async fn choose(self) -> AnyView {
        match self.group() {
            Group::Account => account_pages(self).await,
            Group::Settings => settings_pages(self).await,
            Group::Dashboards => dashboard_pages(self).await,
            Group::Explorer => explorer_pages(self).await,
            Group::Quality => quality_pages(self).await,
        }
    }

    /// Loads the group's chunk before the page is chosen: when a page hydrates, its view must
    /// be ready at once (as `#[lazy_route]` does; without it the page hydrates as pending and
    /// the server's HTML no longer matches).
    async fn preload(&self) {
        #[cfg(feature = "browser")]
        match self.group() {
            Group::Account => __preload_account_pages().await,
            Group::Settings => __preload_settings_pages().await,
            Group::Dashboards => __preload_dashboard_pages().await,
            Group::Explorer => __preload_explorer_pages().await,
            Group::Quality => __preload_quality_pages().await,
        }
    }
}

#[lazy]
fn account_pages(page: SplitPage) -> AnyView {
    match page {
        SplitPage::Invite => view! { <InvitePage /> }.into_any(),
        SplitPage::ResetPassword => view! { <ResetPasswordPage /> }.into_any(),
        SplitPage::Account => view! { <AccountPage /> }.into_any(),
        _ => view! { <NotFound /> }.into_any(),
    }
}

#[lazy]
fn settings_pages(page: SplitPage) -> AnyView {
    match page {
        SplitPage::ApiKeys => view! { <ApiKeysPage /> }.into_any(),
        SplitPage::Connect => view! { <ConnectPage /> }.into_any(),
        SplitPage::Members => view! { <MembersPage /> }.into_any(),
        SplitPage::Prices => view! { <PricesPage /> }.into_any(),
        SplitPage::Workspace => view! { <WorkspacePage /> }.into_any(),
        SplitPage::Status => view! { <StatusPage /> }.into_any(),
        SplitPage::ApiDocs => view! { <ApiDocsPage /> }.into_any(),
        _ => view! { <NotFound /> }.into_any(),
    }
}

#[lazy]
fn dashboard_pages(page: SplitPage) -> AnyView {
    match page {
        SplitPage::Usage => view! { <UsagePage /> }.into_any(),
        SplitPage::Cost => view! { <CostPage /> }.into_any(),
        SplitPage::Performance => view! { <PerformancePage /> }.into_any(),
        _ => view! { <NotFound /> }.into_any(),
    }
}

#[lazy]
fn explorer_pages(page: SplitPage) -> AnyView {
    match page {
        SplitPage::Traces => view! { <TracesPage /> }.into_any(),
        SplitPage::Trace => view! { <TracePage /> }.into_any(),
        SplitPage::Sessions => view! { <SessionsPage /> }.into_any(),
        SplitPage::Session => view! { <SessionPage /> }.into_any(),
        SplitPage::Agents => view! { <AgentsPage /> }.into_any(),
        SplitPage::AgentDetail => view! { <AgentDetailPage /> }.into_any(),
        _ => view! { <NotFound /> }.into_any(),
    }
}

#[lazy]
fn quality_pages(page: SplitPage) -> AnyView {
    match page {
        SplitPage::Evaluations => view! { <EvaluationsPage /> }.into_any(),
        SplitPage::Queue => view! { <QueuePage /> }.into_any(),
        SplitPage::Dataset => view! { <DatasetPage /> }.into_any(),
        SplitPage::Guardrails => view! { <GuardrailsPage /> }.into_any(),
        SplitPage::Alerts => view! { <AlertsPage /> }.into_any(),
        _ => view! { <NotFound /> }.into_any(),
    }
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
                    <Route path=path!("/invite/:token") view=SplitPage::Invite ssr=SsrMode::Async />
                    <Route path=path!("/reset-password") view=SplitPage::ResetPassword />
                    <Route path=path!("/settings/account") view=SplitPage::Account ssr=SsrMode::Async />
                    <Route path=path!("/settings") view=|| view! { <Redirect path="/settings/api-keys" /> } />
                    <Route path=path!("/settings/api-keys") view=SplitPage::ApiKeys ssr=SsrMode::Async />
                    <Route path=path!("/settings/connect") view=SplitPage::Connect ssr=SsrMode::Async />
                    <Route path=path!("/settings/members") view=SplitPage::Members ssr=SsrMode::Async />
                    <Route path=path!("/usage") view=SplitPage::Usage ssr=SsrMode::Async />
                    <Route path=path!("/cost") view=SplitPage::Cost ssr=SsrMode::Async />
                    <Route path=path!("/performance") view=SplitPage::Performance ssr=SsrMode::Async />
                    <Route path=path!("/settings/prices") view=SplitPage::Prices ssr=SsrMode::Async />
                    <Route path=path!("/settings/workspace") view=SplitPage::Workspace ssr=SsrMode::Async />
                    <Route path=path!("/status") view=SplitPage::Status ssr=SsrMode::Async />
                    <Route path=path!("/docs/api") view=SplitPage::ApiDocs ssr=SsrMode::Async />
                    <Route path=path!("/traces") view=SplitPage::Traces ssr=SsrMode::Async />
                    <Route path=path!("/traces/:id") view=SplitPage::Trace ssr=SsrMode::Async />
                    <Route path=path!("/sessions") view=SplitPage::Sessions ssr=SsrMode::Async />
                    <Route path=path!("/sessions/:id") view=SplitPage::Session ssr=SsrMode::Async />
                    <Route path=path!("/agents") view=SplitPage::Agents ssr=SsrMode::Async />
                    <Route path=path!("/evaluations") view=SplitPage::Evaluations ssr=SsrMode::Async />
                    <Route path=path!("/guardrails") view=SplitPage::Guardrails ssr=SsrMode::Async />
                    <Route path=path!("/alerts") view=SplitPage::Alerts ssr=SsrMode::Async />
                    <Route path=path!("/evaluations/queues/:id") view=SplitPage::Queue ssr=SsrMode::Async />
                    <Route path=path!("/evaluations/datasets/:id") view=SplitPage::Dataset ssr=SsrMode::Async />
                    <Route path=path!("/agents/:id") view=SplitPage::AgentDetail ssr=SsrMode::Async />
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
