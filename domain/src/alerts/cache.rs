//! The cache key of a workspace's alert feed (the home page's card and the bell), and dropping
//! it: whatever changes a state, a rule or a budget calls [`forget`].

use crate::cache::CacheKey;
use crate::tenancy::WorkspaceId;
use crate::Services;

pub(super) fn key(workspace: WorkspaceId) -> CacheKey {
    CacheKey::new("alerts", workspace.0, "feed")
}

/// Drops the cached feed.
pub async fn forget(services: &Services, workspace: WorkspaceId) {
    services.cache.invalidate(&key(workspace)).await;
}
