//! Several replicas on one PostgreSQL and one Redis (issue 20, point 1): what one replica
//! ingests or revokes, another shows or refuses at once — their caches are Redis's.

mod common;

use argus_domain::apikeys::Scope;
use axum::http::StatusCode;
use axum::Router;
use common::*;
use sqlx::PgPool;

/// A replica: the router as the server builds it, on an app-role pool and the shared Redis.
async fn replica(owner: &PgPool) -> (Router, argus_domain::Services) {
    let cache = redis_cache().await;
    let db = argus_domain::db::DbConfig::app_role_like(owner);
    let pool = argus_domain::db::connect(&db).await.unwrap();
    let state = state_with_cache(pool, default_gateway(), cache);
    let services = state.services.clone();
    (server::router::build(state), services)
}

async fn requests_90d(router: &Router, key: &str) -> f64 {
    home_requests(router, key, "90d").await
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn what_one_replica_ingests_or_revokes_another_shows_or_refuses_at_once(owner: PgPool) {
    let (a, services_a) = replica(&owner).await;
    let (b, services_b) = replica(&owner).await;
    let (ws, ingest) = ann_with_key(&services_a, Scope::Ingest).await;
    let read = api_key(&services_a, ws, Scope::Read).await;

    // B reads (and caches) the empty dashboard.
    assert_eq!(requests_90d(&b, &read).await, 0.0);
    let hits =
        |s: &argus_domain::Services| -> u64 { s.cache.domain_stats().iter().map(|d| d.hits).sum() };
    let before = hits(&services_b);
    assert_eq!(requests_90d(&b, &read).await, 0.0);
    assert!(
        hits(&services_b) > before,
        "the second read came from the cache"
    );

    // A stores a trace: B's next read shows it (the first change after a quiet spell drops the
    // workspace's cached numbers at once, in Redis, for every replica).
    send_fixture_trace(&a, &ingest).await;
    assert_eq!(requests_90d(&b, &read).await, 1.0);

    // A revokes the read key: B refuses it (its record in Redis went with the revocation).
    let keys = argus_domain::apikeys::list(&services_a.pool, ws)
        .await
        .unwrap();
    let id = keys
        .iter()
        .find(|k| read.starts_with(&k.prefix) || read.starts_with(&format!("argus_{}_", k.prefix)))
        .expect("the read key is listed")
        .id;
    argus_domain::apikeys::revoke_key(&services_a, ws, id)
        .await
        .unwrap();
    let res = send(
        &b,
        request(
            "GET",
            "/api/v1/metrics/home-kpis?range=90d",
            "",
            &Auth::ApiKey(read.clone()),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
