//! One way every dashboard read is served: a [`Report`] is computed from the rollups by its
//! `read`, and [`cached`] serves it cache-aside under `{domain}:{workspace}:{window and
//! filters}` in the window's tier (the last hour hot, a day warm, longer cold).

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::PgPool;

use super::window::Resolved;
use crate::cache::CacheKey;
use crate::tenancy::WorkspaceId;
use crate::{Result, Services};

/// A dashboard read over a resolved window.
pub trait Report: Serialize + DeserializeOwned + Send + Sized {
    /// Its cache domain (one of [`super::CACHE_DOMAINS`], dropped on ingest).
    const DOMAIN: &'static str;
    /// What else it takes beyond the window (the usage breakdown's `by`); `()` for most.
    type Args: Sync;

    /// Computes it from the rollups, uncached (what tests compare with raw SQL).
    fn read(
        pool: &PgPool,
        workspace: WorkspaceId,
        q: &Resolved,
        args: &Self::Args,
    ) -> impl Future<Output = Result<Self>> + Send;

    /// The part of the cache key the arguments add.
    fn scope(_args: &Self::Args) -> String {
        String::new()
    }
}

/// `R` for the window, from the cache or read and kept.
pub async fn cached<R: Report>(
    services: &Services,
    workspace: WorkspaceId,
    q: &Resolved,
    args: &R::Args,
) -> Result<R> {
    cache_aside(
        services,
        R::DOMAIN,
        workspace,
        q,
        &R::scope(args),
        || async {
            // The pool is picked after the cache lookup: see `reads`.
            R::read(services.read_pool(workspace).await, workspace, q, args).await
        },
    )
    .await
}

/// The cache-aside step itself, for a read that is not one [`Report`] (the home page's pair).
pub(super) async fn cache_aside<T, F, Fut>(
    services: &Services,
    domain: &'static str,
    workspace: WorkspaceId,
    q: &Resolved,
    extra: &str,
    read: F,
) -> Result<T>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let scope = if extra.is_empty() {
        q.cache_scope()
    } else {
        crate::cache::scope(&[&q.cache_scope(), extra])
    };
    let key = CacheKey::new(domain, workspace, scope);
    services.cache.get_with_cache(&key, q.ttl(), read).await
}
