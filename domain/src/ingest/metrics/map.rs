//! OTLP metric points → [`Point`]s: the GenAI histograms picked out, their buckets mapped
//! to the rollups' log buckets, every other metric counted and ignored.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint,
};
use sha2::{Digest, Sha256};

use crate::ingest::mapping::{dimensions, Attrs};

use super::point::{
    Kind, Mapped, Point, MAX_COUNT, MAX_DURATION_SUM_US, OPERATION_DURATION, TOKEN_USAGE,
};

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
    crate::ingest::store::time_in_range(t, Utc::now(), crate::workspaces::MAX_RETENTION_DAYS)?;
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
