//! The Redis backend: a pooled connection per operation, every operation within the
//! configured timeout, pattern deletion by `SCAN` (never `KEYS`).

use std::future::Future;
use std::time::Duration;

use deadpool_redis::redis;
use secrecy::{ExposeSecret, SecretString};

use super::CacheConfig;

/// A pool to `url`, checked with a `PING`.
pub(super) async fn pool(
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
    ping(&pool, cfg.redis_timeout).await?;
    Ok(pool)
}

/// Runs one Redis command on a pooled connection within `timeout`.
pub(super) async fn op<T, F, Fut>(
    pool: &deadpool_redis::Pool,
    timeout: Duration,
    op: F,
) -> Result<T, String>
where
    F: FnOnce(deadpool_redis::Connection) -> Fut,
    Fut: Future<Output = redis::RedisResult<T>>,
{
    let work = async {
        let conn = pool.get().await.map_err(|e| e.to_string())?;
        op(conn).await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {timeout:?}")),
    }
}

pub(super) async fn ping(pool: &deadpool_redis::Pool, timeout: Duration) -> Result<(), String> {
    op(pool, timeout, |mut conn| async move {
        redis::cmd("PING").query_async::<String>(&mut conn).await
    })
    .await
    .map(|_| ())
}

pub(super) async fn get(
    pool: &deadpool_redis::Pool,
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

pub(super) async fn set(
    pool: &deadpool_redis::Pool,
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

pub(super) async fn unlink(
    pool: &deadpool_redis::Pool,
    timeout: Duration,
    key: &str,
) -> Result<u64, String> {
    let key = key.to_owned();
    op(pool, timeout, |mut conn| async move {
        redis::cmd("UNLINK")
            .arg(key)
            .query_async::<u64>(&mut conn)
            .await
    })
    .await
}

/// Deletes every key matching `pattern` (SCAN + UNLINK); how many. It may walk a large
/// keyspace, so it gets a few operation timeouts.
pub(super) async fn unlink_matching(
    pool: &deadpool_redis::Pool,
    timeout: Duration,
    pattern: &str,
) -> Result<u64, String> {
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
    match tokio::time::timeout(timeout * 4, work).await {
        Ok(r) => r,
        Err(_) => Err("timed out".into()),
    }
}
