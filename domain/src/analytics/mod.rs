//! The dashboard's numbers, read from the hourly and daily rollups only (never the raw spans).
//!
//! A request's filters resolve to a [`Resolved`] window of whole buckets ending with the
//! current, still-open one (rollups are written in the ingest transaction, so it is exact):
//! `1h` is the previous and the current hour, `24h` the last 24 hourly buckets, `7d` 168;
//! `30d` and `90d` read the daily rollup. `from`/`to` are widened to whole buckets, daily from
//! 30 days up. A chart point is one or more buckets, so that a window has at most
//! [`MAX_POINTS`] of them. The previous period is the same length just before.
//!
//! Without a model filter, requests are traces (their root's latency, error when any span
//! failed). With one, they are that model's calls (spans), so every KPI still means something.
//! Results are cached (cache-aside) under `{domain}:{workspace}:{window and filters}`:
//! the last hour in the hot tier, a day in the warm tier, longer ranges in the cold tier;
//! ingestion drops a workspace's entries when its data changes.

mod activity;
mod cost;
mod home;
mod hours;
mod performance;
mod query;
mod report;
mod sums;
mod usage;
mod window;

pub use cost::TRAILING_DAYS;
pub use home::{filter_options, home, kpis_uncached};
pub use report::{cached, Report};
pub use usage::BREAKDOWNS;
pub use window::{resolve, resolve_lenient, Dims, Resolved, MAX_DAYS, MAX_POINTS};

/// The cache domains of the dashboard's reads (each must be dropped on ingest:
/// [`crate::ingest::invalidate::METRIC_DOMAINS`]).
pub const CACHE_DOMAINS: [&str; 8] = [
    "home",
    "home_kpis",
    "timeseries",
    "filters",
    "usage",
    "cost",
    "performance",
    "activity",
];
