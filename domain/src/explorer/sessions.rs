//! Sessions: the traces that share a `session_id`, as a conversation.

use argus_types::{PageMeta, SessionDetail, SessionPage, SessionSummary, SessionTurn};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use super::{Row, ROW_COLUMNS};
use crate::analytics::Resolved;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// Sessions per page of the list.
pub const PAGE_SIZE: u32 = 50;
/// The most traces a session page shows (the first ones, in order).
pub const MAX_TURNS: i64 = 500;

#[derive(sqlx::FromRow)]
struct Summary {
    session_id: String,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    traces: i64,
    errors: i64,
    tokens: i64,
    cost: f64,
    agents: Vec<String>,
    user_id: Option<String>,
}

impl From<Summary> for SessionSummary {
    fn from(s: Summary) -> SessionSummary {
        SessionSummary {
            session_id: s.session_id,
            first_seen: s.first_seen,
            last_seen: s.last_seen,
            traces: s.traces,
            errors: s.errors,
            tokens: s.tokens,
            cost_usd: s.cost,
            agents: s.agents,
            user_id: s.user_id,
        }
    }
}

const SUMMARY: &str = "SELECT t.session_id, min(t.start_time) AS first_seen, \
    max(t.start_time) AS last_seen, count(*) AS traces, \
    count(*) FILTER (WHERE t.error_count > 0) AS errors, \
    coalesce(sum(t.input_tokens + t.output_tokens), 0)::bigint AS tokens, \
    coalesce(sum(t.cost_usd), 0)::float8 AS cost, \
    array_agg(DISTINCT t.agent ORDER BY t.agent) AS agents, min(t.user_id) AS user_id \
    FROM traces t";

fn push_window<'a>(b: &mut QueryBuilder<'a, Postgres>, ws: WorkspaceId, q: &'a Resolved) {
    super::push_window(b, ws, q);
    b.push(" AND t.session_id IS NOT NULL");
}

/// The sessions active in the window (by their last trace, newest first), `page` from 1.
pub async fn list(
    services: &Services,
    ws: WorkspaceId,
    q: &Resolved,
    page: u32,
) -> Result<SessionPage> {
    let page = page.max(1);
    let mut tx = tenancy::begin(services.read_pool(ws).await, ws).await?;
    let mut count = QueryBuilder::new("SELECT count(DISTINCT t.session_id) FROM traces t");
    push_window(&mut count, ws, q);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
    let mut b = QueryBuilder::new(SUMMARY);
    push_window(&mut b, ws, q);
    b.push(" GROUP BY t.session_id ORDER BY last_seen DESC, t.session_id LIMIT ")
        .push_bind(i64::from(PAGE_SIZE))
        .push(" OFFSET ")
        .push_bind(i64::from(page - 1) * i64::from(PAGE_SIZE));
    let rows: Vec<Summary> = b.build_query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(SessionPage {
        sessions: rows.into_iter().map(Into::into).collect(),
        meta: PageMeta {
            total,
            page,
            limit: PAGE_SIZE,
            has_more: i64::from(page) * i64::from(PAGE_SIZE) < total,
        },
        window: q.window(),
    })
}

/// One session: its traces in start order, each with the input of its first span that has
/// one and the output of its last, and the session's totals. Unknown → not found.
pub async fn detail(services: &Services, ws: WorkspaceId, session: &str) -> Result<SessionDetail> {
    let session = session.trim();
    if session.is_empty() || session.len() > 500 {
        return Err(Error::not_found("session"));
    }
    let mut tx = tenancy::begin(services.read_pool(ws).await, ws).await?;
    let total: Option<Summary> = sqlx::query_as(&format!(
        "{SUMMARY} WHERE t.workspace_id = $1 AND t.session_id = $2 GROUP BY t.session_id"
    ))
    .bind(ws)
    .bind(session)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(total) = total else {
        return Err(Error::not_found("session"));
    };
    let rows: Vec<sqlx::postgres::PgRow> = sqlx::query(&format!(
        "SELECT {ROW_COLUMNS}, i.input, o.output FROM traces t \
         LEFT JOIN LATERAL (SELECT s.input FROM spans s WHERE s.workspace_id = t.workspace_id \
             AND s.trace_id = t.trace_id AND s.start_time >= t.start_time \
             AND s.start_time <= t.end_time AND s.input IS NOT NULL \
             ORDER BY s.start_time, s.span_id LIMIT 1) i ON true \
         LEFT JOIN LATERAL (SELECT s.output FROM spans s WHERE s.workspace_id = t.workspace_id \
             AND s.trace_id = t.trace_id AND s.start_time >= t.start_time \
             AND s.start_time <= t.end_time AND s.output IS NOT NULL \
             ORDER BY s.end_time DESC, s.span_id LIMIT 1) o ON true \
         WHERE t.workspace_id = $1 AND t.session_id = $2 \
         ORDER BY t.start_time, t.trace_id LIMIT $3"
    ))
    .bind(ws)
    .bind(session)
    .bind(MAX_TURNS)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut traces = Vec::with_capacity(rows.len());
    for r in rows {
        use sqlx::{FromRow, Row as _};
        traces.push(SessionTurn {
            input: r.try_get("input")?,
            output: r.try_get("output")?,
            trace: Row::from_row(&r)?.into_trace(),
        });
    }
    Ok(SessionDetail {
        session_id: total.session_id.clone(),
        traces,
        total: total.into(),
    })
}
