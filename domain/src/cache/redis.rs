//! The Redis backend — one server or a Redis Cluster — with a pooled connection per operation
//! and every operation within the configured timeout. No operation walks the keyspace: a
//! domain of a workspace is dropped by writing a new generation (`super::generation`), never by
//! `SCAN`, which on a cluster would have to visit every node.
//!
//! `REDIS_URL` names a cluster by listing several seed nodes, comma-separated; a single URL that
//! points at a node with `cluster_enabled:1` is taken as a cluster too.

use std::future::Future;
use std::time::Duration;

use deadpool_redis::redis;
use redis::aio::ConnectionLike;
use secrecy::{ExposeSecret, SecretString};

use super::CacheConfig;

/// A pool of connections to one Redis server or to a cluster.
pub(crate) enum Pool {
    Single(deadpool_redis::Pool),
    Cluster(deadpool_redis::cluster::Pool),
}

/// A pooled connection; commands on it are routed by key when it is a cluster's.
pub(crate) enum Conn {
    Single(deadpool_redis::Connection),
    Cluster(deadpool_redis::cluster::Connection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl Pool {
    /// A pooled connection.
    pub(crate) async fn get(&self) -> Result<Conn, String> {
        match self {
            Pool::Single(p) => p.get().await.map(Conn::Single).map_err(|e| e.to_string()),
            Pool::Cluster(p) => p.get().await.map(Conn::Cluster).map_err(|e| e.to_string()),
        }
    }

    /// `redis` or `redis-cluster`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Pool::Single(_) => "redis",
            Pool::Cluster(_) => "redis-cluster",
        }
    }
}

/// The seed nodes named by `REDIS_URL`: one URL, or several separated by commas.
pub(crate) fn seed_urls(url: &str) -> Vec<String> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A pool to the server or cluster `url` names, checked with a `PING`.
pub(super) async fn pool(url: &SecretString, cfg: &CacheConfig) -> Result<Pool, String> {
    let urls = seed_urls(url.expose_secret());
    let pool = match urls.as_slice() {
        [] => return Err("REDIS_URL names no server".into()),
        [one] => {
            let single = Pool::Single(single_pool(one, cfg)?);
            if cluster_enabled(&single, cfg.redis_timeout).await? {
                Pool::Cluster(cluster_pool(urls, cfg)?)
            } else {
                single
            }
        }
        _ => Pool::Cluster(cluster_pool(urls, cfg)?),
    };
    ping(&pool, cfg.redis_timeout).await?;
    Ok(pool)
}

/// The pool's size and its timeouts (waiting for, creating and recycling a connection).
fn pool_config(cfg: &CacheConfig) -> deadpool_redis::PoolConfig {
    let mut pool = deadpool_redis::PoolConfig::new(cfg.redis_pool_size);
    pool.timeouts = deadpool_redis::Timeouts {
        wait: Some(cfg.redis_timeout),
        create: Some(cfg.redis_timeout),
        recycle: Some(cfg.redis_timeout),
    };
    pool
}

fn single_pool(url: &str, cfg: &CacheConfig) -> Result<deadpool_redis::Pool, String> {
    let mut config = deadpool_redis::Config::from_url(url);
    config.pool = Some(pool_config(cfg));
    config
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .map_err(|e| e.to_string())
}

fn cluster_pool(
    urls: Vec<String>,
    cfg: &CacheConfig,
) -> Result<deadpool_redis::cluster::Pool, String> {
    let mut config = deadpool_redis::cluster::Config::from_urls(urls);
    config.pool = Some(pool_config(cfg));
    config
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .map_err(|e| e.to_string())
}

/// Whether the one server `pool` reaches is a cluster node.
async fn cluster_enabled(pool: &Pool, timeout: Duration) -> Result<bool, String> {
    let info: String = op(pool, timeout, |mut conn| async move {
        redis::cmd("INFO")
            .arg("cluster")
            .query_async::<String>(&mut conn)
            .await
    })
    .await?;
    Ok(info.lines().any(|l| l.trim() == "cluster_enabled:1"))
}

/// Runs one Redis command on a pooled connection within `timeout`.
pub(crate) async fn op<T, F, Fut>(pool: &Pool, timeout: Duration, op: F) -> Result<T, String>
where
    F: FnOnce(Conn) -> Fut,
    Fut: Future<Output = redis::RedisResult<T>>,
{
    let work = async {
        let conn = pool.get().await?;
        op(conn).await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {timeout:?}")),
    }
}

pub(super) async fn ping(pool: &Pool, timeout: Duration) -> Result<(), String> {
    op(pool, timeout, |mut conn| async move {
        redis::cmd("PING").query_async::<String>(&mut conn).await
    })
    .await
    .map(|_| ())
}

/// The values of two keys of one slot (a generation and an entry), in one round trip.
pub(super) async fn get_pair(
    pool: &Pool,
    timeout: Duration,
    first: &str,
    second: &str,
) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>), String> {
    let (first, second) = (first.to_owned(), second.to_owned());
    op(pool, timeout, |mut conn| async move {
        redis::cmd("MGET")
            .arg(first)
            .arg(second)
            .query_async::<(Option<Vec<u8>>, Option<Vec<u8>>)>(&mut conn)
            .await
    })
    .await
}

pub(super) async fn set(
    pool: &Pool,
    timeout: Duration,
    key: &str,
    bytes: Vec<u8>,
    ttl: Duration,
) -> Result<(), String> {
    let key = key.to_owned();
    op(pool, timeout, |mut conn| async move {
        redis::cmd("SET")
            .arg(key)
            .arg(bytes)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async::<()>(&mut conn)
            .await
    })
    .await
}

/// Sets `key` unless it exists; the value it holds afterwards (ours or the one already there).
pub(super) async fn set_if_absent(
    pool: &Pool,
    timeout: Duration,
    key: &str,
    bytes: Vec<u8>,
    ttl: Duration,
) -> Result<Vec<u8>, String> {
    let key = key.to_owned();
    op(pool, timeout, |mut conn| async move {
        // `SET … NX GET` (Redis 7): the old value when there was one (and nothing written),
        // else nil (and ours written).
        let old: Option<Vec<u8>> = redis::cmd("SET")
            .arg(&key)
            .arg(&bytes)
            .arg("NX")
            .arg("GET")
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(&mut conn)
            .await?;
        Ok(old.unwrap_or(bytes))
    })
    .await
}

/// Sets every key to its value, in one round trip (the keys share a slot).
pub(super) async fn set_all(
    pool: &Pool,
    timeout: Duration,
    entries: Vec<(String, Vec<u8>)>,
    ttl: Duration,
) -> Result<(), String> {
    op(pool, timeout, |mut conn| async move {
        let mut pipe = redis::pipe();
        for (key, bytes) in entries {
            pipe.cmd("SET")
                .arg(key)
                .arg(bytes)
                .arg("PX")
                .arg(ttl.as_millis() as u64)
                .ignore();
        }
        pipe.query_async::<()>(&mut conn).await
    })
    .await
}

/// Raises the mark `key` to `value` (fixed-width hex compares as the number does) unless it
/// holds a higher one; the mark lives `ttl` from the last raise.
const RAISE: &str = r"
local old = redis.call('GET', KEYS[1])
if not old or ARGV[1] > old then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 0
";

pub(super) async fn raise_mark(
    pool: &Pool,
    timeout: Duration,
    key: &str,
    value: u64,
    ttl: Duration,
) -> Result<(), String> {
    let key = key.to_owned();
    op(pool, timeout, |mut conn| async move {
        redis::cmd("EVAL")
            .arg(RAISE)
            .arg(1)
            .arg(key)
            .arg(format!("{value:016x}"))
            .arg(ttl.as_millis() as u64)
            .query_async::<i64>(&mut conn)
            .await
    })
    .await
    .map(|_| ())
}

pub(super) async fn get(
    pool: &Pool,
    timeout: Duration,
    key: &str,
) -> Result<Option<Vec<u8>>, String> {
    let key = key.to_owned();
    op(pool, timeout, |mut conn| async move {
        redis::cmd("GET")
            .arg(key)
            .query_async::<Option<Vec<u8>>>(&mut conn)
            .await
    })
    .await
}
