//! Fixed-window counters for rate limits (log-in attempts, sign-ups), in Redis when it serves —
//! so every replica shares them — else in this process.
//!
//! An attempt is counted **before** the work it guards ([`RateLimiter::take`]): fifty parallel
//! guesses cannot all pass a check that reads the counter before any of them has added to it.
//! A guarded attempt that turns out fine may give its count back ([`RateLimiter::refund`]).

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

/// `INCR` with the window set on the first event; the count and the milliseconds left.
const TAKE: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
";

/// Gives one back, only while the window lasts (a `DECR` of a gone key would start a
/// negative count with no end).
const REFUND: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0
";

impl RateLimiter {
    pub fn new(cache: Cache) -> RateLimiter {
        RateLimiter {
            cache,
            local: Arc::default(),
        }
    }

    /// Counts one attempt against `key`, then fails with [`Error::RateLimited`] (and the
    /// seconds left in the window) when that made more than `limit.max` in the window.
    pub async fn take(&self, key: &str, limit: Limit) -> Result<()> {
        let (count, left) = match self.take_redis(key, limit.window).await {
            Some(counted) => counted,
            None => self.take_local(key, limit.window),
        };
        if count > limit.max {
            return Err(Error::RateLimited {
                retry_after_secs: left.as_secs().max(1),
            });
        }
        Ok(())
    }

    /// Gives back one attempt of `key` (in the current window only).
    pub async fn refund(&self, key: &str) {
        if let Some(pool) = self.cache.redis_pool_handle() {
            let work = async {
                let mut conn = pool.get().await?;
                redis::cmd("EVAL")
                    .arg(REFUND)
                    .arg(1)
                    .arg(key)
                    .query_async::<i64>(&mut conn)
                    .await
                    .map_err(|e| e.to_string())
            };
            if let Ok(Ok(_)) = tokio::time::timeout(self.cache.op_timeout(), work).await {
                return;
            }
        }
        let mut local = self.local.lock().expect("rate limit lock");
        if let Some(entry) = local.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }

    /// Forgets `key`'s count (after a successful log-in, say).
    pub async fn reset(&self, key: &str) {
        if let Some(pool) = self.cache.redis_pool_handle() {
            let work = async {
                let mut conn = pool.get().await?;
                redis::cmd("DEL")
                    .arg(key)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(|e| e.to_string())
            };
            let _ = tokio::time::timeout(self.cache.op_timeout(), work).await;
        }
        self.local.lock().expect("rate limit lock").remove(key);
    }

    async fn take_redis(&self, key: &str, window: Duration) -> Option<(u64, Duration)> {
        let pool = self.cache.redis_pool_handle()?;
        let work = async {
            let mut conn = pool.get().await?;
            redis::cmd("EVAL")
                .arg(TAKE)
                .arg(1)
                .arg(key)
                .arg(window.as_millis().max(1) as u64)
                .query_async::<(u64, i64)>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.cache.op_timeout(), work).await {
            Ok(Ok((count, pttl))) => {
                let left = if pttl > 0 {
                    Duration::from_millis(pttl as u64)
                } else {
                    window
                };
                Some((count, left))
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "rate limit counter: Redis failed, counting locally");
                None
            }
            Err(_) => {
                tracing::warn!("rate limit counter: Redis timed out, counting locally");
                None
            }
        }
    }

    fn take_local(&self, key: &str, window: Duration) -> (u64, Duration) {
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
        (entry.0, window.saturating_sub(now.duration_since(entry.1)))
    }
}
