//! Settings: API keys, members, the workspace.

use argus_types::{ApiKeyInfo, Member, Role, WorkspaceSettings};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::keys::{list_api_keys, take_new_key, CreateApiKey, RevokeApiKey};
use crate::api::members::{
    list_invitations, list_members, AddMember, RemoveMember, ResetMemberPassword, RevokeInvitation,
    SetMemberRole,
};
use crate::api::session::CreateWorkspace;
use crate::api::workspace::{get_workspace_settings, UpdateWorkspace};
use crate::components::forms::{ActionError, Submit};
use crate::error::AppError;
use crate::state::session::{use_session, use_session_refresh, SessionResource};

/// The caller's role in the current workspace, once the session has loaded.
pub(crate) fn my_role() -> Signal<Option<Role>> {
    let session = use_session();
    Signal::derive(move || {
        session
            .0
            .get()
            .and_then(|r| r.ok())
            .flatten()
            .map(|s| s.workspace.role)
    })
}

/// The caller's role, awaited (for use inside a `Suspend`, so server and browser agree).
pub(crate) async fn role_now(session: SessionResource) -> Option<Role> {
    session.0.await.ok().flatten().map(|s| s.workspace.role)
}

#[component]
pub(crate) fn SettingsNav() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Settings">
            <A href="/settings/api-keys">"API keys"</A>
            <A href="/settings/members">"Members"</A>
            <A href="/settings/prices">"Prices"</A>
            <A href="/settings/workspace">"Workspace"</A>
            <A href="/settings/account">"Account"</A>
        </nav>
    }
}

#[component]
pub(crate) fn LoadError(error: AppError) -> impl IntoView {
    view! {
        <div class="callout callout-error" role="alert">
            <p>{error.message().to_owned()}</p>
        </div>
    }
}

pub(crate) fn date(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let session = use_session();
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_keys(),
    );
    let flashed = Resource::new(|| (), |_| take_new_key());
    let role = my_role();
    let can_manage = move || role.get().is_some_and(|r| r >= Role::Admin);
    let new_key = move || {
        let from_action = create.value().get().and_then(|r| r.ok()).map(|c| c.key);
        from_action.or_else(|| flashed.get().and_then(|r| r.ok()).flatten())
    };
    view! {
        <Title text="API keys · Argus" />
        <div class="page-header"><div><h1>"Settings"</h1></div></div>
        <SettingsNav />
        <section class="card">
            <h2>"API keys"</h2>
            <p class="muted">
                "Keys authenticate agents and scripts: " <code>"ingest"</code> " writes traces and reads nothing, "
                <code>"read"</code> " reads the API, " <code>"admin"</code> " also changes settings. Send one as "
                <code>"Authorization: Bearer <key>"</code> " or " <code>"X-API-Key"</code> "."
            </p>
            <Suspense>
                {move || new_key().map(|key| view! {
                    <div class="callout callout-ok" role="status" data-testid="new-key">
                        <h3>"Copy this key now: it is not shown again."</h3>
                        <p class="mono" data-testid="new-key-value">{key.clone()}</p>
                        <CopyButton text=key />
                    </div>
                })}
            </Suspense>
            // Role-gated: inside a Transition so the server waits for the session.
            <Transition>
                {move || can_manage().then(|| view! {
                <ActionForm action=create attr:class="form form-inline" attr:data-testid="create-key-form">
                    <label>
                        "Name"
                        <input type="text" name="name" required maxlength="200" placeholder="e.g. support-bot production" />
                    </label>
                    <fieldset class="checks">
                        <legend>"Scopes"</legend>
                        <label><input type="checkbox" name="scope_ingest" checked /> "ingest"</label>
                        <label><input type="checkbox" name="scope_read" /> "read"</label>
                        <label><input type="checkbox" name="scope_admin" /> "admin"</label>
                    </fieldset>
                    <Submit action=create label="Create key" busy="Creating…" testid="create-key" />
                </ActionForm>
                <ActionError action=create />
                <ActionError action=revoke />
                })}
            </Transition>
            <Transition fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
                {move || Suspend::new(async move {
                    let manage = role_now(session).await.is_some_and(|r| r >= Role::Admin);
                    match keys.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty" data-testid="no-keys">"No API keys yet."</p>
                        }.into_any(),
                        Ok(list) => view! { <KeyTable keys=list revoke can_manage=manage /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn KeyTable(
    keys: Vec<ApiKeyInfo>,
    revoke: ServerAction<RevokeApiKey>,
    can_manage: bool,
) -> impl IntoView {
    view! {
        <table class="table" data-testid="key-table">
            <thead>
                <tr>
                    <th>"Name"</th><th>"Prefix"</th><th>"Scopes"</th><th>"Created"</th>
                    <th>"Last used"</th><th>"Status"</th><th></th>
                </tr>
            </thead>
            <tbody>
                {keys.into_iter().map(|k| {
                    let revoked = k.revoked_at.is_some();
                    let id = k.id.to_string();
                    view! {
                        <tr data-testid="key-row">
                            <td>{k.name.clone()}</td>
                            <td class="mono">{format!("argus_{}_…", k.prefix)}</td>
                            <td>{k.scopes.join(", ")}</td>
                            <td>{date(&k.created_at)}</td>
                            <td>{k.last_used_at.as_ref().map_or_else(|| "never".to_owned(), date)}</td>
                            <td>{if revoked { "revoked" } else { "active" }}</td>
                            <td>
                                {(can_manage && !revoked).then(|| view! {
                                    <ActionForm action=revoke>
                                        <input type="hidden" name="id" value=id.clone() />
                                        <button type="submit" class="button button-danger button-small">"Revoke"</button>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Copies text to the clipboard (after hydration; before it, the text can be selected).
#[component]
fn CopyButton(text: String) -> impl IntoView {
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

#[component]
pub fn MembersPage() -> impl IntoView {
    let session = use_session();
    let add = ServerAction::<AddMember>::new();
    let set_role = ServerAction::<SetMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let reset = ServerAction::<ResetMemberPassword>::new();
    let members = Resource::new(
        move || {
            (
                add.version().get(),
                set_role.version().get(),
                remove.version().get(),
            )
        },
        |_| list_members(),
    );
    let role = my_role();
    let is_admin = move || role.get().is_some_and(|r| r >= Role::Admin);
    let invitations = Resource::new(
        move || (add.version().get(), revoke.version().get(), is_admin()),
        |(_, _, admin)| async move {
            if admin {
                list_invitations().await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
    view! {
        <Title text="Members · Argus" />
        <div class="page-header"><div><h1>"Settings"</h1></div></div>
        <SettingsNav />
        <section class="card">
            <h2>"Members"</h2>
            <p class="muted">
                "Viewers read; members also annotate; admins also manage keys, settings and invitations; owners also manage members and the workspace."
            </p>
            <Transition>
                {move || is_admin().then(|| view! {
                <ActionForm action=add attr:class="form form-inline" attr:data-testid="add-member-form">
                    <label>"Email" <input type="email" name="email" required /></label>
                    <label>"Role" <RoleSelect selected=Role::Member /></label>
                    <Submit action=add label="Invite" busy="Inviting…" testid="add-member" />
                </ActionForm>
                <ActionError action=add />
                {move || add.value().get().and_then(|r| r.ok()).map(|created| view! {
                    <OneTimeLink
                        what=format!("Invitation for {} — send them this link (shown once); with an account already, they can also accept it under Settings → Account.", created.invitation.email)
                        path=created.link
                        testid="invitation-link"
                    />
                })}
                <ActionError action=set_role />
                <ActionError action=remove />
                <ActionError action=reset />
                {move || reset.value().get().and_then(|r| r.ok()).map(|link| view! {
                    <OneTimeLink
                        what=format!("Password link, valid until {} — pass it on (shown once).", date(&link.expires_at))
                        path=link.link
                        testid="reset-link"
                    />
                })}
                })}
            </Transition>
            <Transition fallback=|| view! { <p class="muted">"Loading members…"</p> }>
                {move || Suspend::new(async move {
                    let mine = role_now(session).await;
                    match members.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) => view! { <MemberTable members=list set_role remove reset mine /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <Transition>
            {move || Suspend::new(async move {
                match invitations.await {
                    Ok(Some(list)) if !list.is_empty() => Some(view! {
                        <section class="card" data-testid="pending-invitations">
                            <h2>"Pending invitations"</h2>
                            <InvitationTable list revoke />
                            <ActionError action=revoke />
                        </section>
                    }.into_any()),
                    Err(e) => Some(view! { <LoadError error=e /> }.into_any()),
                    _ => None,
                }
            })}
        </Transition>
    }
}

/// A link made once (an invitation, a password link), with the site's address and a copy
/// button.
#[component]
fn OneTimeLink(what: String, path: String, testid: &'static str) -> impl IntoView {
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

#[component]
fn InvitationTable(
    list: Vec<argus_types::Invitation>,
    revoke: ServerAction<RevokeInvitation>,
) -> impl IntoView {
    view! {
        <table class="table" data-testid="invitation-table">
            <thead><tr><th>"Email"</th><th>"Role"</th><th>"Invited by"</th><th>"Expires"</th><th></th></tr></thead>
            <tbody>
                {list.into_iter().map(|i| view! {
                    <tr>
                        <td>{i.email.clone()}</td>
                        <td>{i.role.label()}</td>
                        <td>{i.invited_by.clone().unwrap_or_default()}</td>
                        <td>{date(&i.expires_at)}</td>
                        <td>
                            <ActionForm action=revoke>
                                <input type="hidden" name="id" value=i.id.to_string() />
                                <button type="submit" class="button button-danger button-small">"Withdraw"</button>
                            </ActionForm>
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn RoleSelect(selected: Role) -> impl IntoView {
    view! {
        <select name="role">
            {Role::ALL.into_iter().map(|r| view! {
                <option value=r.as_str() selected=r == selected>{r.label()}</option>
            }).collect_view()}
        </select>
    }
}

#[component]
fn MemberTable(
    members: Vec<Member>,
    set_role: ServerAction<SetMemberRole>,
    remove: ServerAction<RemoveMember>,
    reset: ServerAction<ResetMemberPassword>,
    mine: Option<Role>,
) -> impl IntoView {
    let owner = mine == Some(Role::Owner);
    view! {
        <table class="table" data-testid="member-table">
            <thead><tr><th>"Name"</th><th>"Email"</th><th>"Role"</th><th>"Joined"</th><th></th></tr></thead>
            <tbody>
                {members.into_iter().map(|m| {
                    let id = m.user_id.to_string();
                    let remove_id = id.clone();
                    let reset_id = id.clone();
                    // Admins reset the passwords of those they outrank (the server checks
                    // every workspace the member belongs to).
                    let can_reset = mine.is_some_and(|r| r >= Role::Admin && r > m.role);
                    view! {
                        <tr data-testid="member-row">
                            <td>{m.name.clone()}</td>
                            <td>{m.email.clone()}</td>
                            <td>
                                {if owner {
                                    view! {
                                        <ActionForm action=set_role attr:class="inline">
                                            <input type="hidden" name="user_id" value=id.clone() />
                                            <RoleSelect selected=m.role />
                                            <button type="submit" class="button button-secondary button-small">"Save"</button>
                                        </ActionForm>
                                    }.into_any()
                                } else {
                                    view! { <span>{m.role.label()}</span> }.into_any()
                                }}
                            </td>
                            <td>{date(&m.joined_at)}</td>
                            <td class="actions">
                                {can_reset.then(|| view! {
                                    <ActionForm action=reset attr:class="inline">
                                        <input type="hidden" name="user_id" value=reset_id />
                                        <button type="submit" class="button button-secondary button-small" data-testid="reset-password">"Password link"</button>
                                    </ActionForm>
                                })}
                                {owner.then(|| view! {
                                    <ActionForm action=remove attr:class="inline">
                                        <input type="hidden" name="user_id" value=remove_id />
                                        <button type="submit" class="button button-danger button-small">"Remove"</button>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn WorkspacePage() -> impl IntoView {
    let session = use_session();
    let update = ServerAction::<UpdateWorkspace>::new();
    let create = ServerAction::<CreateWorkspace>::new();
    use_session_refresh(update);
    use_session_refresh(create);
    let settings = Resource::new(move || update.version().get(), |_| get_workspace_settings());
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
