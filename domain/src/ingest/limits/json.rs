//! The census of a JSON body (OTLP/JSON or the native batch): one pass over the bytes that
//! allocates nothing but a stack of open containers, adding up what deserializing would
//! allocate — every value a slot, every string its bytes, every element of an array the
//! struct it becomes (named by the array's key: `spans`, `attributes`, `dataPoints` …) — and
//! stopping when the sum passes [`MAX_DECODED_BYTES`](super::MAX_DECODED_BYTES) or the nesting
//! passes [`MAX_DEPTH`](super::MAX_DEPTH).
//!
//! It does not validate JSON beyond keeping its brackets balanced: `serde_json` does that
//! next, and allocates nothing this pass has not counted for the prefix it accepts.

use std::mem::size_of;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, SummaryDataPoint,
};
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span};

use super::{nested_too_deeply, Census, MAX_DEPTH};
use crate::{Error, Result};

/// What one JSON value costs wherever it is (a `serde_json::Value` or serde's buffered
/// content under a flattened field).
const PER_VALUE: u64 = 32;
/// What an element of an array under an unknown key costs.
const DEFAULT_ELEMENT: u64 = 32;

/// Which structs the elements of an array become, by the array's key.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// OTLP/JSON traces or metrics.
    Otlp,
    /// The native batch (`traces`, each with `spans`; decoded through `serde_json::Value`).
    Native,
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

impl Shape {
    /// The cost of one element of an array under `key`, and whether it is a span or point.
    fn element(self, key: &[u8]) -> (u64, bool) {
        let (cost, item) = match (self, key) {
            (Shape::Otlp, b"resourceSpans") => (size_of::<ResourceSpans>(), false),
            (Shape::Otlp, b"scopeSpans") => (size_of::<ScopeSpans>(), false),
            (Shape::Otlp, b"spans") => (size_of::<Span>(), true),
            (Shape::Otlp, b"events") => (size_of::<span::Event>(), false),
            (Shape::Otlp, b"links") => (size_of::<span::Link>(), false),
            (Shape::Otlp, b"attributes" | b"values" | b"filteredAttributes" | b"metadata") => {
                (max(size_of::<KeyValue>(), size_of::<AnyValue>()), false)
            }
            (Shape::Otlp, b"resourceMetrics") => (size_of::<ResourceMetrics>(), false),
            (Shape::Otlp, b"scopeMetrics") => (size_of::<ScopeMetrics>(), false),
            (Shape::Otlp, b"metrics") => (size_of::<Metric>(), false),
            (Shape::Otlp, b"dataPoints") => (
                max(
                    max(
                        size_of::<NumberDataPoint>(),
                        size_of::<HistogramDataPoint>(),
                    ),
                    max(
                        size_of::<ExponentialHistogramDataPoint>(),
                        size_of::<SummaryDataPoint>(),
                    ),
                ),
                true,
            ),
            (Shape::Otlp, b"exemplars") => (size_of::<Exemplar>(), false),
            // A trace item becomes a root span and a `NativeTrace`; a span a `NativeSpan`
            // and a span record: both well under 1 KiB.
            (Shape::Native, b"traces" | b"spans") => (1024, true),
            _ => (DEFAULT_ELEMENT as usize, false),
        };
        (cost as u64, item)
    }
}

struct Frame {
    object: bool,
    /// For arrays: what each element costs, and whether it counts as an item.
    element: (u64, bool),
}

fn malformed(at: usize, what: &str) -> Error {
    Error::InvalidFormat {
        message: format!("the body is not valid JSON: {what}"),
        location: Some(format!("byte {at}")),
    }
}

/// Walks `body` and returns what decoding it as `shape` would allocate, or the refusal.
pub fn census(body: &[u8], shape: Shape) -> Result<Census> {
    let mut census = Census::default();
    let mut stack: Vec<Frame> = Vec::new();
    // In an object: whether the next string is a key; the last key read.
    let mut expect_key = false;
    let mut key: &[u8] = b"";
    let mut i = 0;
    let start_value = |stack: &[Frame], census: &mut Census| -> Result<()> {
        if let Some(Frame {
            object: false,
            element: (cost, item),
        }) = stack.last()
        {
            census.items += u64::from(*item);
            census.add(*cost)?;
        }
        census.add(PER_VALUE)
    };
    while i < body.len() {
        let b = body[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'{' | b'[' => {
                start_value(&stack, &mut census)?;
                let object = b == b'{';
                let element = match stack.last() {
                    Some(Frame { object: true, .. }) if !object => shape.element(key),
                    _ => (DEFAULT_ELEMENT, false),
                };
                stack.push(Frame { object, element });
                if stack.len() > MAX_DEPTH {
                    return Err(nested_too_deeply());
                }
                expect_key = object;
                i += 1;
            }
            b'}' | b']' => {
                match stack.pop() {
                    Some(frame) if frame.object == (b == b'}') => {}
                    _ => return Err(malformed(i, "a bracket does not match")),
                }
                expect_key = false;
                i += 1;
            }
            b',' => {
                expect_key = matches!(stack.last(), Some(Frame { object: true, .. }));
                i += 1;
            }
            b':' => {
                expect_key = false;
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                loop {
                    match body.get(j) {
                        None => return Err(malformed(i, "a string is not closed")),
                        Some(b'"') => break,
                        Some(b'\\') => j += 2,
                        Some(_) => j += 1,
                    }
                }
                let text = &body[start..j.min(body.len())];
                if expect_key {
                    key = text;
                    census.add(text.len() as u64)?;
                } else {
                    start_value(&stack, &mut census)?;
                    census.add(text.len() as u64)?;
                }
                i = j + 1;
            }
            _ => {
                // A number or a literal: up to the next delimiter.
                start_value(&stack, &mut census)?;
                while i < body.len() && !b",:{}[]\" \t\n\r".contains(&body[i]) {
                    i += 1;
                }
            }
        }
    }
    Ok(census)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::limits::MAX_DECODED_BYTES;

    #[test]
    fn a_bomb_of_empty_spans_is_refused_and_a_batch_is_not() {
        let mut bomb = String::from(r#"{"resourceSpans":[{"scopeSpans":[{"spans":["#);
        for n in 0..2_000_000 {
            if n > 0 {
                bomb.push(',');
            }
            bomb.push_str("{}");
        }
        bomb.push_str("]}]}]}");
        let err = census(bomb.as_bytes(), Shape::Otlp).unwrap_err();
        assert_eq!(err.code(), argus_types::ErrorCode::PayloadTooLarge);

        let span = r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
            "name":"chat","attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}}]}"#;
        let body = format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
            vec![span; 1000].join(",")
        );
        let c = census(body.as_bytes(), Shape::Otlp).unwrap();
        assert_eq!(c.items, 1000);
        assert!(c.bytes >= 1000 * size_of::<Span>() as u64);
        assert!(c.bytes < MAX_DECODED_BYTES / 8, "{c:?}");
    }

    #[test]
    fn deep_nesting_and_broken_brackets_are_clear_errors() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        let err = census(deep.as_bytes(), Shape::Otlp).unwrap_err();
        assert_eq!(err.code(), argus_types::ErrorCode::InvalidFormat);
        for bad in [&b"{]"[..], b"]", b"\"open", b"[1,2}"] {
            let err = census(bad, Shape::Otlp).unwrap_err();
            assert_eq!(err.code(), argus_types::ErrorCode::InvalidFormat, "{bad:?}");
        }
        // Escaped quotes do not end a string; keys are read as keys.
        let c = census(br#"{"a\"b":["x\\",1,true]}"#, Shape::Otlp).unwrap();
        assert!(c.bytes > 0);
    }
}
