//! The evaluation worker: claims due jobs from the queue ingest fills (`FOR UPDATE SKIP
//! LOCKED`, under a lease, so several replicas share the work and a crashed one's jobs come
//! back), runs each evaluator's rule, and stores the score and the job's end in one
//! transaction per workspace. A score's id is derived from the job, so a job run twice (a
//! lease that ran out mid-way) scores once.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use argus_types::{Rule, ScoreAuthor, ScoreSource};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::check::{check, derived_id, NewScore, ScoreRow};
use super::configs::Live;
use super::rules::{self, Compiled, Subject};
use super::scores::{insert, Provenance};
use crate::db::column;
use crate::tenancy::{self, WorkspaceId};
use crate::{Result, Services};

/// Jobs claimed at once.
pub const BATCH: i32 = 500;
/// A claimed job's lease: a worker that has not finished by then is presumed gone.
pub const LEASE_SECS: i32 = 60;
/// Tries before a job is failed for good (database trouble, not a rule's verdict).
pub const MAX_ATTEMPTS: i32 = 5;
/// The longest the worker sleeps without being woken (jobs of other replicas, leases).
const IDLE: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, sqlx::FromRow)]
struct Claimed {
    workspace_id: Uuid,
    evaluator_id: Uuid,
    trace_id: String,
    span_id: String,
    span_start: DateTime<Utc>,
    attempts: i32,
}

/// What a pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub claimed: usize,
    pub scored: usize,
    pub failed: usize,
}

/// Claims due jobs and runs them; answers what it did (nothing claimed: the queue is idle).
pub async fn run_once(services: &Services) -> Result<Pass> {
    let claimed: Vec<Claimed> = sqlx::query_as("SELECT * FROM argus_claim_eval_jobs($1, $2)")
        .bind(BATCH)
        .bind(LEASE_SECS)
        .fetch_all(&services.pool)
        .await?;
    let mut pass = Pass {
        claimed: claimed.len(),
        ..Pass::default()
    };
    let mut by_workspace: BTreeMap<Uuid, Vec<Claimed>> = BTreeMap::new();
    for job in claimed {
        by_workspace.entry(job.workspace_id).or_default().push(job);
    }
    for (workspace, jobs) in by_workspace {
        let (spent, jobs): (Vec<Claimed>, Vec<Claimed>) =
            jobs.into_iter().partition(|j| j.attempts > MAX_ATTEMPTS);
        if !spent.is_empty() {
            pass.failed += spent.len();
            if let Err(e) = give_up(services, WorkspaceId(workspace), &spent).await {
                tracing::warn!(%workspace, error = %e, "ending spent evaluation jobs failed");
            }
        }
        if jobs.is_empty() {
            continue;
        }
        match process(services, WorkspaceId(workspace), &jobs).await {
            Ok((scored, failed)) => {
                pass.scored += scored;
                pass.failed += failed;
            }
            // The jobs stay claimed until their lease ends, then run again.
            Err(e) => tracing::warn!(%workspace, error = %e, "evaluation batch failed"),
        }
    }
    Ok(pass)
}

/// Claim loops per process: while one waits on the database, another evaluates.
pub const LOOPS: usize = 2;

/// Runs until the process ends: [`LOOPS`] loops, each a pass whenever ingest queues jobs, and
/// every few seconds.
pub fn spawn(services: &Services) {
    for _ in 0..LOOPS {
        spawn_loop(services);
    }
}

fn spawn_loop(services: &Services) {
    let services = services.clone();
    tokio::spawn(async move {
        loop {
            match run_once(&services).await {
                Ok(pass) if pass.claimed as i32 == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "claiming evaluation jobs failed"),
            }
            let next: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT argus_next_eval_job()")
                .fetch_one(&services.pool)
                .await
                .unwrap_or(None);
            let wait = next
                .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(IDLE)
                .min(IDLE);
            if wait > Duration::ZERO {
                let _ = tokio::time::timeout(wait, services.jobs.evaluations.notified()).await;
            }
        }
    });
}

struct Definition {
    version: i32,
    active: bool,
    score_name: String,
    rule: std::result::Result<Compiled, String>,
}

async fn definitions(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    jobs: &[Claimed],
) -> Result<HashMap<Uuid, Definition>> {
    let mut ids: Vec<Uuid> = jobs.iter().map(|j| j.evaluator_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows: Vec<(Uuid, i32, String, String, sqlx::types::Json<Rule>)> = sqlx::query_as(
        "SELECT id, version, status, score_name, rule FROM evaluators \
         WHERE workspace_id = $1 AND id = ANY($2)",
    )
    .bind(workspace.0)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, version, status, score_name, rule)| {
            let rule = rules::compile(&rule.0).map_err(|e| e.to_string());
            (
                id,
                Definition {
                    version,
                    active: status == "active",
                    score_name,
                    rule,
                },
            )
        })
        .collect())
}

fn text(v: Option<Value>) -> Option<String> {
    v.map(|v| rules::text_of(&v)).filter(|t| !t.is_empty())
}

/// The spans the span-level jobs name, by (trace, span).
async fn span_subjects(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    jobs: &[&Claimed],
) -> Result<HashMap<(String, String), Subject>> {
    if jobs.is_empty() {
        return Ok(HashMap::new());
    }
    type Row = (
        String,
        String,
        Option<Value>,
        Option<Value>,
        i64,
        Option<f64>,
        String,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.trace_id, s.span_id, s.input, s.output, s.duration_us, s.cost_usd::float8, \
         s.status, s.operation FROM spans s \
         JOIN unnest($2::text[], $3::text[], $4::timestamptz[]) AS k(trace_id, span_id, start_time) \
           ON s.trace_id = k.trace_id AND s.span_id = k.span_id AND s.start_time = k.start_time \
         WHERE s.workspace_id = $1",
    )
    .bind(workspace.0)
    .bind(column(jobs, |j| j.trace_id.clone()))
    .bind(column(jobs, |j| j.span_id.clone()))
    .bind(column(jobs, |j| j.span_start))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(trace, span, input, output, us, cost, status, operation)| {
                let tool_failed = operation.as_deref() == Some("execute_tool") && status == "error";
                (
                    (trace, span),
                    Subject {
                        input: text(input),
                        output: text(output),
                        latency_ms: us as f64 / 1000.0,
                        cost_usd: cost,
                        tool_failed,
                    },
                )
            },
        )
        .collect())
}

/// A whole trace: its latency and cost, the first input and the last output of its spans
/// (the root's when it has them), and whether a tool call failed.
async fn trace_subject(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    trace: &str,
) -> Result<Option<Subject>> {
    let head: Option<(i64, Option<f64>)> = sqlx::query_as(
        "SELECT latency_us, cost_usd::float8 FROM traces WHERE workspace_id = $1 AND trace_id = $2",
    )
    .bind(workspace.0)
    .bind(trace)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((latency_us, cost)) = head else {
        return Ok(None);
    };
    let (input, output, tool_failed): (Option<Value>, Option<Value>, bool) = sqlx::query_as(
        "SELECT \
           (SELECT input FROM spans WHERE workspace_id = $1 AND trace_id = $2 AND input IS NOT NULL \
            ORDER BY parent_span_id IS NOT NULL, start_time LIMIT 1), \
           (SELECT output FROM spans WHERE workspace_id = $1 AND trace_id = $2 AND output IS NOT NULL \
            ORDER BY parent_span_id IS NOT NULL, end_time DESC LIMIT 1), \
           EXISTS (SELECT 1 FROM spans WHERE workspace_id = $1 AND trace_id = $2 \
            AND operation = 'execute_tool' AND status = 'error')",
    )
    .bind(workspace.0)
    .bind(trace)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(Subject {
        input: text(input),
        output: text(output),
        latency_ms: latency_us as f64 / 1000.0,
        cost_usd: cost,
        tool_failed,
    }))
}

/// One workspace's claimed jobs: scores stored, jobs ended, counters kept — one transaction.
async fn process(
    services: &Services,
    workspace: WorkspaceId,
    jobs: &[Claimed],
) -> Result<(usize, usize)> {
    let now = Utc::now();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let defs = definitions(&mut tx, workspace, jobs).await?;
    let configs = Live::load(&mut tx, workspace).await?;
    let span_jobs: Vec<&Claimed> = jobs.iter().filter(|j| !j.span_id.is_empty()).collect();
    let spans = span_subjects(&mut tx, workspace, &span_jobs).await?;

    // Per evaluator: the scores to store; per job: done, failed (why) or dropped.
    let mut scores: BTreeMap<Uuid, Vec<ScoreRow>> = BTreeMap::new();
    let mut ended: Vec<(&Claimed, Option<String>)> = Vec::new();
    let mut dropped: Vec<&Claimed> = Vec::new();
    for job in jobs {
        let Some(def) = defs.get(&job.evaluator_id).filter(|d| d.active) else {
            dropped.push(job);
            continue;
        };
        let subject = if job.span_id.is_empty() {
            trace_subject(&mut tx, workspace, &job.trace_id).await?
        } else {
            spans
                .get(&(job.trace_id.clone(), job.span_id.clone()))
                .cloned()
        };
        let outcome = match (&def.rule, subject) {
            (Err(why), _) => Err(format!("the rule is invalid: {why}")),
            (Ok(_), None) => Err("the span or trace is gone (deleted or past retention)".into()),
            (Ok(rule), Some(subject)) => rule.verdict(&subject).and_then(|(pass, why)| {
                let span = (!job.span_id.is_empty()).then(|| job.span_id.clone());
                let id = derived_id(&[
                    "evaluator",
                    &job.evaluator_id.to_string(),
                    &def.version.to_string(),
                    &job.trace_id,
                    &job.span_id,
                ]);
                check(
                    &NewScore {
                        id: Some(id.to_string()),
                        trace_id: Some(job.trace_id.clone()),
                        span_id: span,
                        name: Some(def.score_name.clone()),
                        value: Some(Value::Bool(pass)),
                        explanation: Some(why),
                        ..NewScore::default()
                    },
                    &configs,
                    now,
                )
                .map_err(|e| e.to_string())
            }),
        };
        match outcome {
            Ok(row) => {
                scores.entry(job.evaluator_id).or_default().push(row);
                ended.push((job, None));
            }
            Err(why) => ended.push((job, Some(why))),
        }
    }
    let mut scored = 0;
    for (evaluator, rows) in &scores {
        let def = &defs[evaluator];
        let provenance = Provenance {
            source: ScoreSource::Evaluator,
            author: ScoreAuthor {
                evaluator_id: Some(*evaluator),
                evaluator_version: Some(def.version),
                ..ScoreAuthor::default()
            },
        };
        insert(&mut tx, workspace, &provenance, rows).await?;
        scored += rows.len();
    }
    let done: Vec<&Claimed> = ended
        .iter()
        .filter(|(_, why)| why.is_none())
        .map(|(j, _)| *j)
        .chain(dropped.iter().copied())
        .collect();
    let failed: Vec<(&Claimed, &String)> = ended
        .iter()
        .filter_map(|(j, why)| why.as_ref().map(|w| (*j, w)))
        .collect();
    if !done.is_empty() {
        sqlx::query(
            "DELETE FROM eval_jobs j USING unnest($2::uuid[], $3::text[], $4::text[]) \
             AS k(evaluator_id, trace_id, span_id) WHERE j.workspace_id = $1 \
             AND j.evaluator_id = k.evaluator_id AND j.trace_id = k.trace_id \
             AND j.span_id = k.span_id",
        )
        .bind(workspace.0)
        .bind(column(&done, |j| j.evaluator_id))
        .bind(column(&done, |j| j.trace_id.clone()))
        .bind(column(&done, |j| j.span_id.clone()))
        .execute(&mut *tx)
        .await?;
    }
    fail(&mut tx, workspace, &failed).await?;
    // Today's counters per evaluator.
    let mut counts: BTreeMap<Uuid, (i64, i64, i64)> = BTreeMap::new();
    for (job, why) in &ended {
        let c = counts.entry(job.evaluator_id).or_default();
        if why.is_none() {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
    }
    for job in &dropped {
        if defs.contains_key(&job.evaluator_id) {
            counts.entry(job.evaluator_id).or_default().2 += 1;
        }
    }
    if !counts.is_empty() {
        let rows: Vec<(Uuid, (i64, i64, i64))> = counts.into_iter().collect();
        sqlx::query(
            "INSERT INTO evaluator_daily (workspace_id, evaluator_id, day, done, failed, skipped) \
             SELECT $1, u.id, $2, u.done, u.failed, u.skipped \
             FROM unnest($3::uuid[], $4::bigint[], $5::bigint[], $6::bigint[]) \
               AS u(id, done, failed, skipped) \
             ON CONFLICT (workspace_id, evaluator_id, day) DO UPDATE SET \
               done = evaluator_daily.done + excluded.done, \
               failed = evaluator_daily.failed + excluded.failed, \
               skipped = evaluator_daily.skipped + excluded.skipped",
        )
        .bind(workspace.0)
        .bind(now.date_naive())
        .bind(column(&rows, |r| r.0))
        .bind(column(&rows, |r| r.1 .0))
        .bind(column(&rows, |r| r.1 .1))
        .bind(column(&rows, |r| r.1 .2))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((scored, failed.len()))
}

/// Ends jobs with their reasons: they show as the evaluator's last errors.
async fn fail(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    failed: &[(&Claimed, &String)],
) -> Result<()> {
    if failed.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE eval_jobs j SET status = 'failed', last_error = k.why, finished_at = now(), \
         lease_until = NULL FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) \
         AS k(evaluator_id, trace_id, span_id, why) WHERE j.workspace_id = $1 \
         AND j.evaluator_id = k.evaluator_id AND j.trace_id = k.trace_id \
         AND j.span_id = k.span_id",
    )
    .bind(workspace.0)
    .bind(column(failed, |(j, _)| j.evaluator_id))
    .bind(column(failed, |(j, _)| j.trace_id.clone()))
    .bind(column(failed, |(j, _)| j.span_id.clone()))
    .bind(column(failed, |(_, why)| (*why).clone()))
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends jobs whose batches kept failing, with the reason (never silently pending).
async fn give_up(services: &Services, workspace: WorkspaceId, jobs: &[Claimed]) -> Result<()> {
    let why = format!(
        "gave up after {MAX_ATTEMPTS} attempts (the batch kept failing; see the server log)"
    );
    let failed: Vec<(&Claimed, &String)> = jobs.iter().map(|j| (j, &why)).collect();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    fail(&mut tx, workspace, &failed).await?;
    tx.commit().await?;
    Ok(())
}
