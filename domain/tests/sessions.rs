//! Sessions the server can end, across replicas: two processes sharing PostgreSQL and Redis.

mod common;

use std::time::Duration;

use argus_domain::cache::{Cache, CacheConfig};
use argus_domain::{access, session, user_sessions, Services};
use secrecy::SecretString;
use sqlx::PgPool;

/// A replica: the test's database, Redis, the same signing secret.
async fn replica(owner: &PgPool) -> Services {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut s = common::services(owner).await;
    let cache = Cache::connect(&CacheConfig {
        redis_url: Some(SecretString::from(url)),
        redis_pool_size: 4,
        redis_timeout: Duration::from_secs(2),
        memory_capacity_bytes: 1 << 20,
    })
    .await;
    assert_eq!(cache.backend_name(), "redis", "these tests need Redis");
    s.cache = cache;
    s
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_revocation_on_one_replica_holds_on_another_at_once(owner: PgPool) {
    let a = replica(&owner).await;
    let b = replica(&owner).await;
    let ann = session::register(&a, "ann@example.com", "Ann", "a long passphrase", "A")
        .await
        .unwrap();
    let other = session::log_in(
        &a,
        "ann@example.com",
        "a long passphrase",
        &Default::default(),
        None,
        None,
    )
    .await
    .unwrap();
    // Replica B has seen (and cached) both sessions as live.
    let on_b = access::from_session(&b, &ann.token).await.unwrap();
    access::from_session(&b, &other.token).await.unwrap();
    // Log-out on A: B refuses the token on its very next request.
    session::log_out(&a, &on_b).await.unwrap();
    assert!(access::from_session(&b, &ann.token).await.is_err());
    assert!(access::from_session(&b, &other.token).await.is_ok());
    // "Sign out everywhere" on B: A refuses every token.
    let access_other = access::from_session(&b, &other.token).await.unwrap();
    session::sign_out_everywhere(&b, &access_other)
        .await
        .unwrap();
    assert!(access::from_session(&a, &other.token).await.is_err());
    assert!(user_sessions::list(&a.pool, ann.user, None)
        .await
        .unwrap()
        .is_empty());
}
