//! Cache-aside over Redis, with an in-process fallback.
//!
//! Keys are `{domain}:{workspace_id}:{scope}` ([`CacheKey`], in `keys`); values are JSON. Redis
//! is optional (`redis`): without `REDIS_URL`, or when Redis does not answer at start, an
//! in-process cache (`memory`) serves instead, and that is logged once. A Redis failure at run
//! time never fails a request: the lookup counts as a miss, the error is counted and logged at
//! most once a minute (`stats`). Concurrent misses of one key compute it once (`flight`).
//! `pages` names the server's cached pages.

mod flight;
mod keys;
mod memory;
pub mod pages;
mod redis;
mod stats;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use argus_types::{CacheStatus, DomainCacheStats};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use keys::{glob_match, scope, CacheKey, Ttl, IN_PROCESS};

/// How to reach the cache.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// `None` selects the in-process cache.
    pub redis_url: Option<SecretString>,
    pub redis_pool_size: usize,
    /// Limit for one Redis operation, and for getting a pooled connection.
    pub redis_timeout: Duration,
    /// Bytes (keys and values) the in-process cache holds at most; the least useful entries
    /// go first when it is full.
    pub memory_capacity_bytes: u64,
}

enum Backend {
    Redis(deadpool_redis::Pool),
    Memory(memory::Memory),
}

struct Inner {
    backend: Backend,
    fallback_reason: Option<String>,
    op_timeout: Duration,
    stats: stats::Stats,
    flights: flight::Flights,
}

/// The cache-aside service. Cheap to clone.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("backend", &self.backend_name())
            .field("fallback_reason", &self.inner.fallback_reason)
            .finish()
    }
}

impl Cache {
    /// Connects to Redis when configured and reachable; otherwise falls back to the in-process
    /// cache, logging why once. Never fails.
    pub async fn connect(cfg: &CacheConfig) -> Cache {
        let Some(url) = &cfg.redis_url else {
            tracing::info!("REDIS_URL is not set: using the in-process cache");
            return Cache::memory(cfg, Some("REDIS_URL is not set".into()));
        };
        match redis::pool(url, cfg).await {
            Ok(pool) => {
                tracing::info!(
                    url = %crate::db::mask_url(url.expose_secret()),
                    pool_size = cfg.redis_pool_size,
                    "using the Redis cache"
                );
                Cache::with_backend(Backend::Redis(pool), None, cfg.redis_timeout)
            }
            Err(reason) => {
                let reason = format!(
                    "Redis at {} is unavailable ({reason})",
                    crate::db::mask_url(url.expose_secret())
                );
                tracing::warn!("{reason}: falling back to the in-process cache");
                Cache::memory(cfg, Some(reason))
            }
        }
    }

    /// The in-process cache alone.
    pub fn memory(cfg: &CacheConfig, fallback_reason: Option<String>) -> Cache {
        let cache = memory::build(cfg.memory_capacity_bytes);
        Cache::with_backend(Backend::Memory(cache), fallback_reason, cfg.redis_timeout)
    }

    fn with_backend(
        backend: Backend,
        fallback_reason: Option<String>,
        op_timeout: Duration,
    ) -> Cache {
        Cache {
            inner: Arc::new(Inner {
                backend,
                fallback_reason,
                op_timeout,
                stats: stats::Stats::default(),
                flights: flight::Flights::default(),
            }),
        }
    }

    /// The Redis pool, when Redis serves (rate limits share it).
    pub(crate) fn redis_pool_handle(&self) -> Option<&deadpool_redis::Pool> {
        match &self.inner.backend {
            Backend::Redis(pool) => Some(pool),
            Backend::Memory(_) => None,
        }
    }

    /// The timeout of one cache operation.
    pub(crate) fn op_timeout(&self) -> Duration {
        self.inner.op_timeout
    }

    /// `redis` or `memory`.
    pub fn backend_name(&self) -> &'static str {
        match self.inner.backend {
            Backend::Redis(_) => "redis",
            Backend::Memory(_) => "memory",
        }
    }

    /// Why the in-process cache serves instead of Redis, when it does.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.inner.fallback_reason.as_deref()
    }

    /// Cache-aside: the cached value of `key` if there is one, else `fetch()`, stored for `ttl`.
    /// Concurrent misses of `key` in this process fetch once: the others wait for that value
    /// (and count as hits); if that fetch fails, each fetches for itself.
    ///
    /// Cache failures are misses; only `fetch`'s own error is returned.
    pub async fn get_with_cache<T, F, Fut>(
        &self,
        key: &CacheKey,
        ttl: Ttl,
        fetch: F,
    ) -> crate::Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = crate::Result<T>>,
    {
        let counters = self.inner.stats.counters(key.domain());
        if let Some(bytes) = self.get_raw(key.as_str()).await {
            match serde_json::from_slice::<T>(&bytes) {
                Ok(value) => {
                    counters.hit();
                    return Ok(value);
                }
                // A value written by another version of Argus: refetch and overwrite.
                Err(e) => {
                    tracing::debug!(key = %key, error = %e, "discarding undecodable cache entry")
                }
            }
        }
        let leader = match self.inner.flights.join(key.as_str()) {
            flight::Role::Leader(leader) => Some(leader),
            flight::Role::Follower(slot) => {
                if let Some(value) = flight::wait(slot)
                    .await
                    .and_then(|bytes| serde_json::from_slice::<T>(&bytes).ok())
                {
                    counters.hit();
                    return Ok(value);
                }
                None
            }
        };
        counters.miss();
        // A failed fetch drops the leader: its followers then fetch for themselves.
        let value = fetch().await?;
        match serde_json::to_vec(&value) {
            Ok(bytes) => {
                let shared: Option<Arc<[u8]>> = leader.as_ref().map(|_| Arc::from(&bytes[..]));
                self.set_raw(key.as_str(), bytes, ttl.duration()).await;
                if let (Some(leader), Some(shared)) = (leader, shared) {
                    leader.finish(shared);
                }
            }
            Err(e) => self.inner.stats.record_error("serialize", &e),
        }
        Ok(value)
    }

    /// The bytes stored under `key`, counted as a hit or a miss of its domain: for values that
    /// are bytes already (rendered pages), where [`Cache::get_with_cache`] would serialize.
    pub async fn get_bytes(&self, key: &CacheKey) -> Option<Arc<[u8]>> {
        let counters = self.inner.stats.counters(key.domain());
        let got = self.get_raw(key.as_str()).await;
        if got.is_some() {
            counters.hit();
        } else {
            counters.miss();
        }
        got
    }

    /// Stores bytes under `key` for `ttl` (see [`Cache::get_bytes`]).
    pub async fn set_bytes(&self, key: &CacheKey, bytes: Vec<u8>, ttl: Ttl) {
        self.set_raw(key.as_str(), bytes, ttl.duration()).await
    }

    /// Deletes one key.
    pub async fn invalidate(&self, key: &CacheKey) {
        match &self.inner.backend {
            Backend::Memory(cache) => {
                cache.remove(key.as_str()).await;
            }
            Backend::Redis(pool) => {
                if let Err(e) = redis::unlink(pool, self.inner.op_timeout, key.as_str()).await {
                    self.inner.stats.record_error("invalidate", &e);
                }
            }
        }
    }

    /// Deletes every key matching a Redis glob pattern, e.g. `home_kpis:{ws}:*`.
    /// Returns how many were deleted (0 when the cache failed, which is logged).
    pub async fn invalidate_pattern(&self, pattern: &str) -> u64 {
        match &self.inner.backend {
            Backend::Memory(cache) => memory::remove_matching(cache, pattern).await,
            Backend::Redis(pool) => {
                match redis::unlink_matching(pool, self.inner.op_timeout, pattern).await {
                    Ok(n) => n,
                    Err(e) => {
                        self.inner.stats.record_error("invalidate", &e);
                        0
                    }
                }
            }
        }
    }

    async fn get_raw(&self, key: &str) -> Option<Arc<[u8]>> {
        match &self.inner.backend {
            Backend::Memory(cache) => memory::get(cache, key).await,
            Backend::Redis(pool) => match redis::get(pool, self.inner.op_timeout, key).await {
                Ok(v) => v.map(Arc::from),
                Err(e) => {
                    self.inner.stats.record_error("get", &e);
                    None
                }
            },
        }
    }

    async fn set_raw(&self, key: &str, bytes: Vec<u8>, ttl: Duration) {
        match &self.inner.backend {
            Backend::Memory(cache) => memory::set(cache, key, bytes, ttl).await,
            Backend::Redis(pool) => {
                if let Err(e) = redis::set(pool, self.inner.op_timeout, key, bytes, ttl).await {
                    self.inner.stats.record_error("set", &e);
                }
            }
        }
    }

    /// Runtime cache errors counted so far.
    pub fn error_count(&self) -> u64 {
        self.inner.stats.errors()
    }

    /// Hits and misses per domain, sorted by domain.
    pub fn domain_stats(&self) -> Vec<DomainCacheStats> {
        self.inner.stats.domains()
    }

    /// Pings the backend and reports its state and counters.
    pub async fn status(&self) -> CacheStatus {
        let healthy = match &self.inner.backend {
            Backend::Memory(_) => true,
            Backend::Redis(pool) => redis::ping(pool, self.inner.op_timeout).await.is_ok(),
        };
        CacheStatus {
            backend: self.backend_name().to_owned(),
            healthy,
            fallback_reason: self.inner.fallback_reason.clone(),
            errors: self.error_count(),
            domains: self.domain_stats(),
        }
    }
}
