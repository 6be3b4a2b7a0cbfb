//! Members of the caller's workspace: list (any member); invite (admin; an owner only by an
//! owner), change a role, remove (owner); reset a member's password (admin).

#[cfg(feature = "ssr")]
use argus_types::Role;
use argus_types::{Invitation, InvitationCreated, Member, ResetLink};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use uuid::Uuid;

use crate::error::AppError;

#[cfg(feature = "ssr")]
fn parse_role(role: &str) -> Result<Role, AppError> {
    Role::parse(role.trim()).ok_or_else(|| {
        argus_domain::Error::invalid_input("role", "must be owner, admin, member or viewer").into()
    })
}

/// `GET /api/v1/members`: the workspace's members, owners first.
#[server(prefix = "/api/v1", endpoint = "members", input = GetUrl)]
pub async fn list_members() -> Result<Vec<Member>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::members::list(&services(), access.workspace).await?)
}

/// `POST /api/v1/members/add`: invites `email` with a role. The answer is the same whether or
/// not the address has an account: an invitation and its link (shown this once).
#[server(prefix = "/api/v1", endpoint = "members/add")]
pub async fn add_member(email: String, role: String) -> Result<InvitationCreated, AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let role = parse_role(&role)?;
    Ok(argus_domain::invitations::invite(&services(), &access, &email, role).await?)
}

/// `GET /api/v1/members/invitations`: the workspace's pending invitations.
#[server(prefix = "/api/v1", endpoint = "members/invitations", input = GetUrl)]
pub async fn list_invitations() -> Result<Vec<Invitation>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::invitations::list_for_workspace(&services(), access.workspace).await?)
}

/// `POST /api/v1/members/invitations/revoke`: withdraws a pending invitation.
#[server(prefix = "/api/v1", endpoint = "members/invitations/revoke")]
pub async fn revoke_invitation(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::invitations::revoke(&services(), access.workspace, id).await?)
}

/// `POST /api/v1/members/reset-password`: a one-time link for a member to set a new password
/// (admin; only for someone the caller outranks in every workspace they belong to).
#[server(prefix = "/api/v1", endpoint = "members/reset-password")]
pub async fn reset_member_password(user_id: Uuid) -> Result<ResetLink, AppError> {
    use argus_domain::identity::UserId;

    use super::context::{require_user, services};
    let (access, _) = require_user(Role::Admin)?;
    Ok(argus_domain::passwords::create_reset(&services(), &access, UserId(user_id)).await?)
}

/// `POST /api/v1/members/role`: changes a member's role (the last owner stays owner).
#[server(prefix = "/api/v1", endpoint = "members/role")]
pub async fn set_member_role(user_id: Uuid, role: String) -> Result<Member, AppError> {
    use argus_domain::identity::UserId;

    use super::context::{require, services};
    let access = require(Role::Owner)?;
    let role = parse_role(&role)?;
    Ok(
        argus_domain::members::set_role(&services(), access.workspace, UserId(user_id), role)
            .await?,
    )
}

/// `POST /api/v1/members/remove`: removes a member (never the last owner).
#[server(prefix = "/api/v1", endpoint = "members/remove")]
pub async fn remove_member(user_id: Uuid) -> Result<(), AppError> {
    use argus_domain::identity::UserId;

    use super::context::{require, services};
    let access = require(Role::Owner)?;
    Ok(argus_domain::members::remove(&services(), access.workspace, UserId(user_id)).await?)
}
