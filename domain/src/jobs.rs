//! Background jobs this process runs: a job asked for twice (a deduplicated request returns the
//! job already queued) is started once.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

use uuid::Uuid;

static RUNNING: LazyLock<Mutex<HashSet<Uuid>>> = LazyLock::new(Mutex::default);

/// This process's claim on running a job; released when dropped.
#[derive(Debug)]
pub struct Claim(Uuid);

impl Claim {
    /// The claim on `job`, unless this process runs it already.
    pub fn take(job: Uuid) -> Option<Claim> {
        // The guard ends before a claim exists: dropping one takes the lock again.
        let fresh = RUNNING.lock().expect("jobs lock").insert(job);
        fresh.then(|| Claim(job))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        RUNNING.lock().expect("jobs lock").remove(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_claimed_once_until_released() {
        let job = Uuid::new_v4();
        let first = Claim::take(job).unwrap();
        assert!(Claim::take(job).is_none());
        drop(first);
        assert!(Claim::take(job).is_some());
    }
}
