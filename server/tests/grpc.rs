//! OTLP/gRPC (issue 20, point 5): the three services' `Export` over a real HTTP/2 connection,
//! with opentelemetry-proto's generated tonic clients — the same keys, limits, partial success
//! and idempotency as OTLP/HTTP.

mod common;

use std::time::Duration;

use argus_domain::apikeys::Scope;
use argus_domain::tenancy::{self, WorkspaceId};
use argus_domain::Services;
use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use server::state::AppState;
use sqlx::PgPool;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;
use tonic::Code;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../domain/tests/fixtures/otlp")
        .join(name);
    std::fs::read(path).unwrap()
}

struct Setup {
    services: Services,
    channel: Channel,
    a: WorkspaceId,
    ingest: String,
    read: String,
}

/// The gRPC listener on a port of its own, with `body_limit` bytes a message.
async fn setup(owner: &PgPool, body_limit: u64) -> Setup {
    setup_with(owner, body_limit, |_| {}).await
}

/// [`setup`] with the server's state (services, limits) edited first.
async fn setup_with(owner: &PgPool, body_limit: u64, edit: impl FnOnce(&mut AppState)) -> Setup {
    let db = argus_domain::db::DbConfig::app_role_like(owner);
    let pool = argus_domain::db::connect(&db).await.unwrap();
    let mut gateway = default_gateway();
    gateway.body_limit_bytes = body_limit;
    let mut state = state(pool, gateway);
    edit(&mut state);
    let services = state.services.clone();
    let (a, ingest) = ann_with_key(&services, Scope::Ingest).await;
    let read = api_key(&services, a, Scope::Read).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    server::grpc::spawn(listener, state);
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap();
    Setup {
        services,
        channel,
        a,
        ingest,
        read,
    }
}

fn with_key<T>(message: T, key: Option<&str>) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    if let Some(key) = key {
        req.metadata_mut().insert("x-api-key", key.parse().unwrap());
    }
    req
}

async fn spans_in(s: &Setup) -> i64 {
    let mut tx = tenancy::begin(&s.services.pool, s.a).await.unwrap();
    let n = sqlx::query_scalar("SELECT count(*) FROM spans WHERE workspace_id = $1")
        .bind(s.a)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

fn traces(name: &str) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::decode(&fixture(name)[..]).unwrap()
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn traces_metrics_and_logs_are_exported_over_grpc(owner: PgPool) {
    let s = setup(&owner, 20 << 20).await;
    let mut client = TraceServiceClient::new(s.channel.clone());

    let answer = client
        .export(with_key(
            traces("agent_trace_current_semconv.pb"),
            Some(&s.ingest),
        ))
        .await
        .expect("stored")
        .into_inner();
    assert_eq!(answer.partial_success, None);
    assert_eq!(spans_in(&s).await, 4);

    // Sent again, gzip-compressed (as a Collector sends by default): stored once.
    let mut gzip = TraceServiceClient::new(s.channel.clone())
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let answer = gzip
        .export(with_key(
            traces("agent_trace_current_semconv.pb"),
            Some(&s.ingest),
        ))
        .await
        .expect("a re-sent export is a success")
        .into_inner();
    assert_eq!(answer.partial_success, None);
    assert_eq!(spans_in(&s).await, 4);

    // One invalid span: a partial success, the others stored.
    let mut request = traces("legacy_semconv_names.pb");
    let before = spans_in(&s).await;
    let total: usize = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|ss| ss.spans.len())
        .sum();
    let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
    span.trace_id = vec![0; 16];
    let answer = client
        .export(with_key(request, Some(&s.ingest)))
        .await
        .expect("a partial success is a success")
        .into_inner();
    let partial = answer.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1, "{partial:?}");
    assert!(!partial.error_message.is_empty());
    assert_eq!(spans_in(&s).await, before + total as i64 - 1);

    // Metrics and logs through their services.
    let metrics = ExportMetricsServiceRequest::decode(&fixture("metrics_delta_1.pb")[..]).unwrap();
    let answer = MetricsServiceClient::new(s.channel.clone())
        .export(with_key(metrics, Some(&s.ingest)))
        .await
        .expect("metrics stored")
        .into_inner();
    assert_eq!(answer.partial_success, None);
    // The spans the evaluation records name first (one of them by its response id).
    client
        .export(with_key(
            traces("evaluation_span_events.pb"),
            Some(&s.ingest),
        ))
        .await
        .expect("stored");
    let logs = ExportLogsServiceRequest::decode(&fixture("evaluation_logs.pb")[..]).unwrap();
    let answer = LogsServiceClient::new(s.channel.clone())
        .export(with_key(logs, Some(&s.ingest)))
        .await
        .expect("logs read")
        .into_inner();
    assert_eq!(answer.partial_success, None);
    let mut tx = tenancy::begin(&s.services.pool, s.a).await.unwrap();
    let scores: i64 = sqlx::query_scalar("SELECT count(*) FROM scores WHERE workspace_id = $1")
        .bind(s.a)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(scores > 0, "the evaluation log records became scores");

    // The exports show in the metrics under their gRPC routes.
    let text = s.services.meters.render(&s.services, false).await.unwrap();
    assert!(
        text.contains(
            "argus_http_requests_total{method=\"POST\",route=\"/opentelemetry.proto.collector.trace.v1.TraceService/Export\",status=\"200\"} 4"
        ),
        "{text}"
    );
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn grpc_refuses_with_the_status_exporters_expect(owner: PgPool) {
    let s = setup(&owner, 1_000).await;
    let mut client = TraceServiceClient::new(s.channel.clone());
    let small = || {
        let mut r = traces("agent_trace_current_semconv.pb");
        r.resource_spans[0].scope_spans[0].spans.truncate(1);
        r.resource_spans[0].scope_spans[0].spans[0]
            .attributes
            .clear();
        r.resource_spans[0].scope_spans[0].spans[0].events.clear();
        r
    };
    assert!(small().encoded_len() < 1_000);

    let cases = [
        (with_key(small(), None), Code::Unauthenticated),
        (
            with_key(small(), Some("argus_not-a-key")),
            Code::Unauthenticated,
        ),
        (with_key(small(), Some(&s.read)), Code::PermissionDenied),
        // Over the message limit (also after gzip): not retried.
        (
            with_key(traces("agent_trace_current_semconv.pb"), Some(&s.ingest)),
            Code::ResourceExhausted,
        ),
    ];
    for (req, code) in cases {
        let err = client.export(req).await.expect_err("refused");
        assert_eq!(err.code(), code, "{err:?}");
        assert!(!err.message().is_empty());
    }
    let mut gzip =
        TraceServiceClient::new(s.channel.clone()).send_compressed(CompressionEncoding::Gzip);
    let err = gzip
        .export(with_key(
            traces("agent_trace_current_semconv.pb"),
            Some(&s.ingest),
        ))
        .await
        .expect_err("too large once inflated");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert_eq!(spans_in(&s).await, 0, "nothing was stored");

    // Within the limit, the same client is served.
    client
        .export(with_key(small(), Some(&s.ingest)))
        .await
        .expect("stored");
    assert_eq!(spans_in(&s).await, 1);
}

/// A message is charged to the ingest memory budget as its frames arrive (as OTLP/HTTP bodies
/// are), not once it is whole: one larger than a workspace's share of the budget is refused
/// (RESOURCE_EXHAUSTED: it could never fit) while it arrives, though under the message limit;
/// a budget merely in use by others answers UNAVAILABLE (retried).
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn grpc_messages_are_charged_to_the_ingest_budget_as_they_arrive(owner: PgPool) {
    // 256 KiB in all, a workspace at most half of it.
    let s = setup_with(&owner, 20 << 20, |state| {
        state.services.ingest_gate = std::sync::Arc::new(
            argus_domain::ingest::gate::IngestGate::new(256 << 10, 4, 50),
        );
    })
    .await;
    let mut client = TraceServiceClient::new(s.channel.clone());
    // ~600 KB of spans, under the 20 MB message limit: over the share before it has all arrived.
    let mut big = traces("agent_trace_current_semconv.pb");
    let template = big.resource_spans[0].scope_spans[0].spans.clone();
    for i in 0..300u32 {
        for span in &template {
            let mut span = span.clone();
            span.span_id = (i + 1).to_be_bytes().repeat(2);
            span.name = format!("{} {}", span.name, "x".repeat(1500));
            big.resource_spans[0].scope_spans[0].spans.push(span);
        }
    }
    assert!(big.encoded_len() > 500_000);
    let err = client
        .export(with_key(big, Some(&s.ingest)))
        .await
        .expect_err("over the workspace's share of the budget");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("131072"), "{err:?}");
    assert_eq!(spans_in(&s).await, 0);
    assert_eq!(
        s.services.ingest_gate.held(),
        (0, 0),
        "the refused export holds nothing"
    );
    // A small export of the same workspace goes through.
    client
        .export(with_key(
            traces("agent_trace_current_semconv.pb"),
            Some(&s.ingest),
        ))
        .await
        .expect("within the budget");
    assert_eq!(spans_in(&s).await, 4);
}

/// A gRPC message whose bytes trickle in is cut at the body-read timeout with
/// `DEADLINE_EXCEEDED` (as a slow OTLP/HTTP body gets 408), long before the request timeout,
/// and what its frames were charged is handed back.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_grpc_message_that_trickles_is_cut_at_the_body_read_timeout(owner: PgPool) {
    use bytes::{BufMut, BytesMut};
    use futures::StreamExt;
    use http_body::Frame;
    use tower::ServiceExt;

    let s = setup_with(&owner, 20 << 20, |state| {
        state.gateway.body_read_timeout = Duration::from_millis(300);
        state.gateway.request_timeout = Duration::from_secs(30);
    })
    .await;
    // The gRPC frame announces the whole message; only its first bytes ever arrive.
    let message = fixture("agent_trace_current_semconv.pb");
    let mut first = BytesMut::new();
    first.put_u8(0);
    first.put_u32(message.len() as u32);
    first.put_slice(&message[..16]);
    let frames = futures::stream::iter([Ok::<_, std::convert::Infallible>(Frame::data(
        first.freeze(),
    ))])
    .chain(futures::stream::pending());
    let req = axum::http::Request::post(
        "http://127.0.0.1/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    )
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .header("x-api-key", &s.ingest)
    .body(tonic::body::Body::new(http_body_util::StreamBody::new(
        frames,
    )))
    .unwrap();
    let res = tokio::time::timeout(Duration::from_secs(10), s.channel.clone().oneshot(req))
        .await
        .expect("answered long before the 30 s request timeout")
        .unwrap();
    let status = match res.headers().get("grpc-status") {
        Some(code) => code.clone(),
        None => {
            let body = tokio::time::timeout(
                Duration::from_secs(10),
                http_body_util::BodyExt::collect(res.into_body()),
            )
            .await
            .expect("the answer's trailers arrive")
            .unwrap();
            body.trailers().unwrap()["grpc-status"].clone()
        }
    };
    assert_eq!(
        status.to_str().unwrap(),
        (Code::DeadlineExceeded as i32).to_string()
    );
    assert_eq!(spans_in(&s).await, 0);
    assert_eq!(s.services.ingest_gate.held(), (0, 0), "nothing is held");
}
