//! Cache-aside over Redis, with an in-process fallback.
//!
//! Keys are `{domain}:{workspace_id}:{scope}` ([`CacheKey`]); values are JSON. Redis is optional:
//! without `REDIS_URL`, or when Redis does not answer at start, an in-process cache (moka) serves
//! instead, and that is logged once. A Redis failure at run time never fails a request: the
//! lookup counts as a miss, the error is counted and logged at most once a minute.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use argus_types::{CacheStatus, DomainCacheStats};
use deadpool_redis::redis;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// How long a cached value lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// 30 s: live metrics, the activity stream, alerts, membership checks.
    Hot,
    /// 5 min: dashboard KPIs, usage and cost overviews.
    Warm,
    /// 30 min: historical aggregates and trends.
    Cold,
}

impl Ttl {
    pub const fn duration(self) -> Duration {
        match self {
            Ttl::Hot => Duration::from_secs(30),
            Ttl::Warm => Duration::from_secs(300),
            Ttl::Cold => Duration::from_secs(1800),
        }
    }
}

/// A cache key: `{domain}:{workspace_id}:{scope}`.
///
/// The domain is a static name (`home_kpis`, `usage`, …) so hit/miss counters stay bounded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    domain: &'static str,
    key: String,
}

impl CacheKey {
    pub fn new(
        domain: &'static str,
        workspace_id: impl fmt::Display,
        scope: impl AsRef<str>,
    ) -> Self {
        debug_assert!(
            !domain.is_empty() && !domain.contains([':', '*', '?', '[']),
            "cache domain must be a plain name"
        );
        CacheKey {
            domain,
            key: format!("{domain}:{workspace_id}:{}", scope.as_ref()),
        }
    }

    pub fn domain(&self) -> &'static str {
        self.domain
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The pattern matching every key of one domain in one workspace.
    pub fn domain_pattern(domain: &str, workspace_id: impl fmt::Display) -> String {
        format!(
            "{}:{}:*",
            escape_glob(domain),
            escape_glob(&workspace_id.to_string())
        )
    }

    /// The pattern matching every key of one workspace, whatever the domain.
    pub fn workspace_pattern(workspace_id: impl fmt::Display) -> String {
        format!("*:{}:*", escape_glob(&workspace_id.to_string()))
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

/// A key's scope from its parts (filters, ranges, user, role, URL), joined with `|`. Each part
/// is percent-encoded first — `%`, `|`, `:`, the glob characters `*?[]\\`, spaces and control
/// characters — so no value can imitate a separator, shift into another field, or match a
/// pattern it should not: different parts always make different keys.
pub fn scope(parts: &[&str]) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('|');
        }
        for c in part.chars() {
            if matches!(c, '%' | '|' | ':' | '*' | '?' | '[' | ']' | '\\' | ' ') || c.is_control() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            } else {
                out.push(c);
            }
        }
    }
    out
}

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Redis-style glob matching (`*`, `?`, `[abc]`, `[a-z]`, `[^a]`, `\x`), for the in-process
/// backend's pattern invalidation.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    // The pattern index after the last `*` and the text index it currently absorbs up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if p.get(pi) == Some(&'*') {
            star = Some((pi + 1, ti));
            pi += 1;
        } else if let Some(next) = p.get(pi).and_then(|_| match_one(p, pi, t[ti])) {
            pi = next;
            ti += 1;
        } else if let Some((after_star, absorbed)) = star {
            // Let the last `*` absorb one more character and retry from there.
            pi = after_star;
            ti = absorbed + 1;
            star = Some((after_star, absorbed + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// If the pattern element at `pi` matches `c`, the index of the next element.
fn match_one(p: &[char], pi: usize, c: char) -> Option<usize> {
    match p[pi] {
        '?' => Some(pi + 1),
        '\\' if pi + 1 < p.len() => (p[pi + 1] == c).then_some(pi + 2),
        '[' => {
            let mut i = pi + 1;
            let negate = p.get(i) == Some(&'^');
            if negate {
                i += 1;
            }
            let mut matched = false;
            while i < p.len() && p[i] != ']' {
                if p[i] == '\\' && i + 1 < p.len() {
                    matched |= p[i + 1] == c;
                    i += 2;
                } else if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                    let (lo, hi) = if p[i] <= p[i + 2] {
                        (p[i], p[i + 2])
                    } else {
                        (p[i + 2], p[i])
                    };
                    matched |= lo <= c && c <= hi;
                    i += 3;
                } else {
                    matched |= p[i] == c;
                    i += 1;
                }
            }
            // An unterminated class matches like Redis: up to the end of the pattern.
            let next = if i < p.len() { i + 1 } else { i };
            (matched != negate).then_some(next)
        }
        other => (other == c).then_some(pi + 1),
    }
}

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

#[derive(Clone)]
struct MemEntry {
    bytes: Arc<[u8]>,
    ttl: Duration,
}

struct PerEntryTtl;

impl moka::Expiry<String, MemEntry> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &MemEntry,
        _now: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &MemEntry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

enum Backend {
    Redis(deadpool_redis::Pool),
    Memory(moka::future::Cache<String, MemEntry>),
}

#[derive(Default)]
struct DomainCounters {
    hits: AtomicU64,
    misses: AtomicU64,
}

struct Inner {
    backend: Backend,
    fallback_reason: Option<String>,
    op_timeout: Duration,
    domains: RwLock<HashMap<&'static str, Arc<DomainCounters>>>,
    errors: AtomicU64,
    /// Unix seconds of the last logged runtime error (0 = never).
    last_error_log: AtomicI64,
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

const ERROR_LOG_INTERVAL_SECS: i64 = 60;

impl Cache {
    /// Connects to Redis when configured and reachable; otherwise falls back to the in-process
    /// cache, logging why once. Never fails.
    pub async fn connect(cfg: &CacheConfig) -> Cache {
        let Some(url) = &cfg.redis_url else {
            tracing::info!("REDIS_URL is not set: using the in-process cache");
            return Cache::memory(cfg, Some("REDIS_URL is not set".into()));
        };
        match Self::redis_pool(url, cfg).await {
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
        let cache = moka::future::Cache::builder()
            .max_capacity(cfg.memory_capacity_bytes)
            .weigher(|key: &String, entry: &MemEntry| {
                u32::try_from(key.len() + entry.bytes.len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
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
                domains: RwLock::new(HashMap::new()),
                errors: AtomicU64::new(0),
                last_error_log: AtomicI64::new(0),
            }),
        }
    }

    async fn redis_pool(
        url: &SecretString,
        cfg: &CacheConfig,
    ) -> Result<deadpool_redis::Pool, String> {
        let pool = deadpool_redis::Config::from_url(url.expose_secret())
            .builder()
            .map_err(|e| e.to_string())?
            .max_size(cfg.redis_pool_size)
            .wait_timeout(Some(cfg.redis_timeout))
            .create_timeout(Some(cfg.redis_timeout))
            .recycle_timeout(Some(cfg.redis_timeout))
            .runtime(deadpool_redis::Runtime::Tokio1)
            .build()
            .map_err(|e| e.to_string())?;
        let ping = async {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(cfg.redis_timeout, ping).await {
            Ok(Ok(_)) => Ok(pool),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("timed out".into()),
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
        let counters = self.counters(key.domain());
        if let Some(bytes) = self.get_raw(key.as_str()).await {
            match serde_json::from_slice::<T>(&bytes) {
                Ok(value) => {
                    counters.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(value);
                }
                // A value written by another version of Argus: refetch and overwrite.
                Err(e) => {
                    tracing::debug!(key = %key, error = %e, "discarding undecodable cache entry")
                }
            }
        }
        counters.misses.fetch_add(1, Ordering::Relaxed);
        let value = fetch().await?;
        match serde_json::to_vec(&value) {
            Ok(bytes) => self.set_raw(key.as_str(), bytes, ttl.duration()).await,
            Err(e) => self.record_error("serialize", &e),
        }
        Ok(value)
    }

    /// The bytes stored under `key`, counted as a hit or a miss of its domain: for values that
    /// are bytes already (rendered pages), where [`Cache::get_with_cache`] would serialize.
    pub async fn get_bytes(&self, key: &CacheKey) -> Option<Arc<[u8]>> {
        let counters = self.counters(key.domain());
        let got = self.get_raw(key.as_str()).await;
        let counter = if got.is_some() {
            &counters.hits
        } else {
            &counters.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
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
                let res = self
                    .redis_op(pool, |mut conn| {
                        let key = key.as_str().to_owned();
                        async move {
                            redis::cmd("UNLINK")
                                .arg(key)
                                .query_async::<u64>(&mut conn)
                                .await
                        }
                    })
                    .await;
                if let Err(e) = res {
                    self.record_error("invalidate", &e);
                }
            }
        }
    }

    /// Deletes every key matching a Redis glob pattern, e.g. `home_kpis:{ws}:*`.
    /// Returns how many were deleted (0 when the cache failed, which is logged).
    pub async fn invalidate_pattern(&self, pattern: &str) -> u64 {
        match &self.inner.backend {
            Backend::Memory(cache) => {
                let mut removed = 0;
                let keys: Vec<Arc<String>> = cache
                    .iter()
                    .filter(|(k, _)| glob_match(pattern, k))
                    .map(|(k, _)| k)
                    .collect();
                for key in keys {
                    if cache.remove(key.as_str()).await.is_some() {
                        removed += 1;
                    }
                }
                removed
            }
            Backend::Redis(pool) => {
                let pool = pool.clone();
                let pattern = pattern.to_owned();
                let work = async move {
                    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                    let mut cursor: u64 = 0;
                    let mut removed: u64 = 0;
                    loop {
                        // SCAN, never KEYS: KEYS blocks Redis for the whole keyspace.
                        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&pattern)
                            .arg("COUNT")
                            .arg(500)
                            .query_async(&mut conn)
                            .await
                            .map_err(|e| e.to_string())?;
                        if !keys.is_empty() {
                            let n: u64 = redis::cmd("UNLINK")
                                .arg(&keys)
                                .query_async(&mut conn)
                                .await
                                .map_err(|e| e.to_string())?;
                            removed += n;
                        }
                        if next == 0 {
                            return Ok::<u64, String>(removed);
                        }
                        cursor = next;
                    }
                };
                // Invalidation may walk a large keyspace: allow it a few operation timeouts.
                match tokio::time::timeout(self.inner.op_timeout * 4, work).await {
                    Ok(Ok(n)) => n,
                    Ok(Err(e)) => {
                        self.record_error("invalidate", &e);
                        0
                    }
                    Err(_) => {
                        self.record_error("invalidate", &"timed out");
                        0
                    }
                }
            }
        }
    }

    async fn get_raw(&self, key: &str) -> Option<Arc<[u8]>> {
        match &self.inner.backend {
            Backend::Memory(cache) => cache.get(key).await.map(|e| e.bytes),
            Backend::Redis(pool) => {
                let got = self
                    .redis_op(pool, |mut conn| {
                        let key = key.to_owned();
                        async move {
                            redis::cmd("GET")
                                .arg(key)
                                .query_async::<Option<Vec<u8>>>(&mut conn)
                                .await
                        }
                    })
                    .await;
                match got {
                    Ok(v) => v.map(Arc::from),
                    Err(e) => {
                        self.record_error("get", &e);
                        None
                    }
                }
            }
        }
    }

    async fn set_raw(&self, key: &str, bytes: Vec<u8>, ttl: Duration) {
        match &self.inner.backend {
            Backend::Memory(cache) => {
                cache
                    .insert(
                        key.to_owned(),
                        MemEntry {
                            bytes: Arc::from(bytes),
                            ttl,
                        },
                    )
                    .await
            }
            Backend::Redis(pool) => {
                let set = self
                    .redis_op(pool, |mut conn| {
                        let key = key.to_owned();
                        async move {
                            redis::cmd("SET")
                                .arg(key)
                                .arg(bytes)
                                .arg("PX")
                                .arg(ttl.as_millis() as u64)
                                .query_async::<()>(&mut conn)
                                .await
                        }
                    })
                    .await;
                if let Err(e) = set {
                    self.record_error("set", &e);
                }
            }
        }
    }

    /// Runs one Redis command on a pooled connection within the operation timeout.
    async fn redis_op<T, F, Fut>(&self, pool: &deadpool_redis::Pool, op: F) -> Result<T, String>
    where
        F: FnOnce(deadpool_redis::Connection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let conn = pool.get().await.map_err(|e| e.to_string())?;
            op(conn).await.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.inner.op_timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {:?}", self.inner.op_timeout)),
        }
    }

    fn record_error(&self, op: &str, err: &dyn fmt::Display) {
        self.inner.errors.fetch_add(1, Ordering::Relaxed);
        let now = chrono::Utc::now().timestamp();
        let last = self.inner.last_error_log.load(Ordering::Relaxed);
        if now - last >= ERROR_LOG_INTERVAL_SECS
            && self
                .inner
                .last_error_log
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                op,
                error = %err,
                errors_total = self.inner.errors.load(Ordering::Relaxed),
                "cache unavailable, serving from the database (logged at most once a minute)"
            );
        }
    }

    fn counters(&self, domain: &'static str) -> Arc<DomainCounters> {
        if let Some(c) = self
            .inner
            .domains
            .read()
            .expect("cache stats lock")
            .get(domain)
        {
            return c.clone();
        }
        self.inner
            .domains
            .write()
            .expect("cache stats lock")
            .entry(domain)
            .or_default()
            .clone()
    }

    /// Runtime cache errors counted so far.
    pub fn error_count(&self) -> u64 {
        self.inner.errors.load(Ordering::Relaxed)
    }

    /// Hits and misses per domain, sorted by domain.
    pub fn domain_stats(&self) -> Vec<DomainCacheStats> {
        let mut stats: Vec<DomainCacheStats> = self
            .inner
            .domains
            .read()
            .expect("cache stats lock")
            .iter()
            .map(|(domain, c)| DomainCacheStats {
                domain: (*domain).to_owned(),
                hits: c.hits.load(Ordering::Relaxed),
                misses: c.misses.load(Ordering::Relaxed),
            })
            .collect();
        stats.sort_by(|a, b| a.domain.cmp(&b.domain));
        stats
    }

    /// Pings the backend and reports its state and counters.
    pub async fn status(&self) -> CacheStatus {
        let healthy = match &self.inner.backend {
            Backend::Memory(_) => true,
            Backend::Redis(pool) => self
                .redis_op(pool, |mut conn| async move {
                    redis::cmd("PING").query_async::<String>(&mut conn).await
                })
                .await
                .is_ok(),
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

#[cfg(test)]
mod scope_tests {
    use super::*;

    #[test]
    fn parts_holding_separators_never_collide() {
        let nasty = [
            "|", "||", ":", "%", "%7C", "*", "?", "[", "]", "\\", " ", "\n", "a|b", "",
        ];
        let mut seen = std::collections::HashMap::new();
        for a in nasty {
            for b in nasty {
                for c in nasty {
                    let key = scope(&[a, b, c]);
                    assert!(
                        !key.contains(['*', '?', '[', ']', '\\', ':', ' ', '\n']),
                        "{key:?}"
                    );
                    assert_eq!(key.matches('|').count(), 2, "{key:?}");
                    if let Some(before) = seen.insert(key.clone(), (a, b, c)) {
                        panic!("{before:?} and {:?} both make {key:?}", (a, b, c));
                    }
                }
            }
        }
        assert_eq!(scope(&["plain", "7d"]), "plain|7d");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_tiers() {
        assert_eq!(Ttl::Hot.duration(), Duration::from_secs(30));
        assert_eq!(Ttl::Warm.duration(), Duration::from_secs(300));
        assert_eq!(Ttl::Cold.duration(), Duration::from_secs(1800));
    }

    /// An in-process cache of 1 MiB.
    fn memory_config() -> CacheConfig {
        CacheConfig {
            redis_url: None,
            redis_pool_size: 1,
            redis_timeout: Duration::from_secs(1),
            memory_capacity_bytes: 1 << 20,
        }
    }

    #[tokio::test]
    async fn the_memory_cache_holds_at_most_its_bytes() {
        let cfg = memory_config();
        let cache = Cache::memory(&cfg, None);
        // Forty 64 KiB pages: 2.5 MiB offered to a 1 MiB cache.
        for i in 0..40 {
            cache
                .set_raw(
                    &format!("page:w:{i}"),
                    vec![0; 64 << 10],
                    Duration::from_secs(60),
                )
                .await;
        }
        let Backend::Memory(memory) = &cache.inner.backend else {
            unreachable!("a memory cache")
        };
        memory.run_pending_tasks().await;
        assert!(
            memory.weighted_size() <= 1 << 20,
            "{}",
            memory.weighted_size()
        );
        assert!(memory.entry_count() < 40);
    }

    #[tokio::test]
    async fn memory_entries_expire_after_their_ttl() {
        let cfg = memory_config();
        let cache = Cache::memory(&cfg, None);
        cache
            .set_raw("d:w:short", b"1".to_vec(), Duration::from_millis(400))
            .await;
        cache
            .set_raw("d:w:long", b"2".to_vec(), Duration::from_secs(60))
            .await;
        assert!(cache.get_raw("d:w:short").await.is_some());
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert!(cache.get_raw("d:w:short").await.is_none(), "expired");
        assert!(cache.get_raw("d:w:long").await.is_some());
    }

    #[test]
    fn key_layout_is_domain_workspace_scope() {
        let k = CacheKey::new("home_kpis", "550e8400", "range=24h&dept=engineering");
        assert_eq!(k.as_str(), "home_kpis:550e8400:range=24h&dept=engineering");
        assert_eq!(k.domain(), "home_kpis");
        assert_eq!(
            CacheKey::domain_pattern("home_kpis", "550e8400"),
            "home_kpis:550e8400:*"
        );
        assert_eq!(CacheKey::workspace_pattern("550e8400"), "*:550e8400:*");
    }

    #[test]
    fn glob_matches_like_redis() {
        assert!(glob_match("home_kpis:ws1:*", "home_kpis:ws1:range=24h"));
        assert!(!glob_match("home_kpis:ws1:*", "home_kpis:ws2:range=24h"));
        assert!(glob_match("*:ws1:*", "usage:ws1:x"));
        assert!(!glob_match("*:ws1:*", "usage:ws10:x"));
        assert!(glob_match("h?llo", "hello"));
        assert!(glob_match("h[ae]llo", "hallo"));
        assert!(!glob_match("h[^e]llo", "hello"));
        assert!(glob_match("h[a-c]llo", "hbllo"));
        assert!(glob_match("a\\*b", "a*b"));
        assert!(!glob_match("a\\*b", "axb"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "a-b-x-c"));
        assert!(!glob_match("a*b*c", "a-b-x-d"));
        assert!(glob_match(&CacheKey::workspace_pattern("w*1"), "d:w*1:s"));
        assert!(!glob_match(&CacheKey::workspace_pattern("w*1"), "d:wX1:s"));
    }
}
