//! The one rollup read under the dashboard's numbers: the window's rows (workspace totals when
//! unfiltered, the detailed rollup otherwise, plus metric-only usage), and the shared
//! `fetch_window` the cost, performance and activity reads use.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::window::{Dims, Resolved};
use crate::tenancy::{self, WorkspaceId};
use crate::Result;

/// One rollup row, as the dashboard needs it.
#[derive(sqlx::FromRow)]
pub(super) struct Row {
    pub(super) bucket: DateTime<Utc>,
    pub(super) agent: String,
    pub(super) requests: i64,
    pub(super) errors: i64,
    pub(super) latency_sum_us: i64,
    pub(super) hist: crate::histogram::Stored,
    pub(super) input_tokens: i64,
    pub(super) output_tokens: i64,
    pub(super) cost: f64,
    pub(super) spans: i64,
    /// On a workspace-total row, the agents active in its bucket (`{"agent": 1, …}` as text;
    /// read by [`agent_names`] without allocating a string per agent).
    pub(super) agents: Option<String>,
}

/// The keys of a workspace-total row's agent set, borrowed from its text where they need no
/// unescaping.
pub(super) fn agent_names(text: &str) -> Vec<Cow<'_, str>> {
    struct Names<'a>(Vec<Cow<'a, str>>);
    struct Name<'a>(Cow<'a, str>);
    impl<'de> serde::Deserialize<'de> for Name<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Name<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an agent name")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Name<'de>, E> {
                    Ok(Name(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> std::result::Result<Name<'de>, E> {
                    Ok(Name(Cow::Owned(v.to_owned())))
                }
            }
            d.deserialize_str(V)
        }
    }
    impl<'de> serde::Deserialize<'de> for Names<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Names<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a map keyed by agent name")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> std::result::Result<Names<'de>, A::Error> {
                    let mut names = Vec::new();
                    while let Some((name, _)) = map.next_entry::<Name, serde::de::IgnoredAny>()? {
                        names.push(name.0);
                    }
                    Ok(Names(names))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Names>(text).map_or_else(|_| Vec::new(), |n| n.0)
}

/// The rows of `[previous_from, to)` matching the dimension filters, and the usage agents
/// reported only as metrics (`/v1/metrics`) in buckets where they sent no spans: one statement,
/// one transaction.
pub(super) async fn rows(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
) -> Result<Vec<Row>> {
    // Every rollup's histograms are binary (migrations 0011, 0031, 0032).
    let sql = format!("{} UNION ALL {}", span_rows_sql(q), metric_only_rows_sql(q));
    fetch_window_and_days(
        pool,
        workspace,
        &sql,
        (q.previous_from, q.to),
        &q.dims,
        q.previous_whole_days(),
    )
    .await
}

/// [`fetch_window`] with `$9`–`$10` bound to a range of whole days (read from a daily table).
pub(super) async fn fetch_window_and_days<T>(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    sql: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    dims: &Dims,
    (days_from, days_to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let mut tx = tenancy::begin_rollup_read(pool, workspace).await?;
    let rows = window_query(sql, workspace, (from, to), dims)
        .bind(days_from)
        .bind(days_to)
        .fetch_all(&mut *tx)
        .await?;
    tenancy::end_read(tx);
    Ok(rows)
}

/// The window's rows as three parts, `part(table, from, to)` each: its edge hours from
/// [`Resolved::table`] (`$2`–`$9`, `$10`–`$3`) and its whole days from
/// [`Resolved::daily_table`] (`$9`–`$10`, [`Resolved::window_whole_days`]), for sums over the
/// window read with [`fetch_window_and_days`].
pub(super) fn by_whole_days(q: &Resolved, part: impl Fn(&str, &str, &str) -> String) -> String {
    format!(
        "{} UNION ALL {} UNION ALL {}",
        part(q.table(), "$2", "$9"),
        part(q.daily_table(), "$9", "$10"),
        part(q.table(), "$10", "$3"),
    )
}

/// [`by_whole_days`] for a daily window: its edge days from [`Resolved::table`] (`$2`–`$9`,
/// `$10`–`$3`) and its whole weeks from the weekly agent rollup (`$9`–`$10`,
/// [`Resolved::window_whole_weeks`]; empty, and so nothing read there, when they do not apply).
pub(super) fn by_whole_weeks(q: &Resolved, part: impl Fn(&str, &str, &str) -> String) -> String {
    format!(
        "{} UNION ALL {} UNION ALL {}",
        part(q.table(), "$2", "$9"),
        part("rollup_agent_weekly", "$9", "$10"),
        part(q.table(), "$10", "$3"),
    )
}

/// The window's rows for sums over it and the range `$9`–`$10` to bind with them: on hourly
/// windows [`by_whole_days`] ([`Resolved::window_whole_days`]), on daily ones
/// [`by_whole_weeks`] ([`Resolved::window_whole_weeks`]).
pub(super) fn by_whole_periods(
    q: &Resolved,
    part: impl Fn(&str, &str, &str) -> String,
) -> (String, (DateTime<Utc>, DateTime<Utc>)) {
    if q.daily {
        (by_whole_weeks(q, part), q.window_whole_weeks())
    } else {
        (by_whole_days(q, part), q.window_whole_days())
    }
}

/// Tokens and cost that agents reported only as GenAI metrics, per (bucket, agent) without a
/// span row: the rule of [`crate::ingest::metrics::usage_by_agent`] (spans win where both
/// exist), per hour — or per day on ranges read from the daily rollups. They count in tokens,
/// cost and active agents, not in requests or latency (traces measure those).
pub(super) fn metric_only_rows_sql(q: &Resolved) -> String {
    let (metrics, spans) = if q.daily {
        ("metric_rollup_daily", "rollup_agent_daily")
    } else {
        ("metric_rollup_hourly", "rollup_agent_hourly")
    };
    format!(
        "SELECT bucket, agent, 0::bigint AS requests, 0::bigint AS errors, \
           0::bigint AS latency_sum_us, ''::bytea AS hist, \
           sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens, \
           sum(cost_usd)::float8 AS cost, 0::bigint AS spans, \
           json_build_object(agent, 1)::text AS agents \
         FROM {metrics} m WHERE {WINDOW_AND_DIMS} \
           AND NOT EXISTS (SELECT 1 FROM {spans} r WHERE r.workspace_id = $1 \
             AND r.bucket = m.bucket AND r.agent = m.agent) \
         GROUP BY bucket, agent"
    )
}

/// The span rollup rows of `[previous_from, to)` matching the dimension filters: without any
/// filter the workspace totals (one row per bucket, `agent` empty), with only a department
/// and/or an environment the scope rollups (a row per bucket, department and environment,
/// `agent` empty, its agent set kept), else the narrowest rollup ([`Resolved::table`]); either way the whole days of the previous period (`$9`–`$10`,
/// [`Resolved::previous_whole_days`]) read as daily rows.
pub(super) fn span_rows_sql(q: &Resolved) -> String {
    // Rows that keep their agent set (totals, scopes) answer without a model filter.
    let columns = "bucket, '' AS agent, traces AS requests, trace_errors AS errors, \
        trace_latency_sum_us AS latency_sum_us, trace_latency_hist AS hist, input_tokens, \
        output_tokens, cost_usd::float8 AS cost, spans, agents::text AS agents";
    if q.is_unfiltered() {
        return format!(
            "SELECT {columns} FROM {} WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3 \
               AND NOT (bucket >= $9 AND bucket < $10) \
             UNION ALL \
             SELECT {columns} FROM rollup_total_daily \
             WHERE workspace_id = $1 AND bucket >= $9 AND bucket < $10",
            q.total_table()
        );
    }
    if q.reads_scope() {
        return format!(
            "SELECT {columns} FROM {} WHERE {SCOPE_WINDOW_AND_DIMS} \
               AND NOT (bucket >= $9 AND bucket < $10) \
             UNION ALL \
             SELECT {columns} FROM rollup_scope_daily \
             WHERE {SCOPE_WINDOW_AND_DIMS} AND bucket >= $9 AND bucket < $10",
            q.scope_table()
        );
    }
    // Requests are traces without a model filter (model '' rows), the model's calls with one.
    let measures = if q.dims.model.is_some() {
        "spans AS requests, span_errors AS errors, span_latency_sum_us AS latency_sum_us, \
         span_latency_hist AS hist"
    } else {
        "traces AS requests, trace_errors AS errors, trace_latency_sum_us AS latency_sum_us, \
         trace_latency_hist AS hist"
    };
    // The previous period's whole days as daily rows, as for the totals.
    let (table, daily) = (q.table(), q.daily_table());
    let columns = format!(
        "bucket, agent, {measures}, input_tokens, output_tokens, cost_usd::float8 AS cost, \
         spans, NULL::text AS agents"
    );
    format!(
        "SELECT {columns} FROM {table} WHERE {} AND NOT (bucket >= $9 AND bucket < $10) \
         UNION ALL \
         SELECT {columns} FROM {daily} WHERE {} AND bucket >= $9 AND bucket < $10",
        window_and_dims(table),
        window_and_dims(daily),
    )
}

/// The rollup rows of `[from, q.to)` under the filters: `$1` workspace, `$2`/`$3` the bounds,
/// `$4`–`$8` the dimensions (NULL: any).
pub(super) const WINDOW_AND_DIMS: &str = "workspace_id = $1 AND bucket >= $2 AND bucket < $3 \
    AND ($4::text IS NULL OR department = $4) AND ($5::text IS NULL OR environment = $5) \
    AND ($6::text IS NULL OR version = $6) AND ($7::text IS NULL OR agent = $7) \
    AND ($8::text IS NULL OR model = $8)";

/// [`WINDOW_AND_DIMS`] for the agent rollups (`rollup_agent_*`, no environment or version
/// column): read only when neither is filtered, so `$5` and `$6` are NULL there.
const AGENT_WINDOW_AND_DIMS: &str = "workspace_id = $1 AND bucket >= $2 AND bucket < $3 \
    AND ($4::text IS NULL OR department = $4) AND $5::text IS NULL AND $6::text IS NULL \
    AND ($7::text IS NULL OR agent = $7) AND ($8::text IS NULL OR model = $8)";

/// [`WINDOW_AND_DIMS`] for the scope rollups (`rollup_scope_*`: department and environment
/// only): read only when nothing else is filtered ([`Resolved::reads_scope`]).
pub(super) const SCOPE_WINDOW_AND_DIMS: &str =
    "workspace_id = $1 AND bucket >= $2 AND bucket < $3 \
    AND ($4::text IS NULL OR department = $4) AND ($5::text IS NULL OR environment = $5) \
    AND $6::text IS NULL AND $7::text IS NULL AND $8::text IS NULL";

/// The WHERE over `$1`–`$8` of a rollup table's rows (see [`Resolved::table`]).
pub(super) fn window_and_dims(table: &str) -> &'static str {
    if table.starts_with("rollup_agent_") {
        AGENT_WINDOW_AND_DIMS
    } else {
        WINDOW_AND_DIMS
    }
}

/// Runs `sql` (whose WHERE is [`WINDOW_AND_DIMS`]) in the workspace's binding.
pub(super) async fn fetch_window<T>(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    sql: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    dims: &Dims,
) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let mut tx = tenancy::begin_rollup_read(pool, workspace).await?;
    let rows = window_query(sql, workspace, (from, to), dims)
        .fetch_all(&mut *tx)
        .await?;
    tenancy::end_read(tx);
    Ok(rows)
}

/// A query (typed or not) with [`WINDOW_AND_DIMS`]'s `$1`–`$8` bound.
macro_rules! bind_window {
    ($query:expr, $workspace:expr, ($from:expr, $to:expr), $dims:expr) => {
        $query
            .bind($workspace)
            .bind($from)
            .bind($to)
            .bind(&$dims.dept)
            .bind(&$dims.env)
            .bind(&$dims.version)
            .bind(&$dims.agent)
            .bind(&$dims.model)
    };
}

/// `sql` with [`WINDOW_AND_DIMS`]'s `$1`–`$8` bound.
fn window_query<'q, T>(
    sql: &'q str,
    workspace: WorkspaceId,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    dims: &'q Dims,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, T, sqlx::postgres::PgArguments>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    bind_window!(sqlx::query_as(sql), workspace, (from, to), dims)
}

/// [`fetch_window_and_days`]'s rows (the window `q`) folded into `acc` as they arrive, each read in place by
/// `fold` (no row is kept, no column copied unless `fold` copies it): for reads of thousands
/// of rows whose histograms are summed, the sums overlap PostgreSQL's sending.
pub(super) async fn fold_window_and_days<A>(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    sql: &str,
    q: &Resolved,
    (days_from, days_to): (DateTime<Utc>, DateTime<Utc>),
    mut acc: A,
    mut fold: impl FnMut(&mut A, &sqlx::postgres::PgRow) -> std::result::Result<(), sqlx::Error>,
) -> Result<A> {
    use futures::TryStreamExt;
    let mut tx = tenancy::begin_rollup_read(pool, workspace).await?;
    {
        let mut rows = bind_window!(sqlx::query(sql), workspace, (q.from, q.to), q.dims)
            .bind(days_from)
            .bind(days_to)
            .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            fold(&mut acc, &row)?;
        }
    }
    tenancy::end_read(tx);
    Ok(acc)
}
