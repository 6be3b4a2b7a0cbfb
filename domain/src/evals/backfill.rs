//! Backfills: an evaluator run over the spans (or, for a trace-level evaluator, the traces)
//! already stored in a window, limited by the dashboard's filters. The job walks the window an
//! hour at a time; each hour's jobs go into the same queue ingest feeds (the worker runs them),
//! with the evaluator's own filter and sampling, skipping what it has scored already. Each hour
//! is written with the job's new position in one transaction that holds the job's row: a
//! restart goes on where it stopped, and two replicas never walk the same hour.

use argus_types::{Backfill, EvalTarget, EvaluatorFilter, JobStatus, SpanFacts};
use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::analytics::{Dims, Resolved};
use crate::db::column;
use crate::identity::UserId;
use crate::ingest::evaluate::sampled;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// The slice of the window one step reads.
const STEP: Duration = Duration::hours(1);
/// The longest window a backfill walks.
pub const MAX_DAYS: i64 = 90;

const COLUMNS: &str = "id, evaluator_id, window_from, window_to, filter, status, reached, \
                       scanned, queued, error, created_at, finished_at";

type Row = (
    Uuid,
    Uuid,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    String,
    DateTime<Utc>,
    i64,
    i64,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

fn from_row(r: Row) -> Backfill {
    Backfill {
        id: r.0,
        evaluator_id: r.1,
        from: r.2,
        to: r.3,
        filter: r.4,
        status: match r.5.as_str() {
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed,
            _ => JobStatus::Queued,
        },
        reached: r.6,
        scanned: r.7,
        queued: r.8,
        error: r.9,
        created_at: r.10,
        finished_at: r.11,
    }
}

/// The dashboard filters a backfill keeps, as a query string.
fn scope_query(d: &Dims) -> String {
    [
        ("agent", &d.agent),
        ("env", &d.env),
        ("version", &d.version),
        ("dept", &d.dept),
        ("model", &d.model),
    ]
    .iter()
    .filter_map(|(k, v)| {
        v.as_ref()
            .map(|v| format!("{k}={}", argus_types::encode(v)))
    })
    .collect::<Vec<_>>()
    .join("&")
}

fn scope_of(query: &str) -> Dims {
    let mut d = Dims::default();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let v = Some(v.into_owned());
        match k.as_ref() {
            "agent" => d.agent = v,
            "env" => d.env = v,
            "version" => d.version = v,
            "dept" => d.dept = v,
            "model" => d.model = v,
            _ => {}
        }
    }
    d
}

/// Starts a backfill of `evaluator` over the window (answers the one already running, if any).
pub async fn start(
    services: &Services,
    workspace: WorkspaceId,
    by: Option<UserId>,
    evaluator: Uuid,
    window: &Resolved,
) -> Result<Backfill> {
    let to = window.to.min(Utc::now());
    if to - window.from > Duration::days(MAX_DAYS) {
        return Err(Error::invalid_input(
            "range",
            format!("a backfill covers at most {MAX_DAYS} days"),
        ));
    }
    if to <= window.from {
        return Err(Error::invalid_input(
            "from",
            "the window must end after it starts",
        ));
    }
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM evaluators WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.0)
            .bind(evaluator)
            .fetch_optional(&mut *tx)
            .await?;
    match status.as_deref() {
        None => return Err(Error::not_found("evaluator")),
        Some("active") => {}
        Some(_) => {
            return Err(Error::Conflict(
                "the evaluator is paused: resume it first (a paused evaluator drops its jobs)"
                    .into(),
            ))
        }
    }
    let inserted: Option<Row> = sqlx::query_as(&format!(
        "INSERT INTO eval_backfills (workspace_id, id, evaluator_id, window_from, window_to, \
         filter, reached, created_by) VALUES ($1, $2, $3, $4, $5, $6, $4, $7) \
         ON CONFLICT (workspace_id, evaluator_id) WHERE status IN ('queued', 'running') \
         DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(workspace.0)
    .bind(Uuid::now_v7())
    .bind(evaluator)
    .bind(window.from)
    .bind(to)
    .bind(scope_query(&window.dims))
    .bind(by.map(|u| u.0))
    .fetch_optional(&mut *tx)
    .await?;
    let row = match inserted {
        Some(row) => row,
        None => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM eval_backfills WHERE workspace_id = $1 \
                 AND evaluator_id = $2 AND status IN ('queued', 'running')"
            ))
            .bind(workspace.0)
            .bind(evaluator)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    tx.commit().await?;
    let job = from_row(row);
    spawn(services, workspace, job.id);
    Ok(job)
}

/// The latest backfill of each evaluator of the workspace.
pub async fn latest(conn: &mut PgConnection, workspace: WorkspaceId) -> Result<Vec<Backfill>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT DISTINCT ON (evaluator_id) {COLUMNS} FROM eval_backfills \
         WHERE workspace_id = $1 ORDER BY evaluator_id, created_at DESC"
    ))
    .bind(workspace.0)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Runs a backfill in the background (unless this process runs it already).
pub fn spawn(services: &Services, workspace: WorkspaceId, id: Uuid) {
    crate::jobs::spawn_once(
        services,
        id,
        "evaluator backfill",
        move |services| async move {
            if let Err(e) = run(&services, workspace, id).await {
                tracing::warn!(%id, error = %e, "backfill failed");
                let _ = finish(&services, workspace, id, Some(&e.to_string())).await;
            }
        },
    );
}

/// The backfills a stopped server left unfinished, started again.
pub async fn resume(services: &Services) -> Result<usize> {
    let rows: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT workspace_id, id FROM argus_unfinished_eval_backfills()")
            .fetch_all(&services.pool)
            .await?;
    for (workspace, id) in &rows {
        spawn(services, WorkspaceId(*workspace), *id);
    }
    Ok(rows.len())
}

async fn finish(
    services: &Services,
    workspace: WorkspaceId,
    id: Uuid,
    error: Option<&str>,
) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    sqlx::query(
        "UPDATE eval_backfills SET status = $3, error = $4, finished_at = now() \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace.0)
    .bind(id)
    .bind(if error.is_some() { "failed" } else { "done" })
    .bind(error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Candidate {
    trace_id: String,
    span_id: String,
    start_time: DateTime<Utc>,
    name: String,
    agent: String,
    environment: String,
    version: String,
    model: Option<String>,
    operation: Option<String>,
    status: String,
}

/// Walks the window to its end, an hour per transaction.
pub async fn run(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<()> {
    loop {
        if !step(services, workspace, id).await? {
            return Ok(());
        }
        services.jobs.evaluations.notify_one();
    }
}

/// One hour of the window; `false` once the backfill has ended.
async fn step(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<bool> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    // Held until the hour is written: another runner waits, then sees the new position.
    type Head = (Uuid, DateTime<Utc>, DateTime<Utc>, String, String);
    let head: Option<Head> = sqlx::query_as(
        "SELECT evaluator_id, reached, window_to, filter, status FROM eval_backfills \
         WHERE workspace_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(workspace.0)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((evaluator, reached, to, filter, status)) = head else {
        return Ok(false);
    };
    if matches!(status.as_str(), "done" | "failed") {
        return Ok(false);
    }
    let definition: Option<(String, sqlx::types::Json<EvaluatorFilter>, f64, String)> =
        sqlx::query_as(
            "SELECT target, filter, sampling, status FROM evaluators \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace.0)
        .bind(evaluator)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((target, evaluator_filter, sampling, evaluator_status)) = definition else {
        return Ok(false);
    };
    if evaluator_status != "active" {
        sqlx::query(
            "UPDATE eval_backfills SET status = 'failed', finished_at = now(), \
             error = 'the evaluator was paused' WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(false);
    }
    if reached >= to {
        sqlx::query(
            "UPDATE eval_backfills SET status = 'done', finished_at = now() \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(false);
    }
    let target = EvalTarget::parse(&target).unwrap_or(EvalTarget::Span);
    let until = (reached + STEP).min(to);
    let scope = scope_of(&filter);
    let candidates: Vec<Candidate> = sqlx::query_as(
        "SELECT s.trace_id, s.span_id, s.start_time, s.name, s.agent, s.environment, s.version, \
           s.model, s.operation, s.status FROM spans s \
         WHERE s.workspace_id = $1 AND s.start_time >= $2 AND s.start_time < $3 \
           AND ($4 = 'span' OR s.parent_span_id IS NULL) \
           AND ($5::text IS NULL OR s.agent = $5) AND ($6::text IS NULL OR s.environment = $6) \
           AND ($7::text IS NULL OR s.version = $7) AND ($8::text IS NULL OR s.department = $8) \
           AND ($9::text IS NULL OR s.model = $9) \
           AND NOT EXISTS (SELECT 1 FROM scores sc WHERE sc.workspace_id = $1 \
             AND sc.trace_id = s.trace_id AND sc.evaluator_id = $10 \
             AND (CASE WHEN $4 = 'span' THEN sc.span_id = s.span_id ELSE sc.span_id IS NULL END))",
    )
    .bind(workspace.0)
    .bind(reached)
    .bind(until)
    .bind(target.as_str())
    .bind(&scope.agent)
    .bind(&scope.env)
    .bind(&scope.version)
    .bind(&scope.dept)
    .bind(&scope.model)
    .bind(evaluator)
    .fetch_all(&mut *tx)
    .await?;
    let chosen: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| {
            evaluator_filter.0.matches(&SpanFacts {
                agent: &c.agent,
                environment: &c.environment,
                version: &c.version,
                model: c.model.as_deref(),
                operation: c.operation.as_deref(),
                name: &c.name,
                status: &c.status,
            }) && sampled(evaluator, &c.trace_id, sampling)
        })
        .collect();
    let queued = if chosen.is_empty() {
        0
    } else {
        let span = |c: &&Candidate| match target {
            EvalTarget::Span => c.span_id.clone(),
            EvalTarget::Trace => String::new(),
        };
        sqlx::query(
            "INSERT INTO eval_jobs (workspace_id, evaluator_id, trace_id, span_id, span_start) \
             SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::timestamptz[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind(workspace.0)
        .bind(evaluator)
        .bind(column(&chosen, |c| c.trace_id.clone()))
        .bind(column(&chosen, span))
        .bind(column(&chosen, |c| c.start_time))
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64
    };
    sqlx::query(
        "UPDATE eval_backfills SET status = 'running', reached = $3, scanned = scanned + $4, \
         queued = queued + $5 WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace.0)
    .bind(id)
    .bind(until)
    .bind(candidates.len() as i64)
    .bind(queued)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_survives_its_query_string() {
        let d = Dims {
            agent: Some("support bot&co".into()),
            env: Some("production".into()),
            ..Dims::default()
        };
        let q = scope_query(&d);
        let back = scope_of(&q);
        assert_eq!(back.agent, d.agent);
        assert_eq!(back.env, d.env);
        assert_eq!(back.dept, None);
        assert_eq!(scope_query(&Dims::default()), "");
    }
}
