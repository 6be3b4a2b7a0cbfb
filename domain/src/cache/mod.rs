//! Cache-aside over Redis, with an in-process fallback.
//!
//! Keys are `{domain}:{{workspace_id}}:{scope}` ([`CacheKey`], in `keys`); values are JSON. Redis
//! — one server or a cluster — is optional (`redis`): without `REDIS_URL`, or when Redis does
//! not answer at start, an in-process cache (`memory`) serves instead, and that is logged once. A
//! Redis failure at run time never fails a request: the lookup counts as a miss, the error is
//! counted and logged at most once a minute (`stats`). Concurrent misses of one key compute it
//! once (`flight`). `pages` names the server's cached pages.
//!
//! **Generations.** Each domain of each workspace has a generation: random bytes under
//! [`CacheKey::generation_key`], read with the entry in one round trip (same slot). An entry
//! is stored with the generation its lookup saw and counts only while that generation is
//! current, so dropping a whole domain of a workspace is one write of a new generation
//! ([`Cache::invalidate_domains`]) — no `SCAN`, on one node or on a cluster — the old entries
//! are left to expire, and a value computed from data read *before* an invalidation can never
//! be stored as current after it.

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

pub use keys::{scope, CacheKey, Ttl, GENERATION_TTL, IN_PROCESS};

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
    Redis(redis::Pool),
    Memory(memory::Memory),
}

/// The generation a lookup saw: a value computed after a miss is stored under it, and so
/// counts only if no invalidation came in between. Empty when the cache failed (nothing is
/// stored then).
#[derive(Clone, Debug)]
pub struct Stamp(Option<Arc<[u8]>>);

/// What [`Cache::get_bytes`] found.
#[derive(Debug)]
pub enum Lookup {
    Hit(Arc<[u8]>),
    /// Nothing current: what is computed now is stored with [`Cache::set_bytes`] and this stamp.
    Miss(Stamp),
}

/// A fresh generation: 16 random bytes.
fn fresh_generation() -> Vec<u8> {
    rand::random::<[u8; 16]>().to_vec()
}

/// A mark's value: 16 hex digits.
fn mark_value(bytes: &[u8]) -> Option<u64> {
    u64::from_str_radix(std::str::from_utf8(bytes).ok()?, 16).ok()
}

/// An entry as stored: the generation's length, the generation, the value.
fn encode_entry(generation: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + generation.len() + value.len());
    out.push(generation.len() as u8);
    out.extend_from_slice(generation);
    out.extend_from_slice(value);
    out
}

/// The value of a stored entry when it was written under `generation`.
fn current_value<'a>(entry: &'a [u8], generation: &[u8]) -> Option<&'a [u8]> {
    let (&len, rest) = entry.split_first()?;
    let len = usize::from(len);
    (len == generation.len() && rest.get(..len) == Some(generation)).then(|| &rest[len..])
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

/// `REDIS_URL`'s servers with their passwords masked.
fn mask_urls(url: &str) -> String {
    redis::seed_urls(url)
        .iter()
        .map(|u| crate::db::mask_url(u))
        .collect::<Vec<_>>()
        .join(",")
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
                    url = %mask_urls(url.expose_secret()),
                    pool_size = cfg.redis_pool_size,
                    backend = pool.kind(),
                    "using the Redis cache"
                );
                Cache::with_backend(Backend::Redis(pool), None, cfg.redis_timeout)
            }
            Err(reason) => {
                let reason = format!(
                    "Redis at {} is unavailable ({reason})",
                    mask_urls(url.expose_secret())
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
    pub(crate) fn redis_pool_handle(&self) -> Option<&redis::Pool> {
        match &self.inner.backend {
            Backend::Redis(pool) => Some(pool),
            Backend::Memory(_) => None,
        }
    }

    /// The timeout of one cache operation.
    pub(crate) fn op_timeout(&self) -> Duration {
        self.inner.op_timeout
    }

    /// `redis`, `redis-cluster` or `memory`.
    pub fn backend_name(&self) -> &'static str {
        match &self.inner.backend {
            Backend::Redis(pool) => pool.kind(),
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
        let (found, stamp) = self.lookup(key).await;
        if let Some(bytes) = found {
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
                self.store(key, &stamp, &bytes, ttl.duration()).await;
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
    pub async fn get_bytes(&self, key: &CacheKey) -> Lookup {
        let counters = self.inner.stats.counters(key.domain());
        match self.lookup(key).await {
            (Some(bytes), _) => {
                counters.hit();
                Lookup::Hit(bytes)
            }
            (None, stamp) => {
                counters.miss();
                Lookup::Miss(stamp)
            }
        }
    }

    /// Stores bytes under `key` for `ttl`, under the generation its lookup saw (see
    /// [`Cache::get_bytes`]).
    pub async fn set_bytes(&self, key: &CacheKey, stamp: &Stamp, bytes: &[u8], ttl: Ttl) {
        self.store(key, stamp, bytes, ttl.duration()).await
    }

    /// Drops one key's entry — with every entry of its domain and workspace, by a new
    /// generation: a value being computed from what was read before (an API key's record
    /// while it is revoked) is then never stored as current, which deleting the key alone
    /// would allow.
    pub async fn invalidate(&self, key: &CacheKey) {
        self.write_generations(vec![(key.generation_key().to_owned(), fresh_generation())])
            .await
    }

    /// Drops every entry of `domain` in `workspace` (see [`Cache::invalidate_domains`]).
    pub async fn invalidate_domain(&self, domain: &str, workspace: impl fmt::Display) {
        self.invalidate_domains(&[domain], workspace).await
    }

    /// Drops every entry of these domains in `workspace`: one write of a new generation for
    /// each, in one round trip; the old entries are left to expire.
    pub async fn invalidate_domains(&self, domains: &[&str], workspace: impl fmt::Display) {
        let workspace = workspace.to_string();
        let generations: Vec<(String, Vec<u8>)> = domains
            .iter()
            .map(|domain| {
                (
                    CacheKey::generation_of(domain, &workspace),
                    fresh_generation(),
                )
            })
            .collect();
        self.write_generations(generations).await
    }

    /// Writes fresh generations (one round trip; the keys share a slot).
    async fn write_generations(&self, generations: Vec<(String, Vec<u8>)>) {
        match &self.inner.backend {
            Backend::Memory(cache) => {
                for (key, generation) in generations {
                    memory::set(cache, &key, generation, GENERATION_TTL).await;
                }
            }
            Backend::Redis(pool) => {
                if let Err(e) =
                    redis::set_all(pool, self.inner.op_timeout, generations, GENERATION_TTL).await
                {
                    self.inner.stats.record_error("invalidate", &e);
                }
            }
        }
    }

    /// Raises a workspace's mark `name` to `value` unless it is higher already (several
    /// processes raise it at once; the highest stays). Marks are not entries: no generation,
    /// they live [`GENERATION_TTL`] from the last raise. A failure is counted and logged.
    pub async fn raise_mark(&self, name: &str, workspace: impl fmt::Display, value: u64) {
        let key = CacheKey::generation_of(name, workspace);
        match &self.inner.backend {
            Backend::Memory(cache) => {
                cache
                    .entry(key)
                    .and_compute_with(|old| {
                        let higher = old
                            .and_then(|e| mark_value(&e.into_value().bytes))
                            .is_some_and(|old| old >= value);
                        std::future::ready(if higher {
                            moka::ops::compute::Op::Nop
                        } else {
                            moka::ops::compute::Op::Put(memory::MemEntry::new(
                                format!("{value:016x}").into_bytes(),
                                GENERATION_TTL,
                            ))
                        })
                    })
                    .await;
            }
            Backend::Redis(pool) => {
                if let Err(e) =
                    redis::raise_mark(pool, self.inner.op_timeout, &key, value, GENERATION_TTL)
                        .await
                {
                    self.inner.stats.record_error("mark", &e);
                }
            }
        }
    }

    /// A workspace's mark `name`: `Ok(None)` when there is none, `Err` when the cache failed.
    pub async fn mark(&self, name: &str, workspace: impl fmt::Display) -> Result<Option<u64>, ()> {
        let key = CacheKey::generation_of(name, workspace);
        let bytes = match &self.inner.backend {
            Backend::Memory(cache) => memory::get(cache, &key).await,
            Backend::Redis(pool) => match redis::get(pool, self.inner.op_timeout, &key).await {
                Ok(bytes) => bytes.map(Arc::from),
                Err(e) => {
                    self.inner.stats.record_error("mark", &e);
                    return Err(());
                }
            },
        };
        Ok(bytes.and_then(|b| mark_value(&b)))
    }

    /// The current entry of `key` if there is one, and the generation to store a new one under.
    async fn lookup(&self, key: &CacheKey) -> (Option<Arc<[u8]>>, Stamp) {
        let found = match &self.inner.backend {
            Backend::Memory(cache) => Ok((
                memory::get(cache, key.generation_key()).await,
                memory::get(cache, key.as_str()).await,
            )),
            Backend::Redis(pool) => redis::get_pair(
                pool,
                self.inner.op_timeout,
                key.generation_key(),
                key.as_str(),
            )
            .await
            .map(|(generation, entry)| (generation.map(Arc::from), entry.map(Arc::from))),
        };
        let (generation, entry) = match found {
            Ok(found) => found,
            Err(e) => {
                self.inner.stats.record_error("get", &e);
                return (None, Stamp(None));
            }
        };
        let Some(generation) = generation.filter(|g| !g.is_empty() && g.len() <= 255) else {
            // No generation yet (or it expired): start one. Whatever entries there are were
            // written under another and no longer count.
            return (None, Stamp(self.start_generation(key).await));
        };
        let value = entry.and_then(|entry| current_value(&entry, &generation).map(Arc::from));
        (value, Stamp(Some(generation)))
    }

    /// Writes a fresh generation for `key`'s domain unless another process just did; the one
    /// that holds.
    async fn start_generation(&self, key: &CacheKey) -> Option<Arc<[u8]>> {
        let fresh = fresh_generation();
        match &self.inner.backend {
            Backend::Memory(cache) => Some(
                memory::set_if_absent(cache, key.generation_key(), fresh, GENERATION_TTL).await,
            ),
            Backend::Redis(pool) => match redis::set_if_absent(
                pool,
                self.inner.op_timeout,
                key.generation_key(),
                fresh,
                GENERATION_TTL,
            )
            .await
            {
                Ok(generation) => Some(Arc::from(generation)),
                Err(e) => {
                    self.inner.stats.record_error("get", &e);
                    None
                }
            },
        }
    }

    /// Stores `value` under `key` for `ttl`, under the generation its lookup saw.
    async fn store(&self, key: &CacheKey, stamp: &Stamp, value: &[u8], ttl: Duration) {
        let Some(generation) = &stamp.0 else {
            return;
        };
        let entry = encode_entry(generation, value);
        match &self.inner.backend {
            Backend::Memory(cache) => memory::set(cache, key.as_str(), entry, ttl).await,
            Backend::Redis(pool) => {
                if let Err(e) =
                    redis::set(pool, self.inner.op_timeout, key.as_str(), entry, ttl).await
                {
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
