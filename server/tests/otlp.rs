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
    let held: Vec<_> = (0..16u128)
        .map(|n| {
            let mut a = s
                .services
                .ingest_gate
                .admit(argus_domain::tenancy::WorkspaceId(uuid::Uuid::from_u128(
                    n + 1,
                )));
            a.take_slot().unwrap();
            a
        })
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

mod metrics {
    //! `POST /v1/metrics`: the GenAI histograms, both temporalities, replays, and spans winning
    //! over metrics for one agent.

    use super::*;
    use argus_domain::ingest::metrics::usage_by_agent;
    use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};
    use opentelemetry_proto::tonic::collector::metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    };
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::metrics::v1::{
        metric::Data, AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric,
        NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;

    const CUMULATIVE: AggregationTemporality = AggregationTemporality::Cumulative;
    const DELTA: AggregationTemporality = AggregationTemporality::Delta;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn nanos(t: DateTime<Utc>) -> u64 {
        t.timestamp_nanos_opt().unwrap() as u64
    }

    /// One histogram point: (start, time, count, sum, bucket counts over bounds 1, 2, 5 s).
    struct P {
        start: DateTime<Utc>,
        time: DateTime<Utc>,
        count: u64,
        sum: f64,
        buckets: [u64; 4],
        attrs: Vec<KeyValue>,
    }

    fn histogram(name: &str, unit: &str, t: AggregationTemporality, points: Vec<P>) -> Metric {
        Metric {
            name: name.into(),
            unit: unit.into(),
            data: Some(Data::Histogram(Histogram {
                aggregation_temporality: t as i32,
                data_points: points
                    .into_iter()
                    .map(|p| HistogramDataPoint {
                        attributes: p.attrs,
                        start_time_unix_nano: nanos(p.start),
                        time_unix_nano: nanos(p.time),
                        count: p.count,
                        sum: Some(p.sum),
                        bucket_counts: p.buckets.to_vec(),
                        explicit_bounds: vec![1.0, 2.0, 5.0],
                        ..Default::default()
                    })
                    .collect(),
            })),
            ..Default::default()
        }
    }

    fn request(agent: &str, metrics: Vec<Metric>) -> Vec<u8> {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", agent),
                        kv("deployment.environment.name", "production"),
                        kv("department", "support"),
                    ],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    fn call_attrs(model: &str) -> Vec<KeyValue> {
        vec![
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.provider.name", "openai"),
            kv("gen_ai.request.model", model),
        ]
    }

    fn tokens(kind: &str, model: &str) -> Vec<KeyValue> {
        let mut a = call_attrs(model);
        a.push(kv("gen_ai.token.type", kind));
        a
    }

    fn post(key: &str, body: Vec<u8>) -> Request<Body> {
        Request::post("/v1/metrics")
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .header("x-api-key", key)
            .body(Body::from(body))
            .unwrap()
    }

    async fn ok(s: &Setup, body: Vec<u8>) -> ExportMetricsServiceResponse {
        let res = send(&s.router, post(&s.ingest, body)).await;
        assert_eq!(res.status(), StatusCode::OK);
        ExportMetricsServiceResponse::decode(&body_bytes(res).await[..]).unwrap()
    }

    /// (calls, errors, input, output, duration sum µs, histogram count) of `agent`.
    async fn rolled(s: &Setup, table: &str, agent: &str) -> (i64, i64, i64, i64, i64, i64) {
        let mut tx = tenancy::begin(&s.services.pool, s.a).await.unwrap();
        let row = sqlx::query_as(&format!(
            "SELECT coalesce(sum(calls), 0)::bigint, coalesce(sum(errors), 0)::bigint, \
               coalesce(sum(input_tokens), 0)::bigint, coalesce(sum(output_tokens), 0)::bigint, \
               coalesce(sum(duration_sum_us), 0)::bigint, \
               coalesce(sum((SELECT sum(v::bigint) FROM jsonb_each_text(duration_hist) AS h(k, v))), 0)::bigint \
             FROM {table} WHERE workspace_id = $1 AND agent = $2"
        ))
        .bind(s.a)
        .bind(agent)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        row
    }

    #[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
    async fn cumulative_and_delta_points_add_each_increment_once(owner: PgPool) {
        let s = setup(&owner).await;
        let t0 = Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap() - Duration::hours(2);
        let at = |m: i64| t0 + Duration::minutes(m);
        let duration = |start, time, count, sum, buckets, attrs| P {
            start,
            time,
            count,
            sum,
            buckets,
            attrs,
        };
        // Cumulative durations: 2 calls, then 5 in all; a re-send; then a restart (new start).
        let first = request(
            "metrics-bot",
            vec![
                histogram(
                    "gen_ai.client.operation.duration",
                    "s",
                    CUMULATIVE,
                    vec![duration(
                        at(0),
                        at(1),
                        2,
                        3.0,
                        [0, 1, 1, 0],
                        call_attrs("gpt-4o"),
                    )],
                ),
                histogram(
                    "gen_ai.client.token.usage",
                    "{token}",
                    CUMULATIVE,
                    vec![duration(
                        at(0),
                        at(1),
                        2,
                        1000.0,
                        [0, 0, 0, 2],
                        tokens("input", "gpt-4o"),
                    )],
                ),
                histogram(
                    "gen_ai.client.token.usage",
                    "{token}",
                    DELTA,
                    vec![duration(
                        at(0),
                        at(1),
                        2,
                        100.0,
                        [0, 0, 0, 2],
                        tokens("output", "gpt-4o"),
                    )],
                ),
            ],
        );
        let second = request(
            "metrics-bot",
            vec![
                histogram(
                    "gen_ai.client.operation.duration",
                    "s",
                    CUMULATIVE,
                    vec![duration(
                        at(0),
                        at(2),
                        5,
                        7.5,
                        [1, 2, 1, 1],
                        call_attrs("gpt-4o"),
                    )],
                ),
                histogram(
                    "gen_ai.client.token.usage",
                    "{token}",
                    CUMULATIVE,
                    vec![duration(
                        at(0),
                        at(2),
                        5,
                        2500.0,
                        [0, 0, 0, 5],
                        tokens("input", "gpt-4o"),
                    )],
                ),
                histogram(
                    "gen_ai.client.token.usage",
                    "{token}",
                    DELTA,
                    vec![duration(
                        at(1),
                        at(2),
                        3,
                        200.0,
                        [0, 0, 0, 3],
                        tokens("output", "gpt-4o"),
                    )],
                ),
            ],
        );
        let mut failed = call_attrs("gpt-4o");
        failed.push(kv("error.type", "timeout"));
        let restarted = request(
            "metrics-bot",
            vec![
                histogram(
                    "gen_ai.client.operation.duration",
                    "s",
                    CUMULATIVE,
                    vec![duration(
                        at(3),
                        at(4),
                        1,
                        0.5,
                        [1, 0, 0, 0],
                        call_attrs("gpt-4o"),
                    )],
                ),
                histogram(
                    "gen_ai.client.operation.duration",
                    "s",
                    DELTA,
                    vec![duration(at(3), at(4), 1, 6.0, [0, 0, 0, 1], failed)],
                ),
            ],
        );
        for body in [first, second.clone(), second, restarted.clone(), restarted] {
            let answer = ok(&s, body).await;
            assert_eq!(answer.partial_success, None);
        }
        // Calls 5 + 1 (restart) + 1 failed; durations 7.5 + 0.5 + 6 s; tokens 2,500 in, 300 out.
        let expected = (7, 1, 2500, 300, 14_000_000, 7);
        assert_eq!(
            rolled(&s, "metric_rollup_hourly", "metrics-bot").await,
            expected
        );
        assert_eq!(
            rolled(&s, "metric_rollup_daily", "metrics-bot").await,
            expected
        );

        // An agent that sends only metrics shows usage, priced from the catalog.
        let usage = usage_by_agent(&s.services.pool, s.a, t0 - Duration::hours(1), Utc::now())
            .await
            .unwrap();
        assert_eq!(usage.len(), 1);
        let u = &usage[0];
        assert_eq!(
            (u.agent.as_str(), u.calls, u.input_tokens, u.output_tokens),
            ("metrics-bot", 7, 2500, 300)
        );
        assert_eq!((u.span_hours, u.metric_hours), (0, 1));
        assert!((u.cost_usd - (2500.0 * 2.5 + 300.0 * 10.0) / 1e6).abs() < 1e-9);
        // The dashboard counts its tokens, cost and the agent itself (not requests: those
        // are traces), unfiltered and filtered by agent.
        for agent in [None, Some("metrics-bot".to_owned())] {
            let filters = argus_types::Filters::from_query("range=24h").with_dim(
                argus_types::Dimension::Agent,
                agent.as_deref().unwrap_or(""),
            );
            let q = argus_domain::analytics::resolve(&filters, Utc::now()).unwrap();
            let kpis = <argus_types::HomeKpis as argus_domain::analytics::Report>::read(
                &s.services.pool,
                s.a,
                &q,
                &(),
            )
            .await
            .unwrap();
            let value = |key: &str| kpis.kpis.iter().find(|k| k.key == key).unwrap().value;
            assert_eq!(value("tokens"), Some(2800.0));
            assert_eq!(value("active_agents"), Some(1.0));
            assert_eq!(value("requests"), Some(0.0));
            assert!((value("cost").unwrap() - u.cost_usd).abs() < 1e-9);
        }
        // Nothing lands in B.
        let b = usage_by_agent(&s.services.pool, s.b, t0 - Duration::hours(1), Utc::now())
            .await
            .unwrap();
        assert!(b.is_empty());
    }

    /// The real SDK's exports (`domain/tests/fixtures/otlp/tools/make_metrics_fixtures.py`):
    /// 2 calls, then 1 more and 1 failed, as two exports; each sent twice.
    async fn sdk_exports_in(owner: PgPool, temporality: &str) {
        let s = setup(&owner).await;
        for n in [1, 2, 2, 1] {
            let answer = ok(&s, fixture(&format!("metrics_{temporality}_{n}.pb"))).await;
            assert_eq!(
                answer.partial_success, None,
                "the counter is ignored, not rejected"
            );
        }
        let expected = (4, 1, 1200 + 1420 + 900, 85 + 160 + 40, 35_200_000, 4);
        for table in ["metric_rollup_hourly", "metric_rollup_daily"] {
            assert_eq!(
                rolled(&s, table, "metrics-only-bot").await,
                expected,
                "{temporality} {table}"
            );
        }
    }

    #[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
    async fn the_sdks_cumulative_exports_count_each_call_once(owner: PgPool) {
        sdk_exports_in(owner, "cumulative").await;
    }

    #[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
    async fn the_sdks_delta_exports_count_each_call_once(owner: PgPool) {
        sdk_exports_in(owner, "delta").await;
    }

    #[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
    async fn spans_win_over_metrics_for_the_same_agent(owner: PgPool) {
        let s = setup(&owner).await;
        // support-bot sends spans (two model calls: 2,620 input and 245 output tokens)…
        let pb = fixture("agent_trace_current_semconv.pb");
        let res = send(
            &s.router,
            export(&s.ingest, "application/x-protobuf", None, pb.clone()),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        let trace =
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
                &pb[..],
            )
            .unwrap();
        let start = trace.resource_spans[0].scope_spans[0].spans[0].start_time_unix_nano;
        let hour = DateTime::from_timestamp_nanos(start as i64)
            .duration_trunc(TimeDelta::hours(1))
            .unwrap();
        // …and the same calls as metrics, in the same hour; another agent sends only metrics.
        let calls = |agent: &str| {
            request(
                agent,
                vec![
                    histogram(
                        "gen_ai.client.operation.duration",
                        "s",
                        DELTA,
                        vec![P {
                            start: hour,
                            time: hour + Duration::minutes(30),
                            count: 2,
                            sum: 2.0,
                            buckets: [1, 1, 0, 0],
                            attrs: call_attrs("gpt-4o"),
                        }],
                    ),
                    histogram(
                        "gen_ai.client.token.usage",
                        "{token}",
                        DELTA,
                        vec![P {
                            start: hour,
                            time: hour + Duration::minutes(30),
                            count: 2,
                            sum: 2620.0,
                            buckets: [0, 0, 0, 2],
                            attrs: tokens("input", "gpt-4o"),
                        }],
                    ),
                ],
            )
        };
        ok(&s, calls("support-bot")).await;
        ok(&s, calls("metrics-only-bot")).await;

        let usage = usage_by_agent(&s.services.pool, s.a, hour, hour + Duration::hours(1))
            .await
            .unwrap();
        let by = |agent: &str| usage.iter().find(|u| u.agent == agent).unwrap().clone();
        let spans = by("support-bot");
        assert_eq!(
            (spans.calls, spans.input_tokens, spans.output_tokens),
            (2, 2620, 245),
            "the spans' numbers, not spans + metrics"
        );
        assert_eq!((spans.span_hours, spans.metric_hours), (1, 0));
        let metrics = by("metrics-only-bot");
        assert_eq!((metrics.calls, metrics.input_tokens), (2, 2620));
        assert_eq!((metrics.span_hours, metrics.metric_hours), (0, 1));
        let total: i64 = usage.iter().map(|u| u.input_tokens).sum();
        assert_eq!(total, 2 * 2620, "no double counting");

        // The dashboard follows the same rule.
        let custom = argus_types::Custom::new(hour, Some(hour + Duration::hours(1))).unwrap();
        let filters = argus_types::Filters::default().with_custom(custom);
        let q = argus_domain::analytics::resolve(&filters, Utc::now()).unwrap();
        let kpis = <argus_types::HomeKpis as argus_domain::analytics::Report>::read(
            &s.services.pool,
            s.a,
            &q,
            &(),
        )
        .await
        .unwrap();
        let value = |key: &str| kpis.kpis.iter().find(|k| k.key == key).unwrap().value;
        assert_eq!(value("tokens"), Some((2620 + 245 + 2620) as f64));
        assert_eq!(value("active_agents"), Some(2.0));
        assert_eq!(value("requests"), Some(1.0), "the one trace");
    }

    #[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
    async fn other_metrics_are_ignored_and_bad_points_rejected_alone(owner: PgPool) {
        let s = setup(&owner).await;
        let now = Utc::now();
        let gauge = Metric {
            name: "process.cpu.utilization".into(),
            data: Some(Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint::default(); 3],
            })),
            ..Default::default()
        };
        let mut no_type = call_attrs("gpt-4o");
        no_type.retain(|kv| kv.key != "gen_ai.token.type");
        let body = request(
            "bot",
            vec![
                gauge,
                histogram(
                    "gen_ai.client.token.usage",
                    "{token}",
                    DELTA,
                    vec![
                        P {
                            start: now - Duration::minutes(1),
                            time: now,
                            count: 1,
                            sum: 10.0,
                            buckets: [0, 0, 0, 1],
                            attrs: no_type,
                        },
                        P {
                            start: now - Duration::minutes(1),
                            time: now,
                            count: 1,
                            sum: -5.0,
                            buckets: [0, 0, 0, 1],
                            attrs: tokens("input", "gpt-4o"),
                        },
                        P {
                            start: now - Duration::minutes(1),
                            time: now,
                            count: 1,
                            sum: 42.0,
                            buckets: [0, 0, 0, 1],
                            attrs: tokens("output", "gpt-4o"),
                        },
                    ],
                ),
            ],
        );
        let answer = ok(&s, body).await;
        let partial = answer.partial_success.expect("partial success");
        assert_eq!(partial.rejected_data_points, 2);
        assert!(partial
            .error_message
            .contains("gen_ai.token.type is missing"));
        assert!(partial.error_message.contains("non-negative"));
        assert_eq!(rolled(&s, "metric_rollup_hourly", "bot").await.3, 42);

        // OTLP/JSON works too; garbage is a 400, a read key a 403, other types a 415.
        let json = serde_json::json!({"resourceMetrics": []}).to_string();
        let res = send(
            &s.router,
            Request::post("/v1/metrics")
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-api-key", &s.ingest)
                .body(Body::from(json))
                .unwrap(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = send(&s.router, post(&s.ingest, b"\xff\xff\xffgarbage".to_vec())).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body_json(res).await["error"]["code"], "INVALID_FORMAT");
        let res = send(&s.router, post(&s.read, Vec::new())).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let res = send(
            &s.router,
            Request::post("/v1/metrics")
                .header(header::CONTENT_TYPE, "text/plain")
                .header("x-api-key", &s.ingest)
                .body(Body::from("x"))
                .unwrap(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
