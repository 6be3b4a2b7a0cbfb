//! The trace explorer's wire types: the traces list, a trace with its spans, sessions and the
//! agents registry.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Window;

/// Page sizes the list offers.
pub const PAGE_SIZES: [u32; 2] = [50, 100];
/// The list's default page size.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// The list's filters beyond the dashboard's [`crate::Filters`], as query parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TraceFilters {
    /// `ok` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_latency: Option<String>,
    /// USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cost: Option<String>,
    /// Comma-separated: every one must be present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    /// `key=value` on the trace's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<String>,
    /// A score of the trace or its spans: `helpfulness<0.5`, `resolved=false`, `tone=rude`
    /// (`<`, `<=`, `>`, `>=`, `=`, `!=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<String>,
    /// Free text over span names, input and output (words; `"a phrase"`, `or`, `-word`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// `time` (default), `latency` or `cost`; always descending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// 50 (default) or 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// An opaque position from a previous page's `next_cursor` or `prev_cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl TraceFilters {
    /// The list's parameters in a query string, given a lookup (blank is unset).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> TraceFilters {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        TraceFilters {
            status: get("status"),
            session: get("session"),
            user: get("user"),
            min_latency: get("min_latency"),
            min_cost: get("min_cost"),
            tags: get("tags"),
            meta: get("meta"),
            score: get("score"),
            q: get("q"),
            sort: get("sort"),
            limit: get("limit"),
            cursor: get("cursor"),
        }
    }

    /// The parameters and their values, in URL order (the cursor last).
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("status", &self.status),
            ("session", &self.session),
            ("user", &self.user),
            ("min_latency", &self.min_latency),
            ("min_cost", &self.min_cost),
            ("tags", &self.tags),
            ("meta", &self.meta),
            ("score", &self.score),
            ("q", &self.q),
            ("sort", &self.sort),
            ("limit", &self.limit),
            ("cursor", &self.cursor),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }
}

/// One row of the traces list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TraceRow {
    pub trace_id: String,
    pub name: String,
    pub start_time: DateTime<Utc>,
    pub latency_ms: f64,
    pub agent: String,
    pub department: String,
    pub environment: String,
    pub version: String,
    /// `ok` or `error` (any span failed).
    pub status: String,
    pub span_count: i32,
    pub error_count: i32,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub models: Vec<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub tags: Vec<String>,
    /// The trace's scores (its own and its spans'), the latest per name, in the list only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<ScoreBrief>,
}

/// A score as the traces list shows it: its name and its value as a person reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScoreBrief {
    pub name: String,
    /// `0.82`, `true`, `friendly` (texts are left out).
    pub value: String,
}

/// A page of the traces list, in the cursor page shape every cursor-paged list answers with:
/// `{"data": [...], "meta": {"next_cursor", "prev_cursor", "has_more", …}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TracePage {
    pub data: Vec<TraceRow>,
    pub meta: CursorMeta,
    pub window: Window,
    /// Filters the page ignored (bad values in the URL, with `fallback`).
    #[serde(default)]
    pub notices: Vec<String>,
}

/// Cursor pagination's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CursorMeta {
    /// The page after this one (older, or lower latency / cost), when there is one.
    pub next_cursor: Option<String>,
    /// The page before this one, when this is not the first.
    pub prev_cursor: Option<String>,
    /// Whether `next_cursor` leads somewhere.
    pub has_more: bool,
    /// The order of the list: `time`, `latency` or `cost`.
    pub sort: String,
    pub limit: u32,
}

/// One span of a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SpanDetail {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// OTLP's kind: `internal`, `server`, `client`, `producer`, `consumer` or `unspecified`.
    pub kind: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub duration_ms: f64,
    pub status: String,
    pub status_message: Option<String>,
    pub error_type: Option<String>,
    pub operation: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_creation_tokens: i64,
    pub reasoning_tokens: i64,
    /// USD; none while the model has no price.
    pub cost_usd: Option<f64>,
    pub cost_source: Option<String>,
    pub input: Option<serde_json::Value>,
    pub output: Option<serde_json::Value>,
    pub attributes: serde_json::Value,
    pub resource: serde_json::Value,
}

/// A trace with every span, in start order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TraceDetail {
    pub trace: TraceRow,
    pub end_time: DateTime<Utc>,
    pub cache_read_tokens: i64,
    pub reasoning_tokens: i64,
    pub unpriced_spans: i32,
    pub metadata: serde_json::Value,
    /// One page of the trace's spans, in start order: `span_offset` onwards, at most
    /// `span_limit`, of `span_total`.
    pub spans: Vec<SpanDetail>,
    pub span_total: i64,
    pub span_offset: i64,
    pub span_limit: i64,
    /// The guardrail checks that named this trace (`trace_id` in the check), in time order.
    #[serde(default)]
    pub guardrails: Vec<crate::GuardDecision>,
}

/// A session: its traces in order, as a conversation, with totals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SessionDetail {
    pub session_id: String,
    pub traces: Vec<SessionTurn>,
    pub total: SessionSummary,
}

/// One trace of a session, with the text of its input and output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SessionTurn {
    pub trace: TraceRow,
    pub input: Option<serde_json::Value>,
    pub output: Option<serde_json::Value>,
}

/// A session in the sessions list, or a session's totals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SessionSummary {
    pub session_id: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub traces: i64,
    pub errors: i64,
    pub tokens: i64,
    pub cost_usd: f64,
    pub agents: Vec<String>,
    pub user_id: Option<String>,
}

/// A page of sessions (newest activity first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SessionPage {
    pub sessions: Vec<SessionSummary>,
    pub meta: PageMeta,
    pub window: Window,
}

/// Offset pagination's answer, for small sets (the seed's pattern).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PageMeta {
    pub total: i64,
    pub page: u32,
    pub limit: u32,
    pub has_more: bool,
}

/// One agent of the registry, with its last 24 hours.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentInfo {
    pub agent: String,
    pub display_name: Option<String>,
    pub department: String,
    pub environments: Vec<String>,
    pub versions: Vec<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub requests_24h: i64,
    pub error_rate_24h: Option<f64>,
    pub p95_ms_24h: Option<f64>,
    pub cost_usd_24h: f64,
}

/// A page of the agents registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentPage {
    pub agents: Vec<AgentInfo>,
    pub meta: PageMeta,
}

/// A deletion of traces (one, or those matching a filter; or the retention job's), with its
/// progress: the audit of who removed what, when, and how many.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TraceDeletion {
    pub id: uuid::Uuid,
    /// Who asked (none: the retention job).
    pub requested_by: Option<uuid::Uuid>,
    /// Their name or email, when known.
    pub requested_by_name: Option<String>,
    /// The list's query string, or `trace_id=…`.
    pub filter: String,
    pub status: crate::JobStatus,
    /// The traces matching when it was asked.
    pub matched: Option<i64>,
    /// Deleted so far.
    pub deleted: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}
