//! What the evaluation tests share: a server with two workspaces and keys of each scope, and
//! the requests they send.
#![allow(dead_code)]

use std::io::Write;

use argus_domain::apikeys::{self, Scope};
use argus_domain::tenancy::{self, WorkspaceId};
use argus_domain::{session, Services};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::common::*;

pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../domain/tests/fixtures/otlp")
        .join(name);
    std::fs::read(path).unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn post(path: &str, key: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, content_type)
        .header("x-api-key", key)
        .body(Body::from(body))
        .unwrap()
}

pub struct Setup {
    pub router: Router,
    pub services: Services,
    pub a: WorkspaceId,
    pub b: WorkspaceId,
    pub owner_token: String,
    pub ingest: String,
    pub score: String,
    pub read: String,
}

pub async fn setup(owner: &PgPool) -> Setup {
    setup_with(owner, |_| {}).await
}

pub async fn setup_with(owner: &PgPool, edit: impl FnOnce(&mut Services)) -> Setup {
    let (router, services) = app_as_server_with(owner, edit).await;
    let ann = session::register(&services, "ann@example.com", "Ann", PASSWORD, "A")
        .await
        .unwrap();
    let bob = session::register(&services, "bob@example.com", "Bob", PASSWORD, "B")
        .await
        .unwrap();
    let a = WorkspaceId(ann.workspace.id);
    let key = |scope| {
        let pool = services.pool.clone();
        async move {
            apikeys::create(&pool, a, None, "k", &[scope], None)
                .await
                .unwrap()
                .key
                .expose_secret()
                .to_owned()
        }
    };
    Setup {
        ingest: key(Scope::Ingest).await,
        score: key(Scope::Score).await,
        read: key(Scope::Read).await,
        owner_token: ann.token,
        router,
        a,
        b: WorkspaceId(bob.workspace.id),
        services,
    }
}

pub const PASSWORD: &str = "a long passphrase";

/// Every score of the workspace as `(name, data_type, value, string_value, source, span_id)`.
pub async fn scores_in(
    s: &Setup,
    ws: WorkspaceId,
) -> Vec<(
    String,
    String,
    Option<f64>,
    Option<String>,
    String,
    Option<String>,
)> {
    let mut tx = tenancy::begin(&s.services.pool, ws).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT name, data_type, value, string_value, source, span_id FROM scores \
         WHERE workspace_id = $1 ORDER BY name",
    )
    .bind(ws.0)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rows
}

pub async fn get_json(s: &Setup, path: &str) -> (StatusCode, Value) {
    let res = send(
        &s.router,
        request("GET", path, "", &Auth::ApiKey(s.read.clone())),
    )
    .await;
    let status = res.status();
    (status, body_json(res).await)
}

pub async fn post_scores(s: &Setup, body: Value) -> (StatusCode, Value) {
    let res = send(
        &s.router,
        post(
            "/api/v1/evaluate/scores",
            &s.score,
            "application/json",
            body.to_string().into_bytes(),
        ),
    )
    .await;
    let status = res.status();
    (status, body_json(res).await)
}

pub async fn owner_form(s: &Setup, path: &str, form: &str) -> (StatusCode, Value) {
    let res = send(
        &s.router,
        request("POST", path, form, &Auth::Bearer(s.owner_token.clone())),
    )
    .await;
    let status = res.status();
    let bytes = body_bytes(res).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Native traces: each a root with one chat span whose output is `outputs[i]`.
pub fn chat_traces(prefix: &str, outputs: &[&str], now: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    let traces: Vec<Value> = outputs
        .iter()
        .enumerate()
        .map(|(i, out)| {
            json!({"trace_id": format!("{prefix}-{i}"), "agent_id": "support-bot",
                   "start_time": now.to_rfc3339(), "latency_ms": 900, "name": "invoke_agent",
                   "output": out,
                   "spans": [{"span_id": "chat", "name": "chat gpt-4o", "operation": "chat",
                              "model": "gpt-4o", "start_time": now.to_rfc3339(), "latency_ms": 800,
                              "input_tokens": 10, "output_tokens": 5, "output": out}]})
        })
        .collect();
    json!({ "traces": traces }).to_string().into_bytes()
}

pub async fn ingest_native(s: &Setup, body: Vec<u8>) {
    let res = send(
        &s.router,
        post("/api/v1/traces", &s.ingest, "application/json", body),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

pub async fn form_as(s: &Setup, token: &str, path: &str, form: &str) -> (StatusCode, Value) {
    let res = send(
        &s.router,
        request(
            path_method(path),
            path,
            form,
            &Auth::Bearer(token.to_owned()),
        ),
    )
    .await;
    let status = res.status();
    let bytes = body_bytes(res).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub fn path_method(path: &str) -> &'static str {
    if path.contains('?') {
        "GET"
    } else {
        "POST"
    }
}
