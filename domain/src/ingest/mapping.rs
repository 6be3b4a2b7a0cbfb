//! OTLP spans → [`SpanRecord`]s: the GenAI semantic conventions, current names first and
//! legacy ones after, each span validated on its own (a bad span is rejected, never the batch).
//!
//! | field | from (first present wins) |
//! |---|---|
//! | agent | span `gen_ai.agent.id`, `gen_ai.agent.name`; resource `service.name` |
//! | department | resource `department`, `argus.department` |
//! | environment | resource `deployment.environment.name`, `deployment.environment` |
//! | version | resource `service.version`; span `gen_ai.agent.version` |
//! | model | `gen_ai.response.model`, `gen_ai.request.model` |
//! | provider | `gen_ai.provider.name`, `gen_ai.system` |
//! | tokens | `gen_ai.usage.input_tokens` / `output_tokens`, legacy `prompt_tokens` / `completion_tokens`; `gen_ai.usage.cache_read.input_tokens`, `cache_creation.input_tokens`, `reasoning.output_tokens` (and older spellings) |
//! | cost | `gen_ai.usage.cost` |
//! | session | `gen_ai.conversation.id`, `session.id` |
//! | end user | `user.id` |
//! | status | span status; `error.type` makes it an error |

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Map, Value};

use super::model::{
    Dimensions, Evaluation, Resource, SpanRecord, SpanStatus, Usage, EVALUATION_EVENT,
};

/// Attributes kept per span; more are counted in `dropped_attributes`.
pub const MAX_ATTRIBUTES: usize = super::limits::MAX_ATTRIBUTES;
/// A token count above this is a client bug, not usage.
pub const MAX_TOKENS: i64 = 1_000_000_000;
/// A cost above this (USD, one span) is a client bug.
pub const MAX_COST_USD: f64 = 100_000.0;
/// Nesting kept when converting attribute values (arrays / maps inside arrays …).
const MAX_DEPTH: usize = 8;

pub const DEFAULT_AGENT: &str = "unknown_service";
pub const DEFAULT_DEPARTMENT: &str = "unassigned";
pub const DEFAULT_ENVIRONMENT: &str = "unknown";
pub const DEFAULT_VERSION: &str = "unknown";

/// A span that was not stored, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub trace_id: String,
    pub span_id: String,
    pub reason: String,
}

/// What a request maps to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mapped {
    pub spans: Vec<SpanRecord>,
    pub rejected: Vec<Rejection>,
    /// Spans dropped whole before mapping (over a request's limits), and why.
    pub dropped: usize,
    pub dropped_reason: Option<String>,
    /// `gen_ai.evaluation.result` events of the stored spans (they become scores).
    pub evaluations: Vec<Evaluation>,
}

impl Mapped {
    /// OTLP's `partial_success.error_message`: the first few reasons.
    pub fn rejection_message(&self) -> Option<String> {
        if self.rejected_count() == 0 {
            return None;
        }
        let mut reasons: Vec<String> = self
            .dropped_reason
            .iter()
            .map(|why| format!("{} span(s) dropped: {why}", self.dropped))
            .collect();
        reasons.extend(
            self.rejected
                .iter()
                .take(5)
                .map(|r| format!("span {} of trace {}: {}", r.span_id, r.trace_id, r.reason)),
        );
        if self.rejected.len() > 5 {
            reasons.push(format!("and {} more", self.rejected.len() - 5));
        }
        Some(format!(
            "{} span(s) rejected: {}",
            self.rejected_count(),
            reasons.join("; ")
        ))
    }

    /// Spans not stored: rejected one by one or dropped over the limits.
    pub fn rejected_count(&self) -> usize {
        self.rejected.len() + self.dropped
    }
}

/// Converts an attribute value to JSON: ints stay exact, bytes become base64, nesting is
/// bounded.
pub fn any_to_json(value: &AnyValue) -> Value {
    any_to_json_at(value, 0)
}

fn any_to_json_at(value: &AnyValue, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    match &value.value {
        // String-table references exist only in the profiles signal.
        None | Some(Any::StringValueStrindex(_)) => Value::Null,
        Some(Any::StringValue(s)) => Value::String(s.clone()),
        Some(Any::BoolValue(b)) => Value::Bool(*b),
        Some(Any::IntValue(i)) => Value::from(*i),
        Some(Any::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Some(Any::ArrayValue(a)) => Value::Array(
            a.values
                .iter()
                .map(|v| any_to_json_at(v, depth + 1))
                .collect(),
        ),
        Some(Any::KvlistValue(kv)) => Value::Object(
            kv.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value
                            .as_ref()
                            .map_or(Value::Null, |v| any_to_json_at(v, depth + 1)),
                    )
                })
                .collect(),
        ),
        Some(Any::BytesValue(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
    }
}

/// Attributes by key (the last of a repeated key wins, as in the SDKs).
pub(super) struct Attrs<'a>(HashMap<&'a str, &'a AnyValue>);

impl<'a> Attrs<'a> {
    pub(super) fn new(list: &'a [KeyValue]) -> Attrs<'a> {
        Attrs(
            list.iter()
                .filter_map(|kv| kv.value.as_ref().map(|v| (kv.key.as_str(), v)))
                .collect(),
        )
    }

    /// The first non-empty string among `keys`.
    pub(super) fn string(&self, keys: &[&str]) -> Option<String> {
        keys.iter()
            .find_map(|k| match self.0.get(k).and_then(|v| v.value.as_ref()) {
                Some(Any::StringValue(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                Some(Any::IntValue(i)) => Some(i.to_string()),
                _ => None,
            })
    }

    /// The first integer among `keys`; an integral double or a numeric string also counts.
    fn int(&self, keys: &[&str]) -> Result<Option<i64>, String> {
        for key in keys {
            let Some(value) = self.0.get(key).and_then(|v| v.value.as_ref()) else {
                continue;
            };
            let n = match value {
                Any::IntValue(i) => Some(*i),
                Any::DoubleValue(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Some(*d as i64),
                Any::StringValue(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            return match n {
                Some(n) => Ok(Some(n)),
                None => Err(format!("{key} is not an integer")),
            };
        }
        Ok(None)
    }

    fn float(&self, keys: &[&str]) -> Result<Option<f64>, String> {
        for key in keys {
            let Some(value) = self.0.get(key).and_then(|v| v.value.as_ref()) else {
                continue;
            };
            let n = match value {
                Any::DoubleValue(d) => Some(*d),
                Any::IntValue(i) => Some(*i as f64),
                Any::StringValue(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            return match n.filter(|n| n.is_finite()) {
                Some(n) => Ok(Some(n)),
                None => Err(format!("{key} is not a number")),
            };
        }
        Ok(None)
    }

    /// A message attribute: a JSON string is parsed, anything else kept as its JSON value.
    fn messages(&self, keys: &[&str]) -> Option<Value> {
        keys.iter().find_map(|k| {
            self.0.get(k).map(|v| match &v.value {
                Some(Any::StringValue(s)) => {
                    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
                }
                _ => any_to_json(v),
            })
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

fn id(bytes: &[u8], len: usize, what: &str) -> Result<String, String> {
    if bytes.len() != len {
        return Err(format!("{what} must be {len} bytes, not {}", bytes.len()));
    }
    if bytes.iter().all(|b| *b == 0) {
        return Err(format!("{what} is all zeros"));
    }
    Ok(hex(bytes))
}

pub(super) fn time(nanos: u64, what: &str) -> Result<DateTime<Utc>, String> {
    if nanos == 0 {
        return Err(format!("{what} is missing"));
    }
    let secs = (nanos / 1_000_000_000) as i64;
    let sub = (nanos % 1_000_000_000) as u32;
    DateTime::from_timestamp(secs, sub).ok_or_else(|| format!("{what} is out of range"))
}

fn tokens(attrs: &Attrs, keys: &[&str]) -> Result<i64, String> {
    match attrs.int(keys)? {
        None => Ok(0),
        Some(n) if !(0..=MAX_TOKENS).contains(&n) => Err(format!(
            "{} must be between 0 and {MAX_TOKENS}, not {n}",
            keys[0]
        )),
        Some(n) => Ok(n),
    }
}

/// The message attributes: stored as a span's `input` and `output`, not again among its
/// attributes.
const MESSAGE_KEYS: [&str; 4] = [
    "gen_ai.input.messages",
    "gen_ai.prompt",
    "gen_ai.output.messages",
    "gen_ai.completion",
];

fn attributes_json(list: &[KeyValue], skip: &[&str]) -> (Value, u32) {
    let mut map = Map::new();
    let mut dropped = 0u32;
    for kv in list {
        if skip.contains(&kv.key.as_str()) {
            continue;
        }
        if map.len() >= MAX_ATTRIBUTES && !map.contains_key(&kv.key) {
            dropped += 1;
            continue;
        }
        map.insert(
            kv.key.clone(),
            kv.value.as_ref().map_or(Value::Null, any_to_json),
        );
    }
    (Value::Object(map), dropped)
}

/// The agent and its deployment, from a span's (or data point's) attributes and its resource.
pub(super) fn dimensions(attrs: &Attrs, resource: &Attrs) -> Dimensions {
    Dimensions {
        agent: attrs
            .string(&["gen_ai.agent.id", "gen_ai.agent.name"])
            .or_else(|| resource.string(&["service.name"]))
            .unwrap_or_else(|| DEFAULT_AGENT.into()),
        department: resource
            .string(&["department", "argus.department"])
            .unwrap_or_else(|| DEFAULT_DEPARTMENT.into()),
        environment: resource
            .string(&["deployment.environment.name", "deployment.environment"])
            .unwrap_or_else(|| DEFAULT_ENVIRONMENT.into()),
        version: resource
            .string(&["service.version"])
            .or_else(|| attrs.string(&["gen_ai.agent.version"]))
            .unwrap_or_else(|| DEFAULT_VERSION.into()),
    }
}

/// Maps one span under its resource.
fn map_span(
    resource: &Attrs,
    resource_record: &Arc<Resource>,
    span: &Span,
) -> Result<SpanRecord, String> {
    let attrs = Attrs::new(&span.attributes);
    let trace_id = id(&span.trace_id, 16, "trace_id")?;
    let span_id = id(&span.span_id, 8, "span_id")?;
    let parent_span_id = if span.parent_span_id.is_empty() {
        None
    } else {
        Some(id(&span.parent_span_id, 8, "parent_span_id")?)
    };
    let start_time = time(span.start_time_unix_nano, "start time")?;
    let end_time = time(span.end_time_unix_nano, "end time")?;
    if end_time < start_time {
        return Err("the end time is before the start time".into());
    }
    let duration_us = (end_time - start_time)
        .num_microseconds()
        .unwrap_or(i64::MAX);

    let usage = Usage {
        input: tokens(
            &attrs,
            &["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
        )?,
        output: tokens(
            &attrs,
            &[
                "gen_ai.usage.output_tokens",
                "gen_ai.usage.completion_tokens",
            ],
        )?,
        cache_read: tokens(
            &attrs,
            &[
                "gen_ai.usage.cache_read.input_tokens",
                "gen_ai.usage.cache_read_input_tokens",
                "gen_ai.usage.cached_tokens",
            ],
        )?,
        cache_creation: tokens(
            &attrs,
            &[
                "gen_ai.usage.cache_creation.input_tokens",
                "gen_ai.usage.cache_creation_input_tokens",
            ],
        )?,
        reasoning: tokens(
            &attrs,
            &[
                "gen_ai.usage.reasoning.output_tokens",
                "gen_ai.usage.reasoning_tokens",
            ],
        )?,
    };
    let cost_sent = match attrs.float(&["gen_ai.usage.cost"])? {
        Some(c) if !(0.0..=MAX_COST_USD).contains(&c) => {
            return Err(format!(
                "gen_ai.usage.cost must be between 0 and {MAX_COST_USD}, not {c}"
            ))
        }
        other => other,
    };

    let error_type = attrs.string(&["error.type"]);
    let (status, status_message) = match &span.status {
        Some(s) if s.code == StatusCode::Error as i32 => (
            SpanStatus::Error,
            Some(s.message.clone()).filter(|m| !m.is_empty()),
        ),
        Some(s) if s.code == StatusCode::Ok as i32 => (SpanStatus::Ok, None),
        _ => (SpanStatus::Unset, None),
    };
    let status = if error_type.is_some() {
        SpanStatus::Error
    } else {
        status
    };

    let dims = dimensions(&attrs, resource);
    let (attributes, dropped_attributes) = attributes_json(&span.attributes, &MESSAGE_KEYS);
    Ok(SpanRecord {
        trace_id,
        span_id,
        parent_span_id,
        name: span.name.clone(),
        kind: span.kind.clamp(0, 5) as i16,
        start_time,
        end_time,
        duration_us,
        status,
        status_message,
        error_type,
        dims,
        operation: attrs.string(&["gen_ai.operation.name"]),
        model: attrs.string(&["gen_ai.response.model", "gen_ai.request.model"]),
        request_model: attrs.string(&["gen_ai.request.model"]),
        provider: attrs.string(&["gen_ai.provider.name", "gen_ai.system"]),
        usage,
        cost_sent,
        session_id: attrs.string(&["gen_ai.conversation.id", "session.id"]),
        user_id: attrs.string(&["user.id"]),
        input: attrs.messages(&["gen_ai.input.messages", "gen_ai.prompt"]),
        output: attrs.messages(&["gen_ai.output.messages", "gen_ai.completion"]),
        attributes,
        resource: resource_record.clone(),
        dropped_attributes: dropped_attributes + span.dropped_attributes_count,
    })
}

/// An evaluation's attributes (span event or log record), at `time`, about `span` when known.
pub fn evaluation(
    attributes: &[KeyValue],
    span: Option<(String, String)>,
    time: DateTime<Utc>,
) -> Evaluation {
    let attrs = Attrs::new(attributes);
    let (trace_id, span_id) = span.unzip();
    Evaluation {
        trace_id,
        span_id,
        response_id: attrs.string(&["gen_ai.response.id"]),
        name: attrs.string(&["gen_ai.evaluation.name"]),
        // A value that is not a number is left out; the label may still make a score.
        value: attrs
            .float(&["gen_ai.evaluation.score.value"])
            .ok()
            .flatten(),
        label: attrs.string(&["gen_ai.evaluation.score.label"]),
        explanation: attrs.string(&["gen_ai.evaluation.explanation"]),
        error_type: attrs.string(&["error.type"]),
        time,
    }
}

/// The evaluation events of a stored span.
fn span_evaluations<'a>(
    span: &'a Span,
    record: &'a SpanRecord,
) -> impl Iterator<Item = Evaluation> + 'a {
    span.events
        .iter()
        .filter(|e| e.name == EVALUATION_EVENT)
        .map(move |e| {
            let at = time(e.time_unix_nano, "event time").unwrap_or(record.end_time);
            evaluation(
                &e.attributes,
                Some((record.trace_id.clone(), record.span_id.clone())),
                at,
            )
        })
}

/// The hex of an OTLP id of `len` bytes, or `None` when it is empty or all zero.
pub fn optional_id(bytes: &[u8], len: usize) -> Option<String> {
    (bytes.len() == len && bytes.iter().any(|b| *b != 0)).then(|| hex(bytes))
}

/// Maps every span of a request; a span that fails validation is rejected alone.
pub fn map_request(request: &ExportTraceServiceRequest) -> Mapped {
    let mut mapped = Mapped::default();
    for resource_spans in &request.resource_spans {
        let resource_attrs = resource_spans
            .resource
            .as_ref()
            .map_or(&[][..], |r| &r.attributes[..]);
        let resource = Attrs::new(resource_attrs);
        let resource_record = Arc::new(Resource::new(attributes_json(resource_attrs, &[]).0));
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                match map_span(&resource, &resource_record, span) {
                    Ok(record) => {
                        mapped.evaluations.extend(span_evaluations(span, &record));
                        mapped.spans.push(record);
                    }
                    Err(reason) => mapped.rejected.push(Rejection {
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        reason,
                    }),
                }
            }
        }
    }
    mapped
}
