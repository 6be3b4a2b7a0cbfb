//! What one ingest request may hold, over HTTP: bombs refused before decoding, caps counted in
//! `partial_success`, the gate's fair shares, the read timeout, and timestamps within reason.

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use argus_domain::apikeys::{self, Scope};
use argus_domain::ingest::gate::IngestGate;
use argus_domain::ingest::limits;
use argus_domain::tenancy::WorkspaceId;
use argus_domain::{session, Services};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use secrecy::ExposeSecret;
use sqlx::PgPool;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn export(key: &str, gzipped: bool, body: Vec<u8>) -> Request<Body> {
    let mut req = Request::post("/v1/traces")
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .header("x-api-key", key);
    if gzipped {
        req = req.header(header::CONTENT_ENCODING, "gzip");
    }
    req.body(Body::from(body)).unwrap()
}

struct World {
    router: Router,
    services: Services,
    a: WorkspaceId,
    ingest: String,
    read: String,
    other: String,
}

async fn world(owner: &PgPool, edit: impl FnOnce(&mut server::state::AppState)) -> World {
    let db = argus_domain::db::DbConfig::app_role_like(owner);
    let pool = argus_domain::db::connect(&db).await.unwrap();
    let mut state = state(pool, default_gateway());
    edit(&mut state);
    let services = state.services.clone();
    let router = server::router::build(state);
    let ann = session::register(
        &services,
        "ann@example.com",
        "Ann",
        "a long passphrase",
        "A",
    )
    .await
    .unwrap();
    let bob = session::register(
        &services,
        "bob@example.com",
        "Bob",
        "a long passphrase",
        "B",
    )
    .await
    .unwrap();
    let key = |ws: WorkspaceId, scope| {
        let pool = services.pool.clone();
        async move {
            apikeys::create(&pool, ws, None, "k", &[scope], None)
                .await
                .unwrap()
                .key
                .expose_secret()
                .to_owned()
        }
    };
    let a = WorkspaceId(ann.workspace.id);
    World {
        ingest: key(a, Scope::Ingest).await,
        read: key(a, Scope::Read).await,
        other: key(WorkspaceId(bob.workspace.id), Scope::Ingest).await,
        router,
        services,
        a,
    }
}

fn span(n: u64, start: chrono::DateTime<chrono::Utc>, attributes: Vec<KeyValue>) -> Span {
    let nanos = start.timestamp_nanos_opt().unwrap() as u64;
    Span {
        trace_id: (0x1000 + n as u128).to_be_bytes().to_vec(),
        span_id: (0x100 + n).to_be_bytes().to_vec(),
        name: "chat".into(),
        start_time_unix_nano: nanos,
        end_time_unix_nano: nanos + 1_000_000,
        attributes,
        ..Default::default()
    }
}

fn request(spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn kv(key: String, value: String) -> KeyValue {
    KeyValue {
        key,
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

async fn partial(res: axum::response::Response) -> (i64, String) {
    assert_eq!(res.status(), StatusCode::OK);
    let body = body_bytes(res).await;
    let response = ExportTraceServiceResponse::decode(&body[..]).unwrap();
    response
        .partial_success
        .map_or((0, String::new()), |p| (p.rejected_spans, p.error_message))
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_gzip_bomb_of_empty_spans_is_refused_before_decoding_and_holds_nothing(owner: PgPool) {
    let w = world(&owner, |_| {}).await;
    // Ten million empty spans: 20 MB inflated, a few KB on the wire.
    let mut spans = Vec::with_capacity(20_000_000);
    for _ in 0..10_000_000 {
        spans.extend_from_slice(&[0x12, 0x00]);
    }
    let mut scope = vec![0x12];
    prost::encoding::encode_varint(spans.len() as u64, &mut scope);
    scope.extend_from_slice(&spans);
    let mut body = vec![0x0a];
    prost::encoding::encode_varint(scope.len() as u64, &mut body);
    body.extend_from_slice(&scope);
    let bomb = gzip(&body);
    assert!(bomb.len() < 100_000, "{} bytes on the wire", bomb.len());
    let res = send(&w.router, export(&w.ingest, true, bomb)).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let json = body_json(res).await;
    let envelope = assert_envelope(&json, "PAYLOAD_TOO_LARGE");
    assert!(
        envelope["message"]
            .as_str()
            .unwrap()
            .contains("smaller batches"),
        "{json}"
    );
    assert_eq!(w.services.ingest_gate.held(), (0, 0), "everything released");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn caps_drop_and_count_spans_attributes_and_long_values(owner: PgPool) {
    let w = world(&owner, |_| {}).await;
    let now = chrono::Utc::now();
    // One span with 200 attributes (one of them long), and more spans than a request keeps.
    let mut attributes: Vec<KeyValue> = (0..200)
        .map(|i| kv(format!("k{i:03}"), "v".into()))
        .collect();
    attributes[0] = kv("note".into(), "x".repeat(limits::MAX_VALUE_BYTES + 100));
    let mut spans = vec![span(0, now, attributes)];
    spans.extend((1..limits::MAX_SPANS as u64 + 5).map(|n| span(n, now, Vec::new())));
    let res = send(&w.router, export(&w.ingest, false, request(spans))).await;
    let (rejected, message) = partial(res).await;
    assert_eq!(rejected, 5, "{message}");
    assert!(message.contains("send smaller batches"), "{message}");
    let (count, dropped, note): (i64, i32, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM spans WHERE workspace_id = $1), \
                dropped_attributes, attributes ->> 'note' \
         FROM spans WHERE workspace_id = $1 AND span_id = $2",
    )
    .bind(w.a)
    .bind(format!("{:016x}", 0x100u64))
    .fetch_one(&owner)
    .await
    .unwrap();
    assert_eq!(count, limits::MAX_SPANS as i64);
    assert_eq!(dropped, 200 - limits::MAX_ATTRIBUTES as i32);
    assert!(
        note.ends_with("…[truncated 100 bytes]"),
        "{}",
        &note[note.len() - 40..]
    );
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn deep_json_and_too_many_native_traces_are_clear_errors(owner: PgPool) {
    let w = world(&owner, |_| {}).await;
    let deep = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"k","value":{}1{}}}]}}}}]}}"#,
        r#"{"arrayValue":{"values":["#.repeat(40),
        "]}}".repeat(40)
    );
    let res = send(
        &w.router,
        Request::post("/v1/traces")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-api-key", &w.ingest)
            .body(Body::from(deep))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_envelope(&body_json(res).await, "INVALID_FORMAT");

    let traces: Vec<_> = (0..1_001)
        .map(|n| serde_json::json!({ "trace_id": format!("t{n}"), "latency_ms": 1 }))
        .collect();
    let res = send(
        &w.router,
        Request::post("/api/v1/traces")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-api-key", &w.ingest)
            .body(Body::from(
                serde_json::json!({ "traces": traces }).to_string(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let json = body_json(res).await;
    assert_eq!(
        assert_envelope(&json, "INVALID_INPUT")["details"]["field"],
        "traces"
    );
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_scope_is_checked_before_anything_is_held_and_slow_bodies_get_408(owner: PgPool) {
    let w = world(&owner, |state| {
        state.gateway.body_read_timeout = Duration::from_millis(300);
    })
    .await;
    // A body that never ends.
    let endless = || {
        let chunks = futures::stream::once(async { Ok::<_, std::io::Error>(vec![0x0a, 0x10]) })
            .chain(futures::stream::pending());
        Body::from_stream(chunks)
    };
    use futures::StreamExt;
    let slow = |key: &str| {
        Request::post("/v1/traces")
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .header("x-api-key", key)
            .body(endless())
            .unwrap()
    };
    // A read-only key: refused at once, whatever its body does.
    let res = tokio::time::timeout(Duration::from_secs(5), send(&w.router, slow(&w.read)))
        .await
        .expect("answered without waiting for the body");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // An ingest key: cut off at the read timeout, nothing held after.
    let res = send(&w.router, slow(&w.ingest)).await;
    assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
    assert_envelope(&body_json(res).await, "REQUEST_TIMEOUT");
    assert_eq!(w.services.ingest_gate.held(), (0, 0));
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn one_workspace_over_its_share_gets_429_and_another_still_ingests(owner: PgPool) {
    let w = world(&owner, |state| {
        state.services.ingest_gate = Arc::new(IngestGate::new(256 << 20, 4, 50));
    })
    .await;
    // A's two slots (half of four) are taken by its other exports.
    let held: Vec<_> = (0..2)
        .map(|_| {
            let mut a = w.services.ingest_gate.admit(w.a);
            a.take_slot().unwrap();
            a
        })
        .collect();
    let body = request(vec![span(1, chrono::Utc::now(), Vec::new())]);
    let res = send(&w.router, export(&w.ingest, false, body.clone())).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()[header::RETRY_AFTER], "1");
    assert_envelope(&body_json(res).await, "RATE_LIMIT_EXCEEDED");
    let res = send(&w.router, export(&w.other, false, body.clone())).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "another tenant is not affected"
    );
    drop(held);
    let res = send(&w.router, export(&w.ingest, false, body)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn spans_out_of_time_are_rejected_and_new_days_are_capped(owner: PgPool) {
    let w = world(&owner, |_| {}).await;
    let now = chrono::Utc::now();
    let day = chrono::Duration::days(1);
    let mut spans = vec![
        span(1, now + chrono::Duration::hours(2), Vec::new()),
        // The workspace keeps 90 days.
        span(2, now - day * 91, Vec::new()),
        span(3, now, Vec::new()),
    ];
    // Today and ten past days have no partition yet: seven may be made by one request, the
    // newest first.
    spans.extend((0..10).map(|d| span(10 + d, now - day * (30 + d as i32), Vec::new())));
    let res = send(&w.router, export(&w.ingest, false, request(spans))).await;
    let (rejected, message) = partial(res).await;
    assert_eq!(rejected, 2 + 4, "{message}");
    assert!(message.contains("in the future"), "{message}");
    assert!(message.contains("retention of 90 days"), "{message}");
    assert!(message.contains("has no storage yet"), "{message}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM spans WHERE workspace_id = $1")
        .bind(w.a)
        .fetch_one(&owner)
        .await
        .unwrap();
    assert_eq!(stored, 1 + 6, "today's span and the six newest past days");
}
