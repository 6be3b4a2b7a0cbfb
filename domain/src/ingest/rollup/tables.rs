//! The rollup tables keyed by bucket and dimensions, and the workspace totals: how a batch's
//! rows are merged into the stored ones.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgConnection;

use super::{Delta, Key, Total};
use crate::db::column;
use crate::histogram::Histogram;
use crate::tenancy::WorkspaceId;
use crate::Result;

/// The dimensions of a rollup row, without its bucket.
type Combination<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// Records the first hour of each combination of dimensions in the batch (the earlier hour
/// wins, so a late batch moves it back). Rows are locked in key order, like the rollups'.
pub(super) async fn write_first_seen(
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
pub(super) fn by_agent(rows: &BTreeMap<Key, Delta>) -> BTreeMap<Key, Delta> {
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
pub(super) fn by_week(rows: &BTreeMap<Key, Delta>) -> BTreeMap<Key, Delta> {
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
pub(super) const DETAILED_KEY: &[&str] = &[
    "bucket",
    "department",
    "agent",
    "environment",
    "version",
    "model",
];
/// The key columns (after `workspace_id`) of the agent rollups: no environment, no version.
pub(super) const AGENT_KEY: &[&str] = &["bucket", "department", "agent", "model"];
/// The key columns (after `workspace_id`) of the scope rollups (migration 0035).
pub(super) const SCOPE_KEY: &[&str] = &["bucket", "department", "environment"];

/// A rollup table [`write_table`] writes: its name, its key columns after `workspace_id`, and
/// whether its rows keep the set of agents active in them (an `agents` jsonb column).
#[derive(Clone, Copy)]
pub(super) struct Table {
    name: &'static str,
    key: &'static [&'static str],
    agents: bool,
}

impl Table {
    pub(super) fn new(name: &'static str, key: &'static [&'static str], agents: bool) -> Self {
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
pub(super) fn without_agents(rows: BTreeMap<Key, Delta>) -> Vec<(Key, Total)> {
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
pub(super) async fn write_table(
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
pub(super) async fn write_totals(
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
