//! Re-pricing: a price set or removed queues a job ([`queue`]); a background task runs it
//! ([`spawn`]): every stored span of the model is priced again, day by day in batches of
//! [`BATCH`], and each batch adjusts its spans, their traces and the hourly and daily rollups in
//! one transaction — so totals stay equal to the raw spans at every moment. A span is updated
//! only if it still holds the cost that was read (a concurrent job never adds a difference
//! twice). Jobs a stopped server left unfinished are resumed at start ([`resume`]).

use std::collections::{BTreeMap, HashMap};

use argus_types::{JobStatus, PriceJob};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{list, Overrides, Pricing};
use crate::cost::candidates;
use crate::db::column;
use crate::ingest::model::{Dimensions, Usage};
use crate::ingest::rollup::Rollups;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// Spans re-priced per transaction.
pub const BATCH: i64 = 2_000;

pub(super) async fn queue(
    tx: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    model: &str,
) -> Result<PriceJob> {
    // A job of this model still waiting reads the prices when it starts: it covers this change
    // too (its row is locked until this transaction commits, so it cannot start before).
    let waiting: Option<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, created_at FROM price_jobs \
         WHERE workspace_id = $1 AND model = $2 AND status = 'queued' FOR UPDATE",
    )
    .bind(workspace)
    .bind(model)
    .fetch_optional(&mut *tx)
    .await?;
    let (id, created_at) = match waiting {
        Some(found) => found,
        None => {
            let id = Uuid::now_v7();
            let inserted: Option<DateTime<Utc>> = sqlx::query_scalar(
                "INSERT INTO price_jobs (workspace_id, id, model) VALUES ($1, $2, $3) \
                 ON CONFLICT (workspace_id, model) WHERE status = 'queued' DO NOTHING \
                 RETURNING created_at",
            )
            .bind(workspace)
            .bind(id)
            .bind(model)
            .fetch_optional(&mut *tx)
            .await?;
            match inserted {
                Some(at) => (id, at),
                // Queued meanwhile by a concurrent change: that job covers this one.
                None => {
                    sqlx::query_as(
                        "SELECT id, created_at FROM price_jobs \
                     WHERE workspace_id = $1 AND model = $2 AND status = 'queued'",
                    )
                    .bind(workspace)
                    .bind(model)
                    .fetch_one(&mut *tx)
                    .await?
                }
            }
        }
    };
    Ok(PriceJob {
        id,
        model: model.to_owned(),
        status: JobStatus::Queued,
        spans_updated: 0,
        error: None,
        created_at,
        finished_at: None,
    })
}

/// Runs a queued job in the background (one job at a time per server).
pub fn spawn(services: &Services, workspace: WorkspaceId, job: Uuid, model: String) {
    crate::jobs::spawn_once(services, job, "re-pricing", move |services| async move {
        if let Err(e) = run(&services, workspace, job, &model).await {
            tracing::error!(%workspace, %job, error = %e, "re-pricing failed");
        }
    });
}

/// Resumes the jobs a stopped server left queued or running (at start).
pub async fn resume(services: &Services) -> Result<usize> {
    let jobs: Vec<(Uuid, Uuid, String)> =
        sqlx::query_as("SELECT workspace_id, id, model FROM argus_unfinished_price_jobs()")
            .fetch_all(&services.pool)
            .await?;
    let n = jobs.len();
    for (workspace, job, model) in jobs {
        spawn(services, WorkspaceId(workspace), job, model);
    }
    Ok(n)
}

async fn set_status(
    services: &Services,
    workspace: WorkspaceId,
    job: Uuid,
    status: JobStatus,
    error: Option<&str>,
) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    sqlx::query(
        "UPDATE price_jobs SET status = $3, error = $4, \
           started_at = CASE WHEN $3 = 'running' THEN coalesce(started_at, now()) ELSE started_at END, \
           finished_at = CASE WHEN $5 THEN now() END \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace)
    .bind(job)
    .bind(status.as_str())
    .bind(error)
    .bind(status.is_finished())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Runs one job to its end: re-prices the spans of the models `model` names and records the
/// outcome on the job. Returns the number of spans whose cost changed.
pub async fn run(
    services: &Services,
    workspace: WorkspaceId,
    job: Uuid,
    model: &str,
) -> Result<u64> {
    let _turn = services
        .jobs
        .repricing
        .acquire()
        .await
        .map_err(|_| Error::Internal("the re-pricing queue is closed".into()))?;
    set_status(services, workspace, job, JobStatus::Running, None).await?;
    match reprice(services, workspace, job, model).await {
        Ok(n) => {
            set_status(services, workspace, job, JobStatus::Done, None).await?;
            Ok(n)
        }
        Err(e) => {
            let message = e.to_envelope().error.message;
            set_status(services, workspace, job, JobStatus::Failed, Some(&message)).await?;
            Err(e)
        }
    }
}

#[derive(sqlx::FromRow)]
struct SpanCost {
    trace_id: String,
    span_id: String,
    start_time: DateTime<Utc>,
    model: String,
    request_model: Option<String>,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_creation_tokens: i64,
    reasoning_tokens: i64,
    /// As stored (numeric, as text): the update applies only if it is unchanged.
    cost: Option<String>,
    cost_source: Option<String>,
    agent: String,
    department: String,
    environment: String,
    version: String,
}

/// Re-prices every stored span whose model `model` names (exactly or normalised), with the
/// workspace's current prices.
async fn reprice(
    services: &Services,
    workspace: WorkspaceId,
    job: Uuid,
    model: &str,
) -> Result<u64> {
    let pool = &services.pool;
    let overrides = Overrides::new(&list(pool, workspace).await?);
    let pricing = Pricing::new(&overrides);

    // The model names stored that this price applies to, and the days they were seen.
    let mut tx = tenancy::begin(pool, workspace).await?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT model FROM rollup_daily WHERE workspace_id = $1 AND model <> ''",
    )
    .bind(workspace)
    .fetch_all(&mut *tx)
    .await?;
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| candidates(n).iter().any(|c| c == model))
        .collect();
    let days: Vec<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT DISTINCT bucket FROM rollup_daily WHERE workspace_id = $1 AND model = ANY($2) \
         ORDER BY bucket",
    )
    .bind(workspace)
    .bind(&names)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;

    let mut changed = 0u64;
    for day in days {
        let mut after = (String::new(), String::new());
        loop {
            let mut tx = tenancy::begin(pool, workspace).await?;
            let rows: Vec<SpanCost> = sqlx::query_as(
                "SELECT trace_id, span_id, start_time, model, request_model, input_tokens, \
                   output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, \
                   cost_usd::text AS cost, cost_source, agent, department, environment, version \
                 FROM spans WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
                   AND model = ANY($4) AND cost_source IS DISTINCT FROM 'sent' \
                   AND (trace_id, span_id) > ($5, $6) \
                 ORDER BY trace_id, span_id LIMIT $7",
            )
            .bind(workspace)
            .bind(day)
            .bind(day + Duration::days(1))
            .bind(&names)
            .bind(&after.0)
            .bind(&after.1)
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = rows.last() else {
                tx.commit().await?;
                break;
            };
            after = (last.trace_id.clone(), last.span_id.clone());
            let n = apply(&mut tx, workspace, &pricing, &rows).await?;
            sqlx::query(
                "UPDATE price_jobs SET spans_updated = spans_updated + $3 \
                 WHERE workspace_id = $1 AND id = $2",
            )
            .bind(workspace)
            .bind(job)
            .bind(n as i64)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            if n > 0 {
                changed += n;
                services
                    .invalidator
                    .changed(&services.cache, &services.reads, workspace)
                    .await;
            }
            // Leave room for ingestion between batches.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    Ok(changed)
}

/// Prices `rows` again and writes the differences to the spans, their traces and the rollups.
/// Returns the number of spans changed.
async fn apply(
    tx: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    pricing: &Pricing<'_>,
    rows: &[SpanCost],
) -> Result<u64> {
    struct Change<'a> {
        row: &'a SpanCost,
        cost: Option<f64>,
        source: Option<&'static str>,
    }
    let changes: Vec<Change> = rows
        .iter()
        .filter_map(|row| {
            let (cost, source) = pricing.price(
                None,
                Some(&row.model),
                row.request_model.as_deref(),
                &usage(row),
                row.start_time,
            );
            let old = row.cost.as_deref().and_then(|c| c.parse::<f64>().ok());
            let same = source == row.cost_source.as_deref()
                && match (cost, old) {
                    (Some(a), Some(b)) => (a - b).abs() < 5e-11,
                    (None, None) => true,
                    _ => false,
                };
            (!same).then_some(Change { row, cost, source })
        })
        .collect();
    if changes.is_empty() {
        return Ok(0);
    }
    // Only spans still holding the cost read above (a concurrent job may have got there).
    let updated: Vec<(String, String, Option<f64>)> = sqlx::query_as(
        "UPDATE spans AS s SET cost_usd = u.cost::numeric, cost_source = u.source \
         FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::float8[], $6::text[], $7::text[]) \
           AS u(trace_id, span_id, start_time, cost, source, old) \
         WHERE s.workspace_id = $1 AND s.trace_id = u.trace_id AND s.span_id = u.span_id \
           AND s.start_time = u.start_time AND s.cost_usd::text IS NOT DISTINCT FROM u.old \
         RETURNING s.trace_id, s.span_id, s.cost_usd::float8",
    )
    .bind(workspace)
    .bind(column(&changes, |c| c.row.trace_id.clone()))
    .bind(column(&changes, |c| c.row.span_id.clone()))
    .bind(column(&changes, |c| c.row.start_time))
    .bind(column(&changes, |c| c.cost))
    .bind(column(&changes, |c| c.source))
    .bind(column(&changes, |c| c.row.cost.clone()))
    .fetch_all(&mut *tx)
    .await?;
    let new_costs: HashMap<(&str, &str), Option<f64>> = updated
        .iter()
        .map(|(t, s, c)| ((t.as_str(), s.as_str()), *c))
        .collect();

    // Differences by trace (in key order: the same lock order as ingestion) and rollup row.
    let mut traces: BTreeMap<&str, (f64, i32)> = BTreeMap::new();
    let mut rollups = Rollups::default();
    for c in &changes {
        let Some(new) = new_costs.get(&(c.row.trace_id.as_str(), c.row.span_id.as_str())) else {
            continue;
        };
        let old = c.row.cost.as_deref().and_then(|v| v.parse::<f64>().ok());
        let cost_delta = new.unwrap_or(0.0) - old.unwrap_or(0.0);
        let u = usage(c.row);
        let unpriced_delta = i32::from(crate::cost::is_unpriced(*new, Some(&c.row.model), &u))
            - i32::from(crate::cost::is_unpriced(old, Some(&c.row.model), &u));
        let t = traces.entry(c.row.trace_id.as_str()).or_default();
        t.0 += cost_delta;
        t.1 += unpriced_delta;
        let dims = Dimensions {
            agent: c.row.agent.clone(),
            department: c.row.department.clone(),
            environment: c.row.environment.clone(),
            version: c.row.version.clone(),
        };
        rollups.add_cost_change(
            c.row.start_time,
            &dims,
            &c.row.model,
            cost_delta,
            i64::from(unpriced_delta),
        );
    }
    sqlx::query(
        "UPDATE traces AS t SET cost_usd = t.cost_usd + d.delta::numeric, \
           unpriced_spans = t.unpriced_spans + d.unpriced, updated_at = now() \
         FROM unnest($2::text[], $3::float8[], $4::int[]) AS d(trace_id, delta, unpriced) \
         WHERE t.workspace_id = $1 AND t.trace_id = d.trace_id",
    )
    .bind(workspace)
    .bind(traces.keys().map(|t| (*t).to_owned()).collect::<Vec<_>>())
    .bind(traces.values().map(|v| v.0).collect::<Vec<_>>())
    .bind(traces.values().map(|v| v.1).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    rollups.write(tx, workspace).await?;
    Ok(updated.len() as u64)
}

fn usage(row: &SpanCost) -> Usage {
    Usage {
        input: row.input_tokens,
        output: row.output_tokens,
        cache_read: row.cache_read_tokens,
        cache_creation: row.cache_creation_tokens,
        reasoning: row.reasoning_tokens,
    }
}
