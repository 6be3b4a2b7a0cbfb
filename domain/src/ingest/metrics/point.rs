//! What a GenAI metric point becomes: its kind, series, time and increments.

use crate::ingest::model::Dimensions;

pub const TOKEN_USAGE: &str = "gen_ai.client.token.usage";
pub const OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// The largest count (calls, bucket) one data point may carry.
pub const MAX_COUNT: u64 = 1_000_000_000_000;
/// The largest duration sum one data point may carry (about 31 years of calls).
pub(super) const MAX_DURATION_SUM_US: f64 = 1e15;

/// What a point measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    InputTokens,
    OutputTokens,
    /// Seconds (or milliseconds when the unit says `ms`) per call.
    Duration {
        micros_per_unit: f64,
    },
}

/// One GenAI histogram point, mapped.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub series: i64,
    pub kind: Kind,
    pub dims: Dimensions,
    pub model: String,
    pub provider: String,
    pub operation: String,
    pub error: bool,
    pub cumulative: bool,
    pub start_ns: i64,
    pub time_ns: i64,
    pub count: u64,
    pub sum: f64,
    /// A representative value (in the metric's unit) and a count per OTLP bucket.
    pub bucket_values: Vec<f64>,
    pub bucket_counts: Vec<u64>,
    /// What identifies the buckets (explicit bounds; or scale, offset and length): points of
    /// one series are subtracted bucket by bucket only under the same layout.
    pub bucket_layout: Vec<f64>,
}

/// What a request maps to.
#[derive(Debug, Default)]
pub struct Mapped {
    pub points: Vec<Point>,
    /// Data points of other metrics (accepted, not stored).
    pub ignored: usize,
    pub rejected: Vec<String>,
}
