//! Rate-limit counters: shared through Redis by every replica, or kept in process.

use std::time::Duration;

use argus_domain::cache::{Cache, CacheConfig};
use argus_domain::ratelimit::{Limit, RateLimiter};
use argus_domain::Error;
use secrecy::SecretString;

fn config(url: Option<String>) -> CacheConfig {
    CacheConfig {
        redis_url: url.map(SecretString::from),
        redis_pool_size: 4,
        redis_timeout: Duration::from_secs(2),
        memory_capacity_bytes: 1 << 20,
    }
}

const LIMIT: Limit = Limit {
    max: 3,
    window: Duration::from_secs(60),
};

async fn exhaust(limiter: &RateLimiter, key: &str) {
    for _ in 0..LIMIT.max {
        limiter.check(key, LIMIT).await.unwrap();
        limiter.record(key, LIMIT.window).await;
    }
}

#[tokio::test]
async fn redis_counters_are_shared_by_replicas() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let one = RateLimiter::new(Cache::connect(&config(Some(url.clone()))).await);
    let two = RateLimiter::new(Cache::connect(&config(Some(url))).await);
    let key = format!("ratelimit:test:{}", uuid::Uuid::new_v4());
    exhaust(&one, &key).await;
    let err = two.check(&key, LIMIT).await.unwrap_err();
    let Error::RateLimited { retry_after_secs } = err else {
        panic!("{err:?}")
    };
    assert!((1..=60).contains(&retry_after_secs), "{retry_after_secs}");
    let other = format!("ratelimit:test:{}", uuid::Uuid::new_v4());
    two.check(&other, LIMIT).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn in_process_counters_reset_when_the_window_ends() {
    let limiter = RateLimiter::new(Cache::memory(&config(None), None));
    exhaust(&limiter, "k").await;
    assert!(limiter.check("k", LIMIT).await.is_err());
    assert!(limiter.check("other", LIMIT).await.is_ok());
    tokio::time::advance(Duration::from_secs(61)).await;
    limiter.check("k", LIMIT).await.unwrap();
}
