//! Evaluations on the wire: scores, the score configs that define them, and their pages.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::CursorMeta;

/// What kind of value a score holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ScoreType {
    /// A number (`value`), optionally with a label the evaluator gave it.
    Numeric,
    /// True or false: `value` 1 or 0, `string_value` `"true"` or `"false"`.
    Boolean,
    /// A label (`string_value`) from a set; `value` is the category's number, if it has one.
    Categorical,
    /// Free text (`string_value`): a reviewer's comment.
    Text,
}

impl ScoreType {
    pub const ALL: [ScoreType; 4] = [
        ScoreType::Numeric,
        ScoreType::Boolean,
        ScoreType::Categorical,
        ScoreType::Text,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ScoreType::Numeric => "numeric",
            ScoreType::Boolean => "boolean",
            ScoreType::Categorical => "categorical",
            ScoreType::Text => "text",
        }
    }

    pub fn parse(s: &str) -> Option<ScoreType> {
        let s = s.trim();
        ScoreType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for ScoreType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a score came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ScoreSource {
    /// `POST /api/v1/evaluate/scores`.
    Api,
    /// A member, on a trace, span or session page or in an annotation queue.
    Annotation,
    /// An online evaluator of the workspace.
    Evaluator,
    /// A `gen_ai.evaluation.result` event (a span event or an OTLP log record).
    Otel,
}

impl ScoreSource {
    pub const ALL: [ScoreSource; 4] = [
        ScoreSource::Api,
        ScoreSource::Annotation,
        ScoreSource::Evaluator,
        ScoreSource::Otel,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ScoreSource::Api => "api",
            ScoreSource::Annotation => "annotation",
            ScoreSource::Evaluator => "evaluator",
            ScoreSource::Otel => "otel",
        }
    }

    pub fn parse(s: &str) -> Option<ScoreSource> {
        let s = s.trim();
        ScoreSource::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for ScoreSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One category of a categorical config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Category {
    pub label: String,
    /// The number the label stands for, if it has one (averages and charts use it).
    pub value: Option<f64>,
}

/// A workspace's definition of one score name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScoreConfig {
    pub id: Uuid,
    pub name: String,
    pub data_type: ScoreType,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    #[serde(default)]
    pub categories: Vec<Category>,
    /// Which direction is better; `None` when neither is.
    pub higher_is_better: Option<bool>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it was archived (it then checks no new score; old scores keep it).
    pub archived_at: Option<DateTime<Utc>>,
}

/// Who or what produced a score.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScoreAuthor {
    pub user_id: Option<Uuid>,
    /// The reviewer's email, when a member scored it.
    pub user_email: Option<String>,
    pub api_key_id: Option<Uuid>,
    pub evaluator_id: Option<Uuid>,
    pub evaluator_version: Option<i32>,
    pub judge_model: Option<String>,
}

/// One stored score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Score {
    pub id: Uuid,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub session_id: Option<String>,
    pub name: String,
    pub data_type: ScoreType,
    pub value: Option<f64>,
    pub string_value: Option<String>,
    pub explanation: Option<String>,
    pub source: ScoreSource,
    pub author: ScoreAuthor,
    pub config_id: Option<Uuid>,
    pub agent: Option<String>,
    pub version: Option<String>,
    pub environment: Option<String>,
    pub scored_at: DateTime<Utc>,
}

impl Score {
    /// The value as a person reads it: `0.82 (relevant)`, `true`, `good`, or the text.
    pub fn display_value(&self) -> String {
        match (self.data_type, self.value, self.string_value.as_deref()) {
            (ScoreType::Numeric, Some(v), Some(label)) => format!("{} ({label})", number(v)),
            (ScoreType::Numeric, Some(v), None) => number(v),
            (_, _, Some(text)) => text.to_owned(),
            (_, Some(v), None) => number(v),
            (_, None, None) => String::new(),
        }
    }
}

fn number(v: f64) -> String {
    let rounded = (v * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

/// What a list of scores is narrowed to, beyond the dashboard's [`crate::Filters`], as query
/// parameters (blank is unset).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScoreFilters {
    /// A trace (32 hex digits, or the native API's own id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// A span of `trace_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The score's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `api`, `annotation`, `evaluator` or `otel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// An opaque position from a previous page's `next_cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Up to 500 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// A page of scores, newest first (the cursor page shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScorePage {
    pub data: Vec<Score>,
    pub meta: CursorMeta,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in ScoreType::ALL {
            assert_eq!(ScoreType::parse(t.as_str()), Some(t));
        }
        for s in ScoreSource::ALL {
            assert_eq!(ScoreSource::parse(s.as_str()), Some(s));
        }
        assert_eq!(ScoreType::parse(" Numeric "), Some(ScoreType::Numeric));
        assert_eq!(ScoreType::parse("float"), None);
    }
}

/// A label's count (categorical and boolean scores).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LabelCount {
    pub label: String,
    pub count: i64,
}

/// A set of scores summed up from the rollups.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScoreStat {
    pub n: i64,
    /// Over the scores with a number (a boolean's 1 or 0: the share of true).
    pub mean: Option<f64>,
    /// The sample standard deviation (two or more numbers).
    pub sd: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Counts per label, most frequent first (categorical and boolean).
    pub labels: Vec<LabelCount>,
}

/// One group of a summary (a version, an agent, an environment).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScoreGroup {
    /// The group's value ('' when the scored trace had not arrived when the score was stored).
    pub key: String,
    pub stat: ScoreStat,
}

/// One bin of a numeric score's histogram: the scores in [lo, hi) (see `evals::histogram` for
/// which edge is closed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HistBin {
    pub lo: f64,
    pub hi: f64,
    pub count: i64,
}

/// One score name over a window: overall and per group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScoreSummary {
    pub name: String,
    pub data_type: ScoreType,
    pub higher_is_better: Option<bool>,
    pub overall: ScoreStat,
    pub groups: Vec<ScoreGroup>,
    /// Numeric scores: how the numbers spread, from the first non-empty bin to the last
    /// (merged from the rollups; empty for other types).
    #[serde(default)]
    pub histogram: Vec<HistBin>,
    /// Numeric scores: the median, estimated from the histogram (within a bin's width).
    #[serde(default)]
    pub p50: Option<f64>,
}

/// Every score name's summary over the window, grouped by `by`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScoreSummaries {
    /// `version`, `agent` or `environment`.
    pub by: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub scores: Vec<ScoreSummary>,
}

/// A significance test of two groups' scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Significance {
    /// `welch_t` (numbers) or `two_proportion_z` (booleans).
    pub method: String,
    pub statistic: f64,
    pub p_value: f64,
    /// p < 0.05.
    pub significant: bool,
}

/// One score name compared between two versions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ComparedScore {
    pub name: String,
    pub data_type: ScoreType,
    pub higher_is_better: Option<bool>,
    pub a: ScoreStat,
    pub b: ScoreStat,
    /// None when a side has too few scores (two numbers each; one boolean each).
    pub test: Option<Significance>,
}

/// Two versions of an agent, score by score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VersionComparison {
    pub agent: Option<String>,
    pub a: String,
    pub b: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub scores: Vec<ComparedScore>,
}

/// How far reviewers are through an annotation queue.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct QueueProgress {
    pub items: i64,
    /// Items at least one reviewer scored.
    pub reviewed: i64,
    /// Items two or more reviewers scored (their agreement is measured).
    pub reviewed_twice: i64,
    /// The asking member's own done and skipped items.
    pub mine_done: i64,
    pub mine_skipped: i64,
}

/// How much two reviewers of the same items agree on one score: Cohen's κ for categorical and
/// boolean scores, the mean absolute difference for numeric ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Agreement {
    pub name: String,
    pub data_type: ScoreType,
    /// Items two reviewers scored (the first two, by time).
    pub pairs: i64,
    /// The share of pairs that agree exactly.
    pub observed: Option<f64>,
    pub kappa: Option<f64>,
    pub mean_abs_diff: Option<f64>,
}

/// A queue of traces for people to score against a set of configs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AnnotationQueue {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// The trace list's filters it was filled from (a query string).
    pub filter: String,
    pub sampling: f64,
    /// The score configs (by name) a reviewer fills for each item.
    pub config_names: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub progress: QueueProgress,
    pub agreement: Vec<Agreement>,
}

/// The next item of a queue for one reviewer: the trace to read and the configs to fill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct QueueItem {
    pub queue_id: Uuid,
    pub queue_name: String,
    pub trace_id: String,
    pub agent: String,
    pub start_time: DateTime<Utc>,
    pub latency_ms: f64,
    pub input: Option<String>,
    pub output: Option<String>,
    /// The live configs of the queue's names (an archived name with no live config is left out).
    pub configs: Vec<ScoreConfig>,
    /// Items left for this reviewer, this one included.
    pub remaining: i64,
}

/// One group's line in a score's trend: the mean (booleans: the share true) per step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrendSeries {
    /// The version, agent or environment (`""`: unknown).
    pub key: String,
    /// Per step; `None` where it had no valued score.
    pub values: Vec<Option<f64>>,
    pub n: i64,
}

/// A score's mean over the window, step by step, per group (the busiest six).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScoreTrend {
    pub name: String,
    pub data_type: ScoreType,
    pub steps: Vec<DateTime<Utc>>,
    pub step_seconds: i64,
    pub series: Vec<TrendSeries>,
}
