//! The caller's workspace settings: read (any member), change (owner).

#[cfg(feature = "ssr")]
use argus_types::Role;
use argus_types::WorkspaceSettings;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;

/// `GET /api/v1/workspace`: name, slug, retention.
#[server(prefix = "/api/v1", endpoint = "workspace", input = GetUrl)]
pub async fn get_workspace_settings() -> Result<WorkspaceSettings, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::workspaces::settings(&services().pool, access.workspace).await?)
}

/// `POST /api/v1/workspace/update`: renames the workspace and sets its retention in days.
#[server(prefix = "/api/v1", endpoint = "workspace/update")]
pub async fn update_workspace(
    name: String,
    retention_days: i32,
) -> Result<WorkspaceSettings, AppError> {
    use super::context::{require, services};
    let access = require(Role::Owner)?;
    let services = services();
    let settings =
        argus_domain::workspaces::update(&services, access.workspace, &name, retention_days)
            .await?;
    // Cached pages show the workspace's name.
    argus_domain::cache::pages::forget_workspace(&services.cache, access.workspace).await;
    Ok(settings)
}
