//! `POST /v1/metrics`: the GenAI client metrics, so agents that export only metrics still show
//! usage and latency.
//!
//! Stored: the histograms `gen_ai.client.token.usage` (its sum per `gen_ai.token.type`: input
//! or output tokens) and `gen_ai.client.operation.duration` (its count: calls; with
//! `error.type`: errors; its sum and buckets: latency), explicit-bucket or exponential, by
//! model (response, else request), provider, operation and the resource's agent, department,
//! environment and version, into `metric_rollup_hourly` / `metric_rollup_daily`. Every other
//! metric is accepted, counted and ignored.
//!
//! Temporality: a series (metric, resource, attributes) keeps its last point in
//! `metric_series`. A cumulative point adds its difference from the last one (the whole point
//! after a reset: a new start time or a smaller count); a delta point adds itself. A point not
//! newer than the last one of its series is a re-send and adds nothing, so replays never count
//! twice.
//!
//! Spans win: readers use an agent's metric rows only for the hours it sent no spans
//! ([`usage_by_agent`]), so instrumentations that export both never count a call twice.
//!
//! OTLP buckets become the span rollups' log buckets at the middle of each OTLP bucket (the
//! lowest at half its upper bound, or the point's min; the highest at the point's max, or its
//! lower bound): percentiles from metrics are as precise as the exporter's buckets allow.

mod map;
mod point;
mod store;

pub use map::map;
pub use point::{Kind, Mapped, Point, MAX_COUNT, OPERATION_DURATION, TOKEN_USAGE};
pub use store::{store, StoredMetrics};

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;

use super::limits;
use super::otlp::Encoding;
use crate::access::Access;
use crate::pricing::Pricing;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// Decodes an `ExportMetricsServiceRequest`.
pub fn decode(body: &[u8], encoding: Encoding) -> Result<ExportMetricsServiceRequest> {
    match encoding {
        Encoding::Protobuf => {
            ExportMetricsServiceRequest::decode(body).map_err(|e| Error::InvalidFormat {
                message: format!(
                    "the body is not a valid OTLP protobuf ExportMetricsServiceRequest: {e}"
                ),
                location: None,
            })
        }
        Encoding::Json => serde_json::from_slice(body).map_err(|e| Error::InvalidFormat {
            message: format!("the body is not a valid OTLP/JSON ExportMetricsServiceRequest: {e}"),
            location: Some(format!("line {}, column {}", e.line(), e.column())),
        }),
    }
}

/// What an OTLP metrics export did, and the response body to send.
#[derive(Clone, Debug)]
pub struct ExportedMetrics {
    pub stored: StoredMetrics,
    pub ignored: usize,
    pub rejected: usize,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// `POST /v1/metrics`: decode, map, store the GenAI points; answer OTLP's
/// `ExportMetricsServiceResponse` with `partial_success` when points were rejected.
pub async fn export(
    services: &Services,
    access: &Access,
    admission: &mut super::gate::Admission,
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body_limit: u64,
) -> Result<ExportedMetrics> {
    access.require_ingest()?;
    let encoding = Encoding::from_content_type(content_type)?;
    let body = super::otlp::decompress(body, content_encoding, body_limit, admission)?;
    let census = match encoding {
        Encoding::Protobuf => limits::wire::metrics(&body)?,
        Encoding::Json => limits::json::census(&body, limits::json::Shape::Otlp)?,
    };
    admission.charge(census.bytes.saturating_mul(limits::DECODE_FACTOR))?;
    let mut request = decode(&body, encoding)?;
    drop(body);
    let trimmed = limits::sanitize::metrics(&mut request);
    let mut mapped = map(&request);
    drop(request);
    if trimmed.dropped_items > 0 {
        mapped.rejected.insert(
            0,
            format!(
                "{} data point(s) dropped: {}",
                trimmed.dropped_items,
                limits::sanitize::Trimmed::reason("data points")
            ),
        );
    }
    let rejected_points =
        mapped.rejected.len() - usize::from(trimmed.dropped_items > 0) + trimmed.dropped_items;
    let overrides = crate::pricing::cached_overrides(services, access.workspace).await?;
    let stored = store(
        &services.pool,
        access.workspace,
        &mapped.points,
        &Pricing::new(&overrides),
    )
    .await?;
    use crate::meters::{Rejected, Signal};
    let meters = &services.meters;
    meters.ingested(Signal::MetricPoints, stored.points, stored.duplicates);
    meters.rejected(
        Signal::MetricPoints,
        Rejected::Invalid,
        rejected_points - trimmed.dropped_items,
    );
    meters.rejected(
        Signal::MetricPoints,
        Rejected::Dropped,
        trimmed.dropped_items,
    );
    if stored.points > 0 {
        services
            .invalidator
            .changed(&services.cache, &services.reads, access.workspace)
            .await;
    }
    let partial_success = (rejected_points > 0).then(|| {
        let mut reasons: Vec<String> = mapped.rejected.iter().take(5).cloned().collect();
        if mapped.rejected.len() > 5 {
            reasons.push(format!("and {} more", mapped.rejected.len() - 5));
        }
        ExportMetricsPartialSuccess {
            rejected_data_points: rejected_points as i64,
            error_message: format!(
                "{rejected_points} data point(s) rejected: {}",
                reasons.join("; ")
            ),
        }
    });
    let response = ExportMetricsServiceResponse { partial_success };
    let body = encoding.encode(&response)?;
    Ok(ExportedMetrics {
        stored,
        ignored: mapped.ignored,
        rejected: rejected_points,
        content_type: encoding.content_type(),
        body,
    })
}

/// An agent's model usage over a range, from spans where it sent spans and from metrics for
/// the hours it sent none.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct AgentUsage {
    pub agent: String,
    /// Model calls: LLM spans, or the duration metric's count.
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    /// Hours whose numbers came from spans and from metrics.
    pub span_hours: i64,
    pub metric_hours: i64,
}

/// Model usage per agent over `[from, to)` (hourly rows): the combination rule every reader
/// of the metric rollups follows — an (agent, hour) with any span row takes the spans' numbers
/// only; metrics fill in only (agent, hour)s without spans.
pub async fn usage_by_agent(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<AgentUsage>> {
    let mut tx = tenancy::begin(pool, workspace).await?;
    let rows: Vec<AgentUsage> = sqlx::query_as(
        "WITH spans AS ( \
           SELECT agent, bucket, sum(spans) FILTER (WHERE model <> '') AS calls, \
             sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, \
             sum(cost_usd) AS cost_usd \
           FROM rollup_hourly WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3 \
           GROUP BY agent, bucket), \
         metrics AS ( \
           SELECT m.agent, m.bucket, sum(m.calls) AS calls, sum(m.input_tokens) AS input_tokens, \
             sum(m.output_tokens) AS output_tokens, sum(m.cost_usd) AS cost_usd \
           FROM metric_rollup_hourly m \
           WHERE m.workspace_id = $1 AND m.bucket >= $2 AND m.bucket < $3 \
             AND NOT EXISTS (SELECT 1 FROM rollup_hourly r WHERE r.workspace_id = $1 \
               AND r.bucket = m.bucket AND r.agent = m.agent) \
           GROUP BY m.agent, m.bucket) \
         SELECT agent, coalesce(sum(calls), 0)::bigint AS calls, \
           coalesce(sum(input_tokens), 0)::bigint AS input_tokens, \
           coalesce(sum(output_tokens), 0)::bigint AS output_tokens, \
           coalesce(sum(cost_usd), 0)::float8 AS cost_usd, \
           count(*) FILTER (WHERE source = 'spans') AS span_hours, \
           count(*) FILTER (WHERE source = 'metrics') AS metric_hours \
         FROM (SELECT *, 'spans' AS source FROM spans \
               UNION ALL SELECT *, 'metrics' FROM metrics) AS hours \
         GROUP BY agent ORDER BY agent",
    )
    .bind(workspace)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}
