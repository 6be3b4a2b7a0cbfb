//! [`Point`]s → increments against each series' last point (`metric_series`) → the hourly
//! and daily metric rollups, in one transaction.
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::db::column;
use crate::histogram::Histogram;
use crate::ingest::model::Usage;
use crate::pricing::Pricing;
use crate::tenancy::{self, WorkspaceId};
use crate::Result;

use super::point::{Kind, Point};

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
    .bind(column(rows, |(k, _)| k.bucket))
    .bind(column(rows, |(k, _)| k.department.clone()))
    .bind(column(rows, |(k, _)| k.agent.clone()))
    .bind(column(rows, |(k, _)| k.environment.clone()))
    .bind(column(rows, |(k, _)| k.version.clone()))
    .bind(column(rows, |(k, _)| k.model.clone()))
    .bind(column(rows, |(k, _)| k.provider.clone()))
    .bind(column(rows, |(k, _)| k.operation.clone()))
    .bind(column(rows, |(_, d)| d.calls))
    .bind(column(rows, |(_, d)| d.errors))
    .bind(column(rows, |(_, d)| d.input_tokens))
    .bind(column(rows, |(_, d)| d.output_tokens))
    .bind(column(rows, |(_, d)| d.cost))
    .bind(column(rows, |(_, d)| d.unpriced_tokens))
    .bind(column(rows, |(_, d)| d.duration_sum_us))
    .bind(column(rows, |(_, d)| d.hist.to_json()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
