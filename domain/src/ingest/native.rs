//! The native JSON batch API (`POST /api/v1/traces`): up to 1,000 traces, each with optional
//! nested spans, each validated on its own.
//!
//! A trace becomes a root span carrying the trace's own fields; its `spans` become children
//! (parent: the root unless `parent_span_id` names another). Put tokens and cost on the spans,
//! or on the trace when it has no spans — never both, or they are counted twice. Ids may be any
//! string: 32/16 hex digits (or a UUID) are used as they are, anything else is hashed, so
//! re-sending the same ids is idempotent. A span without times starts with its trace; send the
//! trace's `start_time` (or `end_time`) too, or a re-sent trace counts as a new one.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::mapping::{
    DEFAULT_AGENT, DEFAULT_DEPARTMENT, DEFAULT_ENVIRONMENT, DEFAULT_VERSION, MAX_COST_USD,
    MAX_TOKENS,
};
use super::model::{Dimensions, SpanRecord, SpanStatus, Usage};

pub const MAX_TRACES: usize = 1_000;
pub const MAX_SPANS_PER_TRACE: usize = 10_000;

/// The body of `POST /api/v1/traces` (what the OpenAPI document shows; the handler reads the
/// same fields item by item, so one bad trace does not sink the batch).
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
pub struct NativeBatch {
    /// At most 1,000.
    pub traces: Vec<NativeTrace>,
}

/// Fields shared by a trace and a span.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct Common {
    pub name: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub operation: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_creation_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    /// USD.
    pub cost: Option<f64>,
    pub latency_ms: Option<f64>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    /// `ok` (default), `error` or `unset`.
    pub status: Option<String>,
    pub error: Option<String>,
    pub input: Option<Value>,
    pub output: Option<Value>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
pub struct NativeSpan {
    pub span_id: Option<String>,
    pub parent_span_id: Option<String>,
    #[serde(flatten)]
    pub common: Common,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
pub struct NativeTrace {
    pub trace_id: Option<String>,
    pub agent_id: Option<String>,
    pub department: Option<String>,
    pub environment: Option<String>,
    pub version: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub spans: Vec<NativeSpan>,
    #[serde(flatten)]
    pub common: Common,
}

/// One refused item of a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ItemError {
    pub index: usize,
    /// One of the API's error codes (`INVALID_INPUT`, `INVALID_FORMAT`, `PAYLOAD_TOO_LARGE`).
    pub code: argus_types::ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

pub fn item_error(index: usize, field: &str, message: impl Into<String>) -> ItemError {
    ItemError {
        index,
        code: argus_types::ErrorCode::InvalidInput,
        message: message.into(),
        field: Some(field.into()),
    }
}

/// The stored trace id of a trace a client named `raw` (32 hex digits or a UUID as they are,
/// anything else hashed): what ingest stored, so scores find it.
pub fn trace_key(raw: &str) -> String {
    hex_id(raw.trim(), 32, "trace")
}

/// The stored span id of the span a client named `raw` in the trace it named `trace`.
pub fn span_key(trace: &str, raw: &str) -> String {
    hex_id(raw.trim(), 16, trace.trim())
}

fn hex_id(raw: &str, len: usize, salt: &str) -> String {
    let cleaned: String = raw.trim().to_ascii_lowercase().replace('-', "");
    if cleaned.len() == len
        && cleaned.bytes().all(|b| b.is_ascii_hexdigit())
        && cleaned.bytes().any(|b| b != b'0')
    {
        return cleaned;
    }
    let digest = Sha256::digest(format!("{salt}\u{1f}{raw}").as_bytes());
    let mut out: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    out.truncate(len);
    out
}

fn text(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// What every span of one trace shares.
struct TraceContext<'a> {
    trace_id: &'a str,
    dims: &'a Dimensions,
    now: DateTime<Utc>,
}

/// Where one span sits: `path` names the item in errors (`traces[3].spans[1]`); the root
/// carries the trace's session, user and attributes, a child the root's start (`anchor`).
struct SpanPlace {
    path: String,
    span_id: String,
    parent: Option<String>,
    session: Option<String>,
    user: Option<String>,
    attributes: Map<String, Value>,
    anchor: Option<DateTime<Utc>>,
}

/// Builds one span from the shared fields.
fn span(
    c: &Common,
    trace: &TraceContext,
    place: SpanPlace,
) -> Result<SpanRecord, (String, String)> {
    let SpanPlace {
        path,
        span_id,
        parent,
        session,
        user,
        mut attributes,
        anchor,
    } = place;
    let TraceContext {
        trace_id,
        dims,
        now,
    } = *trace;
    let err = |field: &str, m: String| (format!("{path}.{field}"), m);
    let count = |v: Option<i64>, field: &str| -> Result<i64, (String, String)> {
        match v.unwrap_or(0) {
            n if (0..=MAX_TOKENS).contains(&n) => Ok(n),
            n => Err(err(
                field,
                format!("must be between 0 and {MAX_TOKENS}, not {n}"),
            )),
        }
    };
    let usage = Usage {
        input: count(c.input_tokens, "input_tokens")?,
        output: count(c.output_tokens, "output_tokens")?,
        cache_read: count(c.cache_read_tokens, "cache_read_tokens")?,
        cache_creation: count(c.cache_creation_tokens, "cache_creation_tokens")?,
        reasoning: count(c.reasoning_tokens, "reasoning_tokens")?,
    };
    if let Some(cost) = c.cost {
        if !(0.0..=MAX_COST_USD).contains(&cost) {
            return Err(err("cost", format!("must be between 0 and {MAX_COST_USD}")));
        }
    }
    let latency = match c.latency_ms {
        Some(ms) if !(0.0..=86_400_000.0).contains(&ms) => {
            return Err(err(
                "latency_ms",
                "must be between 0 and 86,400,000 (a day)".into(),
            ))
        }
        Some(ms) => Some(Duration::microseconds((ms * 1000.0).round() as i64)),
        None => None,
    };
    let (start, end) = match (c.start_time, c.end_time, latency) {
        (Some(s), Some(e), _) => (s, e),
        (Some(s), None, l) => (s, s + l.unwrap_or_default()),
        (None, Some(e), l) => (e - l.unwrap_or_default(), e),
        // A span without times starts with its trace (stable when re-sent); a trace without
        // times ends now.
        (None, None, l) => match anchor {
            Some(a) => (a, a + l.unwrap_or_default()),
            None => (now - l.unwrap_or_default(), now),
        },
    };
    if end < start {
        return Err(err("end_time", "is before start_time".into()));
    }
    let status = match c.status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("ok") | Some("success") => SpanStatus::Ok,
        Some("error") | Some("failed") => SpanStatus::Error,
        Some("unset") => SpanStatus::Unset,
        Some(other) => {
            return Err(err(
                "status",
                format!("must be ok, error or unset, not {other:?}"),
            ))
        }
    };
    let error = text(&c.error);
    let status = if error.is_some() {
        SpanStatus::Error
    } else {
        status
    };
    if !c.metadata.is_empty() {
        attributes.insert("metadata".into(), Value::Object(c.metadata.clone()));
    }
    Ok(SpanRecord {
        trace_id: trace_id.to_owned(),
        span_id,
        parent_span_id: parent,
        name: text(&c.name).unwrap_or_else(|| text(&c.operation).unwrap_or_else(|| "span".into())),
        kind: 0,
        start_time: start,
        end_time: end,
        duration_us: (end - start).num_microseconds().unwrap_or(i64::MAX),
        status,
        status_message: error.clone(),
        error_type: error,
        dims: dims.clone(),
        operation: text(&c.operation),
        model: text(&c.model),
        request_model: text(&c.model),
        provider: text(&c.provider),
        usage,
        cost_sent: c.cost,
        session_id: session,
        user_id: user,
        input: c.input.clone(),
        output: c.output.clone(),
        attributes: Value::Object(attributes),
        resource: super::model::Resource::empty(),
        dropped_attributes: 0,
    })
}

/// Maps one trace item to its spans.
pub fn map_trace(
    index: usize,
    t: &NativeTrace,
    now: DateTime<Utc>,
) -> Result<Vec<SpanRecord>, ItemError> {
    let path = format!("traces[{index}]");
    if t.spans.len() > MAX_SPANS_PER_TRACE {
        return Err(item_error(
            index,
            &format!("{path}.spans"),
            format!("at most {MAX_SPANS_PER_TRACE} spans a trace"),
        ));
    }
    let given = text(&t.trace_id).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let trace_id = hex_id(&given, 32, "trace");
    let dims = Dimensions {
        agent: text(&t.agent_id).unwrap_or_else(|| DEFAULT_AGENT.into()),
        department: text(&t.department).unwrap_or_else(|| DEFAULT_DEPARTMENT.into()),
        environment: text(&t.environment).unwrap_or_else(|| DEFAULT_ENVIRONMENT.into()),
        version: text(&t.version).unwrap_or_else(|| DEFAULT_VERSION.into()),
    };
    let root_id = hex_id(&given, 16, "root");
    let mut root_attrs = Map::new();
    if !t.tags.is_empty() {
        root_attrs.insert("tags".into(), Value::from(t.tags.clone()));
    }
    let fail = |(field, message): (String, String)| item_error(index, &field, message);
    let trace = TraceContext {
        trace_id: &trace_id,
        dims: &dims,
        now,
    };
    let root = SpanPlace {
        path: path.clone(),
        span_id: root_id.clone(),
        parent: None,
        session: text(&t.session_id),
        user: text(&t.user_id),
        attributes: root_attrs,
        anchor: None,
    };
    let mut out = vec![span(&t.common, &trace, root).map_err(fail)?];
    let root_start = out[0].start_time;
    for (i, s) in t.spans.iter().enumerate() {
        let span_id = hex_id(
            &text(&s.span_id).unwrap_or_else(|| format!("{given}#{i}")),
            16,
            &given,
        );
        let parent = text(&s.parent_span_id)
            .map(|p| hex_id(&p, 16, &given))
            .unwrap_or_else(|| root_id.clone());
        out.push(
            span(
                &s.common,
                &trace,
                SpanPlace {
                    path: format!("{path}.spans[{i}]"),
                    span_id,
                    parent: Some(parent),
                    session: None,
                    user: None,
                    attributes: Map::new(),
                    anchor: Some(root_start),
                },
            )
            .map_err(fail)?,
        );
    }
    Ok(out)
}
