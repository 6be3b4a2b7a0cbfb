//! The server's cache of whole rendered pages: per workspace, user, role and URL. Dropped with
//! the dashboard's data (ingest, re-pricing), on membership changes and when the workspace is
//! renamed.

use argus_types::Role;

use super::{scope, Cache, CacheKey};
use crate::tenancy::{UserId, WorkspaceId};

/// The cache domain of rendered pages.
pub const DOMAIN: &str = "page";

/// The key of `uri` (path and query) rendered for `user` with `role`.
pub fn key(workspace: WorkspaceId, user: UserId, role: Role, uri: &str) -> CacheKey {
    CacheKey::new(
        DOMAIN,
        workspace,
        scope(&[&user.0.to_string(), role.as_str(), uri]),
    )
}

/// Drops every cached page of `workspace`.
pub async fn forget_workspace(cache: &Cache, workspace: WorkspaceId) {
    cache
        .invalidate_pattern(&CacheKey::domain_pattern(DOMAIN, workspace))
        .await;
}

/// Drops every cached page of `user`, in every workspace: their header lists the workspaces
/// they belong to.
pub async fn forget_user(cache: &Cache, user: UserId) {
    cache
        .invalidate_pattern(&format!("{DOMAIN}:*:{}|*", user.0))
        .await;
}
