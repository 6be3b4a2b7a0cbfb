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
        limiter.take(key, LIMIT).await.unwrap();
    }
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test]
async fn redis_counters_are_shared_by_replicas() {
    let one = RateLimiter::new(Cache::connect(&config(Some(redis_url()))).await);
    let two = RateLimiter::new(Cache::connect(&config(Some(redis_url()))).await);
    let key = format!("ratelimit:test:{}", uuid::Uuid::new_v4());
    exhaust(&one, &key).await;
    let err = two.take(&key, LIMIT).await.unwrap_err();
    let Error::RateLimited { retry_after_secs } = err else {
        panic!("{err:?}")
    };
    assert!((1..=60).contains(&retry_after_secs), "{retry_after_secs}");
    let other = format!("ratelimit:test:{}", uuid::Uuid::new_v4());
    two.take(&other, LIMIT).await.unwrap();
}

#[tokio::test]
async fn parallel_attempts_are_counted_before_any_passes() {
    for limiter in [
        RateLimiter::new(Cache::connect(&config(Some(redis_url()))).await),
        RateLimiter::new(Cache::memory(&config(None), None)),
    ] {
        let key = format!("ratelimit:test:{}", uuid::Uuid::new_v4());
        let attempts = (0..50).map(|_| limiter.take(&key, LIMIT));
        let passed = futures::future::join_all(attempts)
            .await
            .into_iter()
            .filter(Result::is_ok)
            .count();
        assert_eq!(passed as u64, LIMIT.max, "exactly the limit passes");
    }
}

#[tokio::test]
async fn a_refund_gives_one_attempt_back_and_a_reset_all() {
    for limiter in [
        RateLimiter::new(Cache::connect(&config(Some(redis_url()))).await),
        RateLimiter::new(Cache::memory(&config(None), None)),
    ] {
        let key = format!("ratelimit:test:{}", uuid::Uuid::new_v4());
        exhaust(&limiter, &key).await;
        limiter.refund(&key).await;
        limiter.take(&key, LIMIT).await.unwrap();
        assert!(limiter.take(&key, LIMIT).await.is_err());
        limiter.reset(&key).await;
        exhaust(&limiter, &key).await;
        // A refund of an unknown key does not bank attempts for later.
        let fresh = format!("ratelimit:test:{}", uuid::Uuid::new_v4());
        limiter.refund(&fresh).await;
        exhaust(&limiter, &fresh).await;
        assert!(limiter.take(&fresh, LIMIT).await.is_err());
    }
}

#[tokio::test(start_paused = true)]
async fn in_process_counters_reset_when_the_window_ends() {
    let limiter = RateLimiter::new(Cache::memory(&config(None), None));
    exhaust(&limiter, "k").await;
    assert!(limiter.take("k", LIMIT).await.is_err());
    assert!(limiter.take("other", LIMIT).await.is_ok());
    tokio::time::advance(Duration::from_secs(61)).await;
    limiter.take("k", LIMIT).await.unwrap();
}
