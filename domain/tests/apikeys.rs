//! API keys against the real PostgreSQL, as the server's role (under RLS).

mod common;

use argus_domain::apikeys::{self, Scope};
use argus_domain::identity::{self, Email, Password};
use argus_domain::tenancy::WorkspaceId;
use argus_domain::Error;
use chrono::{Duration, Utc};
use common::app_pool;
use secrecy::ExposeSecret;
use sqlx::PgPool;

async fn workspace(pool: &PgPool, email: &str) -> WorkspaceId {
    identity::sign_up(
        pool,
        &Email::parse(email).unwrap(),
        "Owner",
        &Password::parse("a long passphrase").unwrap(),
        "Team",
    )
    .await
    .unwrap()
    .unwrap()
    .workspace
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_created_key_verifies_with_its_scopes_and_is_listed_without_its_secret(owner: PgPool) {
    let pool = app_pool(&owner).await;
    let ws = workspace(&pool, "a@example.com").await;
    let created = apikeys::create(&pool, ws, None, "collector", &[Scope::Ingest], None)
        .await
        .unwrap();
    let key = created.key.expose_secret().to_owned();
    assert!(key.starts_with(&format!("argus_{}_", created.prefix)));

    let verified = apikeys::verify(&pool, &key).await.unwrap();
    assert_eq!(verified.workspace, ws);
    assert_eq!(verified.key_id, created.id);
    assert!(verified.has(Scope::Ingest) && !verified.has(Scope::Read));

    let listed = apikeys::list(&pool, ws).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].prefix, created.prefix);
    assert_eq!(listed[0].scopes, vec!["ingest".to_owned()]);
    let secret = key.rsplit('_').next().unwrap();
    assert!(!format!("{listed:?}").contains(secret));
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret_sha256 FROM api_keys")
        .fetch_one(&owner)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32, "only the hash is stored");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn wrong_malformed_revoked_and_expired_keys_are_all_invalid_api_key(owner: PgPool) {
    let pool = app_pool(&owner).await;
    let ws = workspace(&pool, "a@example.com").await;
    let created = apikeys::create(&pool, ws, None, "k", &[Scope::Read], None)
        .await
        .unwrap();
    let key = created.key.expose_secret().to_owned();

    let mut wrong = key.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'a' { 'b' } else { 'a' });
    let unknown_prefix = format!("argus_{}_{}", "z".repeat(12), "s".repeat(43));
    for bad in [wrong.as_str(), "garbage", "", unknown_prefix.as_str()] {
        assert!(
            matches!(apikeys::verify(&pool, bad).await, Err(Error::InvalidApiKey)),
            "{bad}"
        );
    }

    apikeys::revoke(&pool, ws, created.id).await.unwrap();
    assert!(matches!(
        apikeys::verify(&pool, &key).await,
        Err(Error::InvalidApiKey)
    ));

    let short_lived = apikeys::create(
        &pool,
        ws,
        None,
        "short",
        &[Scope::Read],
        Some(Utc::now() + Duration::seconds(1)),
    )
    .await
    .unwrap();
    sqlx::query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(short_lived.id)
        .execute(&owner)
        .await
        .unwrap();
    assert!(matches!(
        apikeys::verify(&pool, short_lived.key.expose_secret()).await,
        Err(Error::InvalidApiKey)
    ));
    assert_eq!(Error::InvalidApiKey.to_envelope().status(), 401);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn another_workspace_can_neither_list_nor_revoke_a_key(owner: PgPool) {
    let pool = app_pool(&owner).await;
    let a = workspace(&pool, "a@example.com").await;
    let b = workspace(&pool, "b@example.com").await;
    let created = apikeys::create(&pool, a, None, "k", &[Scope::Admin], None)
        .await
        .unwrap();

    assert!(apikeys::list(&pool, b).await.unwrap().is_empty());
    assert!(matches!(
        apikeys::revoke(&pool, b, created.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        apikeys::verify(&pool, created.key.expose_secret())
            .await
            .is_ok(),
        "still valid"
    );
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn creation_validates_its_input(owner: PgPool) {
    let pool = app_pool(&owner).await;
    let ws = workspace(&pool, "a@example.com").await;
    let cases = [
        ("", vec![Scope::Read], None, "name"),
        ("k", vec![], None, "scopes"),
        (
            "k",
            vec![Scope::Read],
            Some(Utc::now() - Duration::hours(1)),
            "expires_at",
        ),
    ];
    for (name, scopes, expires, field) in cases {
        let err = apikeys::create(&pool, ws, None, name, &scopes, expires)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { field: ref f, .. } if f == field),
            "{err:?}"
        );
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_cached_key_stops_working_the_moment_it_is_revoked(owner: PgPool) {
    let s = common::services(&owner).await;
    let ws = workspace(&s.pool, "a@example.com").await;
    let created = apikeys::create(&s.pool, ws, None, "collector", &[Scope::Ingest], None)
        .await
        .unwrap();
    let key = created.key.expose_secret().to_owned();
    // The first use reads the database and caches the record; the second is answered in
    // process; after a second the shared cache answers.
    let hits = |s: &argus_domain::Services| {
        s.cache
            .domain_stats()
            .into_iter()
            .find(|d| d.domain == "apikey")
            .map_or(0, |d| d.hits)
    };
    for expected_hits in [0, 0] {
        assert_eq!(
            apikeys::verify_cached(&s, &key).await.unwrap().key_id,
            created.id
        );
        assert_eq!(hits(&s), expected_hits);
    }
    tokio::time::sleep(apikeys::RECENT_TTL + std::time::Duration::from_millis(200)).await;
    assert_eq!(
        apikeys::verify_cached(&s, &key).await.unwrap().key_id,
        created.id
    );
    assert_eq!(hits(&s), 1);
    // A wrong secret under a cached prefix is still refused.
    let wrong = format!("{}{}", &key[..key.len() - 4], "AAAA");
    assert!(matches!(
        apikeys::verify_cached(&s, &wrong).await,
        Err(Error::InvalidApiKey)
    ));

    apikeys::revoke_key(&s, ws, created.id).await.unwrap();
    assert!(matches!(
        apikeys::verify_cached(&s, &key).await,
        Err(Error::InvalidApiKey)
    ));
}
