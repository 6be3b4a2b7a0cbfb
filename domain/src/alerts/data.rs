//! What a rule measures, read from the rollups: a window `[from, to)` is covered by minute rows
//! (`rollup_minute`, kept [`MINUTE_ROLLUP_DAYS`]) for its partial hours and hourly rows for the
//! whole hours between, so a 5-minute window is exact to the minute and a 7-day window reads
//! 168 hourly rows per dimension combination. Where minute rows are gone (a leading edge older
//! than they are kept), the hour is counted by the share of it inside the window.
//!
//! One read per workspace and cycle serves every rule: the minute rows of the buckets any rule
//! needs (by primary key) and the hourly rows of the widest window; each rule is then summed in
//! memory. Guardrail and score metrics read their own tables by time index.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use argus_types::{AlertDefinition, AlertMetric, GroupBy};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgConnection;

use super::state::Observation;
use crate::histogram::{Histogram, Stored};
use crate::ingest::rollup::MINUTE_ROLLUP_DAYS;
use crate::tenancy::WorkspaceId;
use crate::Result;

const MINUTE: TimeDelta = TimeDelta::minutes(1);
const HOUR: TimeDelta = TimeDelta::hours(1);

fn floor(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.duration_trunc(d).unwrap_or(t)
}

fn ceil(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    let f = floor(t, d);
    if f == t {
        t
    } else {
        f + d
    }
}

/// The oldest minute bucket the minute rollup still holds at `now`.
pub fn minute_floor(now: DateTime<Utc>) -> DateTime<Utc> {
    floor(now, TimeDelta::days(1)) - TimeDelta::days(MINUTE_ROLLUP_DAYS)
}

/// Which rows cover a window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sources {
    /// Minute buckets (each counted whole).
    pub minutes: Vec<DateTime<Utc>>,
    /// Hour buckets and the share of each counted (1.0 for a whole hour inside the window).
    pub hours: Vec<(DateTime<Utc>, f64)>,
}

/// The rows covering the window from `from` to `to` when minute rows exist from
/// `minute_floor` on. Taken to the minute, and ending with the minute that holds `to` (the one
/// in progress, so a span is seen by the first cycle after it arrives, not a minute later);
/// at an exact minute (the backtest's steps) the window is `[from, to)`.
pub fn sources(from: DateTime<Utc>, to: DateTime<Utc>, minute_floor: DateTime<Utc>) -> Sources {
    let (from, to) = if floor(to, MINUTE) == to {
        (floor(from, MINUTE), to)
    } else {
        (floor(from, MINUTE) + MINUTE, floor(to, MINUTE) + MINUTE)
    };
    let mut out = Sources::default();
    if from >= to {
        return out;
    }
    // The partial hours at each edge go by minutes; the whole hours between by hours.
    let first_whole = ceil(from, HOUR);
    let last_whole = floor(to, HOUR);
    let mut minute_ranges = Vec::new();
    if first_whole >= last_whole && floor(from, HOUR) == floor(to - MINUTE, HOUR) {
        minute_ranges.push((from, to));
    } else {
        if from < first_whole {
            minute_ranges.push((from, first_whole));
        }
        if first_whole < last_whole {
            let mut h = first_whole;
            while h < last_whole {
                out.hours.push((h, 1.0));
                h += HOUR;
            }
        }
        if last_whole < to {
            minute_ranges.push((last_whole.max(from), to));
        }
    }
    for (a, b) in minute_ranges {
        // Before the minute rows' floor: the hour, by the share of it in the window.
        if a < minute_floor {
            let gone_to = b.min(minute_floor);
            let mut h = floor(a, HOUR);
            while h < gone_to {
                let covered = (gone_to.min(h + HOUR) - a.max(h)).num_seconds() as f64;
                if covered > 0.0 {
                    out.hours.push((h, covered / 3600.0));
                }
                h += HOUR;
            }
        }
        let mut m = a.max(minute_floor);
        while m < b {
            out.minutes.push(m);
            m += MINUTE;
        }
    }
    out.hours.sort_by_key(|(h, _)| *h);
    out.minutes.sort();
    out.minutes.dedup();
    out
}

/// One rollup row, as a rule sums it.
#[derive(Clone, Debug)]
pub struct Row {
    pub bucket: DateTime<Utc>,
    pub minute: bool,
    pub department: String,
    pub agent: String,
    pub environment: String,
    pub version: String,
    pub model: String,
    pub traces: i64,
    pub trace_errors: i64,
    pub spans: i64,
    pub span_errors: i64,
    pub tokens: i64,
    pub cost: f64,
    pub trace_hist: Histogram,
    pub span_hist: Histogram,
}

type RawRow = (
    DateTime<Utc>,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    f64,
    Stored,
    Stored,
);

const COLUMNS: &str = "bucket, department, agent, environment, version, model, traces, \
    trace_errors, spans, span_errors, input_tokens + output_tokens, cost_usd::float8, \
    trace_latency_hist, span_latency_hist";

fn row(r: RawRow, minute: bool) -> Row {
    Row {
        bucket: r.0,
        minute,
        department: r.1,
        agent: r.2,
        environment: r.3,
        version: r.4,
        model: r.5,
        traces: r.6,
        trace_errors: r.7,
        spans: r.8,
        span_errors: r.9,
        tokens: r.10,
        cost: r.11,
        trace_hist: r.12 .0,
        span_hist: r.13 .0,
    }
}

/// The rows of `minutes` (minute rollup) and of the hours in `[hours_from, hours_to)`.
pub async fn fetch(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    minutes: &BTreeSet<DateTime<Utc>>,
    hours: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    if !minutes.is_empty() {
        let buckets: Vec<DateTime<Utc>> = minutes.iter().copied().collect();
        let rows: Vec<RawRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM rollup_minute WHERE workspace_id = $1 AND bucket = ANY($2)"
        ))
        .bind(workspace)
        .bind(buckets)
        .fetch_all(&mut *conn)
        .await?;
        out.extend(rows.into_iter().map(|r| row(r, true)));
    }
    if let Some((from, to)) = hours.filter(|(f, t)| f < t) {
        let rows: Vec<RawRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM rollup_hourly WHERE workspace_id = $1 \
             AND bucket >= $2 AND bucket < $3"
        ))
        .bind(workspace)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
        out.extend(rows.into_iter().map(|r| row(r, false)));
    }
    Ok(out)
}

/// One group's sums over a window.
#[derive(Clone, Debug, Default)]
pub struct Sums {
    pub requests: f64,
    pub errors: f64,
    pub tokens: f64,
    pub cost: f64,
    pub hist: Histogram,
}

/// Whether the rule reads span-level measures (a model filter or grouping by model: each LLM
/// call is a request) rather than trace-level ones.
fn by_span(def: &AlertDefinition) -> bool {
    def.filters.model.is_some() || def.group_by == Some(GroupBy::Model)
}

fn group_of(r: &Row, by: Option<GroupBy>) -> &str {
    match by {
        None => "",
        Some(GroupBy::Agent) => &r.agent,
        Some(GroupBy::Department) => &r.department,
        Some(GroupBy::Environment) => &r.environment,
        Some(GroupBy::Version) => &r.version,
        Some(GroupBy::Model) => &r.model,
    }
}

fn matches(r: &Row, def: &AlertDefinition) -> bool {
    let f = &def.filters;
    let is = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
    is(&f.dept, &r.department)
        && is(&f.env, &r.environment)
        && is(&f.version, &r.version)
        && is(&f.agent, &r.agent)
        && is(&f.model, &r.model)
}

/// Sums `rows` for a rule over `src`, per group value.
pub fn sum(rows: &[Row], def: &AlertDefinition, src: &Sources) -> BTreeMap<String, Sums> {
    let minutes: BTreeSet<DateTime<Utc>> = src.minutes.iter().copied().collect();
    let hours: HashMap<DateTime<Utc>, f64> = src.hours.iter().copied().collect();
    let spans = by_span(def);
    let mut out: BTreeMap<String, Sums> = BTreeMap::new();
    for r in rows {
        let weight = if r.minute {
            if minutes.contains(&r.bucket) {
                1.0
            } else {
                continue;
            }
        } else {
            match hours.get(&r.bucket) {
                Some(w) => *w,
                None => continue,
            }
        };
        if !matches(r, def) || (spans && r.model.is_empty()) {
            continue;
        }
        let s = out.entry(group_of(r, def.group_by).to_owned()).or_default();
        s.tokens += r.tokens as f64 * weight;
        s.cost += r.cost * weight;
        if spans {
            s.requests += r.spans as f64 * weight;
            s.errors += r.span_errors as f64 * weight;
            s.hist.merge(&r.span_hist);
        } else if r.model.is_empty() {
            s.requests += r.traces as f64 * weight;
            s.errors += r.trace_errors as f64 * weight;
            s.hist.merge(&r.trace_hist);
        }
    }
    out
}

/// The value of `metric` from a group's sums; `None` when it has none (a rate or a
/// percentile of no requests).
pub fn value(metric: AlertMetric, s: &Sums) -> Option<f64> {
    let q = |q: f64| s.hist.quantile(q).map(|us| us / 1000.0);
    match metric {
        AlertMetric::Requests | AlertMetric::NoData => Some(s.requests.round()),
        AlertMetric::ErrorRate => (s.requests > 0.0).then(|| s.errors * 100.0 / s.requests),
        AlertMetric::LatencyP50 => q(0.50),
        AlertMetric::LatencyP95 => q(0.95),
        AlertMetric::LatencyP99 => q(0.99),
        AlertMetric::Tokens => Some(s.tokens.round()),
        AlertMetric::Cost => Some(s.cost),
        // Read from their own tables ([`counted`]).
        AlertMetric::GuardBlocks
        | AlertMetric::GuardFlags
        | AlertMetric::ScoreAvg
        | AlertMetric::ScoreShare => None,
    }
}

/// What a rule sees in one group: its value compared, or why it cannot be.
pub fn observe(def: &AlertDefinition, value: Option<f64>, n: i64) -> Observation {
    if def.metric == AlertMetric::NoData {
        return if n == 0 {
            Observation::Breach(0.0)
        } else {
            Observation::Clear(Some(n as f64))
        };
    }
    let Some(v) = value else {
        return Observation::NoData;
    };
    if n < def.min_requests {
        return Observation::TooFew {
            value: Some(v),
            n,
            min: def.min_requests,
        };
    }
    if def.op.holds(v, def.threshold) {
        Observation::Breach(v)
    } else {
        Observation::Clear(Some(v))
    }
}

/// A guardrail or score metric over `[from, to)` per group: (value, n).
pub async fn counted(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    def: &AlertDefinition,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BTreeMap<String, (Option<f64>, i64)>> {
    let f = &def.filters;
    let group = |by: Option<GroupBy>| match by {
        None => "''",
        Some(GroupBy::Agent) => "agent",
        Some(GroupBy::Department) => "department",
        Some(GroupBy::Environment) => "environment",
        Some(GroupBy::Version) => "version",
        Some(GroupBy::Model) => "''",
    };
    let rows: Vec<(String, Option<f64>, i64)> = match def.metric {
        AlertMetric::GuardBlocks | AlertMetric::GuardFlags => {
            let action = if def.metric == AlertMetric::GuardBlocks {
                "block"
            } else {
                "flag"
            };
            sqlx::query_as(&format!(
                "SELECT {g} AS g, (count(*) FILTER (WHERE action = $4))::float8, count(*) \
                 FROM guard_decisions WHERE workspace_id = $1 AND at >= $2 AND at < $3 \
                 AND ($5::text IS NULL OR department = $5) AND ($6::text IS NULL OR environment = $6) \
                 AND ($7::text IS NULL OR agent = $7) GROUP BY 1",
                g = group(def.group_by)
            ))
            .bind(workspace)
            .bind(from)
            .bind(to)
            .bind(action)
            .bind(&f.dept)
            .bind(&f.env)
            .bind(&f.agent)
            .fetch_all(&mut *conn)
            .await?
        }
        AlertMetric::ScoreAvg | AlertMetric::ScoreShare => {
            let measure = if def.metric == AlertMetric::ScoreAvg {
                "avg(value)"
            } else {
                "100.0 * (count(*) FILTER (WHERE string_value = $5))::float8 / count(*)"
            };
            sqlx::query_as(&format!(
                "SELECT coalesce({g}, '') AS g, {measure}, count(*) FROM scores \
                 WHERE workspace_id = $1 AND name = $4 AND scored_at >= $2 AND scored_at < $3 \
                 AND ($6::text IS NULL OR department = $6) AND ($7::text IS NULL OR environment = $7) \
                 AND ($8::text IS NULL OR version = $8) AND ($9::text IS NULL OR agent = $9) \
                 GROUP BY 1",
                g = group(def.group_by)
            ))
            .bind(workspace)
            .bind(from)
            .bind(to)
            .bind(def.score_name.as_deref().unwrap_or(""))
            .bind(def.score_label.as_deref().unwrap_or(""))
            .bind(&f.dept)
            .bind(&f.env)
            .bind(&f.version)
            .bind(&f.agent)
            .fetch_all(&mut *conn)
            .await?
        }
        _ => Vec::new(),
    };
    Ok(rows.into_iter().map(|(g, v, n)| (g, (v, n))).collect())
}

/// Whether a guardrail count (a count is a value even when it is zero).
pub fn is_count(metric: AlertMetric) -> bool {
    matches!(
        metric,
        AlertMetric::Requests
            | AlertMetric::Tokens
            | AlertMetric::Cost
            | AlertMetric::GuardBlocks
            | AlertMetric::GuardFlags
            | AlertMetric::NoData
    )
}

/// Whether the metric is read from the rollups (else from its own table).
pub fn from_rollups(metric: AlertMetric) -> bool {
    !matches!(
        metric,
        AlertMetric::GuardBlocks
            | AlertMetric::GuardFlags
            | AlertMetric::ScoreAvg
            | AlertMetric::ScoreShare
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn a_short_window_inside_an_hour_is_all_minutes() {
        let s = sources(
            t("2026-12-01T10:10:30Z"),
            t("2026-12-01T10:15:30Z"),
            t("2026-11-28T00:00:00Z"),
        );
        assert!(s.hours.is_empty());
        assert_eq!(s.minutes.len(), 5);
        // The minute in progress is in; the one the window starts inside is not.
        assert_eq!(s.minutes[0], t("2026-12-01T10:11:00Z"));
        assert_eq!(s.minutes[4], t("2026-12-01T10:15:00Z"));
    }

    #[test]
    fn a_window_across_an_hour_takes_minutes_on_both_sides() {
        let s = sources(
            t("2026-12-01T09:55:00Z"),
            t("2026-12-01T10:05:00Z"),
            t("2026-11-28T00:00:00Z"),
        );
        assert!(s.hours.is_empty());
        assert_eq!(s.minutes.len(), 10);
    }

    #[test]
    fn a_day_is_minutes_whole_hours_minutes() {
        let s = sources(
            t("2026-11-30T10:20:00Z"),
            t("2026-12-01T10:20:00Z"),
            t("2026-11-28T00:00:00Z"),
        );
        assert_eq!(s.minutes.len(), 40 + 20);
        assert_eq!(s.hours.len(), 23);
        assert!(s.hours.iter().all(|(_, w)| *w == 1.0));
    }

    #[test]
    fn an_edge_older_than_the_minutes_counts_its_share_of_the_hour() {
        let s = sources(
            t("2026-11-24T10:15:00Z"),
            t("2026-12-01T10:00:00Z"),
            t("2026-11-28T00:00:00Z"),
        );
        assert!(s.minutes.is_empty());
        assert_eq!(s.hours.first(), Some(&(t("2026-11-24T10:00:00Z"), 0.75)));
        assert_eq!(s.hours.len(), 7 * 24);
    }

    #[test]
    fn an_aligned_hour_is_one_hourly_row() {
        let s = sources(
            t("2026-12-01T09:00:00Z"),
            t("2026-12-01T10:00:00Z"),
            t("2026-11-28T00:00:00Z"),
        );
        assert_eq!(s.hours, vec![(t("2026-12-01T09:00:00Z"), 1.0)]);
        assert!(s.minutes.is_empty());
    }
}
