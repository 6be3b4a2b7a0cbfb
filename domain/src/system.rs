//! What the instance knows about itself: version, uptime, database and cache state.

use argus_types::SystemStatus;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::PgPool;

use crate::cache::Cache;

/// Facts fixed at start.
#[derive(Clone, Debug)]
pub struct SystemInfo {
    pub version: &'static str,
    /// `development` or `production`.
    pub environment: String,
    pub started_at: DateTime<Utc>,
    pub database_url_masked: String,
}

/// Probes the database and the cache in parallel.
#[tracing::instrument(skip_all)]
pub async fn status(pool: &PgPool, cache: &Cache, info: &SystemInfo) -> SystemStatus {
    let (database, cache) = tokio::join!(
        crate::db::status(pool, &info.database_url_masked),
        cache.status()
    );
    SystemStatus {
        version: info.version.to_owned(),
        environment: info.environment.clone(),
        started_at: info.started_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        uptime_seconds: (Utc::now() - info.started_at).num_seconds().max(0) as u64,
        database,
        cache,
    }
}
