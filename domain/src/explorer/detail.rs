//! One trace with its spans, a page at a time.

use argus_types::{SpanDetail, TraceDetail};
use chrono::{DateTime, Utc};

use super::{Row, ROW_COLUMNS};
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

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
