//! Storing mapped spans: idempotently, in batches, with the trace summaries and the agent
//! registry kept exact.
//!
//! One transaction per batch, bound to the workspace:
//! 1. the spans go in with one `INSERT … SELECT FROM unnest(…)`, `ON CONFLICT DO NOTHING
//!    RETURNING` the ones that are new (a re-sent span is skipped);
//! 2. only the new spans are summed per trace (in Rust) and added to `traces` with one upsert —
//!    so totals never count a span twice, whatever the order or repetition of arrival;
//! 3. agents are registered (first and last seen, department).
//!
//! Rows are written in key order so two concurrent batches touching the same traces lock them in
//! the same order (no deadlock).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::model::{Dimensions, SpanRecord, SpanStatus};
use super::rollup::Rollups;
use crate::db::column;
use crate::pricing::Pricing;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result};

/// How far in the future a span may start (clock skew).
pub const MAX_FUTURE: Duration = Duration::hours(1);
/// Day partitions of `spans` one request may create; spans of further new days are rejected.
pub const MAX_NEW_PARTITIONS: usize = 7;

/// Days after today whose partitions [`Partitions::ahead`] makes.
pub const DAYS_AHEAD: u64 = 2;

/// Makes the coming days' partitions now and then every `every` (each replica: making one is
/// idempotent and serialised in the database), for as long as the process lives.
pub fn spawn_ahead(services: &crate::Services, every: std::time::Duration) {
    let services = services.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = services.partitions.ahead(&services.pool, Utc::now()).await {
                tracing::error!(error = %e, "cannot make the coming days' span partitions");
            }
        }
    });
}

/// What a batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// Spans written now.
    pub inserted: usize,
    /// Spans already stored (re-sent), skipped.
    pub duplicates: usize,
    /// Traces whose summary changed.
    pub traces: usize,
    /// Evaluation jobs queued for the online evaluators.
    pub evaluations: usize,
}

/// The day partitions of `spans` known to exist (so each is ensured once per process).
#[derive(Debug, Default)]
pub struct Partitions {
    known: Mutex<HashSet<NaiveDate>>,
}

impl Partitions {
    /// Makes sure the day partitions covering `days` exist, creating at most `max_new` that do
    /// not (the newest first); returns the days refused (their partitions missing and over `max_new`). Runs
    /// outside any batch transaction: creating a partition briefly locks the parent table.
    pub async fn ensure(
        &self,
        pool: &PgPool,
        days: impl IntoIterator<Item = NaiveDate>,
        max_new: usize,
    ) -> Result<BTreeSet<NaiveDate>> {
        let unknown: Vec<NaiveDate> = {
            let known = self.known.lock().expect("partitions lock");
            days.into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|d| !known.contains(d))
                .collect()
        };
        if unknown.is_empty() {
            return Ok(BTreeSet::new());
        }
        // Partitions made before this process started, or by another replica, exist already.
        let existing: Vec<NaiveDate> = sqlx::query_scalar(
            "SELECT d FROM unnest($1::date[]) AS d \
             WHERE to_regclass(format('spans_%s', to_char(d, 'YYYYMMDD'))) IS NOT NULL",
        )
        .bind(&unknown)
        .fetch_all(pool)
        .await?;
        let mut refused = BTreeSet::new();
        let mut created = 0;
        // Newest first: a backfill of old days never crowds out today's spans.
        for day in unknown.into_iter().rev() {
            if !existing.contains(&day) {
                if created == max_new {
                    refused.insert(day);
                    continue;
                }
                sqlx::query("SELECT argus_ensure_span_partition($1)")
                    .bind(day)
                    .execute(pool)
                    .await?;
                created += 1;
            }
            self.known.lock().expect("partitions lock").insert(day);
        }
        Ok(refused)
    }

    /// Makes today's partition and the next [`DAYS_AHEAD`] days' (UTC), so spans of the present
    /// never wait for a partition to be made.
    pub async fn ahead(&self, pool: &PgPool, now: DateTime<Utc>) -> Result<()> {
        let today = now.date_naive();
        let days = (0..=DAYS_AHEAD).filter_map(|d| today.checked_add_days(chrono::Days::new(d)));
        self.ensure(pool, days, usize::MAX).await?;
        Ok(())
    }

    /// Forgets the days before `day` (their partitions were dropped: recreated if needed).
    pub fn forget_before(&self, day: NaiveDate) {
        self.known
            .lock()
            .expect("partitions lock")
            .retain(|d| *d >= day);
    }
}

/// Whether a span's start time is one Argus stores: not more than [`MAX_FUTURE`] ahead (it
/// would create partitions for days to come) and not before the workspace's retention cutoff
/// (it would be deleted at once).
pub fn time_in_range(
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    retention_days: i32,
) -> std::result::Result<(), String> {
    if start > now + MAX_FUTURE {
        return Err(format!(
            "the start time {start} is more than {} hour(s) in the future",
            MAX_FUTURE.num_hours()
        ));
    }
    let cutoff = crate::retention::cutoff(now, retention_days);
    if start < cutoff {
        return Err(format!(
            "the start time {start} is before {cutoff}, the workspace's retention of \
             {retention_days} days: it would be deleted at once"
        ));
    }
    Ok(())
}

/// The reason a span on a refused day is given.
pub fn refused_day(day: NaiveDate) -> String {
    format!(
        "its day {day} has no storage yet and this request already created \
         {MAX_NEW_PARTITIONS} new days: send it again in another request"
    )
}

/// The sums one batch adds to one trace.
#[derive(Debug)]
struct TraceDelta {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    root: Option<usize>,
    first: usize,
    span_count: i32,
    error_count: i32,
    tokens: [i64; 5],
    cost: f64,
    unpriced: i32,
    session: Option<String>,
    user: Option<String>,
    models: BTreeSet<String>,
    tags: BTreeSet<String>,
    metadata: serde_json::Map<String, Value>,
    /// Span names and message text, for the search index (bounded).
    text: String,
}

/// A trace's summary after this batch's upsert.
#[derive(sqlx::FromRow)]
struct TraceSummary {
    trace_id: String,
    start_time: DateTime<Utc>,
    root_span_id: Option<String>,
    error_count: i32,
    latency_us: i64,
    agent: String,
    department: String,
    environment: String,
    version: String,
}

/// A span's cost and where it came from (see [`Pricing::price`]).
pub fn cost_of(span: &SpanRecord, pricing: &Pricing) -> (Option<f64>, Option<&'static str>) {
    pricing.price(
        span.cost_sent,
        span.model.as_deref(),
        span.request_model.as_deref(),
        &span.usage,
        span.start_time,
    )
}

/// Stores `spans` for `workspace`. Spans must be validated (see `mapping`) and within
/// [`time_in_range`]; the caller ensures their partitions first ([`Partitions::ensure`]).
pub async fn store(
    pool: &PgPool,
    workspace: WorkspaceId,
    spans: &[SpanRecord],
    pricing: &Pricing<'_>,
) -> Result<Stored> {
    if spans.is_empty() {
        return Ok(Stored::default());
    }
    let batch = distinct_in_key_order(spans);
    let costs: Vec<(Option<f64>, Option<&str>)> = column(&batch, |s| cost_of(s, pricing));

    let mut tx = tenancy::begin(pool, workspace).await?;
    // Never in the middle of a rebuild of this workspace's rollups.
    super::rollup::lock_for_writes(&mut tx, workspace, false).await?;
    insert_resources(&mut tx, workspace, &batch).await?;
    let inserted = insert_spans(&mut tx, workspace, &batch, &costs).await?;
    let (fresh, fresh_costs) = fresh_spans(&batch, &costs, &inserted);
    let deltas = trace_deltas(&fresh, &fresh_costs);
    let shared = if deltas.is_empty() {
        None
    } else {
        let summaries = upsert_traces(&mut tx, workspace, &deltas, &fresh).await?;
        let rollups = roll_up(&fresh, &fresh_costs, &deltas, &summaries);
        let shared = rollups.write_but_shared(&mut tx, workspace).await?;
        upsert_agents(&mut tx, workspace, &fresh).await?;
        Some(shared)
    };
    let evaluated =
        super::evaluate::evaluate(&mut tx, workspace, &fresh, &fresh_costs, Utc::now()).await?;
    crate::evals::experiments::link_spans(&mut tx, workspace, &fresh).await?;
    // Last: the workspace's scope and total rows, which every concurrent batch of it waits
    // for until this one commits.
    if let Some(shared) = shared {
        shared.write(&mut tx, workspace).await?;
    }
    tx.commit().await?;
    Ok(Stored {
        inserted: fresh.len(),
        duplicates: batch.len() - fresh.len() + (spans.len() - batch.len()),
        traces: deltas.len(),
        evaluations: evaluated.queued,
    })
}

/// The batch in key order, each span once (an exporter may repeat one within a request).
fn distinct_in_key_order(spans: &[SpanRecord]) -> Vec<&SpanRecord> {
    // Key order, and one copy of a span repeated within the batch.
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|a, b| {
        (
            &spans[*a].trace_id,
            &spans[*a].span_id,
            spans[*a].start_time,
        )
            .cmp(&(
                &spans[*b].trace_id,
                &spans[*b].span_id,
                spans[*b].start_time,
            ))
    });
    order.dedup_by(|a, b| {
        spans[*a].trace_id == spans[*b].trace_id
            && spans[*a].span_id == spans[*b].span_id
            && spans[*a].start_time == spans[*b].start_time
    });
    order.iter().map(|i| &spans[*i]).collect()
}

/// Each resource once (a request has one or a few).
async fn insert_resources(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    batch: &[&SpanRecord],
) -> Result<()> {
    let mut resources: BTreeMap<i64, &Value> = BTreeMap::new();
    for s in batch {
        resources
            .entry(s.resource.id)
            .or_insert(&s.resource.attributes);
    }
    sqlx::query(
        "INSERT INTO resources (workspace_id, resource_id, attributes) \
         SELECT $1, * FROM unnest($2::bigint[], $3::jsonb[]) ON CONFLICT DO NOTHING",
    )
    .bind(workspace)
    .bind(resources.keys().copied().collect::<Vec<_>>())
    .bind(resources.values().map(|v| Json(*v)).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The spans, `ON CONFLICT DO NOTHING`: the `(trace_id, span_id)` of those written now.
async fn insert_spans(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    batch: &[&SpanRecord],
    costs: &[(Option<f64>, Option<&str>)],
) -> Result<Vec<(String, String)>> {
    sqlx::query_as(
        "INSERT INTO spans (workspace_id, trace_id, span_id, start_time, parent_span_id, name, kind, \
           end_time, duration_us, status, status_message, error_type, agent, department, environment, \
           version, operation, model, request_model, provider, input_tokens, output_tokens, \
           cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd, cost_source, \
           session_id, user_id, input, output, attributes, resource_id, dropped_attributes) \
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], \
           $7::smallint[], $8::timestamptz[], $9::bigint[], $10::text[], $11::text[], $12::text[], \
           $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], \
           $20::text[], $21::bigint[], $22::bigint[], $23::bigint[], $24::bigint[], $25::bigint[], \
           $26::float8[]::numeric[], $27::text[], $28::text[], $29::text[], $30::jsonb[], $31::jsonb[], \
           $32::jsonb[], $33::bigint[], $34::int[]) \
         ON CONFLICT DO NOTHING \
         RETURNING trace_id, span_id",
    )
    .bind(workspace)
    .bind(column(batch, |s| s.trace_id.clone()))
    .bind(column(batch, |s| s.span_id.clone()))
    .bind(column(batch, |s| s.start_time))
    .bind(column(batch, |s| s.parent_span_id.clone()))
    .bind(column(batch, |s| s.name.clone()))
    .bind(column(batch, |s| s.kind))
    .bind(column(batch, |s| s.end_time))
    .bind(column(batch, |s| s.duration_us))
    .bind(column(batch, |s| s.status.as_str()))
    .bind(column(batch, |s| s.status_message.clone()))
    .bind(column(batch, |s| s.error_type.clone()))
    .bind(column(batch, |s| s.dims.agent.clone()))
    .bind(column(batch, |s| s.dims.department.clone()))
    .bind(column(batch, |s| s.dims.environment.clone()))
    .bind(column(batch, |s| s.dims.version.clone()))
    .bind(column(batch, |s| s.operation.clone()))
    .bind(column(batch, |s| s.model.clone()))
    .bind(column(batch, |s| s.request_model.clone()))
    .bind(column(batch, |s| s.provider.clone()))
    .bind(column(batch, |s| s.usage.input))
    .bind(column(batch, |s| s.usage.output))
    .bind(column(batch, |s| s.usage.cache_read))
    .bind(column(batch, |s| s.usage.cache_creation))
    .bind(column(batch, |s| s.usage.reasoning))
    .bind(costs.iter().map(|c| c.0).collect::<Vec<_>>())
    .bind(costs.iter().map(|c| c.1).collect::<Vec<_>>())
    .bind(column(batch, |s| s.session_id.clone()))
    .bind(column(batch, |s| s.user_id.clone()))
    .bind(column(batch, |s| s.input.as_ref().map(Json)))
    .bind(column(batch, |s| s.output.as_ref().map(Json)))
    .bind(column(batch, |s| Json(&s.attributes)))
    .bind(column(batch, |s| s.resource.id))
    .bind(column(batch, |s| s.dropped_attributes.min(i32::MAX as u32) as i32))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| match &e {
        // 23514 "no partition of relation … found for row": a day partition is missing (the
        // caller did not ensure it, or retention dropped it). Other check violations are not.
        sqlx::Error::Database(db)
            if db.code().as_deref() == Some("23514") && db.message().starts_with("no partition") =>
        {
            Error::MissingPartition(e.to_string())
        }
        _ => Error::Database(e),
    })
}

/// The spans written now, with the costs priced above (each span is priced once).
fn fresh_spans<'a>(
    batch: &[&'a SpanRecord],
    costs: &[(Option<f64>, Option<&str>)],
    inserted: &[(String, String)],
) -> (Vec<&'a SpanRecord>, Vec<Option<f64>>) {
    let new: HashSet<(&str, &str)> = inserted
        .iter()
        .map(|(t, s)| (t.as_str(), s.as_str()))
        .collect();
    batch
        .iter()
        .zip(costs)
        .filter(|(s, _)| new.contains(&(s.trace_id.as_str(), s.span_id.as_str())))
        .map(|(s, c)| (*s, c.0))
        .unzip()
}

/// What the batch adds to each of its traces.
fn trace_deltas<'a>(
    fresh: &[&'a SpanRecord],
    fresh_costs: &[Option<f64>],
) -> BTreeMap<&'a str, TraceDelta> {
    let mut deltas: BTreeMap<&str, TraceDelta> = BTreeMap::new();
    for (i, s) in fresh.iter().enumerate() {
        let d = deltas
            .entry(s.trace_id.as_str())
            .or_insert_with(|| TraceDelta {
                start: s.start_time,
                end: s.end_time,
                root: None,
                first: i,
                span_count: 0,
                error_count: 0,
                tokens: [0; 5],
                cost: 0.0,
                unpriced: 0,
                session: None,
                user: None,
                models: BTreeSet::new(),
                tags: BTreeSet::new(),
                metadata: serde_json::Map::new(),
                text: String::new(),
            });
        d.start = d.start.min(s.start_time);
        d.end = d.end.max(s.end_time);
        if s.is_root() {
            d.root = Some(i);
        }
        d.span_count += 1;
        d.error_count += i32::from(s.status == SpanStatus::Error);
        for (t, v) in d.tokens.iter_mut().zip(s.usage.as_array()) {
            *t += v;
        }
        d.cost += fresh_costs[i].unwrap_or(0.0);
        // A span with tokens and a model but no price yet.
        d.unpriced += i32::from(crate::cost::is_unpriced(
            fresh_costs[i],
            s.model.as_deref(),
            &s.usage,
        ));
        if d.session.is_none() {
            d.session = s.session_id.clone();
        }
        if d.user.is_none() {
            d.user = s.user_id.clone();
        }
        if let Some(m) = &s.model {
            d.models.insert(m.clone());
        }
        d.tags.extend(s.tags().map(str::to_owned));
        for (k, v) in s.metadata() {
            d.metadata.insert(k.to_owned(), v.clone());
        }
        s.search_text(&mut d.text);
    }

    deltas
}

/// One upsert of the touched traces: their summaries after it.
async fn upsert_traces(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    deltas: &BTreeMap<&str, TraceDelta>,
    fresh: &[&SpanRecord],
) -> Result<Vec<TraceSummary>> {
    let rows: Vec<(&str, &TraceDelta, &SpanRecord)> = deltas
        .iter()
        .map(|(t, d)| (*t, d, fresh[d.root.unwrap_or(d.first)]))
        .collect();
    let summaries: Vec<TraceSummary> = sqlx::query_as(
        "INSERT INTO traces AS t (workspace_id, trace_id, start_time, end_time, root_span_id, name, \
           latency_us, agent, department, environment, version, session_id, user_id, span_count, \
           error_count, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, \
           reasoning_tokens, cost_usd, unpriced_spans, models, tags, metadata, search) \
         SELECT $1, u.trace_id, u.start_time, u.end_time, u.root_span_id, u.name, u.latency_us, \
           u.agent, u.department, u.environment, u.version, u.session_id, u.user_id, u.span_count, \
           u.error_count, u.input_tokens, u.output_tokens, u.cache_read_tokens, \
           u.cache_creation_tokens, u.reasoning_tokens, u.cost_usd, u.unpriced_spans, \
           string_to_array(u.models, chr(31)), string_to_array(u.tags, chr(31)), u.metadata, \
           u.search::tsvector \
         FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[], \
           $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], \
           $14::int[], $15::int[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], \
           $20::bigint[], $21::float8[]::numeric[], $22::int[], $23::text[], $24::text[], \
           $25::jsonb[], $26::text[]) \
           AS u(trace_id, start_time, end_time, root_span_id, name, latency_us, agent, department, \
             environment, version, session_id, user_id, span_count, error_count, input_tokens, \
             output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd, \
             unpriced_spans, models, tags, metadata, search) \
         ON CONFLICT (workspace_id, trace_id) DO UPDATE SET \
           start_time = least(t.start_time, excluded.start_time), \
           end_time = greatest(t.end_time, excluded.end_time), \
           root_span_id = coalesce(excluded.root_span_id, t.root_span_id), \
           name = CASE WHEN excluded.root_span_id IS NOT NULL OR t.root_span_id IS NULL \
             THEN excluded.name ELSE t.name END, \
           latency_us = CASE \
             WHEN excluded.root_span_id IS NOT NULL THEN excluded.latency_us \
             WHEN t.root_span_id IS NOT NULL THEN t.latency_us \
             ELSE (extract(epoch FROM greatest(t.end_time, excluded.end_time) \
               - least(t.start_time, excluded.start_time)) * 1000000)::bigint END, \
           agent = CASE WHEN excluded.root_span_id IS NOT NULL THEN excluded.agent ELSE t.agent END, \
           department = CASE WHEN excluded.root_span_id IS NOT NULL THEN excluded.department ELSE t.department END, \
           environment = CASE WHEN excluded.root_span_id IS NOT NULL THEN excluded.environment ELSE t.environment END, \
           version = CASE WHEN excluded.root_span_id IS NOT NULL THEN excluded.version ELSE t.version END, \
           session_id = coalesce(t.session_id, excluded.session_id), \
           user_id = coalesce(t.user_id, excluded.user_id), \
           span_count = t.span_count + excluded.span_count, \
           error_count = t.error_count + excluded.error_count, \
           input_tokens = t.input_tokens + excluded.input_tokens, \
           output_tokens = t.output_tokens + excluded.output_tokens, \
           cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, \
           cache_creation_tokens = t.cache_creation_tokens + excluded.cache_creation_tokens, \
           reasoning_tokens = t.reasoning_tokens + excluded.reasoning_tokens, \
           cost_usd = t.cost_usd + excluded.cost_usd, \
           unpriced_spans = t.unpriced_spans + excluded.unpriced_spans, \
           models = ARRAY(SELECT DISTINCT m FROM unnest(t.models || excluded.models) AS m ORDER BY m), \
           tags = CASE WHEN excluded.tags = '{}' THEN t.tags \
             ELSE ARRAY(SELECT DISTINCT g FROM unnest(t.tags || excluded.tags) AS g ORDER BY g) END, \
           metadata = t.metadata || excluded.metadata, \
           search = CASE WHEN length(t.search) >= 1500 THEN t.search \
             ELSE t.search || excluded.search END, \
           updated_at = now() \
         RETURNING trace_id, start_time, root_span_id, error_count, latency_us, agent, \
           department, environment, version",
    )
    .bind(workspace)
    .bind(column(&rows, |(t, _, _)| (*t).to_owned()))
    .bind(column(&rows, |(_, d, _)| d.start))
    .bind(column(&rows, |(_, d, _)| d.end))
    .bind(column(&rows, |(_, d, r)| d.root.map(|_| r.span_id.clone())))
    .bind(column(&rows, |(_, _, r)| r.name.clone()))
    .bind(column(&rows, |(_, d, r)| if d.root.is_some() {
        r.duration_us
    } else {
        (d.end - d.start).num_microseconds().unwrap_or(i64::MAX)
    }))
    .bind(column(&rows, |(_, _, r)| r.dims.agent.clone()))
    .bind(column(&rows, |(_, _, r)| r.dims.department.clone()))
    .bind(column(&rows, |(_, _, r)| r.dims.environment.clone()))
    .bind(column(&rows, |(_, _, r)| r.dims.version.clone()))
    .bind(column(&rows, |(_, d, _)| d.session.clone()))
    .bind(column(&rows, |(_, d, _)| d.user.clone()))
    .bind(column(&rows, |(_, d, _)| d.span_count))
    .bind(column(&rows, |(_, d, _)| d.error_count))
    .bind(column(&rows, |(_, d, _)| d.tokens[0]))
    .bind(column(&rows, |(_, d, _)| d.tokens[1]))
    .bind(column(&rows, |(_, d, _)| d.tokens[2]))
    .bind(column(&rows, |(_, d, _)| d.tokens[3]))
    .bind(column(&rows, |(_, d, _)| d.tokens[4]))
    .bind(column(&rows, |(_, d, _)| d.cost))
    .bind(column(&rows, |(_, d, _)| d.unpriced))
    // Arrays of arrays must be rectangular in PostgreSQL: send each set joined by U+001F.
    .bind(column(&rows, |(_, d, _)| d.models.iter().cloned().collect::<Vec<_>>().join("\u{1f}")))
    .bind(column(&rows, |(_, d, _)| d.tags.iter().cloned().collect::<Vec<_>>().join("\u{1f}")))
    .bind(column(&rows, |(_, d, _)| Json(&d.metadata)))
    // Words numbered in Rust (`crate::search`): PostgreSQL's parser cost 0.2 ms a trace.
    .bind(column(&rows, |(_, d, _)| crate::search::tsvector(&d.text)))
    .fetch_all(&mut *conn)
    .await?;

    Ok(summaries)
}

/// Rollups: every new span, and each trace whose root arrived or that became an error trace
/// (it has its root and an error span) with this batch.
fn roll_up(
    fresh: &[&SpanRecord],
    fresh_costs: &[Option<f64>],
    deltas: &BTreeMap<&str, TraceDelta>,
    summaries: &[TraceSummary],
) -> Rollups {
    let mut rollups = Rollups::default();
    for (s, cost) in fresh.iter().zip(fresh_costs) {
        rollups.add_span(s, *cost);
    }
    for row in summaries {
        let Some(d) = deltas.get(row.trace_id.as_str()) else {
            continue;
        };
        let root_now = row.root_span_id.is_some();
        let root_before = root_now && d.root.is_none();
        let errored_before = root_before && row.error_count - d.error_count > 0;
        let became_error = root_now && row.error_count > 0 && !errored_before;
        let root_latency = d.root.map(|_| row.latency_us);
        if root_latency.is_some() || became_error {
            let dims = Dimensions {
                agent: row.agent.clone(),
                department: row.department.clone(),
                environment: row.environment.clone(),
                version: row.version.clone(),
            };
            rollups.add_trace(row.start_time, &dims, root_latency, became_error);
        }
    }
    rollups
}

/// Agents: first sight registers them; every batch moves `last_seen` on.
async fn upsert_agents(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    fresh: &[&SpanRecord],
) -> Result<()> {
    let mut agents: BTreeMap<&str, (&str, DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for s in fresh {
        let e = agents.entry(s.dims.agent.as_str()).or_insert((
            s.dims.department.as_str(),
            s.start_time,
            s.end_time,
        ));
        e.1 = e.1.min(s.start_time);
        e.2 = e.2.max(s.end_time);
    }
    sqlx::query(
        "INSERT INTO agents AS a (workspace_id, agent, department, first_seen, last_seen) \
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) \
         ON CONFLICT (workspace_id, agent) DO UPDATE SET \
           first_seen = least(a.first_seen, excluded.first_seen), \
           last_seen = greatest(a.last_seen, excluded.last_seen), \
           department = CASE WHEN excluded.last_seen >= a.last_seen \
             THEN excluded.department ELSE a.department END",
    )
    .bind(workspace)
    .bind(agents.keys().map(|a| (*a).to_owned()).collect::<Vec<_>>())
    .bind(agents.values().map(|v| v.0.to_owned()).collect::<Vec<_>>())
    .bind(agents.values().map(|v| v.1).collect::<Vec<_>>())
    .bind(agents.values().map(|v| v.2).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
