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
