//! Datasets and experiments: items to run an agent on (input, expected output, metadata), and
//! runs of it whose traces' scores are compared run against run, item by item.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ComparedScore, PageMeta, ScoreType};

/// A named list of items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Dataset {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub items: i64,
    /// Experiment runs over it.
    pub runs: i64,
    pub created_at: DateTime<Utc>,
}

/// One item: what to give the agent and what it should answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DatasetItem {
    pub id: Uuid,
    pub dataset_id: Uuid,
    /// A plain string, or JSON (chat messages, an object) as text.
    pub input: String,
    pub expected_output: Option<String>,
    /// A JSON object.
    pub metadata: serde_json::Value,
    /// The trace it was made from, if any.
    pub source_trace_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A page of a dataset's items, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DatasetItemPage {
    pub data: Vec<DatasetItem>,
    pub meta: PageMeta,
}

/// A line of an upload that was refused, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LineError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

/// What an upload or an "add traces" did: items created, items already there (same id, or
/// the same source trace), and the lines refused.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ItemsAdded {
    pub created: usize,
    pub duplicates: usize,
    pub errors: Vec<LineError>,
}

/// One score of a run (its traces' latest score per name), summed up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RunScore {
    pub name: String,
    pub data_type: ScoreType,
    pub n: i64,
    /// The mean (booleans: the share true).
    pub mean: Option<f64>,
}

/// A run of an agent over a dataset: the traces linked to its items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExperimentRun {
    pub id: Uuid,
    pub dataset_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Items linked to a trace.
    pub linked: i64,
    /// Of those, traces stored so far.
    pub arrived: i64,
    pub errors: i64,
    pub mean_latency_ms: Option<f64>,
    pub cost_usd: f64,
    pub scores: Vec<RunScore>,
}

/// One run's trace for an item, as the comparison shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RunCell {
    pub trace_id: String,
    /// False until the trace is stored.
    pub arrived: bool,
    pub error: bool,
    pub latency_ms: Option<f64>,
    pub cost_usd: Option<f64>,
    /// The trace's latest value per score name (its spans' included): `name → value` as a
    /// person reads it, with the number where there is one.
    pub scores: Vec<CellScore>,
}

/// A score in a comparison cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CellScore {
    pub name: String,
    pub value: Option<f64>,
    pub label: Option<String>,
}

/// One dataset item across two runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ComparedItem {
    pub item_id: Uuid,
    /// Cut to 300 characters.
    pub input: String,
    pub expected_output: Option<String>,
    pub a: Option<RunCell>,
    pub b: Option<RunCell>,
}

/// Per score: on how many items both runs have a number, and on how many B did better,
/// worse or the same as A (by the config's direction; higher is better without one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PairedScore {
    pub name: String,
    pub pairs: i64,
    pub better: i64,
    pub worse: i64,
    pub same: i64,
    /// The mean of B − A over the pairs.
    pub mean_delta: Option<f64>,
}

/// Two runs of a dataset: score by score (with Welch's t or a two-proportion z-test), item by
/// item (a page of items), and paired wins and losses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RunComparison {
    pub dataset_id: Uuid,
    pub a: ExperimentRun,
    pub b: ExperimentRun,
    pub scores: Vec<ComparedScore>,
    pub paired: Vec<PairedScore>,
    pub items: Vec<ComparedItem>,
    pub meta: PageMeta,
}
