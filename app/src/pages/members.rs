//! Settings → Members: invite by email, change roles, reset passwords, remove; pending
//! invitations.

use crate::state::codec::resource;
use argus_types::{Member, Role};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::members::{
    list_invitations, list_members, AddMember, RemoveMember, ResetMemberPassword, RevokeInvitation,
    SetMemberRole,
};
use crate::components::forms::{ActionError, Submit};
use crate::state::session::use_session;

use crate::components::copy::OneTimeLink;
use crate::components::page::LoadError;
use crate::components::settings_nav::SettingsNav;
use crate::format::date;
use crate::state::session::role_now;

#[component]
pub fn MembersPage() -> impl IntoView {
    let session = use_session();
    let add = ServerAction::<AddMember>::new();
    let set_role = ServerAction::<SetMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let reset = ServerAction::<ResetMemberPassword>::new();
    let members = resource(
        move || {
            (
                add.version().get(),
                set_role.version().get(),
                remove.version().get(),
            )
        },
        |_| list_members(),
    );
    // Whether the caller may invite is awaited from the session (never read synchronously), so
    // the server's HTML and the browser's hydration agree whenever the session resolves.
    let is_admin = move || async move { role_now(session).await.is_some_and(|r| r >= Role::Admin) };
    let invitations = resource(
        move || (add.version().get(), revoke.version().get()),
        move |_| async move {
            if is_admin().await {
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
                {move || Suspend::new(async move { is_admin().await.then(|| view! {
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
                })})}
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

#[component]
fn InvitationTable(
    list: Vec<argus_types::Invitation>,
    revoke: ServerAction<RevokeInvitation>,
) -> impl IntoView {
    view! {
        <div class="table-scroll" tabindex="0"><table class="table" data-testid="invitation-table">
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
        </table></div>
    }
}

#[component]
fn RoleSelect(selected: Role) -> impl IntoView {
    view! {
        <select name="role" aria-label="Role">
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
        <div class="table-scroll" tabindex="0"><table class="table" data-testid="member-table">
            <thead><tr><th>"Name"</th><th>"Email"</th><th>"Role"</th><th>"Joined"</th><th></th></tr></thead>
            <tbody>
                {members.into_iter().map(|m| {
                    let id = m.user_id.to_string();
                    let remove_id = id.clone();
                    let warn = format!(
                        "Remove {} ({}) from this workspace? They lose access at once; their traces and scores stay.",
                        m.name, m.email
                    );
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
                                        <button type="submit" class="button button-danger button-small"
                                            on:click=crate::components::forms::confirm_first(warn.clone())>"Remove"</button>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
}
