//! The background jobs (re-pricing, deletions, evaluator backfills): which this process is
//! running, the one re-pricing turn, and [`spawn_once`], which runs a job once across every
//! replica. Held in `Services`, so tests and replicas each have their own.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::Services;

/// The advisory lock of a job: the same id gives the same key on every replica.
pub fn lock_key(job: Uuid) -> i64 {
    let (hi, lo) = job.as_u64_pair();
    (hi ^ lo) as i64
}

/// Runs `work` for `job` in the background, once across every replica: this process's
/// [`Claim`] first, then PostgreSQL's advisory lock on the job, held on a connection of its own
/// (outside the pool: a job never waits on the pool for it) for as long as the work runs.
/// Another replica that holds it is running the job: nothing happens here. A replica that dies
/// lets go of the lock with its connection, and the next resume on any replica (`server` sweeps
/// unfinished jobs every 30 s) takes the job over — every job kind resumes idempotently from
/// what is stored.
pub fn spawn_once<F, Fut>(services: &Services, job: Uuid, what: &'static str, work: F)
where
    F: FnOnce(Services) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(claim) = services.jobs.claim(job) else {
        return; // this process runs it already
    };
    let services = services.clone();
    tokio::spawn(async move {
        let _claim = claim;
        match lock(&services.locks, lock_key(job)).await {
            Ok(Some(_held)) => work(services).await,
            Ok(None) => tracing::debug!(%job, what, "another replica is running this job"),
            Err(e) => tracing::warn!(
                %job, what, error = %e,
                "cannot take the job's lock; the next resume tries again"
            ),
        }
    });
}

/// A connection of its own holding the session advisory lock `key`; `None` when another
/// session holds it. Dropping the connection closes it, which lets go of the lock.
async fn lock(pool: &sqlx::PgPool, key: i64) -> crate::Result<Option<sqlx::PgConnection>> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect_with(&pool.connect_options()).await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut conn)
        .await?;
    Ok(got.then_some(conn))
}

#[derive(Debug)]
pub struct Jobs {
    running: Mutex<HashSet<Uuid>>,
    /// Re-pricing jobs run one at a time (each walks a model's spans day by day).
    pub repricing: tokio::sync::Semaphore,
    /// Wakes the evaluation worker when ingest queued jobs.
    pub evaluations: tokio::sync::Notify,
}

impl Default for Jobs {
    fn default() -> Self {
        Jobs {
            running: Mutex::default(),
            repricing: tokio::sync::Semaphore::new(1),
            evaluations: tokio::sync::Notify::new(),
        }
    }
}

/// This process's claim on running a job; released when dropped.
#[derive(Debug)]
pub struct Claim {
    jobs: Arc<Jobs>,
    job: Uuid,
}

impl Jobs {
    /// The claim on `job`, unless this process runs it already (a deduplicated request
    /// returns the job that is queued, which must not start twice).
    pub fn claim(self: &Arc<Self>, job: Uuid) -> Option<Claim> {
        // The guard ends before a claim exists: dropping one takes the lock again.
        let fresh = self.running.lock().expect("jobs lock").insert(job);
        fresh.then(|| Claim {
            jobs: self.clone(),
            job,
        })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.jobs
            .running
            .lock()
            .expect("jobs lock")
            .remove(&self.job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_claimed_once_until_released() {
        let jobs = Arc::new(Jobs::default());
        let job = Uuid::new_v4();
        let first = jobs.claim(job).unwrap();
        assert!(jobs.claim(job).is_none());
        drop(first);
        assert!(jobs.claim(job).is_some());
    }
}
