//! Members of the caller's workspace: list (any member); add, change a role, remove (owner).

use argus_types::Member;
#[cfg(feature = "ssr")]
use argus_types::Role;
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

/// `POST /api/v1/members/add`: adds an existing user by email with a role.
#[server(prefix = "/api/v1", endpoint = "members/add")]
pub async fn add_member(email: String, role: String) -> Result<Member, AppError> {
    use super::context::{require, services};
    let access = require(Role::Owner)?;
    let role = parse_role(&role)?;
    Ok(argus_domain::members::add(&services(), access.workspace, &email, role).await?)
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
