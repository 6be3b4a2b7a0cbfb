//! The gateway layers and the error envelope, through the real router (`oneshot`).

mod common;

use std::time::Duration;

use app::error::AppError;
use argus_types::ErrorCode;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use common::*;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use server::error::{ApiJson, HttpError};
use server::gateway::{self, GatewayConfig};
use sqlx::PgPool;

/// A router with test-only routes behind the same gateway layers as the real one.
fn test_router(cfg: GatewayConfig) -> Router {
    let routes = Router::new()
        .route(
            "/api/test/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "done"
            }),
        )
        .route(
            "/api/test/panic",
            get(|| async {
                let v: Vec<u8> = Vec::new();
                #[allow(clippy::unnecessary_operation)]
                let _ = v[3];
                "unreachable"
            }),
        )
        .route(
            "/api/test/echo",
            post(|ApiJson(v): ApiJson<serde_json::Value>| async move { axum::Json(v) }),
        )
        .route(
            "/api/test/typed",
            post(|ApiJson(v): ApiJson<Named>| async move { v.name }),
        )
        .fallback(|| async { HttpError::new(ErrorCode::ResourceNotFound, "no such route") });
    // These routes need no credentials: the services' pool is never used.
    let lazy = sqlx::PgPool::connect_lazy("postgres://postgres@127.0.0.1:1/unused").unwrap();
    gateway::apply(routes, cfg, common::state(lazy, cfg).services)
}

#[derive(serde::Deserialize)]
struct Named {
    name: String,
}

/// A 1 KiB body limit; a timeout long enough never to fire on a loaded CI machine.
fn small_limits() -> GatewayConfig {
    GatewayConfig {
        request_timeout: Duration::from_secs(20),
        body_limit_bytes: 1024,
        body_read_timeout: Duration::from_secs(10),
        production: false,
    }
}

#[tokio::test]
async fn generates_a_request_id_and_echoes_it_in_the_envelope() {
    let router = test_router(small_limits());
    let res = send(&router, get_req("/api/test/nope")).await;
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id.starts_with("req_"), "{id}");
    let json = body_json(res).await;
    let body = assert_envelope(&json, "RESOURCE_NOT_FOUND");
    assert_eq!(body["request_id"], id.as_str());
}

#[tokio::test]
async fn accepts_a_sane_client_request_id_and_replaces_an_odd_one() {
    let router = test_router(small_limits());
    let req = Request::get("/api/test/nope")
        .header("x-request-id", "client-abc-123")
        .body(Body::empty())
        .unwrap();
    let res = send(&router, req).await;
    assert_eq!(res.headers()["x-request-id"], "client-abc-123");
    assert_eq!(
        body_json(res).await["error"]["request_id"],
        "client-abc-123"
    );

    let req = Request::get("/api/test/nope")
        .header("x-request-id", "has spaces and \"quotes\"")
        .body(Body::empty())
        .unwrap();
    let res = send(&router, req).await;
    let echoed = res.headers()["x-request-id"].to_str().unwrap();
    assert!(echoed.starts_with("req_"), "{echoed}");
}

#[tokio::test]
async fn slow_request_is_cut_at_the_timeout_with_504() {
    let router = test_router(GatewayConfig {
        request_timeout: Duration::from_millis(200),
        ..small_limits()
    });
    let res = send(&router, get_req("/api/test/slow")).await;
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(res.headers().contains_key("x-request-id"));
    let json = body_json(res).await;
    let body = assert_envelope(&json, "GATEWAY_TIMEOUT");
    assert_eq!(body["details"]["timeout_seconds"], 0.2);
}

#[tokio::test]
async fn panicking_handler_answers_500_envelope() {
    let router = test_router(small_limits());
    let res = send(&router, get_req("/api/test/panic")).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let json = body_json(res).await;
    let body = assert_envelope(&json, "INTERNAL_ERROR");
    assert_eq!(body["request_id"], id.as_str());
    // The panic message is internal: it stays in the log.
    assert!(!json.to_string().contains("index out of bounds"));
}

#[tokio::test]
async fn declared_oversized_body_is_413() {
    let router = test_router(small_limits());
    let req = Request::post("/api/test/echo")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, "4096")
        .body(Body::from(vec![b' '; 4096]))
        .unwrap();
    let res = send(&router, req).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let json = body_json(res).await;
    let body = assert_envelope(&json, "PAYLOAD_TOO_LARGE");
    assert_eq!(body["details"]["limit_bytes"], 1024);
}

#[tokio::test]
async fn streamed_oversized_body_without_length_is_413() {
    let router = test_router(small_limits());
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 512])).collect();
    let req = Request::post("/api/test/echo")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    let res = send(&router, req).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_envelope(&body_json(res).await, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn malformed_json_is_400_invalid_format_with_where_it_failed() {
    let router = test_router(small_limits());
    let req = Request::post("/api/test/echo")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"a\": 1,\n \"b\": }"))
        .unwrap();
    let res = send(&router, req).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let json = body_json(res).await;
    let body = assert_envelope(&json, "INVALID_FORMAT");
    let reason = body["details"]["reason"].as_str().unwrap();
    assert!(reason.contains("line 2"), "{reason}");
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_400_invalid_input() {
    let router = test_router(small_limits());
    let req = Request::post("/api/test/typed")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"nom\": \"x\"}"))
        .unwrap();
    let res = send(&router, req).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let json = body_json(res).await;
    let body = assert_envelope(&json, "INVALID_INPUT");
    assert!(body["details"]["reason"].as_str().unwrap().contains("name"));
}

#[tokio::test]
async fn json_without_content_type_is_400() {
    let router = test_router(small_limits());
    let req = Request::post("/api/test/echo")
        .body(Body::from("{}"))
        .unwrap();
    let res = send(&router, req).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_envelope(&body_json(res).await, "INVALID_FORMAT");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let router = test_router(small_limits());
    let res = send(&router, get_req("/api/test/nope")).await;
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(res.headers()[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(
        res.headers()[header::REFERRER_POLICY],
        "strict-origin-when-cross-origin"
    );
    assert_eq!(
        res.headers()[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'; frame-ancestors 'none'",
        "an API answer needs nothing"
    );
    assert!(res.headers().contains_key("permissions-policy"));
    assert!(
        !res.headers()
            .contains_key(header::STRICT_TRANSPORT_SECURITY),
        "HSTS only in production"
    );
    let production = test_router(GatewayConfig {
        production: true,
        ..small_limits()
    });
    let res = send(&production, get_req("/api/test/nope")).await;
    assert!(res.headers()[header::STRICT_TRANSPORT_SECURITY]
        .to_str()
        .unwrap()
        .starts_with("max-age="));
}

/// The nonce of every inline `<script>` of `html` (None for one without).
fn script_nonces(html: &str) -> Vec<Option<String>> {
    html.split("<script")
        .skip(1)
        .filter(|tag| !tag.split('>').next().unwrap_or("").contains("src="))
        .map(|tag| {
            let open = tag.split('>').next().unwrap_or("");
            open.split("nonce=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned)
        })
        .collect()
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn every_inline_script_of_a_page_carries_the_nonce_its_csp_names(owner: PgPool) {
    let (router, services) = app_as_server(&owner).await;
    let ann = argus_domain::session::register(
        &services,
        "ann@example.com",
        "Ann",
        "a long passphrase",
        "A",
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    // A public page, then the same dashboard page twice: rendered, then from the page cache.
    for (path, auth) in [
        ("/login", Auth::None),
        ("/", Auth::Cookie(ann.token.clone())),
        ("/", Auth::Cookie(ann.token.clone())),
    ] {
        let res = send(&router, request("GET", path, "", &auth)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(
            !res.headers().contains_key("x-argus-csp-nonce"),
            "internal only"
        );
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        for part in [
            "script-src 'self' 'nonce-",
            "'wasm-unsafe-eval'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline';") || !csp.contains("script-src 'unsafe-inline'"));
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_owned();
        let html = body_text(res).await;
        let scripts = script_nonces(&html);
        assert!(
            !scripts.is_empty(),
            "{path}: the theme and hydration scripts"
        );
        for n in &scripts {
            assert_eq!(n.as_deref(), Some(nonce.as_str()), "{path}: {html}");
        }
        seen.push(nonce);
    }
    assert_ne!(seen[1], seen[2], "a cached page gets a fresh nonce");
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let router = test_router(small_limits());
    let big = serde_json::json!({ "data": "x".repeat(900) });
    let req = Request::post("/api/test/echo")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::from(big.to_string()))
        .unwrap();
    let res = send(&router, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
}

// ---- the real router ----

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn unknown_api_route_is_404_envelope(pool: PgPool) {
    let router = app(pool);
    let res = send(&router, get_req("/api/v1/does-not-exist")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    let body = assert_envelope(&body_json(res).await, "RESOURCE_NOT_FOUND");
    assert_eq!(body["details"]["path"], "/api/v1/does-not-exist");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn wrong_method_is_405_envelope(pool: PgPool) {
    let router = app(pool);
    for (method, uri) in [
        (Method::POST, "/healthz"),
        (Method::DELETE, "/api/v1/system/status"),
    ] {
        let req = Request::builder()
            .method(method.clone())
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let res = send(&router, req).await;
        assert_eq!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        let body = assert_envelope(&body_json(res).await, "METHOD_NOT_ALLOWED");
        assert_eq!(body["details"]["method"], method.as_str());
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn healthz_answers_ok(pool: PgPool) {
    let res = send(&app(pool), get_req("/healthz")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let json = body_json(res).await;
    assert_eq!(
        json,
        serde_json::json!({"status": "ok"}),
        "nothing more for anonymous callers"
    );
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn readyz_is_ready_when_migrated_and_says_nothing_more(pool: PgPool) {
    let res = send(&app(pool), get_req("/readyz")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let json = body_json(res).await;
    // The in-process cache fallback serves: readiness still holds; no detail for anonymous.
    assert_eq!(json, serde_json::json!({"status": "ready"}));
}

#[sqlx::test(migrations = false)]
async fn readyz_is_503_when_not_migrated(pool: PgPool) {
    let res = send(&app(pool), get_req("/readyz")).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()[header::RETRY_AFTER], "5");
    let json = body_json(res).await;
    let body = assert_envelope(&json, "SERVICE_UNAVAILABLE");
    assert_eq!(body["message"], "not ready");
    assert!(body["details"].get("checks").is_none());
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn readyz_is_503_when_the_database_is_gone(pool: PgPool) {
    pool.close().await;
    let res = send(&app(pool), get_req("/readyz")).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let json = body_json(res).await;
    let body = assert_envelope(&json, "SERVICE_UNAVAILABLE");
    assert!(body["details"].get("checks").is_none());
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn system_status_is_a_get_json_api_for_admins_only(owner: PgPool) {
    let (router, services) = app_as_server(&owner).await;
    let res = send(&router, get_req("/api/v1/system/status")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "anonymous");
    let ann = argus_domain::session::register(
        &services,
        "ann@example.com",
        "Ann",
        "a long passphrase",
        "A",
    )
    .await
    .unwrap();
    let res = send(
        &router,
        request("GET", "/api/v1/system/status", "", &Auth::Bearer(ann.token)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let json = body_json(res).await;
    assert_eq!(json["version"], server::VERSION);
    assert_eq!(json["database"]["reachable"], true);
    assert_eq!(
        json["database"]["migration_version"],
        json["database"]["latest_known_migration"]
    );
    assert_eq!(json["cache"]["backend"], "memory");
}

// A server function that fails the way domain functions do, to check the status mapping.
#[server(prefix = "/api/test", endpoint = "lookup", input = GetUrl)]
async fn lookup_thing(id: u32) -> Result<String, AppError> {
    match id {
        1 => Ok("found".into()),
        2 => Err(argus_domain::Error::invalid_input("id", "must be odd").into()),
        3 => Err(argus_domain::Error::Database(sqlx::Error::Protocol(
            "relation \"secret_table\" does not exist".into(),
        ))
        .into()),
        _ => Err(argus_domain::Error::not_found("thing").into()),
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn server_function_errors_carry_their_status_and_envelope(pool: PgPool) {
    let router = app(pool);
    let cases = [
        ("/api/test/lookup?id=1", StatusCode::OK, None),
        (
            "/api/test/lookup?id=2",
            StatusCode::BAD_REQUEST,
            Some(ErrorCode::InvalidInput),
        ),
        (
            "/api/test/lookup?id=3",
            StatusCode::INTERNAL_SERVER_ERROR,
            Some(ErrorCode::DatabaseError),
        ),
        (
            "/api/test/lookup?id=4",
            StatusCode::NOT_FOUND,
            Some(ErrorCode::ResourceNotFound),
        ),
        (
            "/api/test/lookup?id=abc",
            StatusCode::BAD_REQUEST,
            Some(ErrorCode::InvalidFormat),
        ),
        (
            "/api/test/lookup",
            StatusCode::BAD_REQUEST,
            Some(ErrorCode::InvalidFormat),
        ),
    ];
    for (uri, status, code) in cases {
        let res = send(&router, get_req(uri)).await;
        assert_eq!(res.status(), status, "{uri}");
        let Some(code) = code else { continue };
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/json",
            "{uri}"
        );
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let json = body_json(res).await;
        let body = assert_envelope(&json, code.as_str());
        assert_eq!(body["request_id"], id.as_str(), "{uri}");
        assert!(
            !json.to_string().contains("secret_table"),
            "internal text leaked: {json}"
        );
    }
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn status_page_is_server_rendered_with_its_data_for_admins(owner: PgPool) {
    let (router, services) = app_as_server(&owner).await;
    let res = send(&router, get_req("/status")).await;
    assert!(res.status().is_redirection(), "anonymous: log in first");
    let ann = argus_domain::session::register(
        &services,
        "ann@example.com",
        "Ann",
        "a long passphrase",
        "A",
    )
    .await
    .unwrap();
    let res = send(
        &router,
        request("GET", "/status", "", &Auth::Cookie(ann.token)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert!(html.contains("System status"), "{html}");
    assert!(html.contains("data-testid=\"database-status\""), "{html}");
    assert!(html.contains(server::VERSION));
    assert!(
        html.contains(&argus_domain::db::latest_known_migration().to_string()),
        "the migration level is shown: {html}"
    );
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn protected_pages_redirect_to_log_in_and_back(pool: PgPool) {
    for (path, location) in [
        ("/", "/login?next=/"),
        (
            "/settings/api-keys?x=1",
            "/login?next=/settings/api-keys%3Fx%3D1",
        ),
    ] {
        let req = Request::get(path)
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .unwrap();
        let res = send(&app(pool.clone()), req).await;
        assert!(res.status().is_redirection(), "{path}: {}", res.status());
        assert_eq!(res.headers()[header::LOCATION], location);
    }
    let res = send(&app(pool), get_req("/login")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body_text(res).await.contains("Log in to Argus"));
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn unknown_page_is_the_404_page(pool: PgPool) {
    let res = send(&app(pool), get_req("/no/such/page")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let html = body_text(res).await;
    assert!(html.contains("Page not found"), "{html}");
    assert!(html.starts_with("<!DOCTYPE html>"));
}
