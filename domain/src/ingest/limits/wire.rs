//! The census of a protobuf body: a walk over the wire format along the OTLP schema that
//! allocates nothing and adds up what `prost` would allocate to decode it — each repeated
//! message's struct, each string's bytes, each packed number — stopping as soon as the sum
//! passes [`MAX_DECODED_BYTES`](super::MAX_DECODED_BYTES).
//!
//! Unknown fields count their length (prost skips them, so this over-estimates — safely).
//! Malformed bytes end the walk with 400; prost would refuse them too.

use std::mem::size_of;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, EntityRef, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, summary_data_point::ValueAtQuantile, Exemplar,
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, SummaryDataPoint,
};
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span};

use super::{nested_too_deeply, Census, MAX_DEPTH};
use crate::{Error, Result};

/// How a field of a message decodes.
#[derive(Clone, Copy)]
enum Child {
    /// A repeated message: one struct of `cost` bytes per occurrence, plus its contents.
    Repeated(&'static Schema),
    /// A singular message held inside its parent's struct: only its contents cost.
    Inline(&'static Schema),
    /// Repeated numbers of `width` bytes each, packed or not (`varint`: one per byte < 0x80).
    Numbers { varint: bool },
    /// Repeated strings: a `String` each, plus its bytes.
    Strings,
}

/// The fields of one OTLP message that allocate.
struct Schema {
    /// `size_of` the message's Rust struct (what one element of a `Vec` of it takes).
    cost: usize,
    /// Whether an occurrence is one span or data point (for the refusal's message).
    item: bool,
    fields: &'static [(u32, Child)],
}

impl Schema {
    fn child(&self, field: u32) -> Option<Child> {
        self.fields
            .iter()
            .find(|(number, _)| *number == field)
            .map(|(_, child)| *child)
    }
}

const fn plain(cost: usize, fields: &'static [(u32, Child)]) -> Schema {
    Schema {
        cost,
        item: false,
        fields,
    }
}

// Common.
static ANY_VALUE: Schema = plain(
    size_of::<AnyValue>(),
    &[(5, Child::Inline(&ARRAY)), (6, Child::Inline(&KV_LIST))],
);
static ARRAY: Schema = plain(0, &[(1, Child::Repeated(&ANY_VALUE))]);
static KV_LIST: Schema = plain(0, &[(1, Child::Repeated(&KEY_VALUE))]);
static KEY_VALUE: Schema = plain(size_of::<KeyValue>(), &[(2, Child::Inline(&ANY_VALUE))]);
static ATTRIBUTES_ONLY: Schema = plain(0, &[(3, Child::Repeated(&KEY_VALUE))]);
static ENTITY_REF: Schema = plain(
    size_of::<EntityRef>(),
    &[(3, Child::Strings), (4, Child::Strings)],
);
static RESOURCE: Schema = plain(
    0,
    &[
        (1, Child::Repeated(&KEY_VALUE)),
        (3, Child::Repeated(&ENTITY_REF)),
    ],
);

// Traces.
static TRACE_REQUEST: Schema = plain(0, &[(1, Child::Repeated(&RESOURCE_SPANS))]);
static RESOURCE_SPANS: Schema = plain(
    size_of::<ResourceSpans>(),
    &[
        (1, Child::Inline(&RESOURCE)),
        (2, Child::Repeated(&SCOPE_SPANS)),
    ],
);
static SCOPE_SPANS: Schema = plain(
    size_of::<ScopeSpans>(),
    &[
        (1, Child::Inline(&ATTRIBUTES_ONLY)),
        (2, Child::Repeated(&SPAN)),
    ],
);
static SPAN: Schema = Schema {
    cost: size_of::<Span>(),
    item: true,
    fields: &[
        (9, Child::Repeated(&KEY_VALUE)),
        (11, Child::Repeated(&EVENT)),
        (13, Child::Repeated(&LINK)),
    ],
};
static EVENT: Schema = plain(
    size_of::<span::Event>(),
    &[(3, Child::Repeated(&KEY_VALUE))],
);
static LINK: Schema = plain(size_of::<span::Link>(), &[(4, Child::Repeated(&KEY_VALUE))]);

// Metrics.
static METRICS_REQUEST: Schema = plain(0, &[(1, Child::Repeated(&RESOURCE_METRICS))]);
static RESOURCE_METRICS: Schema = plain(
    size_of::<ResourceMetrics>(),
    &[
        (1, Child::Inline(&RESOURCE)),
        (2, Child::Repeated(&SCOPE_METRICS)),
    ],
);
static SCOPE_METRICS: Schema = plain(
    size_of::<ScopeMetrics>(),
    &[
        (1, Child::Inline(&ATTRIBUTES_ONLY)),
        (2, Child::Repeated(&METRIC)),
    ],
);
static METRIC: Schema = plain(
    size_of::<Metric>(),
    &[
        (5, Child::Inline(&NUMBER_POINTS)),
        (7, Child::Inline(&NUMBER_POINTS)),
        (9, Child::Inline(&HISTOGRAM_POINTS)),
        (10, Child::Inline(&EXPONENTIAL_POINTS)),
        (11, Child::Inline(&SUMMARY_POINTS)),
        (12, Child::Repeated(&KEY_VALUE)),
    ],
);
static NUMBER_POINTS: Schema = plain(0, &[(1, Child::Repeated(&NUMBER_POINT))]);
static HISTOGRAM_POINTS: Schema = plain(0, &[(1, Child::Repeated(&HISTOGRAM_POINT))]);
static EXPONENTIAL_POINTS: Schema = plain(0, &[(1, Child::Repeated(&EXPONENTIAL_POINT))]);
static SUMMARY_POINTS: Schema = plain(0, &[(1, Child::Repeated(&SUMMARY_POINT))]);
static NUMBER_POINT: Schema = Schema {
    cost: size_of::<NumberDataPoint>(),
    item: true,
    fields: &[
        (7, Child::Repeated(&KEY_VALUE)),
        (5, Child::Repeated(&EXEMPLAR)),
    ],
};
static HISTOGRAM_POINT: Schema = Schema {
    cost: size_of::<HistogramDataPoint>(),
    item: true,
    fields: &[
        (9, Child::Repeated(&KEY_VALUE)),
        (6, Child::Numbers { varint: false }),
        (7, Child::Numbers { varint: false }),
        (8, Child::Repeated(&EXEMPLAR)),
    ],
};
static EXPONENTIAL_POINT: Schema = Schema {
    cost: size_of::<ExponentialHistogramDataPoint>(),
    item: true,
    fields: &[
        (1, Child::Repeated(&KEY_VALUE)),
        (8, Child::Inline(&BUCKETS)),
        (9, Child::Inline(&BUCKETS)),
        (11, Child::Repeated(&EXEMPLAR)),
    ],
};
static BUCKETS: Schema = plain(
    size_of::<Buckets>(),
    &[(2, Child::Numbers { varint: true })],
);
static SUMMARY_POINT: Schema = Schema {
    cost: size_of::<SummaryDataPoint>(),
    item: true,
    fields: &[
        (7, Child::Repeated(&KEY_VALUE)),
        (6, Child::Repeated(&QUANTILE)),
    ],
};
static QUANTILE: Schema = plain(size_of::<ValueAtQuantile>(), &[]);
static EXEMPLAR: Schema = plain(size_of::<Exemplar>(), &[(7, Child::Repeated(&KEY_VALUE))]);

/// The census of an `ExportTraceServiceRequest` in protobuf.
pub fn traces(body: &[u8]) -> Result<Census> {
    let _ = size_of::<ExportTraceServiceRequest>();
    census(body, &TRACE_REQUEST)
}

/// The census of an `ExportMetricsServiceRequest` in protobuf.
pub fn metrics(body: &[u8]) -> Result<Census> {
    let _ = size_of::<ExportMetricsServiceRequest>();
    census(body, &METRICS_REQUEST)
}

fn census(body: &[u8], schema: &'static Schema) -> Result<Census> {
    let mut census = Census::default();
    walk(body, schema, 0, &mut census)?;
    Ok(census)
}

fn malformed(what: &str) -> Error {
    Error::InvalidFormat {
        message: format!("the body is not valid protobuf: {what}"),
        location: None,
    }
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf
            .get(*pos)
            .ok_or_else(|| malformed("a number is cut off"))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err(malformed("a number is longer than 10 bytes"))
}

fn skip(buf: &[u8], pos: &mut usize, n: u64) -> Result<()> {
    let end = (*pos as u64)
        .checked_add(n)
        .filter(|end| *end <= buf.len() as u64)
        .ok_or_else(|| malformed("a field runs past the end of its message"))?;
    *pos = end as usize;
    Ok(())
}

fn walk(buf: &[u8], schema: &'static Schema, depth: usize, census: &mut Census) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(nested_too_deeply());
    }
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let field =
            u32::try_from(key >> 3).map_err(|_| malformed("a field number is too large"))?;
        if field == 0 {
            return Err(malformed("field number 0"));
        }
        let child = schema.child(field);
        match key & 7 {
            0 => {
                varint(buf, &mut pos)?;
                if let Some(Child::Numbers { .. }) = child {
                    census.add(8)?;
                }
            }
            1 | 5 => {
                skip(buf, &mut pos, if key & 7 == 1 { 8 } else { 4 })?;
                if let Some(Child::Numbers { .. }) = child {
                    census.add(8)?;
                }
            }
            2 => {
                let len = varint(buf, &mut pos)?;
                let start = pos;
                skip(buf, &mut pos, len)?;
                let inner = &buf[start..pos];
                match child {
                    Some(Child::Repeated(s)) => {
                        census.items += u64::from(s.item);
                        census.add(s.cost as u64)?;
                        walk(inner, s, depth + 1, census)?;
                    }
                    Some(Child::Inline(s)) => walk(inner, s, depth + 1, census)?,
                    Some(Child::Numbers { varint: true }) => {
                        let n = inner.iter().filter(|b| **b < 0x80).count() as u64;
                        census.add(n * 8)?;
                    }
                    Some(Child::Numbers { varint: false }) => census.add(len)?,
                    Some(Child::Strings) => census.add(size_of::<String>() as u64 + len)?,
                    None => census.add(len)?,
                }
            }
            _ => return Err(malformed("a field has an unsupported wire type")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::ArrayValue;
    use prost::Message;

    use super::*;
    use crate::ingest::limits::MAX_DECODED_BYTES;

    fn request(spans: usize, attributes: usize) -> ExportTraceServiceRequest {
        let attrs: Vec<KeyValue> = (0..attributes)
            .map(|i| KeyValue {
                key: format!("k{i}"),
                value: Some(AnyValue {
                    value: Some(Value::StringValue("value".into())),
                }),
                ..Default::default()
            })
            .collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..spans)
                        .map(|_| Span {
                            name: "chat".into(),
                            attributes: attrs.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn the_estimate_covers_what_decoding_allocates() {
        let body = request(100, 10).encode_to_vec();
        let census = traces(&body).unwrap();
        assert_eq!(census.items, 100);
        let structs = 100 * size_of::<Span>() + 1000 * size_of::<KeyValue>();
        assert!(census.bytes as usize >= structs, "{census:?}");
        assert!(
            (census.bytes as usize) < structs + 2 * body.len(),
            "{census:?}"
        );
    }

    #[test]
    fn millions_of_empty_spans_are_refused_before_decoding() {
        // What a gzip bomb inflates to: one scope with 5 M empty spans (10 MB).
        let mut spans = Vec::new();
        for _ in 0..5_000_000 {
            spans.extend_from_slice(&[0x12, 0x00]);
        }
        let mut scope = vec![0x12];
        prost::encoding::encode_varint(spans.len() as u64, &mut scope);
        scope.extend_from_slice(&spans);
        let mut resource = vec![0x0a];
        prost::encoding::encode_varint(scope.len() as u64, &mut resource);
        resource.extend_from_slice(&scope);
        let err = traces(&resource).unwrap_err();
        assert_eq!(err.code(), argus_types::ErrorCode::PayloadTooLarge);
        assert!(err.to_string().contains("smaller batches"), "{err}");
        assert!(
            (MAX_DECODED_BYTES / size_of::<Span>() as u64) < 5_000_000,
            "the bomb must be over the budget for this test to mean anything"
        );
    }

    #[test]
    fn deep_values_and_garbage_are_clear_errors() {
        let mut value = AnyValue {
            value: Some(Value::StringValue("x".into())),
        };
        for _ in 0..40 {
            value = AnyValue {
                value: Some(Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        let mut req = request(1, 0);
        req.resource_spans[0].scope_spans[0].spans[0].attributes = vec![KeyValue {
            key: "deep".into(),
            value: Some(value),
            ..Default::default()
        }];
        let err = traces(&req.encode_to_vec()).unwrap_err();
        assert_eq!(err.code(), argus_types::ErrorCode::InvalidFormat);
        for garbage in [
            &b"\x0a\xff\xff\xff\xff\x0f"[..],
            b"\x0b",
            b"\x00\x00",
            b"\x0a\x05ab",
        ] {
            let err = traces(garbage).unwrap_err();
            assert_eq!(
                err.code(),
                argus_types::ErrorCode::InvalidFormat,
                "{garbage:?}"
            );
        }
        assert_eq!(traces(b"").unwrap(), Census::default());
    }
}
