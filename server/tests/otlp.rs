//! `POST /v1/traces` over HTTP, as the OpenTelemetry SDK's exporter sends it.

mod common;

use std::io::Write;

use argus_domain::apikeys::{self, Scope};
use argus_domain::tenancy::{self, WorkspaceId};
use argus_domain::{session, Services};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use secrecy::ExposeSecret;
use sqlx::PgPool;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../domain/tests/fixtures/otlp")
        .join(name);
    std::fs::read(path).unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn export(key: &str, content_type: &str, encoding: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut req = Request::post("/v1/traces")
        .header(header::CONTENT_TYPE, content_type)
        .header("x-api-key", key);
    if let Some(e) = encoding {
        req = req.header(header::CONTENT_ENCODING, e);
    }
    req.body(Body::from(body)).unwrap()
}

struct Setup {
    router: Router,
    services: Services,
    a: WorkspaceId,
    b: WorkspaceId,
    ingest: String,
    read: String,
}

async fn setup(owner: &PgPool) -> Setup {
    let (router, services) = app_as_server(owner).await;
    let ann = session::sign_up(
        &services,
        "ann@example.com",
        "Ann",
        "a long passphrase",
        "A",
    )
    .await
    .unwrap();
    let bob = session::sign_up(
        &services,
        "bob@example.com",
        "Bob",
        "a long passphrase",
        "B",
    )
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
        read: key(Scope::Read).await,
        router,
        a,
        b: WorkspaceId(bob.workspace.id),
        services,
    }
}

async fn spans_in(s: &Setup, ws: WorkspaceId) -> i64 {
    let mut tx = tenancy::begin(&s.services.pool, ws).await.unwrap();
    let n = sqlx::query_scalar("SELECT count(*) FROM spans WHERE workspace_id = $1")
        .bind(ws)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn protobuf_json_and_gzip_exports_are_stored_once(owner: PgPool) {
    let s = setup(&owner).await;
    let pb = fixture("agent_trace_current_semconv.pb");
    let res = send(
        &s.router,
        export(&s.ingest, "application/x-protobuf", None, pb.clone()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "application/x-protobuf"
    );
    let answer = ExportTraceServiceResponse::decode(&body_bytes(res).await[..]).unwrap();
    assert_eq!(answer.partial_success, None);
    assert_eq!(spans_in(&s, s.a).await, 4);

    // The same spans as OTLP/JSON, and gzipped protobuf: already stored, nothing added.
    let json = fixture("agent_trace_current_semconv.json");
    let res = send(&s.router, export(&s.ingest, "application/json", None, json)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    let res = send(
        &s.router,
        export(&s.ingest, "application/x-protobuf", Some("gzip"), gzip(&pb)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(spans_in(&s, s.a).await, 4);
    // The key decides the workspace: nothing lands in B.
    assert_eq!(spans_in(&s, s.b).await, 0);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn bad_exports_get_the_right_error(owner: PgPool) {
    let s = setup(&owner).await;
    let pb = fixture("legacy_semconv_names.pb");
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            export(
                &s.ingest,
                "application/x-protobuf",
                None,
                b"\x0a\xff\xff\xff\xff\x0f".to_vec(),
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_FORMAT",
        ),
        (
            export(
                &s.ingest,
                "application/json",
                None,
                b"{\"resourceSpans\": [".to_vec(),
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_FORMAT",
        ),
        (
            export(
                &s.ingest,
                "application/json",
                None,
                b"{\"resourceSpans\": \"\xff\xfe\"}".to_vec(),
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_FORMAT",
        ),
        (
            export(&s.ingest, "text/plain", None, pb.clone()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            export(&s.ingest, "application/x-protobuf", Some("br"), pb.clone()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            export(
                &s.ingest,
                "application/x-protobuf",
                Some("gzip"),
                pb.clone(),
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_FORMAT",
        ),
        (
            // 30 MiB of zeros gzip to ~30 KiB: inflating past the 20 MiB limit is refused.
            export(
                &s.ingest,
                "application/x-protobuf",
                Some("gzip"),
                gzip(&vec![0; 30 << 20]),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            export(
                "argus_000000000000_notarealkeynotarealkeynotarealkey00000",
                "application/x-protobuf",
                None,
                pb.clone(),
            ),
            StatusCode::UNAUTHORIZED,
            "INVALID_API_KEY",
        ),
        (
            export(&s.read, "application/x-protobuf", None, pb.clone()),
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
        ),
    ];
    for (req, status, code) in cases {
        let what = format!(
            "{:?} {:?}",
            req.headers().get(header::CONTENT_TYPE),
            req.headers().get(header::CONTENT_ENCODING)
        );
        let res = send(&s.router, req).await;
        assert_eq!(res.status(), status, "{what}");
        assert_envelope(&body_json(res).await, code);
    }
    assert_eq!(spans_in(&s, s.a).await, 0, "nothing was stored");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn invalid_spans_are_a_partial_success(owner: PgPool) {
    let s = setup(&owner).await;
    // The legacy fixture, with its prompt token count made negative.
    let json = String::from_utf8(fixture("legacy_semconv_names.json")).unwrap();
    let (head, tail) = json.split_once("\"gen_ai.usage.prompt_tokens\"").unwrap();
    let tail = tail.replacen("\"3000\"", "\"-3000\"", 1);
    let body = format!("{head}\"gen_ai.usage.prompt_tokens\"{tail}");
    let res = send(
        &s.router,
        export(&s.ingest, "application/json", None, body.into_bytes()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let answer: serde_json::Value = body_json(res).await;
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], 1, "{answer}");
    assert!(answer["partialSuccess"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("gen_ai.usage.input_tokens must be between 0"));
    assert_eq!(spans_in(&s, s.a).await, 0);
}

fn batch(key: &str, body: serde_json::Value) -> Request<Body> {
    Request::post("/api/v1/traces")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_native_batch_stores_each_valid_trace_and_reports_the_rest(owner: PgPool) {
    let s = setup(&owner).await;
    let now = chrono::Utc::now();
    let good = serde_json::json!({
        "trace_id": "order-bot-run-1",
        "agent_id": "order-bot",
        "department": "support",
        "environment": "production",
        "version": "v2",
        "session_id": "s-1",
        "user_id": "u-9",
        "tags": ["beta"],
        "metadata": {"region": "eu"},
        "start_time": (now - chrono::Duration::seconds(5)).to_rfc3339(),
        "latency_ms": 1500,
        "input": "Where is my order?",
        "output": "It ships today.",
        "spans": [
            {"span_id": "llm-1", "name": "chat gpt-4o", "model": "gpt-4o", "provider": "openai",
             "input_tokens": 1000, "output_tokens": 100, "latency_ms": 900,
             "start_time": (now - chrono::Duration::seconds(5)).to_rfc3339()},
            {"span_id": "tool-1", "name": "lookup", "latency_ms": 50, "status": "error", "error": "timeout"}
        ]
    });
    let body = serde_json::json!({"traces": [
        good,
        {"trace_id": "bad-tokens", "input_tokens": -1},
        {"trace_id": "bad-type", "latency_ms": "slow"},
        {"trace_id": "bad-span", "spans": [{"status": "maybe"}]},
        {"trace_id": "ancient", "start_time": "1990-01-01T00:00:00Z"}
    ]});
    let res = send(&s.router, batch(&s.ingest, body.clone())).await;
    assert_eq!(res.status(), StatusCode::MULTI_STATUS);
    let outcome = body_json(res).await;
    assert_eq!(outcome["accepted"], 1);
    let rejected = outcome["rejected"].as_array().unwrap();
    let indexes: Vec<u64> = rejected
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, vec![1, 2, 3, 4]);
    assert_eq!(rejected[0]["field"], "traces[1].input_tokens");
    assert_eq!(rejected[1]["code"], "INVALID_FORMAT");
    assert_eq!(rejected[2]["field"], "traces[3].spans[0].status");
    assert_eq!(spans_in(&s, s.a).await, 3, "the root and its two spans");

    // Re-sending the same batch stores nothing new; a clean batch is a plain 200.
    send(&s.router, batch(&s.ingest, body)).await;
    assert_eq!(spans_in(&s, s.a).await, 3);
    let res = send(
        &s.router,
        batch(&s.ingest, serde_json::json!({"traces": []})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        body_json(res).await,
        serde_json::json!({"accepted": 0, "rejected": []})
    );

    // The trace's totals: tokens from the span, the error from the tool span, the latency of the root.
    let mut tx = tenancy::begin(&s.services.pool, s.a).await.unwrap();
    let (spans, errors, input, latency, cost): (i32, i32, i64, i64, f64) = sqlx::query_as(
        "SELECT span_count, error_count, input_tokens, latency_us, cost_usd::float8 FROM traces \
         WHERE workspace_id = $1",
    )
    .bind(s.a)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((spans, errors, input, latency), (3, 1, 1000, 1_500_000));
    assert!(
        (cost - (1000.0 * 2.5 + 100.0 * 10.0) / 1e6).abs() < 1e-9,
        "{cost}"
    );
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_bad_native_batch_is_one_clear_error(owner: PgPool) {
    let s = setup(&owner).await;
    let too_many: Vec<serde_json::Value> = (0..1001).map(|_| serde_json::json!({})).collect();
    for (body, status, code) in [
        (
            "not json".to_owned(),
            StatusCode::BAD_REQUEST,
            "INVALID_FORMAT",
        ),
        (
            "{}".to_owned(),
            StatusCode::BAD_REQUEST,
            "MISSING_REQUIRED_FIELD",
        ),
        (
            serde_json::json!({"traces": too_many}).to_string(),
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
        ),
    ] {
        let req = Request::post("/api/v1/traces")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-api-key", s.ingest.as_str())
            .body(Body::from(body))
            .unwrap();
        let res = send(&s.router, req).await;
        assert_eq!(res.status(), status);
        assert_envelope(&body_json(res).await, code);
    }
    let res = send(&s.router, batch(&s.read, serde_json::json!({"traces": []}))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_full_ingest_gate_answers_503_with_retry_after_and_a_huge_body_413(owner: PgPool) {
    let s = setup(&owner).await;
    let pb = fixture("legacy_semconv_names.pb");
    // Hold every write slot, as if the server were busy with other exports.
    let held: Vec<_> = (0..16)
        .map(|_| s.services.ingest_gate.admit(1).unwrap())
        .collect();
    let res = send(
        &s.router,
        export(&s.ingest, "application/x-protobuf", None, pb.clone()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()[header::RETRY_AFTER], "1");
    assert_envelope(&body_json(res).await, "SERVICE_UNAVAILABLE");
    drop(held);
    let res = send(
        &s.router,
        export(&s.ingest, "application/x-protobuf", None, pb),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "admitted again once the slots are free"
    );

    // A body over the limit without a Content-Length (chunked) is cut off at the limit.
    let res = send(
        &s.router,
        export(&s.ingest, "application/x-protobuf", None, vec![0; 21 << 20]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_envelope(&body_json(res).await, "PAYLOAD_TOO_LARGE");
}
