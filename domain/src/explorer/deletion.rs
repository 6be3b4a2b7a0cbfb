//! Deleting traces: one, or every trace matching a list filter, as a background job.
//!
//! The job finds the matching traces along the list's keyset in batches of [`BATCH`], deletes
//! each batch's spans and trace rows in one transaction and counts them on the job's row (the
//! progress the page shows), then rebuilds the rollups of every UTC day it touched from the
//! spans and traces that remain (`ingest::rollup::rebuild`), so the dashboard's numbers equal
//! the raw data again. The job's row is the audit: who, when, which filter, how many.

use std::collections::BTreeSet;

use argus_types::{Filters, JobStatus, TraceFilters};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{fetch_page, TraceQuery};
use crate::identity::UserId;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// Traces deleted per transaction.
pub const BATCH: u32 = 500;

/// A deletion job, as the page and the API show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Deletion {
    pub id: Uuid,
    /// NULL: the retention job.
    pub requested_by: Option<Uuid>,
    /// Their name, when they are still a user.
    pub requested_by_name: Option<String>,
    /// The list's query string, or `trace_id=…`.
    pub filter: String,
    #[sqlx(try_from = "String")]
    pub status: JobStatus,
    pub matched: Option<i64>,
    pub deleted: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Deletion> for argus_types::TraceDeletion {
    fn from(d: Deletion) -> Self {
        argus_types::TraceDeletion {
            id: d.id,
            requested_by: d.requested_by,
            requested_by_name: d.requested_by_name,
            filter: d.filter,
            status: d.status,
            matched: d.matched,
            deleted: d.deleted,
            error: d.error,
            created_at: d.created_at,
            finished_at: d.finished_at,
        }
    }
}

/// What a deletion removes: the traces matching `query` (its window included), or one trace.
#[derive(Clone, Debug)]
pub enum Target {
    Matching(Box<TraceQuery>),
    One(String),
}

/// The query string a job records and re-parses when it resumes.
pub fn describe(filters: &Filters, extra: &TraceFilters) -> String {
    let mut q = filters.to_query();
    for (k, v) in extra.pairs() {
        if matches!(k, "cursor" | "limit" | "sort") {
            continue;
        }
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(k);
        q.push('=');
        q.push_str(&argus_types::encode(v));
    }
    q
}

/// Records a deletion job (`queued`), counting what it matches now.
pub async fn create(
    services: &Services,
    ws: WorkspaceId,
    by: Option<UserId>,
    filter: &str,
    target: &Target,
) -> Result<Deletion> {
    let matched = match target {
        Target::Matching(q) => super::count(services, ws, q).await?,
        Target::One(id) => {
            let mut tx = tenancy::begin(&services.pool, ws).await?;
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM traces WHERE workspace_id = $1 AND trace_id = $2",
            )
            .bind(ws)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            if n == 0 {
                return Err(Error::not_found("trace"));
            }
            n
        }
    };
    let mut tx = tenancy::begin(&services.pool, ws).await?;
    const RETURNING: &str = "id, requested_by, NULL::text AS requested_by_name, filter, status, \
         matched, deleted, error, created_at, finished_at";
    let inserted: Option<Deletion> = sqlx::query_as(&format!(
        "INSERT INTO trace_deletions (id, workspace_id, requested_by, filter, status, matched) \
         VALUES ($1, $2, $3, $4, 'queued', $5) \
         ON CONFLICT (workspace_id, filter) WHERE status IN ('queued', 'running') DO NOTHING \
         RETURNING {RETURNING}"
    ))
    .bind(Uuid::new_v4())
    .bind(ws)
    .bind(by.map(|u| u.0))
    .bind(filter)
    .bind(matched)
    .fetch_optional(&mut *tx)
    .await?;
    // The same filter is being deleted already: that job is the answer.
    let job = match inserted {
        Some(job) => job,
        None => {
            sqlx::query_as(&format!(
                "SELECT {RETURNING} FROM trace_deletions \
                 WHERE workspace_id = $1 AND filter = $2 AND status IN ('queued', 'running')"
            ))
            .bind(ws)
            .bind(filter)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    tx.commit().await?;
    Ok(job)
}

/// The workspace's latest deletion jobs, newest first.
pub async fn list(services: &Services, ws: WorkspaceId, limit: i64) -> Result<Vec<Deletion>> {
    let mut tx = tenancy::begin(&services.pool, ws).await?;
    let jobs = sqlx::query_as(
        "SELECT d.id, d.requested_by, u.name AS requested_by_name, d.filter, \
           d.status, d.matched, d.deleted, d.error, d.created_at, d.finished_at \
         FROM trace_deletions d LEFT JOIN users u ON u.id = d.requested_by \
         WHERE d.workspace_id = $1 ORDER BY d.created_at DESC LIMIT $2",
    )
    .bind(ws)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(jobs)
}

async fn set_status(
    services: &Services,
    ws: WorkspaceId,
    job: Uuid,
    status: JobStatus,
    error: Option<&str>,
) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, ws).await?;
    sqlx::query(
        "UPDATE trace_deletions SET status = $3, error = $4, \
           finished_at = CASE WHEN $5 THEN now() END \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(job)
    .bind(status.as_str())
    .bind(error)
    .bind(status.is_finished())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes the traces with these ids (and their spans) in one transaction; counts them on the
/// job. Returns the UTC days their spans and traces started on.
pub(crate) async fn delete_traces(
    services: &Services,
    ws: WorkspaceId,
    job: Option<Uuid>,
    ids: &[String],
) -> Result<(u64, BTreeSet<NaiveDate>)> {
    let mut tx = tenancy::begin(&services.pool, ws).await?;
    // Each trace's spans start within its [start, end]: that bounds the partitions read.
    // One row always (NULLs when none matches).
    let (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT min(start_time), max(end_time) FROM traces \
         WHERE workspace_id = $1 AND trace_id = ANY($2)",
    )
    .bind(ws)
    .bind(ids)
    .fetch_one(&mut *tx)
    .await?;
    let mut days = BTreeSet::new();
    let mut deleted = 0;
    if let (Some(from), Some(to)) = (from, to) {
        let span_days: Vec<DateTime<Utc>> = sqlx::query_scalar(
            "DELETE FROM spans WHERE workspace_id = $1 AND trace_id = ANY($2) \
               AND start_time >= $3 AND start_time <= $4 RETURNING start_time",
        )
        .bind(ws)
        .bind(ids)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        days.extend(span_days.iter().map(|t| t.date_naive()));
        let trace_days: Vec<DateTime<Utc>> = sqlx::query_scalar(
            "DELETE FROM traces WHERE workspace_id = $1 AND trace_id = ANY($2) RETURNING start_time",
        )
        .bind(ws)
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        deleted = trace_days.len() as u64;
        days.extend(trace_days.iter().map(|t| t.date_naive()));
    }
    if let Some(job) = job {
        sqlx::query(
            "UPDATE trace_deletions SET deleted = deleted + $3 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws)
        .bind(job)
        .bind(deleted as i64)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((deleted, days))
}

/// Rebuilds the rollups of `days` from the raw data that remains.
pub(crate) async fn rebuild_days(
    services: &Services,
    ws: WorkspaceId,
    days: &BTreeSet<NaiveDate>,
) -> Result<()> {
    for day in days {
        crate::ingest::rollup::rebuild(&services.pool, ws, *day, *day + chrono::Duration::days(1))
            .await?;
    }
    crate::ingest::invalidate::drop_metrics(&services.cache, &services.reads, ws).await;
    Ok(())
}

/// Runs a job to its end (or failure, recorded on the job).
pub async fn run(services: &Services, ws: WorkspaceId, job: Uuid, target: Target) -> Result<()> {
    set_status(services, ws, job, JobStatus::Running, None).await?;
    let outcome = async {
        let mut days = BTreeSet::new();
        match &target {
            Target::One(id) => {
                let (_, d) =
                    delete_traces(services, ws, Some(job), std::slice::from_ref(id)).await?;
                days.extend(d);
            }
            Target::Matching(q) => {
                // Always from the top: each batch is gone once deleted.
                loop {
                    let rows = fetch_page(&services.pool, ws, q, None, i64::from(BATCH)).await?;
                    if rows.is_empty() {
                        break;
                    }
                    let ids: Vec<String> = rows.iter().map(|r| r.trace_id.clone()).collect();
                    let (n, d) = delete_traces(services, ws, Some(job), &ids).await?;
                    days.extend(d);
                    if n == 0 {
                        break; // deleted meanwhile by another job
                    }
                }
            }
        }
        rebuild_days(services, ws, &days).await
    }
    .await;
    match outcome {
        Ok(()) => set_status(services, ws, job, JobStatus::Done, None).await,
        Err(e) => {
            tracing::error!(%ws, %job, error = %e, "trace deletion failed");
            // What the envelope would say: never internal error text.
            let message = e.to_envelope().error.message;
            set_status(services, ws, job, JobStatus::Failed, Some(&message)).await?;
            Err(e)
        }
    }
}

/// Runs a job in the background.
pub fn spawn(services: &Services, ws: WorkspaceId, job: Uuid, target: Target) {
    crate::jobs::spawn_once(
        services,
        job,
        "trace deletion",
        move |services| async move {
            // `run` records a failure on the job (the envelope's message) and logs its cause.
            if let Err(e) = run(&services, ws, job, target).await {
                tracing::warn!(%ws, %job, error = %e, "trace deletion ended in failure");
            }
        },
    );
}

/// Resumes the deletions a stopped server left queued or running (at start).
pub async fn resume(services: &Services) -> Result<usize> {
    let jobs: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT workspace_id, id FROM argus_unfinished_trace_deletions()")
            .fetch_all(&services.pool)
            .await?;
    let n = jobs.len();
    for (ws, id) in jobs {
        let ws = WorkspaceId(ws);
        let filter: String = {
            let mut tx = tenancy::begin(&services.pool, ws).await?;
            let f = sqlx::query_scalar(
                "SELECT filter FROM trace_deletions WHERE workspace_id = $1 AND id = $2",
            )
            .bind(ws)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            f
        };
        match target_of(services, &filter) {
            Ok(t) => spawn(services, ws, id, t),
            Err(e) => {
                let message = e.to_envelope().error.message;
                set_status(services, ws, id, JobStatus::Failed, Some(&message)).await?
            }
        }
    }
    Ok(n)
}

/// The target a recorded filter names (as [`describe`] wrote it).
pub fn target_of(services: &Services, filter: &str) -> Result<Target> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(filter.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Some(id) = get("trace_id") {
        return Ok(Target::One(super::trace_id(&id)?));
    }
    let filters = Filters::parse(get);
    let extra = TraceFilters {
        sort: None,
        limit: None,
        cursor: None,
        ..TraceFilters::from_lookup(get)
    };
    let q = super::parse(&filters, &extra, &services.cursors, Utc::now())?;
    Ok(Target::Matching(Box::new(q)))
}
