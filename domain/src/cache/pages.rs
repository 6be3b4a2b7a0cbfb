//! The server's cache of whole rendered pages: per workspace, user, role and URL. Dropped with
//! the dashboard's data (ingest, re-pricing), on membership changes and when the workspace is
//! renamed; a user's header lists their workspaces, so when that list changes every page of
//! those workspaces goes (`workspaces::forget_pages_of`).

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
    cache.invalidate_domain(DOMAIN, workspace).await;
}
