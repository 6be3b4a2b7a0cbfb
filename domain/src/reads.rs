//! Where the reads users look at go — dashboards, the trace explorer, exports: a streaming read
//! replica when one is configured (`ARGUS_DATABASE_READ_URL`), else the primary. Everything
//! that writes, and reads its own writes, stays on the primary.
//!
//! **A lagging replica.** When a workspace's data changes, the change's position in the
//! primary's WAL is recorded as the workspace's mark in the shared cache (the highest wins),
//! *before* its cached numbers are dropped ([`crate::ingest::invalidate::drop_metrics`]). A read
//! of that workspace goes to the replica only once the replica has replayed past the mark;
//! until then it goes to the primary. So a user never sees numbers older than a change Argus
//! has already shown them, and numbers read before a change are never cached as current after
//! it (the cache's generations see to that). A replica that does not answer sends reads to the
//! primary too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use sqlx::PgPool;
use tokio::time::Instant;

use crate::cache::Cache;
use crate::tenancy::WorkspaceId;

/// The cache mark holding a workspace's last change (its primary WAL position).
const MARK: &str = "changed_at_lsn";

/// How long a replica that answered counts as up without asking it again.
const HEALTHY_FOR: Duration = Duration::from_secs(2);

/// How long the probe of a replica may take before it counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The read replica, if any.
#[derive(Debug, Default)]
pub struct Reads {
    replica: Option<Replica>,
}

#[derive(Debug)]
struct Replica {
    /// The primary, where changes are positioned.
    primary: PgPool,
    pool: PgPool,
    /// The WAL position the replica had replayed when last asked: a lower bound, it only grows.
    replayed: AtomicU64,
    /// When the replica last answered (`None`: never, or it failed since).
    answered: Mutex<Option<Instant>>,
}

/// Where one read went (for tests and the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Primary,
    Replica,
}

impl Reads {
    /// Reads go to `replica`; changes are positioned on `primary`.
    pub fn with_replica(primary: PgPool, replica: PgPool) -> Reads {
        Reads {
            replica: Some(Replica {
                primary,
                pool: replica,
                replayed: AtomicU64::new(0),
                answered: Mutex::new(None),
            }),
        }
    }

    /// Whether a read replica is configured.
    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// The pool for a read of `workspace`'s data.
    pub async fn pool<'a>(
        &'a self,
        primary: &'a PgPool,
        cache: &Cache,
        workspace: WorkspaceId,
    ) -> &'a PgPool {
        match (self.route(cache, workspace).await, &self.replica) {
            (Route::Replica, Some(replica)) => &replica.pool,
            _ => primary,
        }
    }

    /// Where a read of `workspace`'s data goes now.
    pub async fn route(&self, cache: &Cache, workspace: WorkspaceId) -> Route {
        let Some(replica) = &self.replica else {
            return Route::Primary;
        };
        // Unknown (the cache failed): the replica cannot be shown to be recent enough.
        let Ok(mark) = cache.mark(MARK, workspace).await else {
            return Route::Primary;
        };
        if replica.recent_enough(mark.unwrap_or(0)).await {
            Route::Replica
        } else {
            Route::Primary
        }
    }

    /// Records that `workspace`'s data just changed (committed): reads of it go to the primary
    /// until the replica has replayed this far. Call it before dropping the cached numbers.
    pub async fn note_change(&self, cache: &Cache, workspace: WorkspaceId) {
        let Some(replica) = &self.replica else {
            return;
        };
        match insert_position(&replica.primary).await {
            Ok(lsn) => cache.raise_mark(MARK, workspace, lsn).await,
            Err(e) => tracing::warn!(
                error = %e,
                "the primary's WAL position could not be read: a lagging replica may serve \
                 this change's numbers late"
            ),
        }
    }
}

impl Replica {
    /// Whether the replica answers and has replayed at least `needed`.
    async fn recent_enough(&self, needed: u64) -> bool {
        let fresh = self
            .answered
            .lock()
            .expect("replica state lock")
            .is_some_and(|at| at.elapsed() < HEALTHY_FOR);
        if fresh && self.replayed.load(Ordering::Relaxed) >= needed {
            return true;
        }
        let probe = tokio::time::timeout(PROBE_TIMEOUT, replayed_position(&self.pool)).await;
        let replayed = match probe {
            // Not in recovery: the "replica" is a primary, as recent as can be.
            Ok(Ok(None)) => u64::MAX,
            Ok(Ok(Some(lsn))) => lsn,
            Ok(Err(e)) => {
                self.down(&e.to_string());
                return false;
            }
            Err(_) => {
                self.down("no answer within a second");
                return false;
            }
        };
        self.replayed.fetch_max(replayed, Ordering::Relaxed);
        *self.answered.lock().expect("replica state lock") = Some(Instant::now());
        self.replayed.load(Ordering::Relaxed) >= needed
    }

    fn down(&self, why: &str) {
        let was_up = self
            .answered
            .lock()
            .expect("replica state lock")
            .take()
            .is_some();
        if was_up {
            tracing::warn!(
                error = why,
                "the read replica does not answer: reading the primary"
            );
        }
    }
}

/// The primary's WAL insert position in bytes: past a commit just made, even with
/// `synchronous_commit = off`.
async fn insert_position(primary: &PgPool) -> sqlx::Result<u64> {
    let lsn: i64 =
        sqlx::query_scalar("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint")
            .fetch_one(primary)
            .await?;
    Ok(lsn.max(0) as u64)
}

/// How far a replica has replayed the primary's WAL, in bytes; `None` when the server is not
/// in recovery (not a replica: a primary, as recent as can be). `pg_last_wal_replay_lsn()`
/// alone cannot tell: a server that has crash-recovered keeps answering the position its
/// recovery ended at, a fixed number that falls behind every new change.
async fn replayed_position(replica: &PgPool) -> sqlx::Result<Option<u64>> {
    let lsn: Option<i64> = sqlx::query_scalar(
        "SELECT CASE WHEN pg_is_in_recovery() \
         THEN (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint END",
    )
    .fetch_one(replica)
    .await?;
    Ok(lsn.map(|l| l.max(0) as u64))
}
