//! The agents' slot tables: a day of hours or a month of days in one row per agent.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgConnection;

use super::{Delta, Key};
use crate::tenancy::WorkspaceId;
use crate::Result;

/// One agent's counts over a period in slots (a `rollup_agent_hours` row, migration 0033: a
/// UTC day of 24 hours, or a `rollup_agent_env_hours` one, 0038: the same in one environment;
/// a `rollup_agent_days` row, migration 0036: a UTC month of 31 days, the days a month lacks
/// left 0): entry `i` is the `i`-th slot after the period's start.
#[derive(Debug)]
pub(super) struct Slots<const N: usize> {
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
pub(super) type SlotKey = (DateTime<Utc>, String, String, String);

/// The hourly rows of a batch as days of agents' hours, per environment or not.
pub(super) fn by_day(rows: &BTreeMap<Key, Delta>, by_env: bool) -> BTreeMap<SlotKey, Slots<24>> {
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
pub(super) fn by_month(rows: &BTreeMap<Key, Delta>, by_env: bool) -> BTreeMap<SlotKey, Slots<31>> {
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

pub(super) static AGENT_HOURS_UPSERT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| agent_slots_upsert("rollup_agent_hours", 24, false));
pub(super) static AGENT_ENV_HOURS_UPSERT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| agent_slots_upsert("rollup_agent_env_hours", 24, true));
pub(super) static AGENT_DAYS_UPSERT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| agent_slots_upsert("rollup_agent_days", 31, false));
pub(super) static AGENT_ENV_DAYS_UPSERT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| agent_slots_upsert("rollup_agent_env_days", 31, true));

/// Adds a batch's periods of agents' slots with `upsert` (one of the statements above): one
/// upsert, rows in key order (as every writer locks them), each row's slots a slice of one
/// flat array per measure; a stored row takes the batch's slots added element by element.
pub(super) async fn write_agent_slots<const N: usize>(
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
