//! A page of the traces list: keyset pagination over one index per sort, filters, search.

use argus_types::{TracePage, TraceRow};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use super::cursor::{Direction, Position, Sort};
use super::{ScoreOperand, TraceQuery};
use crate::analytics::Resolved;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// The columns of a [`TraceRow`], and the sort keys as text.
pub(crate) const ROW_COLUMNS: &str =
    "t.trace_id, t.name, t.start_time, t.latency_us, t.agent, t.department, \
    t.environment, t.version, t.span_count, t.error_count, t.input_tokens, t.output_tokens, \
    t.cost_usd::float8 AS cost, t.models, t.session_id, t.user_id, t.tags, \
    t.cost_nanos";

#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    pub(crate) trace_id: String,
    name: String,
    pub(crate) start_time: DateTime<Utc>,
    latency_us: i64,
    agent: String,
    department: String,
    environment: String,
    version: String,
    span_count: i32,
    error_count: i32,
    input_tokens: i64,
    output_tokens: i64,
    cost: f64,
    models: Vec<String>,
    session_id: Option<String>,
    user_id: Option<String>,
    tags: Vec<String>,
    cost_nanos: i64,
}

impl Row {
    pub(crate) fn key(&self, sort: Sort) -> String {
        match sort {
            Sort::Time => self.start_time.timestamp_micros().to_string(),
            Sort::Latency => self.latency_us.to_string(),
            Sort::Cost => self.cost_nanos.to_string(),
        }
    }

    pub(crate) fn into_trace(self) -> TraceRow {
        TraceRow {
            status: if self.error_count > 0 { "error" } else { "ok" }.into(),
            trace_id: self.trace_id,
            name: self.name,
            start_time: self.start_time,
            latency_ms: self.latency_us as f64 / 1000.0,
            agent: self.agent,
            department: self.department,
            environment: self.environment,
            version: self.version,
            span_count: self.span_count,
            error_count: self.error_count,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cost_usd: self.cost,
            models: self.models,
            session_id: self.session_id,
            user_id: self.user_id,
            tags: self.tags,
            scores: Vec::new(),
        }
    }
}

/// The latest score of each name on each of `rows`' traces (their spans' included; texts left
/// out), one query down the scores' trace index.
async fn attach_scores(services: &Services, ws: WorkspaceId, rows: &mut [TraceRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.trace_id.as_str()).collect();
    let mut tx = tenancy::begin(services.read_pool(ws).await, ws).await?;
    type Found = (String, String, String, Option<f64>, Option<String>);
    let found: Vec<Found> = sqlx::query_as(
        "SELECT DISTINCT ON (trace_id, name) trace_id, name, data_type, value, string_value \
         FROM scores WHERE workspace_id = $1 AND trace_id = ANY($2) AND data_type <> 'text' \
         ORDER BY trace_id, name, scored_at DESC",
    )
    .bind(ws)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    for (trace, name, data_type, value, label) in found {
        let shown = match (data_type.as_str(), value, label) {
            ("numeric", Some(v), Some(l)) => format!("{} ({l})", brief_number(v)),
            ("numeric", Some(v), None) => brief_number(v),
            (_, _, Some(l)) => l,
            (_, Some(v), None) => brief_number(v),
            _ => continue,
        };
        if let Some(row) = rows.iter_mut().find(|r| r.trace_id == trace) {
            row.scores
                .push(argus_types::ScoreBrief { name, value: shown });
        }
    }
    Ok(())
}

/// `0.82`, `4`, `12.5`: at most three decimals, trailing zeros dropped.
fn brief_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_owned()
    }
}

fn sort_column(sort: Sort) -> &'static str {
    match sort {
        Sort::Time => "t.start_time",
        Sort::Latency => "t.latency_us",
        Sort::Cost => "t.cost_nanos",
    }
}

/// `WHERE` the workspace, the window and the dashboard's dimension filters, on `traces t`.
pub(crate) fn push_window<'a>(
    b: &mut QueryBuilder<'a, Postgres>,
    ws: WorkspaceId,
    w: &'a Resolved,
) {
    b.push(" WHERE t.workspace_id = ").push_bind(ws);
    b.push(" AND t.start_time >= ").push_bind(w.from);
    b.push(" AND t.start_time < ").push_bind(w.to);
    let d = &w.dims;
    for (col, v) in [
        ("t.department", &d.dept),
        ("t.environment", &d.env),
        ("t.version", &d.version),
        ("t.agent", &d.agent),
    ] {
        if let Some(v) = v {
            b.push(format!(" AND {col} = ")).push_bind(v);
        }
    }
    if let Some(m) = &d.model {
        b.push(" AND t.models @> ARRAY[")
            .push_bind(m)
            .push("]::text[]");
    }
}

/// `WHERE …` for the query's filters (not its cursor), on `traces t`.
pub(crate) fn push_filters<'a>(
    b: &mut QueryBuilder<'a, Postgres>,
    ws: WorkspaceId,
    q: &'a TraceQuery,
) {
    push_filters_but_search(b, ws, q);
    push_search(b, q);
}

fn push_search<'a>(b: &mut QueryBuilder<'a, Postgres>, q: &'a TraceQuery) {
    if let Some(s) = &q.search {
        // The query's words by the tokenizer that indexed the traces (`crate::search`).
        match crate::search::tsquery(s) {
            Some(query) => {
                b.push(" AND t.search @@ ")
                    .push_bind(query)
                    .push("::tsquery");
            }
            None => {
                b.push(" AND false");
            }
        }
    }
}

fn push_filters_but_search<'a>(
    b: &mut QueryBuilder<'a, Postgres>,
    ws: WorkspaceId,
    q: &'a TraceQuery,
) {
    push_window(b, ws, &q.window);
    for (col, v) in [("t.session_id", &q.session), ("t.user_id", &q.user)] {
        if let Some(v) = v {
            b.push(format!(" AND {col} = ")).push_bind(v);
        }
    }
    match q.errors {
        Some(true) => b.push(" AND t.error_count > 0"),
        Some(false) => b.push(" AND t.error_count = 0"),
        None => b,
    };
    if let Some(us) = q.min_latency_us {
        b.push(" AND t.latency_us >= ").push_bind(us);
    }
    if let Some(nanos) = q.min_cost_nanos {
        b.push(" AND t.cost_nanos >= ").push_bind(nanos);
    }
    if !q.tags.is_empty() {
        b.push(" AND t.tags @> ")
            .push_bind(&q.tags)
            .push("::text[]");
    }
    if let Some((k, v)) = &q.meta {
        b.push(" AND t.metadata ->> ")
            .push_bind(k)
            .push(" = ")
            .push_bind(v);
    }
    if let Some(f) = &q.score {
        // A score of the trace or one of its spans (scores_trace_idx).
        b.push(
            " AND EXISTS (SELECT 1 FROM scores s WHERE s.workspace_id = t.workspace_id \
             AND s.trace_id = t.trace_id AND s.name = ",
        )
        .push_bind(&f.name);
        match &f.value {
            ScoreOperand::Number(n) => b.push(format!(" AND s.value {} ", f.op)).push_bind(*n),
            ScoreOperand::Label(l) => b
                .push(format!(" AND s.string_value {} ", f.op))
                .push_bind(l),
        };
        b.push(")");
    }
}

/// Rows a search first looks for its page among (in the sort's order) before it reads all of
/// its matches through the text index instead.
const SEARCH_SCAN: i64 = 10_000;

/// How a page is read.
#[derive(Clone, Copy, PartialEq)]
enum Plan {
    /// Down the sort's index (no free text).
    Ordered,
    /// Free text, common words: the first [`SEARCH_SCAN`] rows down the sort's index, their
    /// text tested; a full page from them is the right page.
    Scan,
    /// Free text, rare words: every match through the GIN index, then sorted.
    Matches,
}

/// Up to `limit` rows from `position` (or the top) in the query's order, read from `pool`: the
/// read pool for what users look at, the primary for what is written from it.
pub(crate) async fn fetch_page(
    pool: &sqlx::PgPool,
    ws: WorkspaceId,
    q: &TraceQuery,
    position: Option<&Position>,
    limit: i64,
) -> Result<Vec<Row>> {
    let mut tx = tenancy::begin(pool, ws).await?;
    let plan = if q.search.is_some() {
        Plan::Scan
    } else {
        Plan::Ordered
    };
    let mut b = page_query(ws, q, position, limit, plan)?;
    let mut rows: Vec<Row> = b.build_query_as().fetch_all(&mut *tx).await?;
    if plan == Plan::Scan && (rows.len() as i64) < limit {
        let mut b = page_query(ws, q, position, limit, Plan::Matches)?;
        rows = b.build_query_as().fetch_all(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(rows)
}

fn page_query<'a>(
    ws: WorkspaceId,
    q: &'a TraceQuery,
    position: Option<&Position>,
    limit: i64,
    plan: Plan,
) -> Result<QueryBuilder<'a, Postgres>> {
    let col = sort_column(q.sort);
    let before = position.is_some_and(|p| p.direction == Direction::Before);
    let order = if before { "ASC" } else { "DESC" };
    let order_by = format!(" ORDER BY {col} {order}, t.trace_id {order}");
    let mut b = QueryBuilder::new(match plan {
        Plan::Ordered => format!("SELECT {ROW_COLUMNS} FROM traces t"),
        Plan::Scan => format!("SELECT * FROM (SELECT {ROW_COLUMNS}, t.search FROM traces t"),
        Plan::Matches => format!("WITH t AS MATERIALIZED (SELECT {ROW_COLUMNS} FROM traces t"),
    });
    push_filters_but_search(&mut b, ws, q);
    if plan != Plan::Scan {
        push_search(&mut b, q);
    }
    if let Some(p) = position {
        let op = if before { ">" } else { "<" };
        b.push(format!(" AND ({col}, t.trace_id) {op} ("));
        match q.sort {
            Sort::Time => {
                let micros: i64 = p.key.parse().map_err(|_| bad_cursor())?;
                let at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(bad_cursor)?;
                b.push_bind(at);
            }
            Sort::Latency | Sort::Cost => {
                let key: i64 = p.key.parse().map_err(|_| bad_cursor())?;
                b.push_bind(key);
            }
        }
        b.push(", ").push_bind(p.id.clone()).push(")");
    }
    match plan {
        Plan::Ordered => {}
        Plan::Scan => {
            b.push(format!("{order_by} LIMIT {SEARCH_SCAN}) t WHERE true"));
            push_search(&mut b, q);
        }
        Plan::Matches => {
            b.push(") SELECT * FROM t");
        }
    }
    b.push(format!("{order_by} LIMIT ")).push_bind(limit);
    Ok(b)
}

fn bad_cursor() -> Error {
    Error::InvalidFormat {
        message: "invalid cursor".into(),
        location: Some("cursor".into()),
    }
}

/// One page of the traces list, with the cursors of its neighbours.
pub async fn list(services: &Services, ws: WorkspaceId, q: &TraceQuery) -> Result<TracePage> {
    let keys = &services.cursors;
    let limit = q.limit as usize;
    let pool = services.read_pool(ws).await;
    let mut rows = fetch_page(pool, ws, q, q.cursor.as_ref(), i64::from(q.limit) + 1).await?;
    // More rows lie beyond this page in the direction it was read.
    let more = rows.len() > limit;
    rows.truncate(limit);
    let (has_next, has_prev) = match q.cursor.as_ref().map(|c| c.direction) {
        None => (more, false),
        Some(Direction::After) => (more, true),
        Some(Direction::Before) => {
            rows.reverse();
            if rows.is_empty() {
                // Nothing before it any more (deleted): the first page.
                rows = fetch_page(pool, ws, q, None, i64::from(q.limit) + 1).await?;
                let more = rows.len() > limit;
                rows.truncate(limit);
                (more, false)
            } else {
                // Short when it reaches the top: never the rows of the page just seen again.
                (true, more)
            }
        }
    };
    let cursor = |row: &Row, direction| {
        keys.encode(&Position {
            sort: q.sort,
            direction,
            key: row.key(q.sort),
            id: row.trace_id.clone(),
        })
    };
    let next_cursor = rows
        .last()
        .filter(|_| has_next)
        .map(|r| cursor(r, Direction::After));
    let prev_cursor = rows
        .first()
        .filter(|_| has_prev)
        .map(|r| cursor(r, Direction::Before));
    let mut data: Vec<TraceRow> = rows.into_iter().map(Row::into_trace).collect();
    attach_scores(services, ws, &mut data).await?;
    Ok(TracePage {
        data,
        meta: argus_types::CursorMeta {
            has_more: next_cursor.is_some(),
            next_cursor,
            prev_cursor,
            sort: q.sort.as_str().into(),
            limit: q.limit,
        },
        window: q.window.window(),
        notices: Vec::new(),
    })
}

/// The workspace's newest trace (by start time; the explorer's index), if it has any: what
/// the setup panel waits for.
pub async fn latest(
    services: &Services,
    ws: WorkspaceId,
) -> Result<Option<argus_types::LatestTrace>> {
    let mut tx = tenancy::begin(services.read_pool(ws).await, ws).await?;
    let row: Option<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT trace_id, agent, name, start_time FROM traces WHERE workspace_id = $1 \
         ORDER BY start_time DESC, trace_id DESC LIMIT 1",
    )
    .bind(ws)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(
        |(trace_id, agent, name, start_time)| argus_types::LatestTrace {
            trace_id,
            agent,
            name,
            start_time,
        },
    ))
}

/// The number of traces matching the query's filters (its cursor aside).
pub async fn count(services: &Services, ws: WorkspaceId, q: &TraceQuery) -> Result<i64> {
    let mut b = QueryBuilder::new("SELECT count(*) FROM traces t");
    push_filters(&mut b, ws, q);
    let mut tx = tenancy::begin(services.read_pool(ws).await, ws).await?;
    let n: i64 = b.build_query_scalar().fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(n)
}
