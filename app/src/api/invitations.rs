//! Invitations from the invitee's side: the pending ones of the signed-in user (accept or
//! decline), and a link's page (what it invites to; sign up with it).

use argus_types::Invitation;
pub use argus_types::LinkInfo;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use uuid::Uuid;

use crate::error::AppError;

/// `GET /api/v1/invitations`: the signed-in user's pending invitations.
#[server(prefix = "/api/v1", endpoint = "invitations", input = GetUrl)]
pub async fn my_invitations() -> Result<Vec<Invitation>, AppError> {
    use super::context::{require_user, services};
    let (_, user) = require_user(argus_types::Role::Viewer)?;
    Ok(argus_domain::invitations::list_for_user(&services(), user).await?)
}

/// `POST /api/v1/invitations/accept`: joins the workspace and continues there.
#[server(prefix = "/api/v1", endpoint = "invitations/accept")]
pub async fn accept_invitation(id: Uuid) -> Result<(), AppError> {
    use super::context::{require_user, services, set_session_cookie};
    let (access, _) = require_user(argus_types::Role::Viewer)?;
    if let Some(started) =
        argus_domain::invitations::respond(&services(), &access, id, true).await?
    {
        set_session_cookie(&started.token);
    }
    leptos_axum::redirect("/");
    Ok(())
}

/// `POST /api/v1/invitations/decline`: declines an invitation.
#[server(prefix = "/api/v1", endpoint = "invitations/decline")]
pub async fn decline_invitation(id: Uuid) -> Result<(), AppError> {
    use super::context::{require_user, services};
    let (access, _) = require_user(argus_types::Role::Viewer)?;
    argus_domain::invitations::respond(&services(), &access, id, false).await?;
    Ok(())
}

/// `GET /api/v1/invitations/link?token=…`: what a link invites to (anyone holding it).
#[server(prefix = "/api/v1", endpoint = "invitations/link", input = GetUrl)]
pub async fn invitation_link(token: String) -> Result<LinkInfo, AppError> {
    use super::context::services;
    let info = argus_domain::invitations::link_info(&services(), &token).await?;
    Ok(LinkInfo {
        workspace_name: info.workspace_name,
        email: info.email,
        role: info.role,
        expires_at: info.expires_at,
    })
}

/// `POST /api/v1/invitations/signup`: creates the invitee's account with the link, joins the
/// workspace and signs in.
#[server(prefix = "/api/v1", endpoint = "invitations/signup")]
pub async fn sign_up_with_invitation(
    token: String,
    name: String,
    password: String,
) -> Result<(), AppError> {
    use super::context::{origin, services, set_session_cookie};
    let started = argus_domain::invitations::sign_up_with_link(
        &services(),
        &token,
        &name,
        &password,
        &origin(),
    )
    .await?;
    set_session_cookie(&started.token);
    leptos_axum::redirect("/");
    Ok(())
}
