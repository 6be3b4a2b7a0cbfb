//! Fixed-window counters for rate limits (log-in attempts), in Redis when it serves — so every
//! replica shares them — else in this process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use deadpool_redis::redis;

use crate::cache::Cache;
use crate::{Error, Result};

/// Counts events per key in fixed windows.
#[derive(Clone)]
pub struct RateLimiter {
    cache: Cache,
    local: Arc<Mutex<HashMap<String, (u64, Instant)>>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("backend", &self.cache.backend_name())
            .finish()
    }
}

/// A limit: at most `max` events per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub max: u64,
    pub window: Duration,
}

const LOCAL_MAX_KEYS: usize = 100_000;

impl RateLimiter {
    pub fn new(cache: Cache) -> RateLimiter {
        RateLimiter {
            cache,
            local: Arc::default(),
        }
    }

    /// Fails with [`Error::RateLimited`] when `key` has used up `limit` in its current window.
    pub async fn check(&self, key: &str, limit: Limit) -> Result<()> {
        let (count, remaining) = self.read(key, limit.window).await;
        if count >= limit.max {
            return Err(Error::RateLimited {
                retry_after_secs: remaining.as_secs().max(1),
            });
        }
        Ok(())
    }

    /// Counts one event against `key`; the first event of a window starts it.
    pub async fn record(&self, key: &str, window: Duration) {
        if let Some(pool) = self.cache.redis_pool_handle() {
            let work = async {
                let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                redis::pipe()
                    .cmd("INCR")
                    .arg(key)
                    .ignore()
                    .cmd("EXPIRE")
                    .arg(key)
                    .arg(window.as_secs().max(1))
                    .arg("NX")
                    .ignore()
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(|e| e.to_string())
            };
            match tokio::time::timeout(self.cache.op_timeout(), work).await {
                Ok(Ok(())) => return,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "rate limit counter: Redis failed, counting locally")
                }
                Err(_) => tracing::warn!("rate limit counter: Redis timed out, counting locally"),
            }
        }
        let mut local = self.local.lock().expect("rate limit lock");
        let now = Instant::now();
        if local.len() >= LOCAL_MAX_KEYS {
            local.retain(|_, (_, start)| now.duration_since(*start) < window);
        }
        let entry = local.entry(key.to_owned()).or_insert((0, now));
        if now.duration_since(entry.1) >= window {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// The count in the current window and the time left in it.
    async fn read(&self, key: &str, window: Duration) -> (u64, Duration) {
        let mut best = self.read_local(key, window);
        if let Some(pool) = self.cache.redis_pool_handle() {
            let work = async {
                let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                redis::pipe()
                    .cmd("GET")
                    .arg(key)
                    .cmd("PTTL")
                    .arg(key)
                    .query_async::<(Option<u64>, i64)>(&mut conn)
                    .await
                    .map_err(|e| e.to_string())
            };
            match tokio::time::timeout(self.cache.op_timeout(), work).await {
                Ok(Ok((count, pttl))) => {
                    let count = count.unwrap_or(0);
                    if count > best.0 {
                        let left = if pttl > 0 {
                            Duration::from_millis(pttl as u64)
                        } else {
                            window
                        };
                        best = (count, left);
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "rate limit check: Redis failed"),
                Err(_) => tracing::warn!("rate limit check: Redis timed out"),
            }
        }
        best
    }

    fn read_local(&self, key: &str, window: Duration) -> (u64, Duration) {
        let local = self.local.lock().expect("rate limit lock");
        match local.get(key) {
            Some((count, start)) if start.elapsed() < window => {
                (*count, window.saturating_sub(start.elapsed()))
            }
            _ => (0, Duration::ZERO),
        }
    }
}
