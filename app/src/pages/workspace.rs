//! Settings → Workspace: its name and retention.

use crate::state::codec::resource;
use argus_types::{Role, WorkspaceSettings};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::session::CreateWorkspace;
use crate::api::workspace::{get_workspace_settings, UpdateWorkspace};
use crate::components::forms::{ActionError, Submit};
use crate::state::session::{use_session, use_session_refresh};

use crate::components::page::LoadError;
use crate::components::settings_nav::SettingsNav;
use crate::format::date;
use crate::state::session::role_now;

#[component]
pub fn WorkspacePage() -> impl IntoView {
    let session = use_session();
    let update = ServerAction::<UpdateWorkspace>::new();
    let create = ServerAction::<CreateWorkspace>::new();
    use_session_refresh(update);
    use_session_refresh(create);
    let settings = resource(move || update.version().get(), |_| get_workspace_settings());
    view! {
        <Title text="Workspace · Argus" />
        <div class="page-header"><div><h1>"Settings"</h1></div></div>
        <SettingsNav />
        <section class="card">
            <h2>"Workspace"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let owner = role_now(session).await == Some(Role::Owner);
                    match settings.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(s) => view! { <WorkspaceForm settings=s update owner /> }.into_any(),
                    }
                })}
            </Transition>
            <ActionError action=update />
        </section>
        <section class="card">
            <h2>"New workspace"</h2>
            <p class="muted">"A separate workspace of your own, e.g. for another team. You become its owner."</p>
            <ActionForm action=create attr:class="form form-inline" attr:data-testid="create-workspace-form">
                <label>"Name" <input type="text" name="name" required maxlength="200" /></label>
                <Submit action=create label="Create workspace" busy="Creating…" testid="create-workspace" />
            </ActionForm>
            <ActionError action=create />
        </section>
    }
}

#[component]
fn WorkspaceForm(
    settings: WorkspaceSettings,
    update: ServerAction<UpdateWorkspace>,
    owner: bool,
) -> impl IntoView {
    view! {
        <ActionForm action=update attr:class="form" attr:data-testid="workspace-form">
            <label>
                "Name"
                <input type="text" name="name" required maxlength="200" value=settings.name.clone() disabled=!owner />
            </label>
            <label>
                "Retention (days)"
                <input type="number" name="retention_days" min="1" max="3650" required
                    value=settings.retention_days.to_string() disabled=!owner />
                <span class="hint">"Traces older than this are deleted."</span>
            </label>
            <dl class="facts">
                <dt>"Slug"</dt><dd class="mono">{settings.slug.clone()}</dd>
                <dt>"Created"</dt><dd>{date(&settings.created_at)}</dd>
            </dl>
            {owner.then(|| view! { <Submit action=update label="Save" busy="Saving…" testid="save-workspace" /> })}
        </ActionForm>
    }
}
