//! Retention: every workspace keeps its traces for its `retention_days`, then they go.
//!
//! A pass, for each workspace, with the cutoff at the start of the UTC day `retention_days`
//! before today: deletes the spans and traces that started before it (in batches), and the
//! rollup rows of buckets before it (hourly, daily, workspace totals, metric rollups) — whole
//! days, so the rollups that remain still equal the raw data that remains. Day partitions of
//! `spans` wholly before every workspace's cutoff are dropped instead of deleted row by row.
//!
//! Several replicas may run the job: a pass runs under a PostgreSQL advisory lock, and a replica
//! that cannot take it skips the pass.

use std::time::Duration;

use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};

use crate::tenancy::{self, WorkspaceId};
use crate::{Result, Services};

/// The advisory lock key of a retention pass ("argus retention").
pub const LOCK_KEY: i64 = 0x6172_6775_7372_6574;
/// Rows deleted per statement.
pub const BATCH: i64 = 5_000;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// False when another replica held the lock (nothing was done).
    pub ran: bool,
    pub workspaces: usize,
    pub traces: u64,
    pub spans: u64,
    pub partitions_dropped: i32,
}

/// The cutoff for `retention_days` at `now`: the start of the UTC day that many days back.
pub fn cutoff(now: DateTime<Utc>, retention_days: i32) -> DateTime<Utc> {
    let today = now.duration_trunc(TimeDelta::days(1)).unwrap_or(now);
    today - TimeDelta::days(i64::from(retention_days.max(1)))
}

/// One retention pass over every workspace at `now`.
pub async fn run_once(services: &Services, now: DateTime<Utc>) -> Result<Pass> {
    Ok(
        crate::db::with_advisory_lock(&services.locks, LOCK_KEY, || pass(services, now))
            .await?
            .unwrap_or_default(),
    )
}

async fn pass(services: &Services, now: DateTime<Utc>) -> Result<Pass> {
    let workspaces: Vec<(uuid::Uuid, i32)> =
        sqlx::query_as("SELECT workspace_id, retention_days FROM argus_workspace_retention()")
            .fetch_all(&services.pool)
            .await?;
    let mut done = Pass {
        ran: true,
        workspaces: workspaces.len(),
        ..Pass::default()
    };
    // Partitions before the oldest cutoff hold nothing any workspace keeps.
    if let Some(oldest) = workspaces.iter().map(|(_, days)| cutoff(now, *days)).min() {
        let before: NaiveDate = oldest.date_naive();
        done.partitions_dropped = sqlx::query_scalar("SELECT argus_drop_span_partitions($1)")
            .bind(before)
            .fetch_one(&services.pool)
            .await?;
        if done.partitions_dropped > 0 {
            services.partitions.forget_before(before);
        }
    }
    for (ws, days) in workspaces {
        let ws = WorkspaceId(ws);
        let (traces, spans) = trim(services, ws, cutoff(now, days)).await?;
        done.traces += traces;
        done.spans += spans;
        if traces + spans > 0 {
            crate::ingest::invalidate::drop_metrics(&services.cache, &services.reads, ws).await;
        }
    }
    Ok(done)
}

/// Deletes one workspace's data before `cutoff` (a UTC midnight): spans, traces, scores,
/// guardrail decisions, the rollups and the evaluators' history. Returns (traces, spans).
pub async fn trim(
    services: &Services,
    ws: WorkspaceId,
    cutoff: DateTime<Utc>,
) -> Result<(u64, u64)> {
    let mut traces = 0;
    let mut spans = 0;
    let mut scores = 0;
    let mut decisions = 0;
    // By key, in batches (a ctid is not unique across the partitions of spans).
    for (table, key, time, counter) in [
        (
            "spans",
            "trace_id, span_id, start_time",
            "start_time",
            &mut spans,
        ),
        ("traces", "trace_id", "start_time", &mut traces),
        ("scores", "id", "scored_at", &mut scores),
        ("guard_decisions", "at, id", "at", &mut decisions),
    ] {
        loop {
            let mut tx = tenancy::begin(&services.pool, ws).await?;
            let n = sqlx::query(&format!(
                "DELETE FROM {table} WHERE workspace_id = $1 AND {time} < $2 AND ({key}) IN \
                   (SELECT {key} FROM {table} WHERE workspace_id = $1 AND {time} < $2 LIMIT $3)"
            ))
            .bind(ws)
            .bind(cutoff)
            .bind(BATCH)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            *counter += n;
            if n < BATCH as u64 {
                break;
            }
        }
    }
    let mut tx = tenancy::begin(&services.pool, ws).await?;
    for table in [
        "rollup_hourly",
        "rollup_daily",
        "rollup_agent_hourly",
        "rollup_agent_daily",
        "rollup_agent_hours",
        "rollup_agent_env_hours",
        "rollup_scope_hourly",
        "rollup_scope_daily",
        "rollup_total_hourly",
        "rollup_total_daily",
        "metric_rollup_hourly",
        "metric_rollup_daily",
        "score_rollup_hourly",
        "score_rollup_daily",
        "guard_rollup_hourly",
        "guard_rollup_daily",
    ] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE workspace_id = $1 AND bucket < $2"
        ))
        .bind(ws)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
    }
    // The agents' days (per environment or not) keep a month to a row: months before the
    // cutoff's go, and the cutoff's month keeps its days from the cutoff on (the first `day0`
    // slots zeroed).
    let month = crate::ingest::rollup::month_start(cutoff);
    let counts = crate::ingest::rollup::SLOT_COUNTS
        .map(|c| format!("{c} = array_fill(0::int8, ARRAY[$3]) || {c}[$3 + 1 : 31]"))
        .join(", ");
    for table in ["rollup_agent_days", "rollup_agent_env_days"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE workspace_id = $1 AND bucket < $2"
        ))
        .bind(ws)
        .bind(month)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "UPDATE {table} SET {counts}, \
               cost_usd = array_fill(0::float8, ARRAY[$3]) || cost_usd[$3 + 1 : 31] \
             WHERE workspace_id = $1 AND bucket = $2 AND $3 > 0"
        ))
        .bind(ws)
        .bind(month)
        .bind((cutoff - month).num_days() as i32)
        .execute(&mut *tx)
        .await?;
    }
    // The weeks of the agent rollup: those before the cutoff's go, and the cutoff's week is
    // summed again from its days left above (from the cutoff on).
    sqlx::query("DELETE FROM rollup_agent_weekly WHERE workspace_id = $1 AND bucket < $2")
        .bind(ws)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT argus_rebuild_agent_weeks($1, $2, $2 + interval '1 day')")
        .bind(ws)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
    // The combinations of dimensions whose rollups are all gone leave the filter options
    // (an agent that comes back after that is new again in the activity stream).
    sqlx::query(
        "DELETE FROM rollup_first_seen f WHERE workspace_id = $1 AND first_hour < $2 \
         AND NOT EXISTS (SELECT 1 FROM rollup_daily d WHERE d.workspace_id = $1 \
           AND d.department = f.department AND d.agent = f.agent \
           AND d.environment = f.environment AND d.version = f.version AND d.model = f.model)",
    )
    .bind(ws)
    .bind(cutoff)
    .execute(&mut *tx)
    .await?;
    // Minute rows live a few days whatever the retention.
    sqlx::query(
        "DELETE FROM rollup_minute WHERE workspace_id = $1 \
         AND bucket < greatest($2, now() - make_interval(days => $3))",
    )
    .bind(ws)
    .bind(cutoff)
    .bind(crate::ingest::rollup::MINUTE_ROLLUP_DAYS as i32)
    .execute(&mut *tx)
    .await?;
    // Alert history and finished deliveries go with the data they were about.
    sqlx::query("DELETE FROM alert_history WHERE workspace_id = $1 AND at < $2")
        .bind(ws)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "DELETE FROM alert_deliveries WHERE workspace_id = $1 AND finished_at < $2 \
         AND status IN ('delivered', 'dead')",
    )
    .bind(ws)
    .bind(cutoff)
    .execute(&mut *tx)
    .await?;
    // The evaluators' history: failed jobs (their "last errors") and day counters.
    sqlx::query(
        "DELETE FROM eval_jobs WHERE workspace_id = $1 AND status = 'failed' AND finished_at < $2",
    )
    .bind(ws)
    .bind(cutoff)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM evaluator_daily WHERE workspace_id = $1 AND day < $2")
        .bind(ws)
        .bind(cutoff.date_naive())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if scores + decisions > 0 {
        tracing::debug!(workspace = %ws.0, scores, decisions, "scores and guardrail decisions past retention deleted");
    }
    Ok((traces, spans))
}

/// Runs a pass every `every` (the first after one `every`), for as long as the process lives.
pub fn spawn(services: &Services, every: Duration) {
    let services = services.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            match run_once(&services, Utc::now()).await {
                Ok(p) if p.ran => tracing::info!(
                    traces = p.traces,
                    spans = p.spans,
                    partitions = p.partitions_dropped,
                    "retention pass"
                ),
                Ok(_) => tracing::debug!("retention pass skipped: another replica runs it"),
                Err(e) => tracing::error!(error = %e, "retention pass failed"),
            }
        }
    });
}
