//! The real OpenTelemetry SDK's requests (../shared/testdata/otlp): protobuf and JSON of each
//! fixture decode and map to the same spans, with the GenAI conventions resolved.

use std::path::PathBuf;

use argus_domain::ingest::mapping::{map_request, Mapped};
use argus_domain::ingest::model::SpanStatus;
use argus_domain::ingest::otlp::{decode_traces, decompress, Encoding};

fn fixture_dir() -> PathBuf {
    let dir = std::env::var("ARGUS_OTLP_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp"));
    assert!(dir.is_dir(), "OTLP fixtures not found at {}", dir.display());
    dir
}

fn load(name: &str, encoding: Encoding) -> Mapped {
    let ext = match encoding {
        Encoding::Protobuf => "pb",
        Encoding::Json => "json",
    };
    let body = std::fs::read(fixture_dir().join(format!("{name}.{ext}"))).unwrap();
    let request = decode_traces(&body, encoding).unwrap_or_else(|e| panic!("{name}.{ext}: {e}"));
    map_request(&request)
}

const FIXTURES: [&str; 5] = [
    "agent_trace_current_semconv",
    "legacy_semconv_names",
    "error_trace_with_cost",
    "split_part1_children",
    "split_part2_root",
];

#[test]
fn protobuf_and_json_map_to_the_same_spans() {
    for name in FIXTURES {
        let pb = load(name, Encoding::Protobuf);
        let json = load(name, Encoding::Json);
        assert!(pb.rejected.is_empty(), "{name}: {:?}", pb.rejected);
        assert!(!pb.spans.is_empty(), "{name}");
        assert_eq!(pb, json, "{name}");
    }
}

#[test]
fn current_conventions() {
    let m = load("agent_trace_current_semconv", Encoding::Protobuf);
    assert_eq!(m.spans.len(), 4);
    let root = m.spans.iter().find(|s| s.is_root()).unwrap();
    assert_eq!(root.operation.as_deref(), Some("invoke_agent"));
    assert_eq!(root.session_id.as_deref(), Some("conv-42"));
    assert_eq!(root.user_id.as_deref(), Some("customer-981"));
    for s in &m.spans {
        assert_eq!(s.dims.agent, "support-bot");
        assert_eq!(s.dims.department, "support");
        assert_eq!(s.dims.environment, "production");
        assert_eq!(s.dims.version, "2.3.0");
        assert_eq!(s.trace_id.len(), 32);
        assert!(s.end_time >= s.start_time);
    }
    let chats: Vec<_> = m
        .spans
        .iter()
        .filter(|s| s.operation.as_deref() == Some("chat"))
        .collect();
    assert_eq!(chats.len(), 2);
    let first = chats.iter().find(|s| s.usage.input == 1200).unwrap();
    assert_eq!(
        first.model.as_deref(),
        Some("gpt-4o-2024-08-06"),
        "response model wins"
    );
    assert_eq!(first.request_model.as_deref(), Some("gpt-4o"));
    assert_eq!(first.provider.as_deref(), Some("openai"));
    assert_eq!((first.usage.output, first.usage.cache_read), (85, 1024));
    assert!(
        first.input.as_ref().unwrap().is_array(),
        "messages parsed from JSON"
    );
    // Messages are the span's input and output, not repeated among its attributes.
    assert!(first.attributes.get("gen_ai.input.messages").is_none());
    assert!(first.attributes.get("gen_ai.output.messages").is_none());
    // One resource, shared by every span of it, with a content-derived id.
    assert!(m.spans.iter().all(|s| s.resource.id == first.resource.id));
    assert_eq!(
        first.resource.attributes["service.name"], "support-bot",
        "the resource's attributes"
    );
    let second = chats.iter().find(|s| s.usage.input == 1420).unwrap();
    assert_eq!(second.usage.output, 160);
    assert!(second.output.is_some());
    let total: i64 = m.spans.iter().map(|s| s.usage.total()).sum();
    assert_eq!(total, 1200 + 85 + 1420 + 160);
    // Unknown attributes are kept.
    let tool = m
        .spans
        .iter()
        .find(|s| s.operation.as_deref() == Some("execute_tool"))
        .unwrap();
    assert_eq!(tool.attributes["gen_ai.tool.name"], "lookup_order");
}

#[test]
fn legacy_names() {
    let m = load("legacy_semconv_names", Encoding::Json);
    let s = &m.spans[0];
    assert_eq!(s.dims.environment, "staging", "deployment.environment");
    assert_eq!(s.dims.agent, "eng-code-1");
    assert_eq!(s.dims.department, "engineering");
    assert_eq!(s.provider.as_deref(), Some("anthropic"), "gen_ai.system");
    assert_eq!(
        (s.usage.input, s.usage.output),
        (3000, 700),
        "prompt/completion tokens"
    );
    assert_eq!(s.model.as_deref(), Some("claude-sonnet-4"));
}

#[test]
fn errors_and_sent_cost() {
    let m = load("error_trace_with_cost", Encoding::Protobuf);
    assert!(m.spans.iter().all(|s| s.status == SpanStatus::Error));
    let chat = m.spans.iter().find(|s| !s.is_root()).unwrap();
    assert_eq!(chat.error_type.as_deref(), Some("timeout"));
    assert_eq!(
        chat.status_message.as_deref(),
        Some("upstream timed out after 30s")
    );
    assert_eq!(chat.cost_sent, Some(0.0123));
    assert_eq!(chat.provider.as_deref(), Some("self_hosted"));
    assert_eq!(chat.dims.department, "finance");
}

#[test]
fn a_split_trace_shares_its_trace_id() {
    let children = load("split_part1_children", Encoding::Protobuf);
    let root = load("split_part2_root", Encoding::Protobuf);
    assert_eq!(children.spans.len(), 2);
    assert!(children.spans.iter().all(|s| !s.is_root()));
    let root = &root.spans[0];
    assert!(root.is_root());
    for child in &children.spans {
        assert_eq!(child.trace_id, root.trace_id);
        assert_eq!(child.parent_span_id.as_deref(), Some(root.span_id.as_str()));
    }
}

#[test]
fn gzip_bodies_decode_like_plain_ones() {
    use std::io::Write;
    let body = std::fs::read(fixture_dir().join("agent_trace_current_semconv.pb")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&body).unwrap();
    let gate = std::sync::Arc::new(argus_domain::ingest::gate::IngestGate::default());
    let mut admission = gate.admit(argus_domain::tenancy::WorkspaceId(uuid::Uuid::nil()));
    let gzipped = enc.finish().unwrap();
    let inflated = decompress(&gzipped, Some("gzip"), 1 << 20, &mut admission).unwrap();
    assert_eq!(&inflated[..], &body[..]);
    assert_eq!(admission.charged(), body.len() as u64);
}

mod invalid {
    use argus_domain::ingest::mapping::{map_request, MAX_ATTRIBUTES};
    use argus_domain::ingest::otlp::{decode_traces, Encoding};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use proptest::prelude::*;

    fn attr(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn span(n: u8, attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![n; 8],
            name: format!("span {n}"),
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_001_000_000_000,
            attributes,
            ..Default::default()
        }
    }

    fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn bad_spans_are_rejected_one_by_one() {
        use any_value::Value::*;
        let mut zero_trace = span(7, vec![]);
        zero_trace.trace_id = vec![0; 16];
        let mut short_id = span(8, vec![]);
        short_id.span_id = vec![1, 2, 3];
        let mut backwards = span(9, vec![]);
        backwards.end_time_unix_nano = 1;
        let mapped = map_request(&request(vec![
            span(1, vec![attr("gen_ai.usage.input_tokens", IntValue(10))]),
            span(2, vec![attr("gen_ai.usage.input_tokens", IntValue(-5))]),
            span(
                3,
                vec![attr("gen_ai.usage.output_tokens", IntValue(5_000_000_000))],
            ),
            span(
                4,
                vec![attr(
                    "gen_ai.usage.input_tokens",
                    StringValue("many".into()),
                )],
            ),
            span(5, vec![attr("gen_ai.usage.cost", DoubleValue(-1.0))]),
            span(6, vec![attr("gen_ai.usage.cost", DoubleValue(f64::NAN))]),
            zero_trace,
            short_id,
            backwards,
        ]));
        assert_eq!(mapped.spans.len(), 1);
        assert_eq!(mapped.spans[0].usage.input, 10);
        assert_eq!(mapped.rejected.len(), 8);
        let message = mapped.rejection_message().unwrap();
        assert!(message.starts_with("8 span(s) rejected: "), "{message}");
        assert!(message.contains("between 0 and"), "{message}");
    }

    #[test]
    fn ten_thousand_attributes_are_capped_not_fatal() {
        let attributes = (0..10_000)
            .map(|i| attr(&format!("k{i}"), any_value::Value::IntValue(i)))
            .collect();
        let mapped = map_request(&request(vec![span(1, attributes)]));
        let s = &mapped.spans[0];
        assert_eq!(s.attributes.as_object().unwrap().len(), MAX_ATTRIBUTES);
        assert_eq!(s.dropped_attributes as usize, 10_000 - MAX_ATTRIBUTES);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            for encoding in [Encoding::Protobuf, Encoding::Json] {
                if let Ok(request) = decode_traces(&bytes, encoding) {
                    let _ = map_request(&request);
                }
                if let Ok(request) = argus_domain::ingest::metrics::decode(&bytes, encoding) {
                    let _ = argus_domain::ingest::metrics::map(&request);
                }
            }
        }

        #[test]
        fn arbitrary_histogram_points_never_panic(
            start in any::<u64>(),
            time in any::<u64>(),
            count in any::<u64>(),
            sum in any::<f64>(),
            min in any::<Option<f64>>(),
            max in any::<Option<f64>>(),
            bounds in proptest::collection::vec(any::<f64>(), 0..6),
            buckets in proptest::collection::vec(any::<u64>(), 0..8),
            scale in any::<i32>(),
            offset in any::<i32>(),
            temporality in 0i32..4,
        ) {
            use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
            use opentelemetry_proto::tonic::metrics::v1::{
                exponential_histogram_data_point::Buckets, metric::Data, ExponentialHistogram,
                ExponentialHistogramDataPoint, Histogram, HistogramDataPoint, Metric,
                ResourceMetrics, ScopeMetrics,
            };
            let attributes = vec![KeyValue {
                key: "gen_ai.token.type".into(),
                value: Some(AnyValue { value: Some(any_value::Value::StringValue("input".into())) }),
                ..Default::default()
            }];
            let metrics = vec![
                Metric {
                    name: "gen_ai.client.token.usage".into(),
                    data: Some(Data::Histogram(Histogram {
                        aggregation_temporality: temporality,
                        data_points: vec![HistogramDataPoint {
                            attributes: attributes.clone(),
                            start_time_unix_nano: start,
                            time_unix_nano: time,
                            count,
                            sum: Some(sum),
                            bucket_counts: buckets.clone(),
                            explicit_bounds: bounds,
                            min,
                            max,
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                },
                Metric {
                    name: "gen_ai.client.operation.duration".into(),
                    unit: "s".into(),
                    data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                        aggregation_temporality: temporality,
                        data_points: vec![ExponentialHistogramDataPoint {
                            attributes,
                            start_time_unix_nano: start,
                            time_unix_nano: time,
                            count,
                            sum: Some(sum),
                            scale,
                            positive: Some(Buckets { offset, bucket_counts: buckets }),
                            min,
                            max,
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                },
            ];
            let request = ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
                    ..Default::default()
                }],
            };
            let _ = argus_domain::ingest::metrics::map(&request);
        }

        #[test]
        fn arbitrary_span_fields_never_panic(
            trace_id in proptest::collection::vec(any::<u8>(), 0..20),
            span_id in proptest::collection::vec(any::<u8>(), 0..10),
            start in any::<u64>(),
            end in any::<u64>(),
            tokens in any::<i64>(),
            cost in any::<f64>(),
        ) {
            let s = Span {
                trace_id,
                span_id,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes: vec![
                    attr("gen_ai.usage.input_tokens", any_value::Value::IntValue(tokens)),
                    attr("gen_ai.usage.cost", any_value::Value::DoubleValue(cost)),
                ],
                ..Default::default()
            };
            let mapped = map_request(&request(vec![s]));
            prop_assert_eq!(mapped.spans.len() + mapped.rejected.len(), 1);
        }
    }
}
