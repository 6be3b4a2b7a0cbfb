//! Home: the workspace at a glance, and where to go next. The dashboard's KPIs land here once
//! traces are ingested.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::state::session::use_session;

#[component]
pub fn HomePage() -> impl IntoView {
    let session = use_session();
    view! {
        <Title text="Home · Argus" />
        <Transition fallback=|| view! { <div class="card skeleton" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                let session = session.0.await;
                session.ok().flatten().map(|s| {
                    let admin = s.workspace.role >= argus_types::Role::Admin;
                    view! {
                        <div class="page-header">
                            <div>
                                <h1 data-testid="home-title">{s.workspace.name.clone()}</h1>
                                <p class="muted">
                                    "Signed in as " {s.name.clone()} " · "
                                    <span data-testid="home-role">{s.workspace.role.label()}</span>
                                </p>
                            </div>
                        </div>
                        <div class="card-grid">
                            <section class="card">
                                <h2>"Connect an agent"</h2>
                                <p class="muted">
                                    "Agents authenticate with an API key of this workspace. Create one with the "
                                    <code>"ingest"</code> " scope for each agent or environment."
                                </p>
                                {admin.then(|| view! {
                                    <a class="button" href="/settings/api-keys">"Create an API key"</a>
                                })}
                            </section>
                            <section class="card">
                                <h2>"Your team"</h2>
                                <p class="muted">"Add people who already have an Argus account, as viewers, members, admins or owners."</p>
                                <a class="button button-secondary" href="/settings/members">"Members"</a>
                            </section>
                            <section class="card">
                                <h2>"Workspace"</h2>
                                <dl class="facts">
                                    <dt>"Slug"</dt>
                                    <dd class="mono">{s.workspace.slug.clone()}</dd>
                                    <dt>"Workspaces"</dt>
                                    <dd>{s.workspaces.len()}</dd>
                                </dl>
                                <p><a href="/settings/workspace">"Workspace settings"</a></p>
                            </section>
                        </div>
                    }
                })
            })}
        </Transition>
    }
}
