//! Argus's server-side core.
//!
//! Everything that touches PostgreSQL, Redis or secrets lives here, behind typed functions.
//! Axum handlers and Leptos server functions are thin adapters over this crate: they resolve the
//! request context, call one function here and map its [`Error`] to the standard envelope.
#![forbid(unsafe_code)]

use std::sync::Arc;

pub mod access;
pub mod alerts;
pub mod analytics;
pub mod apikeys;
pub mod cache;
pub mod cost;
pub mod db;
pub mod demo;
pub mod error;
pub mod evals;
pub mod explorer;
pub mod guard;
pub mod histogram;
pub mod identity;
pub mod ingest;
pub mod invitations;
pub mod jobs;
pub mod members;
pub mod meters;
pub mod passwords;
pub mod policy;
pub mod pricing;
pub mod ratelimit;
pub mod reads;
pub mod retention;
pub mod sealed;
pub mod search;
pub mod session;
pub mod system;
pub mod tenancy;
pub mod token;
pub mod user_sessions;
pub mod workspaces;

pub use error::{Error, Result};

/// The handles every domain function needs, built once at start and shared by the HTTP
/// handlers and the server functions. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Services {
    pub pool: sqlx::PgPool,
    /// Where background duties take their session advisory locks: PostgreSQL itself (the
    /// serving pool unless that goes through a transaction pooler, where a session lock would
    /// stay on whichever server connection took it).
    pub locks: sqlx::PgPool,
    pub cache: cache::Cache,
    pub info: Arc<system::SystemInfo>,
    /// Signs and verifies session tokens.
    pub tokens: Arc<token::TokenKeys>,
    /// Signs the traces list's cursors (derived from the token secret).
    pub cursors: Arc<explorer::cursor::CursorKey>,
    /// Log-in attempt counters.
    pub limiter: ratelimit::RateLimiter,
    /// API key use, written coalesced.
    pub key_usage: Arc<apikeys::KeyUsage>,
    /// The day partitions of `spans` known to exist.
    pub partitions: Arc<ingest::store::Partitions>,
    /// Where dashboard, explorer and export reads go (a read replica, when configured).
    pub reads: Arc<reads::Reads>,
    /// Drops a workspace's metric caches when its data changes, at most once a second.
    pub invalidator: ingest::invalidate::Invalidator,
    /// Backpressure: the bytes and writes ingestion may have in flight.
    pub ingest_gate: Arc<ingest::gate::IngestGate>,
    /// What the operator decided for every workspace.
    pub policy: Arc<policy::Policy>,
    /// Password hashes at once (log-ins keep a share a sign-up flood cannot take).
    pub hashing: Arc<identity::Hashing>,
    /// The background jobs this process runs.
    pub jobs: Arc<jobs::Jobs>,
    /// Calls workspaces' judge models; seals their keys.
    pub judges: Arc<evals::judge::Judges>,
    /// Guardrail decisions waiting to be written.
    pub guard_decisions: Arc<guard::decisions::Recorder>,
    /// Sends alert notifications; seals webhook secrets.
    pub notifier: Arc<alerts::notify::Notifier>,
    /// The process's own metrics (scraped at `/metrics`).
    pub meters: Arc<meters::Meters>,
}

impl Services {
    /// The pool for a read users look at of `workspace`'s data: the read replica when one is
    /// configured and recent enough for the workspace's last change, else the primary.
    pub async fn read_pool(&self, workspace: tenancy::WorkspaceId) -> &sqlx::PgPool {
        self.reads.pool(&self.pool, &self.cache, workspace).await
    }

    pub fn new(
        pool: sqlx::PgPool,
        cache: cache::Cache,
        info: Arc<system::SystemInfo>,
        tokens: Arc<token::TokenKeys>,
    ) -> Services {
        Services {
            cursors: Arc::new(explorer::cursor::CursorKey::new(
                tokens.derive("argus cursor key"),
            )),
            limiter: ratelimit::RateLimiter::new(cache.clone()),
            key_usage: Arc::default(),
            partitions: Arc::default(),
            reads: Arc::default(),
            invalidator: Default::default(),
            ingest_gate: Arc::default(),
            policy: Arc::default(),
            hashing: Arc::default(),
            jobs: Arc::default(),
            guard_decisions: Arc::default(),
            // Replaced at start when ARGUS_ENCRYPTION_KEY is set.
            judges: Arc::new(evals::judge::Judges::new(
                &tokens.derive("argus sealed secrets"),
                false,
            )),
            // Replaced at start with the operator's settings.
            notifier: Arc::new(alerts::notify::Notifier::new(
                &tokens.derive("argus sealed secrets"),
                false,
                None,
            )),
            meters: Arc::new(meters::Meters::new(info.version)),
            locks: pool.clone(),
            pool,
            cache,
            info,
            tokens,
        }
    }
}
