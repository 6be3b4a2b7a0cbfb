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

async fn invalidation_is_scoped_to_a_domain_of_a_workspace(cache: Cache) {
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
    cache.invalidate_domain("home_kpis", &ws_a).await;

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
        !refetched(&keys[0]).await,
        "cached again under the new generation"
    );
    assert!(
        !refetched(&keys[2]).await,
        "another domain of the same workspace is kept"
    );
    assert!(!refetched(&keys[3]).await, "another workspace is kept");

    // Several domains of one workspace at once.
    cache
        .invalidate_domains(&["usage", "home_kpis"], &ws_a)
        .await;
    assert!(refetched(&keys[0]).await);
    assert!(refetched(&keys[2]).await);
    assert!(!refetched(&keys[3]).await);
}

/// The race pattern deletion lost: a value computed from data read before an invalidation,
/// stored after it, would be served as current until its TTL. Stored under the generation its
/// lookup saw, it is never served.
async fn a_value_computed_before_an_invalidation_is_not_served_after_it(cache: Cache) {
    // Dropping the domain, or the one key (an API key's record while it is revoked).
    for one_key in [false, true] {
        computed_before_dropped(&cache, one_key).await;
    }
}

async fn computed_before_dropped(cache: &Cache, one_key: bool) {
    let ws = workspace();
    let key = CacheKey::new("home_kpis", &ws, "range=24h");
    let (computing, computed) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let slow = {
        let (cache, key, computing, computed) = (
            cache.clone(),
            key.clone(),
            computing.clone(),
            computed.clone(),
        );
        tokio::spawn(async move {
            cache
                .get_with_cache(&key, Ttl::Cold, || async {
                    computing.notify_one();
                    // The data is read here; new data arrives and is invalidated meanwhile.
                    computed.notified().await;
                    Ok(1u64)
                })
                .await
                .unwrap()
        })
    };
    computing.notified().await;
    if one_key {
        cache.invalidate(&key).await;
    } else {
        cache.invalidate_domain("home_kpis", &ws).await;
    }
    computed.notify_one();
    assert_eq!(
        slow.await.unwrap(),
        1,
        "the slow reader gets what it computed"
    );

    let fetches = Fetches::default();
    let next = cache
        .get_with_cache(&key, Ttl::Cold, || fetches.fetch(2))
        .await
        .unwrap();
    assert_eq!(
        (next, fetches.count()),
        (2, 1),
        "the value from before the invalidation was not kept as current"
    );
}

/// A workspace's mark keeps the highest value raised, whoever raises it when.
async fn marks_keep_the_highest_value(cache: Cache) {
    let ws = workspace();
    assert_eq!(cache.mark("changed_at_lsn", &ws).await, Ok(None));
    for value in [5u64, 900, 17, u64::from(u32::MAX) + 3, 899] {
        cache.raise_mark("changed_at_lsn", &ws, value).await;
    }
    assert_eq!(
        cache.mark("changed_at_lsn", &ws).await,
        Ok(Some(u64::from(u32::MAX) + 3))
    );
    assert_eq!(cache.mark("changed_at_lsn", workspace()).await, Ok(None));
}

/// Each scenario as two tests: against the shared Redis and against the in-process cache.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod redis_backend {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::redis_cache().await).await;
                }
            )*
        }
        mod memory_backend {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::memory_cache()).await;
                }
            )*
        }
    };
}

on_both_backends!(
    marks_keep_the_highest_value,
    cache_aside_semantics,
    fetch_errors_are_returned_and_not_cached,
    invalidation_is_scoped_to_a_domain_of_a_workspace,
    a_value_computed_before_an_invalidation_is_not_served_after_it,
    concurrent_misses_fetch_once,
);

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

/// A redis-server on loopback `port`, with no persistence, and `extra` settings.
fn spawn_redis(port: u16, extra: &[&str]) -> Child {
    Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(extra)
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed (scripts/services.sh installs it)")
}

/// A private redis-server for the test that stops it; the shared one stays up for the others.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    async fn start() -> OwnRedis {
        let port = free_port();
        // Owned from here on: dropping it (even by a panic) stops and reaps the process.
        let redis = OwnRedis {
            child: spawn_redis(port, &[]),
            port,
        };
        wait_for_ping(port).await;
        redis
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
    let ws = workspace();
    let key = CacheKey::new("activity", &ws, "latest");
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
    cache.invalidate_domain("activity", &ws).await;
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

/// A private three-master Redis Cluster on loopback, stopped (and its files removed) on drop.
struct OwnCluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    dir: std::path::PathBuf,
}

/// A port free for a cluster node and for its bus (the port + 10000).
fn free_cluster_port(taken: &[u16]) -> u16 {
    loop {
        let port = 20_000 + rand::random::<u16>() % 20_000;
        if !taken.contains(&port)
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
        {
            return port;
        }
    }
}

impl OwnCluster {
    async fn start() -> OwnCluster {
        let dir = std::env::temp_dir().join(format!("argus-cluster-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cluster = OwnCluster {
            nodes: Vec::new(),
            ports: Vec::new(),
            dir,
        };
        for _ in 0..3 {
            let port = free_cluster_port(&cluster.ports);
            let config = format!("nodes-{port}.conf");
            let child = spawn_redis(
                port,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &config,
                    "--dir",
                    cluster.dir.to_str().unwrap(),
                ],
            );
            cluster.nodes.push(child);
            cluster.ports.push(port);
        }
        for port in &cluster.ports {
            wait_for_ping(*port).await;
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli is installed (with redis-server)");
        assert!(created.success(), "redis-cli --cluster create failed");
        for _ in 0..200 {
            let mut ok = 0;
            for port in &cluster.ports {
                let info: String = node_cmd(*port, redis::cmd("CLUSTER").arg("INFO")).await;
                ok += usize::from(info.contains("cluster_state:ok"));
            }
            if ok == cluster.ports.len() {
                return cluster;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the cluster did not reach cluster_state:ok");
    }

    fn urls(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn wait_for_ping(port: u16) {
    for _ in 0..100 {
        if let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}")) {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis-server on port {port} did not start");
}

/// One command on one node (no cluster routing).
async fn node_cmd<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> T {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    cmd.query_async(&mut conn).await.unwrap()
}

/// Issue 20, point 2: `REDIS_URL` naming a three-master cluster — by its seed nodes, or by any
/// one node — serves the cache and the rate limits; a workspace's keys share one slot while
/// workspaces spread over the masters; invalidation never walks the keyspace.
#[tokio::test]
async fn a_three_master_cluster_serves_the_cache_and_the_rate_limits() {
    let cluster = OwnCluster::start().await;
    let by_seeds = Cache::connect(&config(Some(cluster.urls()))).await;
    assert_eq!(by_seeds.backend_name(), "redis-cluster", "{by_seeds:?}");
    let one_node = format!("redis://127.0.0.1:{}", cluster.ports[1]);
    let by_one = Cache::connect(&config(Some(one_node))).await;
    assert_eq!(
        by_one.backend_name(),
        "redis-cluster",
        "a node says it is a cluster's"
    );
    assert!(by_one.status().await.healthy);

    cache_aside_semantics(by_seeds.clone()).await;
    invalidation_is_scoped_to_a_domain_of_a_workspace(by_seeds.clone()).await;
    a_value_computed_before_an_invalidation_is_not_served_after_it(by_one.clone()).await;
    concurrent_misses_fetch_once(by_one.clone()).await;
    marks_keep_the_highest_value(by_seeds.clone()).await;

    // Two processes on one cluster: what one caches and drops, the other sees.
    let ws = workspace();
    let key = CacheKey::new("usage", &ws, "range=7d");
    let fetches = Fetches::default();
    for (cache, value) in [(&by_seeds, 1), (&by_one, 2)] {
        assert_eq!(
            cache
                .get_with_cache(&key, Ttl::Warm, || fetches.fetch(value))
                .await
                .unwrap(),
            1
        );
    }
    by_one.invalidate_domain("usage", &ws).await;
    assert_eq!(
        by_seeds
            .get_with_cache(&key, Ttl::Warm, || fetches.fetch(3))
            .await
            .unwrap(),
        3
    );
    assert_eq!(fetches.count(), 2);

    // Every key of a workspace (and its domains' generations) in one slot; many workspaces
    // spread over the masters.
    let slot = |k: String| {
        let port = cluster.ports[0];
        async move { node_cmd::<u16>(port, redis::cmd("CLUSTER").arg("KEYSLOT").arg(k)).await }
    };
    let ws = workspace();
    let keys = [
        CacheKey::new("home_kpis", &ws, "range=24h"),
        CacheKey::new("page", &ws, "someone|admin|/traces?x={y}"),
        CacheKey::new("membership", &ws, "active"),
    ];
    let first = slot(keys[0].as_str().to_owned()).await;
    for k in &keys {
        assert_eq!(slot(k.as_str().to_owned()).await, first, "{k}");
        assert_eq!(slot(k.generation_key().to_owned()).await, first, "{k}");
    }
    for i in 0..30 {
        let key = CacheKey::new("home", workspace(), format!("n={i}"));
        by_seeds
            .get_with_cache(&key, Ttl::Hot, || async { Ok(i) })
            .await
            .unwrap();
    }
    let mut holding = 0;
    for port in &cluster.ports {
        let keys: u64 = node_cmd(*port, &redis::cmd("DBSIZE")).await;
        holding += usize::from(keys > 0);
    }
    assert!(
        holding >= 2,
        "workspaces spread over the masters ({holding})"
    );

    // Rate limits count on the cluster, shared by both processes.
    let limit = argus_domain::ratelimit::Limit {
        max: 3,
        window: Duration::from_secs(60),
    };
    let (one, two) = (
        argus_domain::ratelimit::RateLimiter::new(by_seeds.clone()),
        argus_domain::ratelimit::RateLimiter::new(by_one.clone()),
    );
    let who = format!("login:{}", workspace());
    for limiter in [&one, &two, &one] {
        limiter.take(&who, limit).await.unwrap();
    }
    assert!(
        two.take(&who, limit).await.is_err(),
        "the fourth is refused"
    );

    // Nothing walked the keyspace, and no operation failed.
    for port in &cluster.ports {
        let stats: String = node_cmd(*port, redis::cmd("INFO").arg("commandstats")).await;
        for walk in ["cmdstat_scan:", "cmdstat_keys:"] {
            assert!(!stats.contains(walk), "node {port} ran {walk}\n{stats}");
        }
    }
    assert_eq!(by_seeds.error_count() + by_one.error_count(), 0);
}
