#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use argus_domain::cache::{Cache, CacheConfig};
use argus_domain::system::SystemInfo;
use argus_domain::Services;
use axum::body::Body;
use axum::http::{Request, Response};
use axum::Router;
use http_body_util::BodyExt;
use leptos::config::LeptosOptions;
use server::gateway::GatewayConfig;
use server::state::AppState;
use sqlx::PgPool;
use tower::ServiceExt;

pub const TEST_SECRET: &str = "test-secret-0123456789-0123456789-abc";

pub fn memory_cache() -> Cache {
    Cache::memory(
        &CacheConfig {
            redis_url: None,
            redis_pool_size: 4,
            redis_timeout: Duration::from_secs(1),
            memory_capacity_bytes: 16 << 20,
        },
        Some("REDIS_URL is not set".into()),
    )
}

pub fn state(pool: PgPool, gateway: GatewayConfig) -> AppState {
    state_with_cache(pool, gateway, memory_cache())
}

/// [`state`] with another cache (Redis: what replicas share).
pub fn state_with_cache(pool: PgPool, gateway: GatewayConfig, cache: Cache) -> AppState {
    AppState {
        leptos_options: LeptosOptions::builder().output_name("argus").build(),
        services: Services::new(
            pool,
            cache,
            Arc::new(SystemInfo {
                version: server::VERSION,
                environment: "development".into(),
                started_at: chrono::Utc::now(),
                database_url_masked: "postgres://postgres@127.0.0.1:5432/test".into(),
            }),
            Arc::new(argus_domain::token::TokenKeys::new(
                &secrecy::SecretString::from(TEST_SECRET.to_owned()),
                &[],
                Duration::from_secs(3600),
            )),
        ),
        gateway,
        metrics_token: None,
    }
}

pub fn default_gateway() -> GatewayConfig {
    GatewayConfig {
        request_timeout: Duration::from_secs(30),
        body_limit_bytes: 20 * 1024 * 1024,
        body_read_timeout: Duration::from_secs(10),
        production: false,
    }
}

pub fn app(pool: PgPool) -> Router {
    server::router::build(state(pool, default_gateway()))
}

pub async fn send(router: &Router, req: Request<Body>) -> Response<Body> {
    router
        .clone()
        .oneshot(req)
        .await
        .expect("router is infallible")
}

pub async fn body_bytes(res: Response<Body>) -> Vec<u8> {
    res.into_body().collect().await.unwrap().to_bytes().to_vec()
}

pub async fn body_json(res: Response<Body>) -> serde_json::Value {
    let bytes = body_bytes(res).await;
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

pub async fn body_text(res: Response<Body>) -> String {
    String::from_utf8(body_bytes(res).await).unwrap()
}

pub fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// Asserts `json` is exactly the standard envelope with `code`; returns its body.
pub fn assert_envelope(
    json: &serde_json::Value,
    code: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let outer = json.as_object().expect("envelope is an object");
    assert_eq!(outer.len(), 1, "only `error` at the top: {json}");
    let body = outer["error"]
        .as_object()
        .expect("error is an object")
        .clone();
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["code", "details", "message", "request_id", "timestamp"],
        "{json}"
    );
    assert_eq!(body["code"], code, "{json}");
    assert!(!body["message"].as_str().unwrap().is_empty());
    assert!(
        chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok(),
        "timestamp is RFC 3339: {json}"
    );
    body
}

/// The router as the server builds it, on a pool whose connections run as the app role — so
/// row-level security is exercised as in production.
pub async fn app_as_server(owner: &PgPool) -> (Router, argus_domain::Services) {
    app_as_server_with(owner, |_| {}).await
}

/// [`app_as_server`] with the services edited first (a judge allowed on loopback, …).
pub async fn app_as_server_with(
    owner: &PgPool,
    edit: impl FnOnce(&mut argus_domain::Services),
) -> (Router, argus_domain::Services) {
    let db = argus_domain::db::DbConfig::app_role_like(owner);
    let pool = argus_domain::db::connect(&db).await.unwrap();
    let mut state = state(pool, default_gateway());
    edit(&mut state.services);
    let services = state.services.clone();
    (server::router::build(state), services)
}

/// How a test request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Bearer(String),
    ApiKey(String),
    Cookie(String),
}

/// A request to a server function or route: form-encoded body for POST.
pub fn request(method: &str, path: &str, body: &str, auth: &Auth) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path);
    if method == "POST" {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    req = match auth {
        Auth::None => req,
        Auth::Bearer(t) => req.header("authorization", format!("Bearer {t}")),
        Auth::ApiKey(k) => req.header("x-api-key", k.as_str()),
        Auth::Cookie(t) => req.header("cookie", format!("argus_session={t}")),
    };
    req.body(Body::from(body.to_owned())).unwrap()
}

/// Ann signs up (workspace "A"); her workspace and a new API key of it with `scope`.
pub async fn ann_with_key(
    services: &argus_domain::Services,
    scope: argus_domain::apikeys::Scope,
) -> (argus_domain::tenancy::WorkspaceId, String) {
    let ann = argus_domain::session::register(
        services,
        "ann@example.com",
        "Ann",
        "a long passphrase",
        "A",
    )
    .await
    .unwrap();
    let ws = argus_domain::tenancy::WorkspaceId(ann.workspace.id);
    (ws, api_key(services, ws, scope).await)
}

/// A new API key of `ws` with `scope`, as its secret.
pub async fn api_key(
    services: &argus_domain::Services,
    ws: argus_domain::tenancy::WorkspaceId,
    scope: argus_domain::apikeys::Scope,
) -> String {
    use secrecy::ExposeSecret;
    argus_domain::apikeys::create(&services.pool, ws, None, "k", &[scope], None)
        .await
        .unwrap()
        .key
        .expose_secret()
        .to_owned()
}

/// The shared Redis of this machine as the cache (what replicas share).
pub async fn redis_cache() -> Cache {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let cache = Cache::connect(&CacheConfig {
        redis_url: Some(secrecy::SecretString::from(url)),
        redis_pool_size: 4,
        redis_timeout: Duration::from_secs(2),
        memory_capacity_bytes: 16 << 20,
    })
    .await;
    assert_eq!(
        cache.backend_name(),
        "redis",
        "this test needs Redis (scripts/services.sh)"
    );
    cache
}

/// The dashboard's request count over `range` (the home KPIs), read with an API key.
pub async fn home_requests(router: &Router, key: &str, range: &str) -> f64 {
    let res = send(
        router,
        request(
            "GET",
            &format!("/api/v1/metrics/home-kpis?range={range}"),
            "",
            &Auth::ApiKey(key.into()),
        ),
    )
    .await;
    assert_eq!(res.status(), axum::http::StatusCode::OK);
    let body = body_json(res).await;
    body["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "requests")
        .unwrap()["value"]
        .as_f64()
        .unwrap()
}

/// Sends the OTLP fixture of one agent trace (real SDK output) with an ingest key.
pub async fn send_fixture_trace(router: &Router, ingest_key: &str) {
    let pb = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../domain/tests/fixtures/otlp/agent_trace_current_semconv.pb"),
    )
    .unwrap();
    let res = send(
        router,
        Request::post("/v1/traces")
            .header(axum::http::header::CONTENT_TYPE, "application/x-protobuf")
            .header("x-api-key", ingest_key)
            .body(Body::from(pb))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), axum::http::StatusCode::OK);
}
