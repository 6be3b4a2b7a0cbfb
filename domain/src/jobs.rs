//! The background jobs of this process (re-pricing, deletions): which are running, and the
//! one re-pricing turn. Held in `Services`, so tests and replicas each have their own.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

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
