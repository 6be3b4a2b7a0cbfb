//! Workspace prices, models without a price, and the recomputations a price change starts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A workspace's own price for a model, USD per million tokens. It wins over the catalog;
/// a cost sent on the span wins over both.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WorkspacePrice {
    pub model: String,
    pub input: f64,
    pub output: f64,
    /// Cache-read input; the input price when absent.
    pub cached_input: Option<f64>,
    /// Cache-creation input; the input price when absent.
    pub cache_write: Option<f64>,
    pub updated_at: DateTime<Utc>,
}

/// A model seen with tokens but no price (from the daily rollups).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UnpricedModel {
    pub model: String,
    /// Spans of it with tokens and no cost.
    pub spans: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// The last day it was seen (UTC).
    pub last_seen: DateTime<Utc>,
}

/// A background re-pricing of past spans after a price change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PriceJob {
    pub id: Uuid,
    pub model: String,
    pub status: crate::JobStatus,
    pub spans_updated: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/prices`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Prices {
    pub workspace: Vec<WorkspacePrice>,
    pub unpriced: Vec<UnpricedModel>,
    /// The latest recomputations, newest first.
    pub jobs: Vec<PriceJob>,
    /// The catalog's version (`domain/data/prices.json`).
    pub catalog_version: String,
}
