//! One span as Argus stores it: the GenAI dimensions and measures resolved, the rest kept.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The outcome of a span: OTLP's status, or `error.type` when set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanStatus {
    Unset,
    Ok,
    Error,
}

impl SpanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SpanStatus::Unset => "unset",
            SpanStatus::Ok => "ok",
            SpanStatus::Error => "error",
        }
    }
}

/// Token counts of one span, by kind. Input includes cached input (as the conventions count it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_creation: i64,
    pub reasoning: i64,
}

impl Usage {
    pub fn total(&self) -> i64 {
        self.input + self.output
    }

    /// [input, output, cache_read, cache_creation, reasoning], for summing.
    pub fn as_array(&self) -> [i64; 5] {
        [
            self.input,
            self.output,
            self.cache_read,
            self.cache_creation,
            self.reasoning,
        ]
    }
}

/// Where a span comes from: the agent and its deployment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dimensions {
    pub agent: String,
    pub department: String,
    pub environment: String,
    pub version: String,
}

/// What emitted a span (OTLP's resource: service, version, environment, host, SDK …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// A hash of the attributes' canonical JSON: equal attributes, equal id.
    pub id: i64,
    /// The resource's attributes, as a JSON object.
    pub attributes: serde_json::Value,
}

impl Resource {
    pub fn new(attributes: serde_json::Value) -> Resource {
        // serde_json's maps are sorted, so the serialization is canonical.
        let digest = Sha256::digest(attributes.to_string().as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Resource {
            id: i64::from_be_bytes(first),
            attributes,
        }
    }

    /// The resource of spans that came without one (the native batch API).
    pub fn empty() -> Arc<Resource> {
        Arc::new(Resource::new(serde_json::Value::Object(Default::default())))
    }
}

/// A span, mapped and validated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanRecord {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// OTLP's SpanKind number (0 unspecified … 5 consumer).
    pub kind: i16,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub duration_us: i64,
    pub status: SpanStatus,
    pub status_message: Option<String>,
    pub error_type: Option<String>,
    pub dims: Dimensions,
    /// `gen_ai.operation.name`: chat, invoke_agent, execute_tool, embeddings, …
    pub operation: Option<String>,
    /// The response model when sent, else the request model.
    pub model: Option<String>,
    pub request_model: Option<String>,
    pub provider: Option<String>,
    pub usage: Usage,
    /// `gen_ai.usage.cost` as sent (USD); the cost engine fills the rest.
    pub cost_sent: Option<f64>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    /// Input and output messages (GenAI conventions), as sent.
    pub input: Option<serde_json::Value>,
    pub output: Option<serde_json::Value>,
    /// Every span attribute (including the mapped ones) except the messages, which are
    /// `input` and `output`, as a JSON object.
    pub attributes: serde_json::Value,
    /// The resource (shared by the spans of one OTLP resource, stored once).
    pub resource: Arc<Resource>,
    /// Attributes over the per-span limit, not kept.
    pub dropped_attributes: u32,
}

impl SpanRecord {
    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_none()
    }
}

/// Most text a trace contributes to its search index per batch (bytes).
pub const SEARCH_TEXT_LIMIT: usize = 16 * 1024;

impl SpanRecord {
    /// The span's tags: its `tags` attribute (a list, or one string).
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        let tags = self.attributes.get("tags");
        let list = tags.and_then(|t| t.as_array()).map_or(&[][..], |a| &a[..]);
        list.iter()
            .filter_map(|v| v.as_str())
            .chain(tags.and_then(|t| t.as_str()))
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// The span's metadata: its `metadata` object (the native API) and its `metadata.*`
    /// attributes (OTLP), as `key → value`.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &serde_json::Value)> {
        let object = self
            .attributes
            .get("metadata")
            .and_then(|m| m.as_object())
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v));
        let prefixed = self
            .attributes
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| k.strip_prefix("metadata.").map(|k| (k, v)));
        object.chain(prefixed)
    }

    /// Appends what free-text search finds this span by — its name and the text of its input
    /// and output messages — to `out`, which grows to at most [`SEARCH_TEXT_LIMIT`] bytes.
    pub fn search_text(&self, out: &mut String) {
        push_text(out, &self.name);
        for v in [&self.input, &self.output].into_iter().flatten() {
            push_strings(out, v);
        }
    }
}

fn push_text(out: &mut String, s: &str) {
    for word in s.split_whitespace() {
        if word.len() > crate::search::WORD_LIMIT {
            continue;
        }
        if out.len() + word.len() + 1 > SEARCH_TEXT_LIMIT {
            return;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// Every string in a message value (GenAI parts, plain strings, tool arguments).
fn push_strings(out: &mut String, v: &serde_json::Value) {
    match v {
        serde_json::Value::String(s) => push_text(out, s),
        serde_json::Value::Array(items) => items.iter().for_each(|i| push_strings(out, i)),
        serde_json::Value::Object(map) => map.values().for_each(|i| push_strings(out, i)),
        _ => {}
    }
}

/// The GenAI semantic conventions' evaluation event: a span event or a log record.
pub const EVALUATION_EVENT: &str = "gen_ai.evaluation.result";

/// One `gen_ai.evaluation.result`, as OpenTelemetry sent it (before it is checked as a score).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The evaluated span (the event's span, or the log record's context), when known.
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    /// `gen_ai.response.id`: the completion judged, when the span is not known.
    pub response_id: Option<String>,
    /// `gen_ai.evaluation.name`.
    pub name: Option<String>,
    /// `gen_ai.evaluation.score.value`.
    pub value: Option<f64>,
    /// `gen_ai.evaluation.score.label`.
    pub label: Option<String>,
    /// `gen_ai.evaluation.explanation`.
    pub explanation: Option<String>,
    /// `error.type`: the evaluation itself failed (no score).
    pub error_type: Option<String>,
    pub time: chrono::DateTime<chrono::Utc>,
}
