//! The dashboard's query API: filters, KPIs, series and breakdowns (read from the rollups).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The range presets, in the order the picker shows them.
pub const RANGES: [&str; 5] = ["1h", "24h", "7d", "30d", "90d"];
/// The range when none is given.
pub const DEFAULT_RANGE: &str = "24h";

/// The filter context as it appears in URLs and API queries: `range` (a preset) or
/// `from`/`to` (RFC 3339), and optional dimension filters. Empty strings mean "not set".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Filters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl Filters {
    /// The set filters as `(name, value)` pairs, in URL order.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("range", &self.range),
            ("from", &self.from),
            ("to", &self.to),
            ("dept", &self.dept),
            ("env", &self.env),
            ("version", &self.version),
            ("agent", &self.agent),
            ("model", &self.model),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect()
    }

    /// Whether no filter at all is set.
    pub fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }

    /// The query string (`range=24h&dept=support`), percent-encoded.
    pub fn to_query(&self) -> String {
        self.pairs()
            .into_iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The time window a response covers: whole buckets of the rollup it read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The previous period of the same length, for comparisons.
    pub previous_from: DateTime<Utc>,
    /// The width of one chart point.
    pub step_seconds: i64,
    /// `hourly` or `daily`.
    pub rollup: String,
    /// A human label: "Last 24 hours", "2026-11-01 → 2026-11-08".
    pub label: String,
}

/// What a number measures (for formatting and axis labels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Count,
    Percent,
    Ms,
    Tokens,
    Usd,
}

/// One KPI card: the value over the window, over the previous period, and a sparkline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    /// requests, error_rate, avg_latency, p95_latency, tokens, cost, active_agents
    pub key: String,
    pub label: String,
    pub unit: Unit,
    /// `None` when undefined (a rate or latency without requests).
    pub value: Option<f64>,
    pub previous: Option<f64>,
    /// One value per step of the window (`None`: no data in that step).
    pub spark: Vec<Option<f64>>,
}

/// An agent's totals over the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentStat {
    pub agent: String,
    pub department: String,
    pub requests: i64,
    pub errors: i64,
    pub cost_usd: f64,
}

/// `GET /api/v1/metrics/home-kpis`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HomeKpis {
    pub window: Window,
    /// When these numbers were computed (they may come from the cache).
    pub generated_at: DateTime<Utc>,
    /// Filters that were ignored (bad values, when the caller asked for `fallback`), in words.
    #[serde(default)]
    pub notices: Vec<String>,
    pub kpis: Vec<Kpi>,
    pub top_by_cost: Vec<AgentStat>,
    pub top_by_errors: Vec<AgentStat>,
}

/// One point of a time series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    pub t: DateTime<Utc>,
    pub requests: i64,
    pub errors: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub avg_latency_ms: Option<f64>,
}

/// `GET /api/v1/metrics/timeseries`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeseries {
    pub window: Window,
    pub points: Vec<SeriesPoint>,
}

/// The values the filter dropdowns offer: what this workspace has actually sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterOptions {
    pub departments: Vec<String>,
    pub environments: Vec<String>,
    pub versions: Vec<String>,
    pub agents: Vec<String>,
    pub models: Vec<String>,
}

/// One group's usage over the window (`GET /api/v1/usage/breakdown`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    /// The department, agent or model.
    pub key: String,
    pub requests: i64,
    pub errors: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub reasoning_tokens: i64,
    pub cost_usd: f64,
}

/// A group's values per chart step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupSeries {
    pub key: String,
    pub requests: Vec<i64>,
    pub tokens: Vec<i64>,
}

/// `GET /api/v1/usage/breakdown`: usage split by `department`, `agent` or `model`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageBreakdown {
    pub window: Window,
    pub by: String,
    /// Every group, most requests first.
    pub rows: Vec<UsageRow>,
    /// The start of each chart step.
    pub steps: Vec<DateTime<Utc>>,
    /// The five largest groups and `other`, per step.
    pub series: Vec<GroupSeries>,
}
