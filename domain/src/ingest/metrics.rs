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

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint,
};
use prost::Message;
use sha2::{Digest, Sha256};

use super::limits;
use super::mapping::{dimensions, Attrs};
use super::model::{Dimensions, Usage};
use super::otlp::Encoding;
use crate::access::Access;
use crate::histogram::Histogram;
use crate::pricing::Pricing;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

pub const TOKEN_USAGE: &str = "gen_ai.client.token.usage";
pub const OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// The largest count (calls, bucket) one data point may carry.
pub const MAX_COUNT: u64 = 1_000_000_000_000;
/// The largest duration sum one data point may carry (about 31 years of calls).
const MAX_DURATION_SUM_US: f64 = 1e15;

/// What a point measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    InputTokens,
    OutputTokens,
    /// Seconds (or milliseconds when the unit says `ms`) per call.
    Duration {
        micros_per_unit: f64,
    },
}

/// One GenAI histogram point, mapped.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub series: i64,
    pub kind: Kind,
    pub dims: Dimensions,
    pub model: String,
    pub provider: String,
    pub operation: String,
    pub error: bool,
    pub cumulative: bool,
    pub start_ns: i64,
    pub time_ns: i64,
    pub count: u64,
    pub sum: f64,
    /// A representative value (in the metric's unit) and a count per OTLP bucket.
    pub bucket_values: Vec<f64>,
    pub bucket_counts: Vec<u64>,
    /// What identifies the buckets (explicit bounds; or scale, offset and length): points of
    /// one series are subtracted bucket by bucket only under the same layout.
    pub bucket_layout: Vec<f64>,
}

/// What a request maps to.
#[derive(Debug, Default)]
pub struct Mapped {
    pub points: Vec<Point>,
    /// Data points of other metrics (accepted, not stored).
    pub ignored: usize,
    pub rejected: Vec<String>,
}

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

fn series_id(parts: &[&str]) -> i64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    i64::from_be_bytes(first)
}

/// Representative values of explicit buckets: `(b[i-1], b[i]]`, the first `(-∞, b[0]]`, the
/// last `(b[n-1], +∞)`.
fn explicit_values(p: &HistogramDataPoint) -> Vec<f64> {
    let b = &p.explicit_bounds;
    (0..p.bucket_counts.len())
        .map(|i| {
            if b.is_empty() {
                return if p.count > 0 {
                    p.sum.unwrap_or(0.0) / p.count as f64
                } else {
                    0.0
                };
            }
            if i == 0 {
                let upper = b[0];
                return p.min.map_or(upper / 2.0, |m| (m.max(0.0) + upper) / 2.0);
            }
            if i >= b.len() {
                let lower = b[b.len() - 1];
                return p.max.unwrap_or(lower).max(lower);
            }
            (b[i - 1] + b[i]) / 2.0
        })
        .collect()
}

/// Representative values of exponential buckets: bucket `i` is `(base^i, base^(i+1)]`,
/// `base = 2^(2^-scale)`; the zero bucket first.
fn exponential_values(p: &ExponentialHistogramDataPoint) -> (Vec<f64>, Vec<u64>) {
    let base = 2f64.powf(2f64.powi(-p.scale.clamp(-10, 20)));
    let mut values = vec![0.0];
    let mut counts = vec![p.zero_count];
    if let Some(pos) = &p.positive {
        for (k, c) in pos.bucket_counts.iter().enumerate() {
            let i = pos.offset as f64 + k as f64;
            values.push((base.powf(i) + base.powf(i + 1.0)) / 2.0);
            counts.push(*c);
        }
    }
    (values, counts)
}

fn time_ok(ns: u64, what: &str) -> std::result::Result<i64, String> {
    let ns = i64::try_from(ns).map_err(|_| format!("{what} is out of range"))?;
    let t = DateTime::from_timestamp_nanos(ns);
    super::store::time_in_range(t, Utc::now(), crate::workspaces::MAX_RETENTION_DAYS)?;
    Ok(ns)
}

/// Maps the GenAI points of a request; a bad point is rejected alone.
pub fn map(request: &ExportMetricsServiceRequest) -> Mapped {
    let mut out = Mapped::default();
    for rm in &request.resource_metrics {
        let resource_attrs = rm.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let resource = Attrs::new(resource_attrs);
        let resource_key = serde_json::to_string(
            &resource_attrs
                .iter()
                .map(|kv| (kv.key.as_str(), format!("{:?}", kv.value)))
                .collect::<BTreeMap<_, _>>(),
        )
        .unwrap_or_default();
        for sm in &rm.scope_metrics {
            for metric in &sm.metrics {
                let genai = metric.name == TOKEN_USAGE || metric.name == OPERATION_DURATION;
                let points: Vec<RawPoint> = match &metric.data {
                    Some(Data::Histogram(h)) if genai => h
                        .data_points
                        .iter()
                        .map(|p| RawPoint::explicit(p, h.aggregation_temporality))
                        .collect(),
                    Some(Data::ExponentialHistogram(h)) if genai => h
                        .data_points
                        .iter()
                        .map(|p| RawPoint::exponential(p, h.aggregation_temporality))
                        .collect(),
                    Some(other) => {
                        out.ignored += point_count(other);
                        continue;
                    }
                    None => continue,
                };
                for raw in points {
                    match map_point(&metric.name, &metric.unit, &resource, &resource_key, raw) {
                        Ok(Some(p)) => out.points.push(p),
                        Ok(None) => out.ignored += 1,
                        Err(reason) => out
                            .rejected
                            .push(format!("a {} data point: {reason}", metric.name)),
                    }
                }
            }
        }
    }
    out
}

/// The data points of a metric of any type.
fn point_count(data: &Data) -> usize {
    match data {
        Data::Gauge(g) => g.data_points.len(),
        Data::Sum(s) => s.data_points.len(),
        Data::Histogram(h) => h.data_points.len(),
        Data::ExponentialHistogram(h) => h.data_points.len(),
        Data::Summary(s) => s.data_points.len(),
    }
}

/// The fields both histogram kinds share.
struct RawPoint<'a> {
    attributes: &'a [opentelemetry_proto::tonic::common::v1::KeyValue],
    temporality: i32,
    start_ns: u64,
    time_ns: u64,
    count: u64,
    sum: Option<f64>,
    values: Vec<f64>,
    counts: Vec<u64>,
    layout: Vec<f64>,
}

impl<'a> RawPoint<'a> {
    fn explicit(p: &'a HistogramDataPoint, temporality: i32) -> RawPoint<'a> {
        RawPoint {
            attributes: &p.attributes,
            temporality,
            start_ns: p.start_time_unix_nano,
            time_ns: p.time_unix_nano,
            count: p.count,
            sum: p.sum,
            values: explicit_values(p),
            counts: p.bucket_counts.clone(),
            layout: p.explicit_bounds.clone(),
        }
    }

    fn exponential(p: &'a ExponentialHistogramDataPoint, temporality: i32) -> RawPoint<'a> {
        let (values, counts) = exponential_values(p);
        let layout = vec![
            f64::from(p.scale),
            f64::from(p.positive.as_ref().map_or(0, |b| b.offset)),
            counts.len() as f64,
        ];
        RawPoint {
            attributes: &p.attributes,
            temporality,
            start_ns: p.start_time_unix_nano,
            time_ns: p.time_unix_nano,
            count: p.count,
            sum: p.sum,
            values,
            counts,
            layout,
        }
    }
}

/// `Ok(None)`: a point of a GenAI metric this version does not store (another token type).
fn map_point(
    name: &str,
    unit: &str,
    resource: &Attrs,
    resource_key: &str,
    raw: RawPoint,
) -> std::result::Result<Option<Point>, String> {
    let attrs = Attrs::new(raw.attributes);
    let kind = if name == TOKEN_USAGE {
        match attrs.string(&["gen_ai.token.type"]).as_deref() {
            Some("input") | Some("prompt") => Kind::InputTokens,
            Some("output") | Some("completion") => Kind::OutputTokens,
            Some(_) => return Ok(None),
            None => return Err("gen_ai.token.type is missing".into()),
        }
    } else {
        Kind::Duration {
            micros_per_unit: match unit.trim() {
                "ms" => 1_000.0,
                "us" | "µs" => 1.0,
                _ => 1_000_000.0,
            },
        }
    };
    let cumulative = match AggregationTemporality::try_from(raw.temporality) {
        Ok(AggregationTemporality::Cumulative) => true,
        Ok(AggregationTemporality::Delta) => false,
        _ => return Err("the aggregation temporality is unspecified".into()),
    };
    let sum = raw.sum.unwrap_or(0.0);
    if !sum.is_finite() || sum < 0.0 {
        return Err(format!(
            "the sum must be a finite, non-negative number, not {sum}"
        ));
    }
    if matches!(kind, Kind::InputTokens | Kind::OutputTokens) && sum > 1e15 {
        return Err(format!("{sum} tokens is not a plausible count"));
    }
    if raw.counts.len() != raw.values.len() {
        return Err("bucket_counts does not match explicit_bounds".into());
    }
    if raw.count > MAX_COUNT || raw.counts.iter().any(|c| *c > MAX_COUNT) {
        return Err(format!("a count above {MAX_COUNT} is not plausible"));
    }
    if let Kind::Duration { micros_per_unit } = kind {
        if sum * micros_per_unit > MAX_DURATION_SUM_US {
            return Err(format!("a duration sum of {sum} {unit} is not plausible"));
        }
    }
    let time_ns = time_ok(raw.time_ns, "time_unix_nano")?;
    let start_ns = if raw.start_ns == 0 {
        0
    } else {
        i64::try_from(raw.start_ns).map_err(|_| "start_time_unix_nano is out of range")?
    };
    let dims = dimensions(&attrs, resource);
    let model = attrs
        .string(&["gen_ai.response.model", "gen_ai.request.model"])
        .unwrap_or_default();
    let provider = attrs
        .string(&["gen_ai.provider.name", "gen_ai.system"])
        .unwrap_or_default();
    let operation = attrs.string(&["gen_ai.operation.name"]).unwrap_or_default();
    let point_key = serde_json::to_string(
        &raw.attributes
            .iter()
            .map(|kv| (kv.key.as_str(), format!("{:?}", kv.value)))
            .collect::<BTreeMap<_, _>>(),
    )
    .unwrap_or_default();
    Ok(Some(Point {
        series: series_id(&[name, resource_key, &point_key]),
        kind,
        error: attrs.string(&["error.type"]).is_some(),
        dims,
        model,
        provider,
        operation,
        cumulative,
        start_ns,
        time_ns,
        count: raw.count,
        sum,
        bucket_values: raw.values,
        bucket_counts: raw.counts,
        bucket_layout: raw.layout,
    }))
}

/// The last point of a series, as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
struct SeriesState {
    series_id: i64,
    start_unix_nano: i64,
    time_unix_nano: i64,
    count: i64,
    sum: f64,
    bucket_layout: Vec<f64>,
    bucket_counts: Vec<i64>,
}

/// What a point adds: its increment over the series' last point, or `None` for a re-send.
fn increment(p: &Point, last: Option<&SeriesState>) -> Option<(u64, f64, Vec<u64>)> {
    let Some(last) = last.filter(|l| l.time_unix_nano >= 0) else {
        return Some((p.count, p.sum, p.bucket_counts.clone()));
    };
    if p.time_ns <= last.time_unix_nano {
        return None;
    }
    if !p.cumulative {
        return Some((p.count, p.sum, p.bucket_counts.clone()));
    }
    let same_layout =
        last.bucket_layout == p.bucket_layout && last.bucket_counts.len() == p.bucket_counts.len();
    let grew = p.start_ns == last.start_unix_nano
        && p.count >= last.count.max(0) as u64
        && p.sum >= last.sum
        && same_layout
        && p.bucket_counts
            .iter()
            .zip(&last.bucket_counts)
            .all(|(now, before)| *now >= (*before).max(0) as u64);
    if !grew {
        // A reset (restart, new start time): the point is all new.
        return Some((p.count, p.sum, p.bucket_counts.clone()));
    }
    Some((
        p.count - last.count as u64,
        p.sum - last.sum,
        p.bucket_counts
            .iter()
            .zip(&last.bucket_counts)
            .map(|(now, before)| now - (*before).max(0) as u64)
            .collect(),
    ))
}

/// One metric rollup row's key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    bucket: DateTime<Utc>,
    department: String,
    agent: String,
    environment: String,
    version: String,
    model: String,
    provider: String,
    operation: String,
}

#[derive(Clone, Debug, Default)]
struct Delta {
    calls: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost: f64,
    unpriced_tokens: i64,
    duration_sum_us: i64,
    hist: Histogram,
}

impl Delta {
    fn is_empty(&self) -> bool {
        self.calls == 0
            && self.input_tokens == 0
            && self.output_tokens == 0
            && self.duration_sum_us == 0
            && self.hist.is_empty()
    }
}

/// What an export stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoredMetrics {
    /// Points that added something.
    pub points: usize,
    /// Re-sent points (nothing added).
    pub duplicates: usize,
}

/// Adds the increments of `points` to the metric rollups of `workspace`, in one transaction.
pub async fn store(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    points: &[Point],
    pricing: &Pricing<'_>,
) -> Result<StoredMetrics> {
    if points.is_empty() {
        return Ok(StoredMetrics::default());
    }
    let mut order: Vec<&Point> = points.iter().collect();
    order.sort_by_key(|p| (p.series, p.time_ns));
    let mut ids: Vec<i64> = order.iter().map(|p| p.series).collect();
    ids.dedup();

    let mut tx = tenancy::begin(pool, workspace).await?;
    // Placeholders first, so a series seen for the first time by two exports at once is
    // still read and written by one after the other; then lock them in key order.
    sqlx::query(
        "INSERT INTO metric_series (workspace_id, series_id, start_unix_nano, time_unix_nano, \
           count, sum, bucket_layout, bucket_counts) \
         SELECT $1, s, -1, -1, 0, 0, '{}', '{}' FROM unnest($2::bigint[]) AS s \
         ON CONFLICT DO NOTHING",
    )
    .bind(workspace)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    let states: Vec<SeriesState> = sqlx::query_as(
        "SELECT series_id, start_unix_nano, time_unix_nano, count, sum, bucket_layout, \
           bucket_counts FROM metric_series WHERE workspace_id = $1 AND series_id = ANY($2) \
         ORDER BY series_id FOR UPDATE",
    )
    .bind(workspace)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut last: HashMap<i64, SeriesState> =
        states.into_iter().map(|s| (s.series_id, s)).collect();

    let mut hourly: BTreeMap<Key, Delta> = BTreeMap::new();
    let mut daily: BTreeMap<Key, Delta> = BTreeMap::new();
    let mut stored = StoredMetrics::default();
    for p in order {
        let Some((count, sum, counts)) = increment(p, last.get(&p.series)) else {
            stored.duplicates += 1;
            continue;
        };
        last.insert(
            p.series,
            SeriesState {
                series_id: p.series,
                start_unix_nano: p.start_ns,
                time_unix_nano: p.time_ns,
                count: p.count.min(i64::MAX as u64) as i64,
                sum: p.sum,
                bucket_layout: p.bucket_layout.clone(),
                bucket_counts: p
                    .bucket_counts
                    .iter()
                    .map(|c| (*c).min(i64::MAX as u64) as i64)
                    .collect(),
            },
        );
        let mut d = Delta::default();
        let at = DateTime::from_timestamp_nanos(p.time_ns);
        match p.kind {
            Kind::InputTokens | Kind::OutputTokens => {
                let tokens = sum.round() as i64;
                let usage = if p.kind == Kind::InputTokens {
                    d.input_tokens = tokens;
                    Usage {
                        input: tokens,
                        ..Usage::default()
                    }
                } else {
                    d.output_tokens = tokens;
                    Usage {
                        output: tokens,
                        ..Usage::default()
                    }
                };
                let model = (!p.model.is_empty()).then_some(p.model.as_str());
                match pricing.price(None, model, None, &usage, at).0 {
                    Some(c) => d.cost = c,
                    None => d.unpriced_tokens = tokens,
                }
            }
            Kind::Duration { micros_per_unit } => {
                d.calls = count.min(i64::MAX as u64) as i64;
                d.errors = if p.error { d.calls } else { 0 };
                d.duration_sum_us = (sum * micros_per_unit).round() as i64;
                for (v, n) in p.bucket_values.iter().zip(&counts) {
                    d.hist
                        .record_n((v.max(0.0) * micros_per_unit).round() as u64, *n);
                }
            }
        }
        stored.points += 1;
        if d.is_empty() && d.cost == 0.0 {
            continue;
        }
        let key = |bucket| Key {
            bucket,
            department: p.dims.department.clone(),
            agent: p.dims.agent.clone(),
            environment: p.dims.environment.clone(),
            version: p.dims.version.clone(),
            model: p.model.clone(),
            provider: p.provider.clone(),
            operation: p.operation.clone(),
        };
        for (map, width) in [
            (&mut hourly, TimeDelta::hours(1)),
            (&mut daily, TimeDelta::days(1)),
        ] {
            let row = map
                .entry(key(at.duration_trunc(width).unwrap_or(at)))
                .or_default();
            row.calls += d.calls;
            row.errors += d.errors;
            row.input_tokens += d.input_tokens;
            row.output_tokens += d.output_tokens;
            row.cost += d.cost;
            row.unpriced_tokens += d.unpriced_tokens;
            row.duration_sum_us += d.duration_sum_us;
            row.hist.merge(&d.hist);
        }
    }

    let states: Vec<&SeriesState> = last.values().filter(|s| s.time_unix_nano >= 0).collect();
    sqlx::query(
        "UPDATE metric_series AS m SET start_unix_nano = u.start_ns, time_unix_nano = u.time_ns, \
           count = u.count, sum = u.sum, bucket_layout = string_to_array(u.bucket_layout, ',')::float8[], \
           bucket_counts = string_to_array(u.bucket_counts, ',')::bigint[], updated_at = now() \
         FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::float8[], \
           $7::text[], $8::text[]) AS u(series_id, start_ns, time_ns, count, sum, bucket_layout, bucket_counts) \
         WHERE m.workspace_id = $1 AND m.series_id = u.series_id",
    )
    .bind(workspace)
    .bind(states.iter().map(|s| s.series_id).collect::<Vec<_>>())
    .bind(states.iter().map(|s| s.start_unix_nano).collect::<Vec<_>>())
    .bind(states.iter().map(|s| s.time_unix_nano).collect::<Vec<_>>())
    .bind(states.iter().map(|s| s.count).collect::<Vec<_>>())
    .bind(states.iter().map(|s| s.sum).collect::<Vec<_>>())
    // Arrays of arrays must be rectangular: each row's buckets as one comma-joined string.
    .bind(states.iter().map(|s| join(&s.bucket_layout)).collect::<Vec<_>>())
    .bind(states.iter().map(|s| join(&s.bucket_counts)).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    for (table, rows) in [
        ("metric_rollup_hourly", &hourly),
        ("metric_rollup_daily", &daily),
    ] {
        write_rollup(&mut tx, workspace, table, rows).await?;
    }
    tx.commit().await?;
    Ok(stored)
}

fn join<T: ToString>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

async fn write_rollup(
    conn: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    table: &'static str,
    rows: &BTreeMap<Key, Delta>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    macro_rules! col {
        ($f:expr) => {
            rows.iter().map($f).collect::<Vec<_>>()
        };
    }
    sqlx::query(&format!(
        "INSERT INTO {table} AS r (workspace_id, bucket, department, agent, environment, version, \
           model, provider, operation, calls, errors, input_tokens, output_tokens, cost_usd, \
           unpriced_tokens, duration_sum_us, duration_hist) \
         SELECT $1, * FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::text[], \
           $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], \
           $12::bigint[], $13::bigint[], $14::float8[]::numeric[], $15::bigint[], $16::bigint[], \
           $17::jsonb[]) \
         ON CONFLICT (workspace_id, bucket, department, agent, environment, version, model, \
           provider, operation) DO UPDATE SET \
           calls = r.calls + excluded.calls, errors = r.errors + excluded.errors, \
           input_tokens = r.input_tokens + excluded.input_tokens, \
           output_tokens = r.output_tokens + excluded.output_tokens, \
           cost_usd = r.cost_usd + excluded.cost_usd, \
           unpriced_tokens = r.unpriced_tokens + excluded.unpriced_tokens, \
           duration_sum_us = r.duration_sum_us + excluded.duration_sum_us, \
           duration_hist = argus_hist_merge(r.duration_hist, excluded.duration_hist)"
    ))
    .bind(workspace)
    .bind(col!(|(k, _)| k.bucket))
    .bind(col!(|(k, _)| k.department.clone()))
    .bind(col!(|(k, _)| k.agent.clone()))
    .bind(col!(|(k, _)| k.environment.clone()))
    .bind(col!(|(k, _)| k.version.clone()))
    .bind(col!(|(k, _)| k.model.clone()))
    .bind(col!(|(k, _)| k.provider.clone()))
    .bind(col!(|(k, _)| k.operation.clone()))
    .bind(col!(|(_, d)| d.calls))
    .bind(col!(|(_, d)| d.errors))
    .bind(col!(|(_, d)| d.input_tokens))
    .bind(col!(|(_, d)| d.output_tokens))
    .bind(col!(|(_, d)| d.cost))
    .bind(col!(|(_, d)| d.unpriced_tokens))
    .bind(col!(|(_, d)| d.duration_sum_us))
    .bind(col!(|(_, d)| d.hist.to_json()))
    .execute(&mut *conn)
    .await?;
    Ok(())
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
    if stored.points > 0 {
        services
            .invalidator
            .changed(&services.cache, access.workspace)
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
    let body = match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&response)
            .map_err(|e| Error::Internal(format!("encoding the OTLP response: {e}")))?,
    };
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
