//! The signed-in user's own account (`/settings/account`: invitations, password, sessions),
//! and the two pages a link opens before anyone is signed in: an invitation
//! (`/invite/{token}`) and a one-time password link (`/reset-password?token=…`).

use crate::state::codec::resource;
use argus_types::{Invitation, SessionInfo};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::invitations::{
    invitation_link, my_invitations, AcceptInvitation, DeclineInvitation, SignUpWithInvitation,
};
use crate::api::session::{list_sessions, ChangePassword, LogOutEverywhere, ResetPassword};
use crate::components::forms::{ActionError, Submit};
use crate::components::page::LoadError;
use crate::components::settings_nav::SettingsNav;
use crate::format::date;
use crate::state::session::use_session_refresh;

#[component]
pub fn AccountPage() -> impl IntoView {
    let accept = ServerAction::<AcceptInvitation>::new();
    let decline = ServerAction::<DeclineInvitation>::new();
    let change = ServerAction::<ChangePassword>::new();
    let everywhere = ServerAction::<LogOutEverywhere>::new();
    use_session_refresh(accept);
    use_session_refresh(everywhere);
    let invitations = resource(
        move || (accept.version().get(), decline.version().get()),
        |_| my_invitations(),
    );
    let sessions = resource(move || change.version().get(), |_| list_sessions());
    view! {
        <Title text="Account · Argus" />
        <div class="page-header"><div><h1>"Settings"</h1></div></div>
        <SettingsNav />
        <section class="card" data-testid="my-invitations">
            <h2>"Invitations"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match invitations.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="muted">"No pending invitations."</p>
                        }.into_any(),
                        Ok(list) => view! { <InvitationList list accept decline /> }.into_any(),
                    }
                })}
            </Transition>
            <ActionError action=accept />
            <ActionError action=decline />
        </section>
        <section class="card">
            <h2>"Password"</h2>
            <p class="muted">"Changing it signs you out everywhere else."</p>
            <ActionForm action=change attr:class="form" attr:data-testid="password-form">
                <label>
                    "Current password"
                    <input type="password" name="current_password" autocomplete="current-password" required />
                </label>
                <label>
                    "New password"
                    <input type="password" name="new_password" autocomplete="new-password" required minlength="10" />
                    <span class="hint">"At least 10 characters."</span>
                </label>
                <ActionError action=change />
                {move || change.value().get().and_then(|r| r.ok()).map(|ended| view! {
                    <p class="callout" role="status" data-testid="password-changed">
                        {format!("Password changed; {ended} other session(s) signed out.")}
                    </p>
                })}
                <Submit action=change label="Change password" busy="Saving…" testid="change-password" />
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Sessions"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) => view! { <SessionTable list /> }.into_any(),
                    }
                })}
            </Transition>
            <ActionForm action=everywhere attr:data-testid="logout-everywhere-form">
                <Submit action=everywhere label="Sign out everywhere" busy="Signing out…"
                    class="button button-danger" testid="logout-everywhere" />
            </ActionForm>
            <ActionError action=everywhere />
        </section>
    }
}

#[component]
fn InvitationList(
    list: Vec<Invitation>,
    accept: ServerAction<AcceptInvitation>,
    decline: ServerAction<DeclineInvitation>,
) -> impl IntoView {
    view! {
        <div class="table-scroll" tabindex="0"><table class="table">
            <thead><tr><th>"Workspace"</th><th>"Role"</th><th>"From"</th><th>"Expires"</th><th></th></tr></thead>
            <tbody>
                {list.into_iter().map(|i| {
                    let id = i.id.to_string();
                    let decline_id = id.clone();
                    view! {
                        <tr data-testid="invitation-row">
                            <td>{i.workspace_name.clone()}</td>
                            <td>{i.role.label()}</td>
                            <td>{i.invited_by.clone().unwrap_or_default()}</td>
                            <td>{date(&i.expires_at)}</td>
                            <td class="actions">
                                <ActionForm action=accept attr:class="inline">
                                    <input type="hidden" name="id" value=id />
                                    <button type="submit" class="button button-small" data-testid="accept-invitation">"Accept"</button>
                                </ActionForm>
                                <ActionForm action=decline attr:class="inline">
                                    <input type="hidden" name="id" value=decline_id />
                                    <button type="submit" class="button button-secondary button-small">"Decline"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
}

#[component]
fn SessionTable(list: Vec<SessionInfo>) -> impl IntoView {
    view! {
        <div class="table-scroll" tabindex="0"><table class="table" data-testid="session-table">
            <thead><tr><th>"Started"</th><th>"Browser"</th><th>"Address"</th><th>"Expires"</th></tr></thead>
            <tbody>
                {list.into_iter().map(|s| view! {
                    <tr>
                        <td>{date(&s.created_at)} {s.current.then_some(" (this one)")}</td>
                        <td class="truncate">{s.user_agent.unwrap_or_default()}</td>
                        <td class="mono">{s.client_ip.unwrap_or_default()}</td>
                        <td>{date(&s.expires_at)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
}

/// `/invite/{token}`: what the link invites to, and the form that creates the invitee's
/// account with it. Someone with an account signs in and accepts under Settings → Account.
#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let info = resource(token, invitation_link);
    let action = ServerAction::<SignUpWithInvitation>::new();
    use_session_refresh(action);
    view! {
        <Title text="Invitation · Argus" />
        <section class="auth-card">
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Err(e) => view! {
                            <h1>"Invitation"</h1>
                            <LoadError error=e />
                            <p class="muted small"><a href="/login">"Log in"</a></p>
                        }.into_any(),
                        Ok(i) => view! {
                            <h1>{format!("Join {}", i.workspace_name)}</h1>
                            <p class="muted">{format!(
                                "You are invited as {} ({}). New to Argus? Create your account here; \
                                 with an account already, log in and accept it under Settings → Account.",
                                i.role.label(), i.email
                            )}</p>
                            <ActionForm action attr:class="form" attr:data-testid="invite-signup-form">
                                <input type="hidden" name="token" value=token() />
                                <label>
                                    "Your name"
                                    <input type="text" name="name" autocomplete="name" required maxlength="200" />
                                </label>
                                <label>
                                    "Password"
                                    <input type="password" name="password" autocomplete="new-password" required minlength="10" />
                                    <span class="hint">"At least 10 characters."</span>
                                </label>
                                <ActionError action />
                                <Submit action label="Create account and join" busy="Joining…" testid="invite-signup" />
                            </ActionForm>
                            <p class="muted small">
                                <a href="/login?next=/settings/account">"Log in to accept"</a>
                            </p>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// `/reset-password?token=…`: set a new password with a one-time link.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let action = ServerAction::<ResetPassword>::new();
    view! {
        <Title text="Set a password · Argus" />
        <section class="auth-card">
            <h1>"Set a new password"</h1>
            <p class="muted">"The link works once. Every session of the account is signed out."</p>
            <ActionForm action attr:class="form" attr:data-testid="reset-form">
                <input type="hidden" name="token" value=token />
                <label>
                    "New password"
                    <input type="password" name="password" autocomplete="new-password" required minlength="10" autofocus />
                    <span class="hint">"At least 10 characters."</span>
                </label>
                <ActionError action />
                <Submit action label="Set password" busy="Saving…" testid="reset-submit" />
            </ActionForm>
        </section>
    }
}
