//! The dashboard's query API: filters, KPIs, series and breakdowns (read from the rollups).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The time window a response covers: whole buckets of the rollup it read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Count,
    Percent,
    Ms,
    Tokens,
    Usd,
    /// A plain number with decimals (a score's mean).
    Number,
}

/// One KPI card: the value over the window, over the previous period, and a sparkline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentStat {
    pub agent: String,
    pub department: String,
    pub requests: i64,
    pub errors: i64,
    pub cost_usd: f64,
}

/// `GET /api/v1/metrics/home-kpis`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Timeseries {
    pub window: Window,
    pub points: Vec<SeriesPoint>,
}

/// The values the filter dropdowns offer: what this workspace has actually sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FilterOptions {
    pub departments: Vec<String>,
    pub environments: Vec<String>,
    pub versions: Vec<String>,
    pub agents: Vec<String>,
    pub models: Vec<String>,
}

/// One group's usage over the window (`GET /api/v1/usage/breakdown`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GroupSeries {
    pub key: String,
    pub requests: Vec<i64>,
    pub tokens: Vec<i64>,
}

/// `GET /api/v1/usage/breakdown`: usage split by `department`, `agent` or `model`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

/// One group's cost over the window (`GET /api/v1/cost/breakdown`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CostRow {
    /// The department, agent or model.
    pub key: String,
    /// Requests (traces; a model's calls when grouped by model).
    pub requests: i64,
    pub cost_usd: f64,
    /// `cost_usd` per 1,000 requests; `None` without requests.
    pub per_1k_requests: Option<f64>,
    /// Spans with tokens and no price (their cost is missing from `cost_usd`).
    pub unpriced_spans: i64,
}

/// A department's month so far and where it is heading.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MonthProjection {
    pub department: String,
    /// Cost from the first of the month (UTC) until now.
    pub month_to_date_usd: f64,
    /// The average daily cost of the trailing days (see [`CostReport::projection_method`]).
    pub daily_rate_usd: f64,
    /// `month_to_date_usd + daily_rate_usd × days left`.
    pub projected_usd: f64,
}

/// `GET /api/v1/cost/breakdown`: cost over time stacked by department, cost by department,
/// model and agent with cost per 1,000 requests, and the month-to-date with a projection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CostReport {
    pub window: Window,
    pub generated_at: DateTime<Utc>,
    #[serde(default)]
    pub notices: Vec<String>,
    pub total_usd: f64,
    pub previous_usd: f64,
    /// Traces in the window (model calls with a model filter).
    pub requests: i64,
    pub per_1k_requests: Option<f64>,
    /// The start of each chart step.
    pub steps: Vec<DateTime<Utc>>,
    /// The five costliest departments and `other`, per step.
    pub series: Vec<CostSeries>,
    pub by_department: Vec<CostRow>,
    pub by_model: Vec<CostRow>,
    pub by_agent: Vec<CostRow>,
    /// The calendar month (UTC) the projection is for, e.g. `2026-11`.
    pub month: String,
    /// How `projected_usd` is computed, in words.
    pub projection_method: String,
    /// Per department, costliest first; the range filter does not apply (the month does).
    pub projections: Vec<MonthProjection>,
}

/// A group's cost per chart step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CostSeries {
    pub key: String,
    pub values: Vec<f64>,
}

/// Latency and errors in one chart step, from merged histograms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LatencyPoint {
    pub t: DateTime<Utc>,
    pub requests: i64,
    pub errors: i64,
    pub error_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// A group's latency over the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LatencyStat {
    /// The agent or model.
    pub key: String,
    pub requests: i64,
    pub errors: i64,
    pub error_rate: Option<f64>,
    pub avg_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// One bar of the latency distribution: requests with latency in `(from_ms, to_ms]`
/// (`to_ms = None`: above `from_ms`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LatencyBin {
    pub from_ms: f64,
    pub to_ms: Option<f64>,
    pub count: i64,
}

/// `GET /api/v1/performance/latency`: p50/p95/p99 and the error rate over time, the slowest
/// agents and models, and the distribution of latencies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Performance {
    pub window: Window,
    pub generated_at: DateTime<Utc>,
    #[serde(default)]
    pub notices: Vec<String>,
    /// The whole window.
    pub overall: LatencyStat,
    pub points: Vec<LatencyPoint>,
    /// By p95, slowest first (at most 10). Agents' requests are traces.
    pub slowest_agents: Vec<LatencyStat>,
    /// By p95, slowest first (at most 10); a model's requests are its calls.
    pub slowest_models: Vec<LatencyStat>,
    pub distribution: Vec<LatencyBin>,
}

/// Something notable in the data (`GET /api/v1/activity`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ActivityEvent {
    /// The hour (or day, on ranges read from the daily rollup) it happened in.
    pub at: DateTime<Utc>,
    /// `new_agent`, `new_model`, `new_version`, `error_spike` or `cost_spike`.
    pub kind: String,
    /// The agent it concerns (empty for a new model).
    pub agent: String,
    /// The model or version it concerns, when it is about one.
    pub subject: String,
    /// In words, e.g. "Error rate 42 % (12 of 28) against 3.1 % over the range".
    pub message: String,
}

/// `GET /api/v1/activity`, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Activity {
    pub window: Window,
    pub generated_at: DateTime<Utc>,
    pub events: Vec<ActivityEvent>,
}

/// `GET /api/v1/metrics/home`: what the home page shows, in one response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Home {
    pub kpis: HomeKpis,
    pub series: Timeseries,
    pub activity: Activity,
}
