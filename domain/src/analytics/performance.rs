//! Performance: latency p50/p95/p99 and the error rate over time from merged histograms, the
//! slowest agents and models, and the distribution of latencies over the window.
//!
//! Requests are traces (their root's latency), or a model's calls under a model filter; the
//! slowest models are always ranked by their calls. Quantiles carry the histogram's bound
//! ([`crate::histogram::RELATIVE_ERROR`]).

use std::collections::BTreeMap;

use argus_types::{LatencyBin, LatencyPoint, LatencyStat, Performance};
use chrono::{DateTime, Utc};

use super::query::{
    by_whole_periods, fetch_window, fold_window_and_days, window_and_dims, SCOPE_WINDOW_AND_DIMS,
};
use super::report::Report;
use super::window::Resolved;
use crate::histogram::{bucket_value, Histogram};
use crate::tenancy::WorkspaceId;
use crate::Result;

/// How many of the slowest agents and models are listed.
pub const SLOWEST: usize = 10;

/// The upper bounds (ms) of the distribution's bars; the last bar is everything above.
pub const BIN_EDGES_MS: [f64; 16] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0,
    20_000.0, 30_000.0, 60_000.0,
];

#[derive(sqlx::FromRow)]
struct Row {
    bucket: DateTime<Utc>,
    traces: i64,
    trace_errors: i64,
    trace_latency_sum_us: i64,
    trace_latency_hist: crate::histogram::Stored,
    spans: i64,
    span_errors: i64,
    span_latency_sum_us: i64,
    span_latency_hist: crate::histogram::Stored,
}

/// Requests, errors and latency of a group.
#[derive(Clone, Default)]
struct Latency {
    requests: i64,
    errors: i64,
    sum_us: i64,
    hist: Histogram,
}

impl Latency {
    fn add(&mut self, requests: i64, errors: i64, sum_us: i64, hist: &Histogram) {
        self.requests += requests;
        self.errors += errors;
        self.sum_us += sum_us;
        self.hist.merge(hist);
    }

    /// [`Latency::add`] with the histogram as stored ([`Histogram::add_bytes`]).
    fn add_stored(&mut self, requests: i64, errors: i64, sum_us: i64, hist: &[u8]) {
        self.requests += requests;
        self.errors += errors;
        self.sum_us += sum_us;
        self.hist.add_bytes(hist);
    }

    fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 * 100.0 / self.requests as f64)
    }

    fn ms(&self, q: f64) -> Option<f64> {
        self.hist.quantile(q).map(|us| us / 1000.0)
    }

    fn stat(&self, key: String) -> LatencyStat {
        LatencyStat {
            key,
            requests: self.requests,
            errors: self.errors,
            error_rate: self.error_rate(),
            avg_ms: (self.requests > 0).then(|| self.sum_us as f64 / self.requests as f64 / 1000.0),
            p50_ms: self.ms(0.5),
            p95_ms: self.ms(0.95),
            p99_ms: self.ms(0.99),
        }
    }
}

fn slowest(groups: BTreeMap<String, Latency>) -> Vec<LatencyStat> {
    let mut all: Vec<LatencyStat> = groups
        .into_iter()
        .filter(|(_, l)| l.requests > 0 && !l.hist.is_empty())
        .map(|(k, l)| l.stat(k))
        .collect();
    all.sort_by(|a, b| {
        b.p95_ms
            .unwrap_or(0.0)
            .total_cmp(&a.p95_ms.unwrap_or(0.0))
            .then_with(|| a.key.cmp(&b.key))
    });
    all.truncate(SLOWEST);
    all
}

/// The histogram's counts in the bars of [`BIN_EDGES_MS`], from the first non-empty bar to
/// the last.
fn distribution(hist: &Histogram) -> Vec<LatencyBin> {
    let mut counts = [0_i64; BIN_EDGES_MS.len() + 1];
    for (index, n) in hist.buckets() {
        let ms = bucket_value(index) / 1000.0;
        let bar = BIN_EDGES_MS
            .iter()
            .position(|edge| ms <= *edge)
            .unwrap_or(BIN_EDGES_MS.len());
        counts[bar] += n as i64;
    }
    let first = counts.iter().position(|c| *c > 0);
    let last = counts.iter().rposition(|c| *c > 0);
    let (Some(first), Some(last)) = (first, last) else {
        return Vec::new();
    };
    (first..=last)
        .map(|i| LatencyBin {
            from_ms: if i == 0 { 0.0 } else { BIN_EDGES_MS[i - 1] },
            to_ms: BIN_EDGES_MS.get(i).copied(),
            count: counts[i],
        })
        .collect()
}

/// A row's requests (count, errors, latency sum, histogram): its traces, or its model's calls
/// under a model filter; `None` when it has none. Borrowed: each row's histogram is added to
/// its groups as read, never copied.
fn requests_of(r: &Row, calls: bool) -> Option<(i64, i64, i64, &Histogram)> {
    if calls {
        (r.spans > 0).then_some((
            r.spans,
            r.span_errors,
            r.span_latency_sum_us,
            &r.span_latency_hist.0,
        ))
    } else {
        (r.traces > 0).then_some((
            r.traces,
            r.trace_errors,
            r.trace_latency_sum_us,
            &r.trace_latency_hist.0,
        ))
    }
}

/// Adds a row's requests to a group.
fn add_to(group: &mut Latency, (requests, errors, sum_us, hist): (i64, i64, i64, &Histogram)) {
    group.add(requests, errors, sum_us, hist);
}

/// The group of `key`, created on first use (the key copied only then).
fn group<'m>(groups: &'m mut BTreeMap<String, Latency>, key: &str) -> &'m mut Latency {
    if !groups.contains_key(key) {
        groups.insert(key.to_owned(), Latency::default());
    }
    groups.get_mut(key).expect("inserted above")
}

/// A row's measures before its span histogram.
macro_rules! measures {
    () => {
        "traces, trace_errors, trace_latency_sum_us, trace_latency_hist, spans, span_errors, \
         span_latency_sum_us"
    };
}

/// The columns of a rollup row with a model. A span histogram is read only where the row has a
/// model: a `''` row's (tool and agent spans) is never used — the lists and the chart take
/// traces from those rows, and a model filter leaves only that model's rows — so it is not
/// sent (each is up to a few KB; a 90-day list reads thousands of rows). [`Sums::add`] reads
/// them by position, after `bucket`.
const COLUMNS: &str = concat!(
    "agent, model, ",
    measures!(),
    ", CASE WHEN model <> '' THEN span_latency_hist ELSE ''::bytea END AS span_latency_hist"
);

/// The measures of a row without agent and model (totals, scope): traces only are used.
const TRACE_MEASURES: &str = concat!(measures!(), ", ''::bytea AS span_latency_hist");

/// The window's rows for sums over it (the lists, the distribution) and the range `$9`–`$10`
/// bound with them: on hourly windows the edge hours from the hourly rollup, the whole days
/// from the daily one ([`Resolved::window_whole_days`]; 7 d: ~900 rows instead of ~12,300);
/// on daily windows the edge days from the daily rollup, the whole weeks from the weekly one
/// where it answers ([`Resolved::window_whole_weeks`]; 90 d: ~2,000 rows instead of 7,200).
fn sums_sql(q: &Resolved) -> (String, (DateTime<Utc>, DateTime<Utc>)) {
    let part = |table: &str, from: &str, to: &str| {
        format!(
            "SELECT bucket, {COLUMNS} FROM {table} WHERE {} AND bucket >= {from} AND bucket < {to}",
            window_and_dims(table)
        )
    };
    by_whole_periods(q, part)
}

/// The window's rows per bucket for the chart: the workspace totals without a filter (a row
/// a bucket), the scope rollup under only a department and/or an environment filter (a row a
/// bucket and scope), else the narrowest rollup.
fn steps_sql(q: &Resolved) -> String {
    let measures = TRACE_MEASURES;
    if q.is_unfiltered() {
        return format!(
            "SELECT bucket, '' AS agent, '' AS model, {measures} \
             FROM {} WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3",
            q.total_table()
        );
    }
    if q.reads_scope() {
        return format!(
            "SELECT bucket, '' AS agent, '' AS model, {measures} \
             FROM {} WHERE {SCOPE_WINDOW_AND_DIMS}",
            q.scope_table()
        );
    }
    format!(
        "SELECT bucket, {COLUMNS} FROM {table} WHERE {}",
        window_and_dims(q.table()),
        table = q.table()
    )
}

/// The window's sums, folded row by row as PostgreSQL sends them.
struct Sums {
    /// Requests of the lists: traces, or a model's calls under a model filter.
    calls: bool,
    agents: BTreeMap<String, Latency>,
    models: BTreeMap<String, Latency>,
    /// The chart's steps, when the same rows answer it (no separate read).
    steps: Option<Vec<Latency>>,
}

impl Sums {
    /// Adds one row of [`sums_sql`] ([`COLUMNS`] after `bucket`, read by position): its
    /// histograms are added from the bytes as received, never decoded into a row of their own.
    fn add(&mut self, q: &Resolved, row: &sqlx::postgres::PgRow) -> Result<(), sqlx::Error> {
        use sqlx::Row as _;
        let model: &str = row.try_get(2)?;
        let spans: i64 = row.try_get(7)?;
        let span_hist: &[u8] = row.try_get(10)?;
        let span_measures = || -> Result<_, sqlx::Error> {
            Ok((spans, row.try_get::<i64, _>(8)?, row.try_get::<i64, _>(9)?))
        };
        if !model.is_empty() && spans > 0 {
            let (n, errors, sum_us) = span_measures()?;
            group(&mut self.models, model).add_stored(n, errors, sum_us, span_hist);
        }
        let (n, errors, sum_us, hist) = if self.calls {
            let (n, errors, sum_us) = span_measures()?;
            (n, errors, sum_us, span_hist)
        } else {
            (
                row.try_get::<i64, _>(3)?,
                row.try_get::<i64, _>(4)?,
                row.try_get::<i64, _>(5)?,
                row.try_get::<&[u8], _>(6)?,
            )
        };
        if n <= 0 {
            return Ok(());
        }
        let agent: &str = row.try_get(1)?;
        group(&mut self.agents, agent).add_stored(n, errors, sum_us, hist);
        if let Some(steps) = &mut self.steps {
            let bucket: DateTime<Utc> = row.try_get(0)?;
            if let Some(step) = q.step_of(bucket).and_then(|i| steps.get_mut(i)) {
                step.add_stored(n, errors, sum_us, hist);
            }
        }
        Ok(())
    }
}

/// The performance report for the caller's filters, uncached.
async fn performance_uncached(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
) -> Result<Performance> {
    let (sums_sql, days) = sums_sql(q);
    let calls = q.dims.model.is_some();
    // The window's rows (whole days as daily rows) for the lists and the distribution, and
    // its rows per bucket for the chart: two reads at once — or one, when the window has no
    // whole days to gain and no totals or scope rows answer the chart (its rows serve both).
    let chart_apart = days.0 != days.1 || q.is_unfiltered() || q.reads_scope();
    let sums = Sums {
        calls,
        agents: BTreeMap::new(),
        models: BTreeMap::new(),
        steps: (!chart_apart).then(|| vec![Latency::default(); q.points()]),
    };
    let read_sums = fold_window_and_days(pool, workspace, &sums_sql, q, days, sums, |sums, row| {
        sums.add(q, row)
    });
    let (sums, step_rows) = if chart_apart {
        let steps_sql = steps_sql(q);
        let (sums, rows) = tokio::try_join!(
            read_sums,
            fetch_window::<Row>(pool, workspace, &steps_sql, (q.from, q.to), &q.dims),
        )?;
        (sums, rows)
    } else {
        (read_sums.await?, Vec::new())
    };
    let Sums {
        agents,
        models,
        steps,
        ..
    } = sums;
    let steps = steps.unwrap_or_else(|| {
        let mut steps = vec![Latency::default(); q.points()];
        for r in &step_rows {
            if let (Some(this), Some(step)) = (
                requests_of(r, calls),
                q.step_of(r.bucket).and_then(|i| steps.get_mut(i)),
            ) {
                add_to(step, this);
            }
        }
        steps
    });
    // Every row with requests went to its agent's group: the whole is their sum.
    let mut overall = Latency::default();
    for a in agents.values() {
        overall.add(a.requests, a.errors, a.sum_us, &a.hist);
    }
    Ok(Performance {
        window: q.window(),
        generated_at: Utc::now(),
        notices: Vec::new(),
        points: steps
            .iter()
            .zip(q.steps())
            .map(|(s, t)| LatencyPoint {
                t,
                requests: s.requests,
                errors: s.errors,
                error_rate: s.error_rate(),
                p50_ms: s.ms(0.5),
                p95_ms: s.ms(0.95),
                p99_ms: s.ms(0.99),
            })
            .collect(),
        distribution: distribution(&overall.hist),
        overall: overall.stat(if calls { "calls" } else { "requests" }.into()),
        slowest_agents: slowest(agents),
        slowest_models: slowest(models),
    })
}

impl Report for Performance {
    const DOMAIN: &'static str = "performance";
    type Args = ();

    fn read(
        pool: &sqlx::PgPool,
        workspace: WorkspaceId,
        q: &Resolved,
        _: &(),
    ) -> impl std::future::Future<Output = Result<Self>> + Send {
        performance_uncached(pool, workspace, q)
    }
}
