//! Hourly and daily rollups, accumulated from one batch's new spans and trace transitions and
//! added to the tables in the same transaction (see migration 0006 for what the rows mean).

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgConnection;

mod rebuild;
mod slots;
mod tables;

pub use rebuild::{lock_for_writes, rebuild, rebuild_all_totals, rebuild_lock_key};
pub(crate) use slots::{month_start, SLOT_COUNTS};
pub(crate) use tables::week_start;

use super::model::{Dimensions, SpanRecord, SpanStatus, Usage};
use crate::histogram::Histogram;
use crate::tenancy::WorkspaceId;
use crate::Result;
use slots::{
    by_day, by_month, write_agent_slots, AGENT_DAYS_UPSERT, AGENT_ENV_DAYS_UPSERT,
    AGENT_ENV_HOURS_UPSERT, AGENT_HOURS_UPSERT,
};
use tables::{
    by_agent, by_week, without_agents, write_first_seen, write_table, write_totals, Table,
    AGENT_KEY, DETAILED_KEY, SCOPE_KEY,
};

/// One row's key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub bucket: DateTime<Utc>,
    pub department: String,
    pub agent: String,
    pub environment: String,
    pub version: String,
    /// `''` for trace-level measures and spans without a model.
    pub model: String,
}

/// What one batch adds to one row.
#[derive(Clone, Debug, Default)]
pub struct Delta {
    pub traces: i64,
    pub trace_errors: i64,
    pub trace_latency_sum_us: i64,
    pub trace_latency_min_us: Option<i64>,
    pub trace_latency_max_us: Option<i64>,
    pub trace_hist: Histogram,
    pub spans: i64,
    pub span_errors: i64,
    pub tokens: [i64; 5],
    pub cost: f64,
    pub unpriced: i64,
    pub span_latency_sum_us: i64,
    pub span_hist: Histogram,
}

impl Delta {
    /// Adds `other` (exact: sums, min/max, histogram counts).
    pub fn merge(&mut self, other: &Delta) {
        self.traces += other.traces;
        self.trace_errors += other.trace_errors;
        self.trace_latency_sum_us += other.trace_latency_sum_us;
        self.trace_latency_min_us = match (self.trace_latency_min_us, other.trace_latency_min_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.trace_latency_max_us = match (self.trace_latency_max_us, other.trace_latency_max_us) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.trace_hist.merge(&other.trace_hist);
        self.spans += other.spans;
        self.span_errors += other.span_errors;
        for (t, o) in self.tokens.iter_mut().zip(other.tokens) {
            *t += o;
        }
        self.cost += other.cost;
        self.unpriced += other.unpriced;
        self.span_latency_sum_us += other.span_latency_sum_us;
        self.span_hist.merge(&other.span_hist);
    }
}

/// One bucket of the workspace totals: the sum of its rows and the agents active in them.
#[derive(Debug, Default)]
struct Total {
    delta: Delta,
    agents: std::collections::BTreeSet<String>,
}

/// The rows of one table summed per bucket (the `rollup_total_*` rows).
fn totals(rows: &BTreeMap<Key, Delta>) -> BTreeMap<DateTime<Utc>, Total> {
    let mut out: BTreeMap<DateTime<Utc>, Total> = BTreeMap::new();
    for (k, d) in rows {
        let t = out.entry(k.bucket).or_default();
        t.delta.merge(d);
        if d.traces > 0 || d.spans > 0 {
            t.agents.insert(k.agent.clone());
        }
    }
    out
}

/// The rows of a batch per (bucket, department, environment), with the agents active in them
/// (the `rollup_scope_*` rows).
fn by_scope(rows: &BTreeMap<Key, Delta>) -> BTreeMap<Key, Total> {
    let mut out: BTreeMap<Key, Total> = BTreeMap::new();
    for (k, d) in rows {
        let key = Key {
            bucket: k.bucket,
            department: k.department.clone(),
            agent: String::new(),
            environment: k.environment.clone(),
            version: String::new(),
            model: String::new(),
        };
        let t = out.entry(key).or_default();
        t.delta.merge(d);
        if d.traces > 0 || d.spans > 0 {
            t.agents.insert(k.agent.clone());
        }
    }
    out
}

/// What a rollup takes from one span.
pub struct SpanParts<'a> {
    pub start: DateTime<Utc>,
    pub dims: &'a Dimensions,
    pub model: Option<&'a str>,
    pub error: bool,
    pub usage: Usage,
    pub cost: Option<f64>,
    pub duration_us: i64,
}

/// The minute, hourly and daily deltas of a batch (the minute rows serve alert windows under
/// an hour and are kept a few days; see [`MINUTE_ROLLUP_DAYS`]).
#[derive(Debug, Default)]
pub struct Rollups {
    pub minute: BTreeMap<Key, Delta>,
    pub hourly: BTreeMap<Key, Delta>,
    pub daily: BTreeMap<Key, Delta>,
}

/// How long `rollup_minute` keeps its rows (retention trims the older ones).
pub const MINUTE_ROLLUP_DAYS: i64 = 3;

fn key(bucket: DateTime<Utc>, dims: &Dimensions, model: &str) -> Key {
    Key {
        bucket,
        department: dims.department.clone(),
        agent: dims.agent.clone(),
        environment: dims.environment.clone(),
        version: dims.version.clone(),
        model: model.to_owned(),
    }
}

fn buckets(t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    (
        t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t),
        t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t),
        t.duration_trunc(TimeDelta::days(1)).unwrap_or(t),
    )
}

impl Rollups {
    fn both(&mut self, t: DateTime<Utc>, dims: &Dimensions, model: &str, f: impl Fn(&mut Delta)) {
        let (minute, hour, day) = buckets(t);
        f(self.minute.entry(key(minute, dims, model)).or_default());
        f(self.hourly.entry(key(hour, dims, model)).or_default());
        f(self.daily.entry(key(day, dims, model)).or_default());
    }

    /// A newly stored span, with its cost (`None`: unpriced).
    pub fn add_span(&mut self, s: &SpanRecord, cost: Option<f64>) {
        self.add_span_parts(&SpanParts {
            start: s.start_time,
            dims: &s.dims,
            model: s.model.as_deref(),
            error: s.status == SpanStatus::Error,
            usage: s.usage,
            cost,
            duration_us: s.duration_us,
        });
    }

    /// A span, from the columns a rollup needs.
    pub fn add_span_parts(&mut self, s: &SpanParts) {
        let unpriced = crate::cost::is_unpriced(s.cost, s.model, &s.usage);
        self.both(s.start, s.dims, s.model.unwrap_or(""), |d| {
            d.spans += 1;
            d.span_errors += i64::from(s.error);
            for (t, v) in d.tokens.iter_mut().zip(s.usage.as_array()) {
                *t += v;
            }
            d.cost += s.cost.unwrap_or(0.0);
            d.unpriced += i64::from(unpriced);
            d.span_latency_sum_us += s.duration_us;
            d.span_hist.record(s.duration_us.max(0) as u64);
        });
    }

    /// A span re-priced: its cost moved by `cost_delta` and it became priced (`-1`) or
    /// unpriced (`+1`) or neither (`0`).
    pub fn add_cost_change(
        &mut self,
        start: DateTime<Utc>,
        dims: &Dimensions,
        model: &str,
        cost_delta: f64,
        unpriced_delta: i64,
    ) {
        self.both(start, dims, model, |d| {
            d.cost += cost_delta;
            d.unpriced += unpriced_delta;
        });
    }

    /// A trace whose root arrived now (`latency_us`), and/or that became an error trace now.
    pub fn add_trace(
        &mut self,
        start: DateTime<Utc>,
        dims: &Dimensions,
        root_latency_us: Option<i64>,
        became_error: bool,
    ) {
        self.both(start, dims, "", |d| {
            if let Some(l) = root_latency_us {
                d.traces += 1;
                d.trace_latency_sum_us += l;
                d.trace_latency_min_us = Some(d.trace_latency_min_us.map_or(l, |m| m.min(l)));
                d.trace_latency_max_us = Some(d.trace_latency_max_us.map_or(l, |m| m.max(l)));
                d.trace_hist.record(l.max(0) as u64);
            }
            d.trace_errors += i64::from(became_error);
        });
    }

    /// Adds the deltas to the rollups and to the workspace totals. Rows are locked in one
    /// order by every writer (table, then key; the shared rows last), so concurrent batches
    /// never deadlock.
    pub async fn write(self, conn: &mut PgConnection, workspace: WorkspaceId) -> Result<()> {
        self.write_but_shared(conn, workspace)
            .await?
            .write(conn, workspace)
            .await
    }

    /// Writes every rollup but the rows all of a workspace's concurrent batches update (its
    /// scope and total rows of the hour and the day), which it returns for [`Shared::write`]
    /// as the transaction's last statement: a batch holds those rows until its commit, so
    /// whatever it does after them runs one batch at a time.
    pub async fn write_but_shared(
        self,
        conn: &mut PgConnection,
        workspace: WorkspaceId,
    ) -> Result<Shared> {
        let Rollups {
            minute,
            hourly,
            daily,
        } = self;
        let agent_daily = by_agent(&daily);
        let agent = [
            ("rollup_agent_hourly", by_agent(&hourly)),
            ("rollup_agent_weekly", by_week(&agent_daily)),
            ("rollup_agent_daily", agent_daily),
        ];
        let shared = Shared {
            scope: [
                ("rollup_scope_hourly", by_scope(&hourly)),
                ("rollup_scope_daily", by_scope(&daily)),
            ],
            total: [
                ("rollup_total_hourly", totals(&hourly)),
                ("rollup_total_daily", totals(&daily)),
            ],
        };
        let hours: Vec<Key> = hourly.keys().cloned().collect();
        let agent_hours = by_day(&hourly, false);
        let agent_env_hours = by_day(&hourly, true);
        let agent_days = by_month(&daily, false);
        let agent_env_days = by_month(&daily, true);
        for (name, rows) in [
            ("rollup_minute", minute),
            ("rollup_hourly", hourly),
            ("rollup_daily", daily),
        ] {
            let table = Table::new(name, DETAILED_KEY, false);
            write_table(conn, workspace, table, without_agents(rows)).await?;
        }
        for (name, rows) in agent {
            let table = Table::new(name, AGENT_KEY, false);
            write_table(conn, workspace, table, without_agents(rows)).await?;
        }
        write_agent_slots(conn, workspace, &AGENT_HOURS_UPSERT, &agent_hours).await?;
        write_agent_slots(conn, workspace, &AGENT_ENV_HOURS_UPSERT, &agent_env_hours).await?;
        write_agent_slots(conn, workspace, &AGENT_DAYS_UPSERT, &agent_days).await?;
        write_agent_slots(conn, workspace, &AGENT_ENV_DAYS_UPSERT, &agent_env_days).await?;
        write_first_seen(conn, workspace, &hours).await?;
        Ok(shared)
    }
}

/// The rollup rows every concurrent batch of a workspace updates: its scope rows (a
/// department and environment's hour and day) and its total rows (the hour's and the day's).
/// Written last by every writer, in one order (scope, then totals; each in key order).
pub struct Shared {
    scope: [(&'static str, BTreeMap<Key, Total>); 2],
    total: [(&'static str, BTreeMap<DateTime<Utc>, Total>); 2],
}

impl Shared {
    pub async fn write(self, conn: &mut PgConnection, workspace: WorkspaceId) -> Result<()> {
        for (name, rows) in self.scope {
            let table = Table::new(name, SCOPE_KEY, true);
            write_table(conn, workspace, table, rows.into_iter().collect()).await?;
        }
        for (table, rows) in self.total {
            if !rows.is_empty() {
                write_totals(conn, workspace, table, &rows).await?;
            }
        }
        Ok(())
    }
}
