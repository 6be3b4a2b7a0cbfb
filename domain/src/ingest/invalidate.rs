//! Event-driven cache invalidation on ingest, coalesced: a workspace's metric caches are
//! dropped at most once a second however fast its data arrives — at once for the first change
//! of a quiet second (leading edge), and once more at the end of a busy second (trailing edge), so
//! no change is left behind a cached answer for longer than a second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::cache::Cache;
use crate::reads::Reads;
use crate::tenancy::WorkspaceId;

/// The cache domains that hold numbers derived from traces (the dashboard's, the explorer's).
pub const METRIC_DOMAINS: &[&str] = &[
    "home",
    "home_kpis",
    "timeseries",
    "usage",
    "cost",
    "performance",
    "activity",
    "agents",
    "traces",
    "filters",
    crate::cache::pages::DOMAIN,
];

/// The least time between two invalidations of one workspace, by default
/// (`ARGUS_CACHE_INVALIDATION_MS`): while data keeps arriving, dashboard numbers are at most
/// this far behind ingest (the first change after a quiet spell drops the caches at once).
/// Thirty seconds, the pages' refresh interval: the benchmark's 50 users then hit the cache
/// most of the time (`BENCHMARKS.md`); a 1-second window drops it under their feet.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(30);

#[derive(Default)]
struct State {
    last: Option<Instant>,
    scheduled: bool,
}

/// Coalesces invalidations per workspace. Cheap to clone.
#[derive(Clone)]
pub struct Invalidator {
    states: Arc<Mutex<HashMap<WorkspaceId, State>>>,
    done: Arc<AtomicU64>,
    window: Duration,
}

impl Default for Invalidator {
    fn default() -> Invalidator {
        Invalidator::new(DEFAULT_WINDOW)
    }
}

impl std::fmt::Debug for Invalidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invalidator")
            .field("invalidations", &self.invalidations())
            .finish()
    }
}

/// Drops a workspace's metric caches now, after noting the change for the read replica (so a
/// lagging one does not serve the numbers from before it).
pub async fn drop_metrics(cache: &Cache, reads: &Reads, workspace: WorkspaceId) {
    reads.note_change(cache, workspace).await;
    cache.invalidate_domains(METRIC_DOMAINS, workspace).await;
}

impl Invalidator {
    /// Invalidates a workspace at most once per `window`.
    pub fn new(window: Duration) -> Invalidator {
        Invalidator {
            states: Arc::default(),
            done: Arc::default(),
            window,
        }
    }

    /// How many invalidations ran (for tests and the status page).
    pub fn invalidations(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Notes that `workspace`'s data changed.
    pub async fn changed(&self, cache: &Cache, reads: &Arc<Reads>, workspace: WorkspaceId) {
        let now = Instant::now();
        let wait = {
            let mut states = self.states.lock().expect("invalidator lock");
            let state = states.entry(workspace).or_default();
            if state.scheduled {
                return;
            }
            match state.last {
                Some(last) if now.duration_since(last) < self.window => {
                    state.scheduled = true;
                    Some(self.window - now.duration_since(last))
                }
                _ => {
                    state.last = Some(now);
                    None
                }
            }
        };
        match wait {
            None => {
                drop_metrics(cache, reads, workspace).await;
                self.done.fetch_add(1, Ordering::Relaxed);
            }
            Some(wait) => {
                let (this, cache, reads) = (self.clone(), cache.clone(), reads.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    {
                        let mut states = this.states.lock().expect("invalidator lock");
                        let state = states.entry(workspace).or_default();
                        state.scheduled = false;
                        state.last = Some(Instant::now());
                    }
                    drop_metrics(&cache, &reads, workspace).await;
                    this.done.fetch_add(1, Ordering::Relaxed);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn every_dashboard_cache_is_dropped_on_ingest() {
        for domain in crate::analytics::CACHE_DOMAINS {
            assert!(
                METRIC_DOMAINS.contains(&domain),
                "{domain} is never invalidated"
            );
        }
        assert!(
            METRIC_DOMAINS.contains(&crate::cache::pages::DOMAIN),
            "cached pages show the data"
        );
    }

    use super::*;
    use crate::cache::{CacheConfig, CacheKey, Ttl};

    fn cache() -> Cache {
        Cache::memory(
            &CacheConfig {
                redis_url: None,
                redis_pool_size: 1,
                redis_timeout: Duration::from_secs(1),
                memory_capacity_bytes: 1 << 20,
            },
            None,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_changes_is_two_invalidations_and_the_last_change_is_not_lost() {
        let cache = cache();
        let ws = WorkspaceId(uuid::Uuid::new_v4());
        let key = CacheKey::new("home_kpis", ws, "24h");
        let membership = CacheKey::new("membership", ws, "someone");
        for k in [&key, &membership] {
            cache
                .get_with_cache(k, Ttl::Warm, || async { Ok(1u32) })
                .await
                .unwrap();
        }
        let inv = Invalidator::new(Duration::from_secs(1));
        for _ in 0..100 {
            inv.changed(&cache, &Arc::default(), ws).await;
            tokio::time::advance(Duration::from_millis(5)).await;
        }
        assert_eq!(inv.invalidations(), 1, "the leading edge only, so far");
        tokio::time::advance(Duration::from_secs(1)).await;
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(inv.invalidations(), 2, "and one trailing invalidation");
        // The metric entry is gone; the membership entry is not a metric and stays.
        let refetched = cache
            .get_with_cache(&key, Ttl::Warm, || async { Ok(2u32) })
            .await
            .unwrap();
        assert_eq!(refetched, 2);
        let kept = cache
            .get_with_cache(&membership, Ttl::Warm, || async { Ok(2u32) })
            .await
            .unwrap();
        assert_eq!(kept, 1);
    }
}
