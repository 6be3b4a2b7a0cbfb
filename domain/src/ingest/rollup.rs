//! Hourly and daily rollups, accumulated from one batch's new spans and trace transitions and
//! added to the tables in the same transaction (see migration 0006 for what the rows mean).

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgConnection;

use super::model::{Dimensions, SpanRecord, SpanStatus, Usage};
use crate::db::column;
use crate::histogram::Histogram;
use crate::tenancy::WorkspaceId;
use crate::Result;

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

/// One agent's counts over a period in slots (a `rollup_agent_hours` row, migration 0033: a
/// UTC day of 24 hours, or a `rollup_agent_env_hours` one, 0038: the same in one environment;
/// a `rollup_agent_days` row, migration 0036: a UTC month of 31 days, the days a month lacks
/// left 0): entry `i` is the `i`-th slot after the period's start.
#[derive(Debug)]
struct Slots<const N: usize> {
    traces: [i64; N],
    trace_errors: [i64; N],
    spans: [i64; N],
    input_tokens: [i64; N],
    output_tokens: [i64; N],
    cache_read_tokens: [i64; N],
    reasoning_tokens: [i64; N],
    cost: [f64; N],
}

impl<const N: usize> Default for Slots<N> {
    fn default() -> Self {
        Slots {
            traces: [0; N],
            trace_errors: [0; N],
            spans: [0; N],
            input_tokens: [0; N],
            output_tokens: [0; N],
            cache_read_tokens: [0; N],
            reasoning_tokens: [0; N],
            cost: [0.0; N],
        }
    }
}

impl<const N: usize> Slots<N> {
    fn add(&mut self, i: usize, d: &Delta) {
        let i = i.min(N - 1);
        self.traces[i] += d.traces;
        self.trace_errors[i] += d.trace_errors;
        self.spans[i] += d.spans;
        self.input_tokens[i] += d.tokens[0];
        self.output_tokens[i] += d.tokens[1];
        self.cache_read_tokens[i] += d.tokens[2];
        self.reasoning_tokens[i] += d.tokens[4];
        self.cost[i] += d.cost;
    }
}

/// The count columns of the agents' slot tables (`rollup_agent_hours|days`), in the order
/// [`write_agent_slots`] binds them; `cost_usd` (float8[]) follows.
pub(crate) const SLOT_COUNTS: [&str; 7] = [
    "traces",
    "trace_errors",
    "spans",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
];

/// A period's row key: (period start, department, environment, agent); the environment is
/// `''` in the tables without one.
type SlotKey = (DateTime<Utc>, String, String, String);

/// The hourly rows of a batch as days of agents' hours, per environment or not.
fn by_day(rows: &BTreeMap<Key, Delta>, by_env: bool) -> BTreeMap<SlotKey, Slots<24>> {
    let mut out: BTreeMap<SlotKey, Slots<24>> = BTreeMap::new();
    for (k, d) in rows {
        let day = k
            .bucket
            .duration_trunc(TimeDelta::days(1))
            .unwrap_or(k.bucket);
        let h = (k.bucket - day).num_hours().max(0) as usize;
        let env = if by_env { k.environment.as_str() } else { "" };
        out.entry((day, k.department.clone(), env.to_owned(), k.agent.clone()))
            .or_default()
            .add(h, d);
    }
    out
}

/// The first UTC midnight of the month holding `t`.
pub(crate) fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Datelike;
    let date = t.date_naive();
    date.with_day(1)
        .unwrap_or(date)
        .and_hms_opt(0, 0, 0)
        .map_or(t, |m| m.and_utc())
}

/// The daily rows of a batch as months of agents' days.
fn by_month(rows: &BTreeMap<Key, Delta>, by_env: bool) -> BTreeMap<SlotKey, Slots<31>> {
    use chrono::Datelike;
    let mut out: BTreeMap<SlotKey, Slots<31>> = BTreeMap::new();
    for (k, d) in rows {
        let day = k.bucket.day0() as usize;
        let env = if by_env { k.environment.as_str() } else { "" };
        let key = (
            month_start(k.bucket),
            k.department.clone(),
            env.to_owned(),
            k.agent.clone(),
        );
        out.entry(key).or_default().add(day, d);
    }
    out
}

/// [`write_agent_slots`]'s statement for `table` with `n` slots a row, keyed by environment
/// or not: `$2`–`$5` the rows' keys (period, department, environment, agent; the environment
/// unused without one), `$6`–`$13` one flat array per measure (row `i`'s slots at
/// `(i - 1) * n + 1 … i * n`).
fn agent_slots_upsert(table: &str, n: usize, by_env: bool) -> String {
    let slice = |p: usize, ty: &str| format!("(${p}::{ty}[])[(k.i - 1) * {n} + 1 : k.i * {n}]");
    let counts = SLOT_COUNTS;
    let values: Vec<String> = (6..13)
        .map(|p| slice(p, "int8"))
        .chain([slice(13, "float8")])
        .collect();
    let merges: Vec<String> = counts
        .iter()
        .map(|c| format!("{c} = argus_add_bigints(r.{c}, excluded.{c})"))
        .chain(["cost_usd = argus_add_float8s(r.cost_usd, excluded.cost_usd)".to_owned()])
        .collect();
    let key = if by_env {
        "bucket, department, environment, agent"
    } else {
        "bucket, department, agent"
    };
    format!(
        "INSERT INTO {table} AS r (workspace_id, {key}, {}, cost_usd) \
         SELECT $1, {}, {} \
         FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY \
           AS k(bucket, department, environment, agent, i) \
         ORDER BY k.i \
         ON CONFLICT (workspace_id, {key}) DO UPDATE SET {}",
        counts.join(", "),
        key.split(", ")
            .map(|c| format!("k.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
        values.join(", "),
        merges.join(", "),
    )
}

static AGENT_HOURS_UPSERT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| agent_slots_upsert("rollup_agent_hours", 24, false));
static AGENT_ENV_HOURS_UPSERT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| agent_slots_upsert("rollup_agent_env_hours", 24, true));
static AGENT_DAYS_UPSERT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| agent_slots_upsert("rollup_agent_days", 31, false));
static AGENT_ENV_DAYS_UPSERT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| agent_slots_upsert("rollup_agent_env_days", 31, true));

/// Adds a batch's periods of agents' slots with `upsert` (one of the statements above): one
/// upsert, rows in key order (as every writer locks them), each row's slots a slice of one
/// flat array per measure; a stored row takes the batch's slots added element by element.
async fn write_agent_slots<const N: usize>(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    upsert: &str,
    rows: &BTreeMap<SlotKey, Slots<N>>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    fn flat<T: Copy, const N: usize>(
        rows: &BTreeMap<SlotKey, Slots<N>>,
        f: impl Fn(&Slots<N>) -> &[T; N],
    ) -> Vec<T> {
        rows.values().flat_map(|h| f(h).iter().copied()).collect()
    }
    sqlx::query(upsert)
        .bind(workspace)
        .bind(rows.keys().map(|k| k.0).collect::<Vec<_>>())
        .bind(rows.keys().map(|k| k.1.clone()).collect::<Vec<_>>())
        .bind(rows.keys().map(|k| k.2.clone()).collect::<Vec<_>>())
        .bind(rows.keys().map(|k| k.3.clone()).collect::<Vec<_>>())
        .bind(flat(rows, |h| &h.traces))
        .bind(flat(rows, |h| &h.trace_errors))
        .bind(flat(rows, |h| &h.spans))
        .bind(flat(rows, |h| &h.input_tokens))
        .bind(flat(rows, |h| &h.output_tokens))
        .bind(flat(rows, |h| &h.cache_read_tokens))
        .bind(flat(rows, |h| &h.reasoning_tokens))
        .bind(flat(rows, |h| &h.cost))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The dimensions of a rollup row, without its bucket.
type Combination<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// Records the first hour of each combination of dimensions in the batch (the earlier hour
/// wins, so a late batch moves it back). Rows are locked in key order, like the rollups'.
async fn write_first_seen(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    hours: &[Key],
) -> Result<()> {
    let mut first: BTreeMap<Combination, DateTime<Utc>> = BTreeMap::new();
    for k in hours {
        let combination = (
            k.department.as_str(),
            k.agent.as_str(),
            k.environment.as_str(),
            k.version.as_str(),
            k.model.as_str(),
        );
        first
            .entry(combination)
            .and_modify(|t| *t = (*t).min(k.bucket))
            .or_insert(k.bucket);
    }
    if first.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO rollup_first_seen AS f \
           (workspace_id, department, agent, environment, version, model, first_hour) \
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
           $7::timestamptz[]) \
         ON CONFLICT (workspace_id, department, agent, environment, version, model) \
         DO UPDATE SET first_hour = excluded.first_hour WHERE excluded.first_hour < f.first_hour",
    )
    .bind(workspace)
    .bind(column(&first, |(c, _)| c.0.to_owned()))
    .bind(column(&first, |(c, _)| c.1.to_owned()))
    .bind(column(&first, |(c, _)| c.2.to_owned()))
    .bind(column(&first, |(c, _)| c.3.to_owned()))
    .bind(column(&first, |(c, _)| c.4.to_owned()))
    .bind(column(&first, |(_, t)| *t))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The rows of a batch without environment and version (the `rollup_agent_*` rows).
fn by_agent(rows: &BTreeMap<Key, Delta>) -> BTreeMap<Key, Delta> {
    let mut out: BTreeMap<Key, Delta> = BTreeMap::new();
    for (k, d) in rows {
        let key = Key {
            environment: String::new(),
            version: String::new(),
            ..k.clone()
        };
        out.entry(key).or_default().merge(d);
    }
    out
}

/// The first UTC midnight of the week (Monday to Monday) holding `t`, as PostgreSQL's
/// `date_trunc('week', t, 'UTC')`.
pub(crate) fn week_start(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Datelike;
    let day = t.duration_trunc(TimeDelta::days(1)).unwrap_or(t);
    day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday()))
}

/// Daily rows as the weeks holding them (the `rollup_agent_weekly` rows, migration 0039).
fn by_week(rows: &BTreeMap<Key, Delta>) -> BTreeMap<Key, Delta> {
    let mut out: BTreeMap<Key, Delta> = BTreeMap::new();
    for (k, d) in rows {
        let key = Key {
            bucket: week_start(k.bucket),
            ..k.clone()
        };
        out.entry(key).or_default().merge(d);
    }
    out
}

/// The key columns (after `workspace_id`) of the detailed rollups.
const DETAILED_KEY: &[&str] = &[
    "bucket",
    "department",
    "agent",
    "environment",
    "version",
    "model",
];
/// The key columns (after `workspace_id`) of the agent rollups: no environment, no version.
const AGENT_KEY: &[&str] = &["bucket", "department", "agent", "model"];
/// The key columns (after `workspace_id`) of the scope rollups (migration 0035).
const SCOPE_KEY: &[&str] = &["bucket", "department", "environment"];

/// A rollup table [`write_table`] writes: its name, its key columns after `workspace_id`, and
/// whether its rows keep the set of agents active in them (an `agents` jsonb column).
#[derive(Clone, Copy)]
struct Table {
    name: &'static str,
    key: &'static [&'static str],
    agents: bool,
}

impl Table {
    fn new(name: &'static str, key: &'static [&'static str], agents: bool) -> Self {
        Table { name, key, agents }
    }

    /// The measure columns with their SQL types: [`MEASURES`], then `agents` where kept.
    fn measures(self) -> impl Iterator<Item = (&'static str, &'static str)> {
        MEASURES
            .into_iter()
            .chain(self.agents.then_some(("agents", "jsonb")))
    }
}

/// Rows of a table without agent sets, as [`write_table`] takes them.
fn without_agents(rows: BTreeMap<Key, Delta>) -> Vec<(Key, Total)> {
    rows.into_iter()
        .map(|(k, delta)| {
            (
                k,
                Total {
                    delta,
                    agents: Default::default(),
                },
            )
        })
        .collect()
}

/// The measure columns of a rollup row after its key, with their SQL types, in the order
/// [`bind_rows`] binds them.
const MEASURES: [(&str, &str); 17] = [
    ("traces", "bigint"),
    ("trace_errors", "bigint"),
    ("trace_latency_sum_us", "bigint"),
    ("trace_latency_min_us", "bigint"),
    ("trace_latency_max_us", "bigint"),
    ("trace_latency_hist", "bytea"),
    ("spans", "bigint"),
    ("span_errors", "bigint"),
    ("input_tokens", "bigint"),
    ("output_tokens", "bigint"),
    ("cache_read_tokens", "bigint"),
    ("cache_creation_tokens", "bigint"),
    ("reasoning_tokens", "bigint"),
    ("cost_usd", "numeric"),
    ("unpriced_spans", "bigint"),
    ("span_latency_sum_us", "bigint"),
    ("span_latency_hist", "bytea"),
];

/// A key column's value (every one but `bucket` is text).
fn key_text<'k>(k: &'k Key, column: &str) -> &'k str {
    match column {
        "department" => &k.department,
        "agent" => &k.agent,
        "environment" => &k.environment,
        "version" => &k.version,
        _ => &k.model,
    }
}

/// How a stored rollup column takes a batch's value `v`: histograms as given (`whole`:
/// already merged with the stored row) or merged in SQL, extremes by least / greatest, the
/// rest added.
fn merge_sql(column: &str, v: &str, whole: bool) -> String {
    match column {
        "trace_latency_hist" | "span_latency_hist" if whole => format!("{column} = {v}.{column}"),
        "trace_latency_hist" | "span_latency_hist" => {
            format!("{column} = argus_hist_bin_merge(r.{column}, {v}.{column})")
        }
        "agents" if whole => format!("{column} = {v}.{column}"),
        "agents" => format!("{column} = r.{column} || {v}.{column}"),
        "trace_latency_min_us" => format!("{column} = least(r.{column}, {v}.{column})"),
        "trace_latency_max_us" => format!("{column} = greatest(r.{column}, {v}.{column})"),
        _ => format!("{column} = r.{column} + {v}.{column}"),
    }
}

/// `unnest($2::…[], …) AS d(columns)` over the table's key and measures.
fn rows_sql(table: Table) -> String {
    let types = table
        .key
        .iter()
        .map(|c| {
            (
                *c,
                if *c == "bucket" {
                    "timestamptz"
                } else {
                    "text"
                },
            )
        })
        .chain(table.measures());
    let (mut arrays, mut names) = (Vec::new(), Vec::new());
    for (i, (name, ty)) in types.enumerate() {
        arrays.push(match ty {
            "numeric" => format!("${}::float8[]::numeric[]", i + 2),
            _ => format!("${}::{ty}[]", i + 2),
        });
        names.push(name);
    }
    format!("unnest({}) AS d({})", arrays.join(", "), names.join(", "))
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds `key`'s arrays (`$2` onwards) from `rows`.
fn bind_key<'q>(mut query: PgQuery<'q>, key: &[&str], rows: &[(Key, Total)]) -> PgQuery<'q> {
    for c in key {
        query = match *c {
            "bucket" => query.bind(column(rows, |(k, _)| k.bucket)),
            c => query.bind(column(rows, |(k, _)| key_text(k, c).to_owned())),
        };
    }
    query
}

/// Binds the table's key and measure arrays (`$2` onwards) from `rows`, histograms in binary.
fn bind_rows<'q>(query: PgQuery<'q>, table: Table, rows: &[(Key, Total)]) -> PgQuery<'q> {
    let query = bind_key(query, table.key, rows)
        .bind(column(rows, |(_, t)| t.delta.traces))
        .bind(column(rows, |(_, t)| t.delta.trace_errors))
        .bind(column(rows, |(_, t)| t.delta.trace_latency_sum_us))
        .bind(column(rows, |(_, t)| t.delta.trace_latency_min_us))
        .bind(column(rows, |(_, t)| t.delta.trace_latency_max_us))
        .bind(column(rows, |(_, t)| t.delta.trace_hist.to_bytes()))
        .bind(column(rows, |(_, t)| t.delta.spans))
        .bind(column(rows, |(_, t)| t.delta.span_errors))
        .bind(column(rows, |(_, t)| t.delta.tokens[0]))
        .bind(column(rows, |(_, t)| t.delta.tokens[1]))
        .bind(column(rows, |(_, t)| t.delta.tokens[2]))
        .bind(column(rows, |(_, t)| t.delta.tokens[3]))
        .bind(column(rows, |(_, t)| t.delta.tokens[4]))
        .bind(column(rows, |(_, t)| t.delta.cost))
        .bind(column(rows, |(_, t)| t.delta.unpriced))
        .bind(column(rows, |(_, t)| t.delta.span_latency_sum_us))
        .bind(column(rows, |(_, t)| t.delta.span_hist.to_bytes()));
    if !table.agents {
        return query;
    }
    query.bind(column(rows, |(_, t)| {
        serde_json::Value::Object(
            t.agents
                .iter()
                .map(|a| (a.clone(), serde_json::Value::from(1)))
                .collect(),
        )
    }))
}

/// Adds a batch's rows to the rollup `table` keyed by `key` (binary histograms: migrations
/// 0031 and 0032), merged in Rust as [`write_totals`] does: the rows that exist are locked in
/// key order and read, their histograms merged here and written back whole (the sums added)
/// with one UPDATE; the new rows are inserted with one INSERT (a row another batch inserts in
/// between is merged in SQL instead: only ever the first batches of a bucket). Merging jsonb
/// histograms in SQL cost the detailed rollups 7 ms of PostgreSQL a lean batch of 500 spans.
async fn write_table(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    table: Table,
    rows: Vec<(Key, Total)>,
) -> Result<()> {
    use sqlx::Row;

    if rows.is_empty() {
        return Ok(());
    }
    let (name, key) = (table.name, table.key);
    let key_list = key.join(", ");
    let lookup: Vec<String> = key
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ty = if *c == "bucket" {
                "timestamptz"
            } else {
                "text"
            };
            format!("${}::{ty}[]", i + 2)
        })
        .collect();
    let on: Vec<String> = key.iter().map(|c| format!("r.{c} = k.{c}")).collect();
    let stored_key = key
        .iter()
        .map(|c| format!("r.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {stored_key}, r.trace_latency_hist, r.span_latency_hist{agents} FROM {name} r \
         JOIN unnest({}) AS k({key_list}) ON {} \
         WHERE r.workspace_id = $1 ORDER BY {stored_key} FOR UPDATE OF r",
        lookup.join(", "),
        on.join(" AND "),
        agents = if table.agents { ", r.agents" } else { "" },
    );
    let found = bind_key(sqlx::query(&sql).bind(workspace), key, &rows)
        .fetch_all(&mut *conn)
        .await?;
    type AgentSet = sqlx::types::Json<BTreeMap<String, serde_json::Value>>;
    let mut stored: BTreeMap<Key, (Histogram, Histogram, Option<AgentSet>)> = BTreeMap::new();
    for row in found {
        let mut k = Key {
            bucket: row.try_get(0)?,
            department: String::new(),
            agent: String::new(),
            environment: String::new(),
            version: String::new(),
            model: String::new(),
        };
        for (i, c) in key.iter().enumerate().skip(1) {
            let value: String = row.try_get(i)?;
            match *c {
                "department" => k.department = value,
                "agent" => k.agent = value,
                "environment" => k.environment = value,
                "version" => k.version = value,
                _ => k.model = value,
            }
        }
        let trace: crate::histogram::Stored = row.try_get(key.len())?;
        let span: crate::histogram::Stored = row.try_get(key.len() + 1)?;
        let agents: Option<AgentSet> = if table.agents {
            Some(row.try_get(key.len() + 2)?)
        } else {
            None
        };
        stored.insert(k, (trace.0, span.0, agents));
    }
    let (mut existing, mut new) = (Vec::new(), Vec::new());
    for (k, mut t) in rows {
        match stored.remove(&k) {
            Some((trace, span, agents)) => {
                t.delta.trace_hist.merge(&trace);
                t.delta.span_hist.merge(&span);
                t.agents
                    .extend(agents.into_iter().flat_map(|a| a.0.into_keys()));
                existing.push((k, t));
            }
            None => new.push((k, t)),
        }
    }
    if !existing.is_empty() {
        let set: Vec<String> = table
            .measures()
            .map(|(c, _)| merge_sql(c, "d", true))
            .collect();
        let matches: Vec<String> = key.iter().map(|c| format!("r.{c} = d.{c}")).collect();
        let sql = format!(
            "UPDATE {name} AS r SET {} FROM {} WHERE r.workspace_id = $1 AND {}",
            set.join(", "),
            rows_sql(table),
            matches.join(" AND "),
        );
        bind_rows(sqlx::query(&sql).bind(workspace), table, &existing)
            .execute(&mut *conn)
            .await?;
    }
    if !new.is_empty() {
        let set: Vec<String> = table
            .measures()
            .map(|(c, _)| merge_sql(c, "excluded", false))
            .collect();
        let names: Vec<&str> = table.measures().map(|(n, _)| n).collect();
        let sql = format!(
            "INSERT INTO {name} AS r (workspace_id, {key_list}, {names}) SELECT $1, d.* FROM {rows} \
             ON CONFLICT (workspace_id, {key_list}) DO UPDATE SET {set}",
            names = names.join(", "),
            rows = rows_sql(table),
            set = set.join(", "),
        );
        bind_rows(sqlx::query(&sql).bind(workspace), table, &new)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Adds a batch's totals to `table`. The histograms and agent sets are merged here, not in
/// SQL (merging a binary histogram in SQL costs ~1.7 ms of server CPU, four times a batch,
/// all under the row lock every concurrent batch of the workspace waits for): the rows that
/// exist are locked and read (`FOR UPDATE`, in bucket order), merged, and written whole. A row
/// that another batch creates between the read and the write is merged in SQL instead (only
/// ever the first batches of a bucket).
async fn write_totals(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    table: &'static str,
    rows: &BTreeMap<DateTime<Utc>, Total>,
) -> Result<()> {
    type Stored = (
        DateTime<Utc>,
        crate::histogram::Stored,
        crate::histogram::Stored,
        sqlx::types::Json<BTreeMap<String, serde_json::Value>>,
    );
    let stored: Vec<Stored> = sqlx::query_as(&format!(
        "SELECT bucket, trace_latency_hist, span_latency_hist, agents FROM {table} \
         WHERE workspace_id = $1 AND bucket = ANY($2) ORDER BY bucket FOR UPDATE"
    ))
    .bind(workspace)
    .bind(column(rows, |(b, _)| *b))
    .fetch_all(&mut *conn)
    .await?;
    let mut stored: BTreeMap<DateTime<Utc>, Stored> =
        stored.into_iter().map(|r| (r.0, r)).collect();
    // Per bucket: whether the values below are whole (merged with the stored row) or a delta.
    let mut whole = Vec::with_capacity(rows.len());
    let mut trace_hists = Vec::with_capacity(rows.len());
    let mut span_hists = Vec::with_capacity(rows.len());
    let mut agents = Vec::with_capacity(rows.len());
    for (bucket, t) in rows {
        let mut trace = t.delta.trace_hist.clone();
        let mut span = t.delta.span_hist.clone();
        let mut names: BTreeMap<String, serde_json::Value> = t
            .agents
            .iter()
            .map(|a| (a.clone(), serde_json::Value::from(1)))
            .collect();
        match stored.remove(bucket) {
            Some((_, stored_trace, stored_span, stored_agents)) => {
                trace.merge(&stored_trace.0);
                span.merge(&stored_span.0);
                names.extend(stored_agents.0);
                whole.push(true);
            }
            None => whole.push(false),
        }
        trace_hists.push(trace.to_bytes());
        span_hists.push(span.to_bytes());
        agents.push(serde_json::Value::Object(names.into_iter().collect()));
    }
    let sql = format!(
        "INSERT INTO {table} AS r (workspace_id, bucket, traces, trace_errors, \
           trace_latency_sum_us, trace_latency_hist, spans, span_errors, input_tokens, \
           output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd, \
           unpriced_spans, span_latency_sum_us, span_latency_hist, agents) \
         SELECT $1, bucket, traces, trace_errors, trace_latency_sum_us, trace_hist, spans, \
           span_errors, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, \
           reasoning_tokens, cost_usd, unpriced_spans, span_latency_sum_us, span_hist, agents \
         FROM unnest($2::timestamptz[], $3::bigint[], $4::bigint[], $5::bigint[], \
           $6::bytea[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], \
           $12::bigint[], $13::bigint[], $14::float8[]::numeric[], $15::bigint[], $16::bigint[], \
           $17::bytea[], $18::json[], $19::boolean[]) \
           AS d(bucket, traces, trace_errors, trace_latency_sum_us, trace_hist, spans, \
             span_errors, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, \
             reasoning_tokens, cost_usd, unpriced_spans, span_latency_sum_us, span_hist, agents, \
             whole) \
         ON CONFLICT (workspace_id, bucket) DO UPDATE SET \
           traces = r.traces + excluded.traces, \
           trace_errors = r.trace_errors + excluded.trace_errors, \
           trace_latency_sum_us = r.trace_latency_sum_us + excluded.trace_latency_sum_us, \
           trace_latency_hist = CASE WHEN $19[array_position($2, excluded.bucket)] \
             THEN excluded.trace_latency_hist \
             ELSE argus_hist_bin_merge(r.trace_latency_hist, excluded.trace_latency_hist) END, \
           spans = r.spans + excluded.spans, \
           span_errors = r.span_errors + excluded.span_errors, \
           input_tokens = r.input_tokens + excluded.input_tokens, \
           output_tokens = r.output_tokens + excluded.output_tokens, \
           cache_read_tokens = r.cache_read_tokens + excluded.cache_read_tokens, \
           cache_creation_tokens = r.cache_creation_tokens + excluded.cache_creation_tokens, \
           reasoning_tokens = r.reasoning_tokens + excluded.reasoning_tokens, \
           cost_usd = r.cost_usd + excluded.cost_usd, \
           unpriced_spans = r.unpriced_spans + excluded.unpriced_spans, \
           span_latency_sum_us = r.span_latency_sum_us + excluded.span_latency_sum_us, \
           span_latency_hist = CASE WHEN $19[array_position($2, excluded.bucket)] \
             THEN excluded.span_latency_hist \
             ELSE argus_hist_bin_merge(r.span_latency_hist, excluded.span_latency_hist) END, \
           agents = CASE WHEN $19[array_position($2, excluded.bucket)] THEN excluded.agents \
             ELSE (r.agents::jsonb || excluded.agents::jsonb)::json END"
    );
    sqlx::query(&sql)
        .bind(workspace)
        .bind(column(rows, |(b, _)| *b))
        .bind(column(rows, |(_, t)| t.delta.traces))
        .bind(column(rows, |(_, t)| t.delta.trace_errors))
        .bind(column(rows, |(_, t)| t.delta.trace_latency_sum_us))
        .bind(trace_hists)
        .bind(column(rows, |(_, t)| t.delta.spans))
        .bind(column(rows, |(_, t)| t.delta.span_errors))
        .bind(column(rows, |(_, t)| t.delta.tokens[0]))
        .bind(column(rows, |(_, t)| t.delta.tokens[1]))
        .bind(column(rows, |(_, t)| t.delta.tokens[2]))
        .bind(column(rows, |(_, t)| t.delta.tokens[3]))
        .bind(column(rows, |(_, t)| t.delta.tokens[4]))
        .bind(column(rows, |(_, t)| t.delta.cost))
        .bind(column(rows, |(_, t)| t.delta.unpriced))
        .bind(column(rows, |(_, t)| t.delta.span_latency_sum_us))
        .bind(span_hists)
        .bind(agents)
        .bind(whole)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The advisory lock key that orders a workspace's ingest batches (shared) against a rebuild of
/// its rollups (exclusive): a batch landing while a rebuild runs would otherwise be read by the
/// rebuild's scan and also merged into the rows it writes — counted twice.
pub fn rebuild_lock_key(workspace: WorkspaceId) -> i64 {
    let b = workspace.0.as_bytes();
    let folded: [u8; 8] = std::array::from_fn(|i| b[i] ^ b[i + 8]);
    // A namespace apart from the other advisory locks (retention, jobs).
    i64::from_be_bytes(folded) ^ 0x5275_6c6c_7570_4c6b
}

/// Takes the workspace's rebuild lock in `tx`: shared for an ingest batch, exclusive for a
/// rebuild. Held until the transaction ends.
pub async fn lock_for_writes(
    tx: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    exclusive: bool,
) -> Result<()> {
    let sql = if exclusive {
        "SELECT pg_advisory_xact_lock($1)"
    } else {
        "SELECT pg_advisory_xact_lock_shared($1)"
    };
    sqlx::query(sql)
        .bind(rebuild_lock_key(workspace))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Rebuilds the rollups of `workspace` for the whole UTC days `[from, to)` from the raw spans
/// and traces: the reconcile path (the incremental path is exact; this repairs or re-derives).
/// Ingest batches of the workspace wait while it runs (see [`lock_for_writes`]). Returns the
/// spans read.
pub async fn rebuild(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<u64> {
    use futures::TryStreamExt;

    let start = from.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let end = to.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let mut tx = crate::tenancy::begin(pool, workspace).await?;
    lock_for_writes(&mut tx, workspace, true).await?;
    for table in [
        "rollup_minute",
        "rollup_hourly",
        "rollup_daily",
        "rollup_agent_hourly",
        "rollup_agent_daily",
        "rollup_agent_hours",
        "rollup_agent_env_hours",
        "rollup_scope_hourly",
        "rollup_scope_daily",
        "rollup_total_hourly",
        "rollup_total_daily",
    ] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3"
        ))
        .bind(workspace)
        .bind(start)
        .bind(end)
        .execute(&mut *tx)
        .await?;
    }
    let mut rollups = Rollups::default();
    let mut read = 0u64;
    {
        type Row = (
            DateTime<Utc>,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            i64,
            i64,
            i64,
            i64,
            i64,
            Option<f64>,
            i64,
        );
        let mut spans = sqlx::query_as::<_, Row>(
            "SELECT start_time, agent, department, environment, version, model, status, \
               input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, \
               reasoning_tokens, cost_usd::float8, duration_us \
             FROM spans WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3",
        )
        .bind(workspace)
        .bind(start)
        .bind(end)
        .fetch(&mut *tx);
        while let Some(r) = spans.try_next().await? {
            let dims = Dimensions {
                agent: r.1,
                department: r.2,
                environment: r.3,
                version: r.4,
            };
            rollups.add_span_parts(&SpanParts {
                start: r.0,
                dims: &dims,
                model: r.5.as_deref(),
                error: r.6 == "error",
                usage: Usage {
                    input: r.7,
                    output: r.8,
                    cache_read: r.9,
                    cache_creation: r.10,
                    reasoning: r.11,
                },
                cost: r.12,
                duration_us: r.13,
            });
            read += 1;
        }
    }
    {
        let mut traces = sqlx::query_as::<
            _,
            (DateTime<Utc>, String, String, String, String, i64, i32),
        >(
            "SELECT start_time, agent, department, environment, version, latency_us, error_count \
             FROM traces WHERE workspace_id = $1 AND root_span_id IS NOT NULL \
               AND start_time >= $2 AND start_time < $3",
        )
        .bind(workspace)
        .bind(start)
        .bind(end)
        .fetch(&mut *tx);
        while let Some((t, agent, department, environment, version, latency, errors)) =
            traces.try_next().await?
        {
            let dims = Dimensions {
                agent,
                department,
                environment,
                version,
            };
            rollups.add_trace(t, &dims, Some(latency), errors > 0);
        }
    }
    // Minute rows live a few days (retention trims older ones): none are made for older days.
    let minutes_from = Utc::now() - TimeDelta::days(MINUTE_ROLLUP_DAYS);
    rollups.minute.retain(|k, _| k.bucket >= minutes_from);
    rollups.write(&mut tx, workspace).await?;
    // The agents' days keep whole months: those the rebuilt days fall in are summed again
    // from the daily agent rollup (right now for every day of them).
    // So do the weeks (their rows were added to above, not cleared: replaced here).
    sqlx::query(
        "SELECT argus_rebuild_agent_days($1, $2, $3), argus_rebuild_agent_env_days($1, $2, $3), \
           argus_rebuild_agent_weeks($1, $2, $3)",
    )
    .bind(workspace)
    .bind(start)
    .bind(end)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(read)
}

/// Replaces every workspace's totals by the sums of its rollups (migration 0011's
/// `argus_rebuild_totals`, set-wise), in one transaction. For tools that write rollups in bulk
/// (the dashboard benchmark) and for tests; needs a role that sees every workspace (the owner).
pub async fn rebuild_all_totals(owner: &sqlx::PgPool) -> Result<()> {
    let mut tx = owner.begin().await?;
    sqlx::query(
        "SELECT argus_rebuild_totals('rollup_hourly', 'rollup_total_hourly'), \
                argus_rebuild_totals('rollup_daily', 'rollup_total_daily'), \
                argus_rebuild_agent_rollup('rollup_hourly', 'rollup_agent_hourly'), \
                argus_rebuild_agent_rollup('rollup_daily', 'rollup_agent_daily'), \
                argus_rebuild_agent_hours(), \
                argus_rebuild_agent_env_hours(), \
                argus_rebuild_agent_days(NULL, NULL, NULL), \
                argus_rebuild_agent_env_days(NULL, NULL, NULL), \
                argus_rebuild_agent_weeks(NULL, NULL, NULL), \
                argus_rebuild_scope_rollup('rollup_hourly', 'rollup_scope_hourly'), \
                argus_rebuild_scope_rollup('rollup_daily', 'rollup_scope_daily'), \
                argus_rebuild_first_seen()",
    )
    .execute(&mut *tx)
    .await?;
    // The rebuilds write histograms in the 12-byte form: readers take it, but reads are
    // faster in the compact one (migration 0037).
    sqlx::query(
        "SELECT argus_pack_histograms(t) FROM unnest(ARRAY['rollup_total_hourly', \
           'rollup_total_daily', 'rollup_agent_hourly', 'rollup_agent_daily', \
           'rollup_scope_hourly', 'rollup_scope_daily']::regclass[]) AS t",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
