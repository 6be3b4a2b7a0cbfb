//! The cache-aside service against the real Redis of this machine and against the in-process
//! fallback, including Redis going away mid-test.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use argus_domain::cache::{Cache, CacheConfig, CacheKey, Ttl};
use argus_domain::Error;
use deadpool_redis::redis;
use secrecy::SecretString;

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn config(url: Option<String>) -> CacheConfig {
    CacheConfig {
        redis_url: url.map(SecretString::from),
        redis_pool_size: 8,
        redis_timeout: Duration::from_secs(2),
        memory_capacity_bytes: 16 << 20,
    }
}

async fn redis_cache() -> Cache {
    let cache = Cache::connect(&config(Some(redis_url()))).await;
    assert_eq!(
        cache.backend_name(),
        "redis",
        "these tests need Redis at {} (scripts/services.sh starts it)",
        redis_url()
    );
    cache
}

fn memory_cache() -> Cache {
    Cache::memory(&config(None), None)
}

/// A fresh workspace id per test, so tests sharing one Redis never see each other's keys.
fn workspace() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Counts calls to the fetch function.
#[derive(Clone, Default)]
struct Fetches(Arc<AtomicU32>);

impl Fetches {
    async fn fetch(&self, value: u64) -> argus_domain::Result<u64> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(value)
    }
    fn count(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

async fn cache_aside_semantics(cache: Cache) {
    let ws = workspace();
    let key = CacheKey::new("home_kpis", &ws, "range=24h");
    let fetches = Fetches::default();

    let first = cache
        .get_with_cache(&key, Ttl::Warm, || fetches.fetch(42))
        .await
        .unwrap();
    let second = cache
        .get_with_cache(&key, Ttl::Warm, || fetches.fetch(99))
        .await
        .unwrap();
    assert_eq!(
        (first, second),
        (42, 42),
        "the second read is served from the cache"
    );
    assert_eq!(fetches.count(), 1);

    let stats = cache.domain_stats();
    let kpis = stats.iter().find(|s| s.domain == "home_kpis").unwrap();
    assert_eq!((kpis.hits, kpis.misses), (1, 1));
}

async fn fetch_errors_are_returned_and_not_cached(cache: Cache) {
    let key = CacheKey::new("usage", workspace(), "x");
    let err = cache
        .get_with_cache(&key, Ttl::Hot, || async {
            Err::<u64, _>(Error::not_found("agent"))
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
    let fetches = Fetches::default();
    let v = cache
        .get_with_cache(&key, Ttl::Hot, || fetches.fetch(7))
        .await
        .unwrap();
    assert_eq!(v, 7);
    assert_eq!(fetches.count(), 1, "the failure was not cached");
}

async fn invalidation_by_pattern_is_scoped(cache: Cache) {
    let (ws_a, ws_b) = (workspace(), workspace());
    let keys = [
        CacheKey::new("home_kpis", &ws_a, "range=24h"),
        CacheKey::new("home_kpis", &ws_a, "range=7d"),
        CacheKey::new("usage", &ws_a, "range=24h"),
        CacheKey::new("home_kpis", &ws_b, "range=24h"),
    ];
    for k in &keys {
        cache
            .get_with_cache(k, Ttl::Cold, || async { Ok(1u8) })
            .await
            .unwrap();
    }
    let removed = cache
        .invalidate_pattern(&CacheKey::domain_pattern("home_kpis", &ws_a))
        .await;
    assert_eq!(removed, 2);

    let fetches = Fetches::default();
    let refetched = |k: &CacheKey| {
        let k = k.clone();
        let cache = cache.clone();
        let fetches = fetches.clone();
        async move {
            let before = fetches.count();
            cache
                .get_with_cache(&k, Ttl::Cold, || fetches.fetch(1))
                .await
                .unwrap();
            fetches.count() > before
        }
    };
    assert!(refetched(&keys[0]).await);
    assert!(refetched(&keys[1]).await);
    assert!(
        !refetched(&keys[2]).await,
        "another domain of the same workspace is kept"
    );
    assert!(!refetched(&keys[3]).await, "another workspace is kept");

    // The nuclear option: everything of one workspace.
    let removed = cache
        .invalidate_pattern(&CacheKey::workspace_pattern(&ws_a))
        .await;
    assert_eq!(removed, 3);
    assert!(!refetched(&keys[3]).await);
}

#[tokio::test]
async fn redis_cache_aside_semantics() {
    cache_aside_semantics(redis_cache().await).await;
}

#[tokio::test]
async fn memory_cache_aside_semantics() {
    cache_aside_semantics(memory_cache()).await;
}

#[tokio::test]
async fn redis_fetch_errors_are_returned_and_not_cached() {
    fetch_errors_are_returned_and_not_cached(redis_cache().await).await;
}

#[tokio::test]
async fn memory_fetch_errors_are_returned_and_not_cached() {
    fetch_errors_are_returned_and_not_cached(memory_cache()).await;
}

#[tokio::test]
async fn redis_invalidation_by_pattern_is_scoped() {
    invalidation_by_pattern_is_scoped(redis_cache().await).await;
}

#[tokio::test]
async fn memory_invalidation_by_pattern_is_scoped() {
    invalidation_by_pattern_is_scoped(memory_cache()).await;
}

#[tokio::test]
async fn redis_entries_carry_their_tier_ttl() {
    let cache = redis_cache().await;
    let ws = workspace();
    for (tier, scope) in [(Ttl::Hot, "hot"), (Ttl::Warm, "warm"), (Ttl::Cold, "cold")] {
        let key = CacheKey::new("ttl_check", &ws, scope);
        cache
            .get_with_cache(&key, tier, || async { Ok(1u8) })
            .await
            .unwrap();
        let client = redis::Client::open(redis_url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let pttl: i64 = redis::cmd("PTTL")
            .arg(key.as_str())
            .query_async(&mut conn)
            .await
            .unwrap();
        let max = tier.duration().as_millis() as i64;
        assert!(
            pttl > max - 5_000 && pttl <= max,
            "{scope}: pttl {pttl} of {max}"
        );
    }
}

#[tokio::test]
async fn unset_redis_url_selects_the_memory_cache() {
    let cache = Cache::connect(&config(None)).await;
    assert_eq!(cache.backend_name(), "memory");
    assert_eq!(cache.fallback_reason(), Some("REDIS_URL is not set"));
    let status = cache.status().await;
    assert!(status.healthy);
}

#[tokio::test]
async fn unreachable_redis_at_start_falls_back_to_memory() {
    let port = free_port();
    let cache = Cache::connect(&config(Some(format!("redis://127.0.0.1:{port}")))).await;
    assert_eq!(cache.backend_name(), "memory");
    assert!(cache.fallback_reason().unwrap().contains("unavailable"));
    cache_aside_semantics(cache).await;
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private redis-server for the test that stops it; the shared one stays up for the others.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    async fn start() -> OwnRedis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/services.sh installs it)");
        // Owned from here on: dropping it (even by the panic below) stops and reaps the process.
        let redis = OwnRedis { child, port };
        let url = redis.url();
        for _ in 0..100 {
            if let Ok(client) = redis::Client::open(url.as_str()) {
                if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                    if redis::cmd("PING")
                        .query_async::<String>(&mut c)
                        .await
                        .is_ok()
                    {
                        return redis;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {port} did not start");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn redis_stopping_mid_test_turns_lookups_into_misses_not_failures() {
    let mut redis = OwnRedis::start().await;
    let cache = Cache::connect(&config(Some(redis.url()))).await;
    assert_eq!(cache.backend_name(), "redis");
    let key = CacheKey::new("activity", workspace(), "latest");
    let fetches = Fetches::default();
    assert_eq!(
        cache
            .get_with_cache(&key, Ttl::Hot, || fetches.fetch(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        cache
            .get_with_cache(&key, Ttl::Hot, || fetches.fetch(2))
            .await
            .unwrap(),
        1
    );
    assert_eq!(fetches.count(), 1);
    assert_eq!(cache.error_count(), 0);

    redis.stop();

    // Every read still answers, from the fetch function, without error.
    for i in 0..3 {
        let v = cache
            .get_with_cache(&key, Ttl::Hot, || fetches.fetch(10 + i))
            .await
            .unwrap();
        assert_eq!(v, 10 + i);
    }
    assert_eq!(fetches.count(), 4);
    assert!(cache.error_count() >= 3, "get and set failures are counted");
    assert_eq!(cache.invalidate_pattern("activity:*").await, 0);
    let status = cache.status().await;
    assert_eq!(status.backend, "redis");
    assert!(!status.healthy);
    let stats = cache.domain_stats();
    let activity = stats.iter().find(|s| s.domain == "activity").unwrap();
    assert_eq!((activity.hits, activity.misses), (1, 4));
}

/// Fifty requests miss one key at once (a cache drop under load): one fetch, fifty answers.
async fn concurrent_misses_fetch_once(cache: Cache) {
    let key = CacheKey::new("home", workspace(), "range=7d");
    let fetches = Fetches::default();
    let gate = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (cache, key, fetches, gate) =
                (cache.clone(), key.clone(), fetches.clone(), gate.clone());
            tokio::spawn(async move {
                gate.wait().await;
                cache
                    .get_with_cache(&key, Ttl::Warm, || async {
                        // Slow enough for every other request to miss meanwhile.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        fetches.fetch(7).await
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 7);
    }
    assert_eq!(fetches.count(), 1, "one fetch for fifty concurrent misses");
    let stats = cache.domain_stats();
    let home = stats.iter().find(|s| s.domain == "home").unwrap();
    assert_eq!((home.hits, home.misses), (49, 1));

    // A failing fetch is not shared: the waiters fetch for themselves.
    let key = CacheKey::new("home", workspace(), "range=30d");
    let fetches = Fetches::default();
    let (started, leading) = tokio::sync::oneshot::channel();
    let leader = {
        let (cache, key) = (cache.clone(), key.clone());
        tokio::spawn(async move {
            cache
                .get_with_cache(&key, Ttl::Warm, || async {
                    let _ = started.send(());
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Err::<u64, _>(Error::not_found("agent"))
                })
                .await
        })
    };
    leading.await.unwrap();
    let follower = cache
        .get_with_cache(&key, Ttl::Warm, || fetches.fetch(8))
        .await
        .unwrap();
    assert!(leader.await.unwrap().is_err());
    assert_eq!((follower, fetches.count()), (8, 1));
}

#[tokio::test]
async fn redis_concurrent_misses_fetch_once() {
    concurrent_misses_fetch_once(redis_cache().await).await;
}

#[tokio::test]
async fn memory_concurrent_misses_fetch_once() {
    concurrent_misses_fetch_once(memory_cache()).await;
}
