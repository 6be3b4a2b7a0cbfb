//! The trace explorer: the traces list (keyset pagination, filters, search), one trace with
//! its spans, sessions, and the agents registry.
//!
//! The list reads `traces` only, through one index per sort (migration 0012): time
//! `(workspace_id, start_time DESC, trace_id DESC)`, latency and cost likewise. A page is
//! `WHERE (key, trace_id) < (cursor) ORDER BY key DESC, trace_id DESC LIMIT n + 1`: as fast at
//! the millionth row as at the first, and stable while traces arrive (a row is never skipped
//! or shown twice by the arrival of others). Free text is a GIN index on a tsvector.

pub mod agents;
pub mod cursor;
pub mod deletion;
pub mod export;
pub mod sessions;

use argus_types::{Filters, SpanDetail, TraceDetail, TraceFilters, TracePage, TraceRow};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use crate::analytics::{self, Resolved};
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};
use cursor::{CursorKey, Direction, Position, Sort};

/// The list's query, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceQuery {
    pub window: Resolved,
    /// `Some(true)`: error traces only; `Some(false)`: traces without errors.
    pub errors: Option<bool>,
    pub session: Option<String>,
    pub user: Option<String>,
    pub min_latency_us: Option<i64>,
    /// USD × 10⁹ (the `cost_nanos` column).
    pub min_cost_nanos: Option<i64>,
    pub tags: Vec<String>,
    pub meta: Option<(String, String)>,
    pub score: Option<ScoreFilter>,
    pub search: Option<String>,
    pub sort: Sort,
    pub limit: u32,
    pub cursor: Option<Position>,
}

/// A trace list filter on a score of the trace or its spans.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreFilter {
    pub name: String,
    /// One of `<`, `<=`, `>`, `>=`, `=`, `<>`.
    pub op: &'static str,
    pub value: ScoreOperand,
}

/// What a score is compared with: its number, or its label (`true`/`false`, a category).
#[derive(Clone, Debug, PartialEq)]
pub enum ScoreOperand {
    Number(f64),
    Label(String),
}

impl ScoreFilter {
    /// `helpfulness<0.5`, `resolved=false`, `tone!=rude`.
    pub fn parse(s: &str) -> Result<ScoreFilter> {
        const OPS: [(&str, &str); 6] = [
            ("<=", "<="),
            (">=", ">="),
            ("!=", "<>"),
            ("<", "<"),
            (">", ">"),
            ("=", "="),
        ];
        let bad = || {
            Error::invalid_input(
                "score",
                "use name, an operator and a value: helpfulness<0.5, resolved=false, tone=rude",
            )
        };
        let (at, token, op) = OPS
            .iter()
            .filter_map(|(token, op)| s.find(token).map(|at| (at, *token, *op)))
            .min_by_key(|(at, token, _)| (*at, std::cmp::Reverse(token.len())))
            .ok_or_else(bad)?;
        let name = s[..at].trim();
        let value = s[at + token.len()..].trim();
        if name.is_empty() || value.is_empty() {
            return Err(bad());
        }
        let value = match value.parse::<f64>() {
            Ok(n) if n.is_finite() => ScoreOperand::Number(n),
            _ if matches!(op, "=" | "<>") => ScoreOperand::Label(value.to_owned()),
            _ => {
                return Err(Error::invalid_input(
                    "score",
                    format!("{value:?} is not a number: only = and != compare labels"),
                ))
            }
        };
        Ok(ScoreFilter {
            name: name.to_owned(),
            op,
            value,
        })
    }
}

const MAX_TEXT: usize = 200;

fn text(field: &str, v: &Option<String>) -> Result<Option<String>> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.len() > MAX_TEXT || s.contains('\0') => Err(Error::invalid_input(
            field,
            format!("at most {MAX_TEXT} characters, no NUL"),
        )),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

fn number(field: &str, v: &Option<String>) -> Result<Option<f64>> {
    text(field, v)?
        .map(|s| match s.parse::<f64>() {
            Ok(n) if (0.0..1e12).contains(&n) => Ok(n),
            _ => Err(Error::invalid_input(
                field,
                format!("{s:?} is not a non-negative number"),
            )),
        })
        .transpose()
}

/// Validates the list's parameters. A bad value is an [`Error::InvalidInput`] naming its
/// parameter; a cursor that is not one of ours is [`Error::InvalidFormat`].
pub fn parse(
    filters: &Filters,
    extra: &TraceFilters,
    keys: &CursorKey,
    now: DateTime<Utc>,
) -> Result<TraceQuery> {
    list_query(analytics::resolve(filters, now)?, extra, keys)
}

/// The list's own parameters over a resolved window.
fn list_query(window: Resolved, extra: &TraceFilters, keys: &CursorKey) -> Result<TraceQuery> {
    let errors = match text("status", &extra.status)?.as_deref() {
        None => None,
        Some("error") => Some(true),
        Some("ok") => Some(false),
        Some(other) => {
            return Err(Error::invalid_input(
                "status",
                format!("{other:?} is not a status; use ok or error"),
            ))
        }
    };
    let sort = match text("sort", &extra.sort)? {
        None => Sort::Time,
        Some(s) => Sort::parse(&s).ok_or_else(|| {
            Error::invalid_input(
                "sort",
                format!("{s:?} is not a sort; use time, latency or cost"),
            )
        })?,
    };
    let limit = match text("limit", &extra.limit)? {
        None => argus_types::DEFAULT_PAGE_SIZE,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| argus_types::PAGE_SIZES.contains(n))
            .ok_or_else(|| Error::invalid_input("limit", "a page is 50 or 100 traces"))?,
    };
    let min_latency_us = number("min_latency", &extra.min_latency)?.map(|ms| (ms * 1000.0) as i64);
    let min_cost_nanos = number("min_cost", &extra.min_cost)?.map(|usd| (usd * 1e9).round() as i64);
    let tags = text("tags", &extra.tags)?
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let meta = text("meta", &extra.meta)?
        .map(|m| match m.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(Error::invalid_input("meta", "use key=value")),
        })
        .transpose()?;
    let cursor = match extra.cursor.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => {
            let p = keys.decode(c)?;
            if p.sort != sort {
                return Err(Error::InvalidFormat {
                    message: format!(
                        "invalid cursor: it continues the {} sort, not {}",
                        p.sort.as_str(),
                        sort.as_str()
                    ),
                    location: Some("cursor".into()),
                });
            }
            Some(p)
        }
    };
    Ok(TraceQuery {
        window,
        errors,
        session: text("session", &extra.session)?,
        user: text("user", &extra.user)?,
        min_latency_us,
        min_cost_nanos,
        tags,
        meta,
        score: text("score", &extra.score)?
            .map(|s| ScoreFilter::parse(&s))
            .transpose()?,
        search: text("q", &extra.q)?,
        sort,
        limit,
        cursor,
    })
}

/// For pages: the parameters with every bad value dropped, and a notice for each.
pub fn sanitize(
    filters: &Filters,
    extra: &TraceFilters,
    keys: &CursorKey,
    now: DateTime<Utc>,
) -> (TraceQuery, Vec<String>) {
    let (window, mut notices) = analytics::resolve_lenient(filters, now);
    let mut extra = extra.clone();
    loop {
        let e = match list_query(window.clone(), &extra, keys) {
            Ok(q) => return (q, notices),
            Err(e) => e,
        };
        let field = match &e {
            Error::InvalidInput { field, .. } => field.clone(),
            _ => "cursor".to_owned(),
        };
        notices.push(format!("Ignored {field}: {e}."));
        let slot = match field.as_str() {
            "status" => &mut extra.status,
            "session" => &mut extra.session,
            "user" => &mut extra.user,
            "min_latency" => &mut extra.min_latency,
            "min_cost" => &mut extra.min_cost,
            "tags" => &mut extra.tags,
            "meta" => &mut extra.meta,
            "score" => &mut extra.score,
            "q" => &mut extra.q,
            "sort" => &mut extra.sort,
            "limit" => &mut extra.limit,
            _ => &mut extra.cursor,
        };
        if slot.take().is_none() {
            // Nothing left to drop (cannot happen: every error names a set parameter).
            extra = TraceFilters::default();
        }
    }
}

/// The columns of a [`TraceRow`], and the sort keys as text.
const ROW_COLUMNS: &str = "t.trace_id, t.name, t.start_time, t.latency_us, t.agent, t.department, \
    t.environment, t.version, t.span_count, t.error_count, t.input_tokens, t.output_tokens, \
    t.cost_usd::float8 AS cost, t.models, t.session_id, t.user_id, t.tags, \
    t.cost_nanos";

#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    pub(crate) trace_id: String,
    name: String,
    start_time: DateTime<Utc>,
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

const KINDS: [&str; 6] = [
    "unspecified",
    "internal",
    "server",
    "client",
    "producer",
    "consumer",
];

#[derive(sqlx::FromRow)]
struct SpanRow {
    span_id: String,
    parent_span_id: Option<String>,
    name: String,
    kind: i16,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    duration_us: i64,
    status: String,
    status_message: Option<String>,
    error_type: Option<String>,
    operation: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_creation_tokens: i64,
    reasoning_tokens: i64,
    cost: Option<f64>,
    cost_source: Option<String>,
    input: Option<serde_json::Value>,
    output: Option<serde_json::Value>,
    attributes: serde_json::Value,
    resource: Option<serde_json::Value>,
}

/// A trace id as the API takes it: 32 hex digits (any case).
pub fn trace_id(raw: &str) -> Result<String> {
    let id = raw.trim().to_ascii_lowercase();
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        Err(Error::not_found("trace"))
    }
}

/// Spans a trace page shows at once (a trace of thousands of spans is paged).
pub const SPANS_PER_PAGE: i64 = 500;

/// Which page of a trace's spans: from `offset`, or the page holding span `focus`.
#[derive(Clone, Debug, Default)]
pub struct SpanPage {
    pub offset: i64,
    pub focus: Option<String>,
}

/// One trace with a page of its spans (start order). Another workspace's trace is not found.
pub async fn detail(
    services: &Services,
    ws: WorkspaceId,
    raw_id: &str,
    page: &SpanPage,
) -> Result<TraceDetail> {
    let id = trace_id(raw_id)?;
    let mut tx = tenancy::begin(services.read_pool(ws).await, ws).await?;
    #[derive(sqlx::FromRow)]
    struct Extra {
        end_time: DateTime<Utc>,
        cache_read_tokens: i64,
        reasoning_tokens: i64,
        unpriced_spans: i32,
        metadata: serde_json::Value,
    }
    let row: Option<(Row, Extra)> = {
        let r: Option<sqlx::postgres::PgRow> = sqlx::query(&format!(
            "SELECT {ROW_COLUMNS}, t.end_time, t.cache_read_tokens, t.reasoning_tokens, \
               t.unpriced_spans, t.metadata \
             FROM traces t WHERE t.workspace_id = $1 AND t.trace_id = $2"
        ))
        .bind(ws)
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await?;
        match r {
            None => None,
            Some(r) => {
                use sqlx::FromRow;
                Some((Row::from_row(&r)?, Extra::from_row(&r)?))
            }
        }
    };
    let Some((row, extra)) = row else {
        return Err(Error::not_found("trace"));
    };
    // The trace's start and end bound its spans' start times: only those day partitions.
    const BOUNDS: &str = "s.workspace_id = $1 AND s.trace_id = $2 AND s.start_time >= $3 \
         AND s.start_time <= $4";
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM spans s WHERE {BOUNDS}"))
        .bind(ws)
        .bind(&id)
        .bind(row.start_time)
        .bind(extra.end_time)
        .fetch_one(&mut *tx)
        .await?;
    let focused: Option<i64> = match &page.focus {
        Some(span) => {
            sqlx::query_scalar(&format!(
                "SELECT count(*) FROM spans s, spans f \
                 WHERE {BOUNDS} AND f.workspace_id = $1 AND f.trace_id = $2 AND f.span_id = $5 \
                   AND f.start_time >= $3 AND f.start_time <= $4 \
                   AND (s.start_time, s.span_id) < (f.start_time, f.span_id) \
                 HAVING count(f.span_id) > 0"
            ))
            .bind(ws)
            .bind(&id)
            .bind(row.start_time)
            .bind(extra.end_time)
            .bind(span)
            .fetch_optional(&mut *tx)
            .await?
        }
        None => None,
    };
    let offset = match focused {
        Some(before) => before / SPANS_PER_PAGE * SPANS_PER_PAGE,
        None => page.offset.clamp(0, (total - 1).max(0)),
    };
    let spans: Vec<SpanRow> = sqlx::query_as(&format!(
        "SELECT s.span_id, s.parent_span_id, s.name, s.kind, s.start_time, s.end_time, \
           s.duration_us, s.status, s.status_message, s.error_type, s.operation, s.model, \
           s.provider, s.input_tokens, s.output_tokens, s.cache_read_tokens, \
           s.cache_creation_tokens, s.reasoning_tokens, s.cost_usd::float8 AS cost, \
           s.cost_source, s.input, s.output, s.attributes, r.attributes AS resource \
         FROM spans s \
         LEFT JOIN resources r ON r.workspace_id = s.workspace_id AND r.resource_id = s.resource_id \
         WHERE {BOUNDS} \
         ORDER BY s.start_time, s.span_id OFFSET $5 LIMIT $6"
    ))
    .bind(ws)
    .bind(&id)
    .bind(row.start_time)
    .bind(extra.end_time)
    .bind(offset)
    .bind(SPANS_PER_PAGE)
    .fetch_all(&mut *tx)
    .await?;
    let guardrails = crate::guard::decisions::of_trace(&mut tx, ws, &id).await?;
    tx.commit().await?;
    Ok(TraceDetail {
        trace: row.into_trace(),
        end_time: extra.end_time,
        cache_read_tokens: extra.cache_read_tokens,
        reasoning_tokens: extra.reasoning_tokens,
        unpriced_spans: extra.unpriced_spans,
        metadata: extra.metadata,
        span_total: total,
        span_offset: offset,
        span_limit: SPANS_PER_PAGE,
        guardrails,
        spans: spans
            .into_iter()
            .map(|s| SpanDetail {
                span_id: s.span_id,
                parent_span_id: s.parent_span_id,
                name: s.name,
                kind: KINDS
                    .get(s.kind.max(0) as usize)
                    .copied()
                    .unwrap_or("unspecified")
                    .into(),
                start_time: s.start_time,
                end_time: s.end_time,
                duration_ms: s.duration_us as f64 / 1000.0,
                status: s.status,
                status_message: s.status_message,
                error_type: s.error_type,
                operation: s.operation,
                model: s.model,
                provider: s.provider,
                input_tokens: s.input_tokens,
                output_tokens: s.output_tokens,
                cache_read_tokens: s.cache_read_tokens,
                cache_creation_tokens: s.cache_creation_tokens,
                reasoning_tokens: s.reasoning_tokens,
                cost_usd: s.cost,
                cost_source: s.cost_source,
                input: s.input,
                output: s.output,
                attributes: s.attributes,
                resource: s.resource.unwrap_or_else(|| serde_json::json!({})),
            })
            .collect(),
    })
}
