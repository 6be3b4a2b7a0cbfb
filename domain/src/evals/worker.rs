//! The evaluation worker: claims due jobs from the queue ingest fills (`FOR UPDATE SKIP
//! LOCKED`, under a lease, so several replicas share the work and a crashed one's jobs come
//! back), runs each evaluator's rule, and stores the score and the job's end in one
//! transaction per workspace. A score's id is derived from the job, so a job run twice (a
//! lease that ran out mid-way) scores once.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use argus_types::Rule;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::check::ScoreRow;
use super::configs::Live;
use super::judge;
use super::rules::{Compiled, Subject};
use super::scores::insert;
use super::subject::{expected_from_dataset, metadata, text, tool_failed, trace_subject};
use super::verdicts::{self, Failure, Tally, Target};
use crate::db::column;
use crate::tenancy::{self, WorkspaceId};
use crate::{Result, Services};

/// Jobs claimed at once.
pub const BATCH: i32 = 500;
/// A claimed job's lease: a worker that has not finished by then is presumed gone (its jobs
/// go to another within 47 s: the lease and one poll).
pub const LEASE_SECS: i32 = 45;
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
    daily_limit_usd: Option<f64>,
}

impl Definition {
    fn judge_prompt(&self) -> Option<&str> {
        self.rule.as_ref().ok().and_then(Compiled::judge_prompt)
    }
}

async fn definitions(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    jobs: &[Claimed],
) -> Result<HashMap<Uuid, Definition>> {
    let mut ids: Vec<Uuid> = jobs.iter().map(|j| j.evaluator_id).collect();
    ids.sort_unstable();
    ids.dedup();
    type Row = (
        Uuid,
        i32,
        String,
        String,
        sqlx::types::Json<Rule>,
        Option<f64>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, version, status, score_name, rule, daily_limit_usd FROM evaluators \
         WHERE workspace_id = $1 AND id = ANY($2)",
    )
    .bind(workspace.0)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut defs = HashMap::with_capacity(rows.len());
    for (id, version, status, score_name, rule, daily_limit_usd) in rows {
        let rule = verdicts::compiled(id, version, &rule.0).await;
        defs.insert(
            id,
            Definition {
                version,
                active: status == "active",
                score_name,
                rule,
                daily_limit_usd,
            },
        );
    }
    Ok(defs)
}

#[derive(sqlx::FromRow)]
struct SpanRow {
    trace_id: String,
    span_id: String,
    input: Option<Value>,
    output: Option<Value>,
    duration_us: i64,
    cost: Option<f64>,
    status: String,
    operation: Option<String>,
    attributes: Option<Value>,
    agent: String,
    environment: String,
    version: String,
    model: Option<String>,
}

/// The spans the span-level jobs name, by (trace, span); their attributes only when a judge
/// will read them.
async fn span_subjects(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    jobs: &[&Claimed],
    with_metadata: bool,
) -> Result<HashMap<(String, String), Subject>> {
    if jobs.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<SpanRow> = sqlx::query_as(
        "SELECT s.trace_id, s.span_id, s.input, s.output, s.duration_us, \
         s.cost_usd::float8 AS cost, s.status, s.operation, \
         CASE WHEN $5 THEN s.attributes END AS attributes, s.agent, s.environment, \
         s.version, s.model FROM spans s \
         JOIN unnest($2::text[], $3::text[], $4::timestamptz[]) AS k(trace_id, span_id, start_time) \
           ON s.trace_id = k.trace_id AND s.span_id = k.span_id AND s.start_time = k.start_time \
         WHERE s.workspace_id = $1",
    )
    .bind(workspace.0)
    .bind(column(jobs, |j| j.trace_id.clone()))
    .bind(column(jobs, |j| j.span_id.clone()))
    .bind(column(jobs, |j| j.span_start))
    .bind(with_metadata)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| subject_of(r, with_metadata))
        .collect())
}

fn subject_of(r: SpanRow, with_metadata: bool) -> ((String, String), Subject) {
    let tool_failed = tool_failed(r.operation.as_deref(), r.status == "error");
    let (metadata, expected) = if with_metadata {
        metadata(
            r.attributes,
            [
                ("agent", Some(r.agent)),
                ("environment", Some(r.environment)),
                ("version", Some(r.version)),
                ("model", r.model),
            ],
        )
    } else {
        Default::default()
    };
    (
        (r.trace_id, r.span_id),
        Subject {
            input: text(r.input.as_ref()),
            output: text(r.output.as_ref()),
            latency_ms: r.duration_us as f64 / 1000.0,
            cost_usd: r.cost,
            tool_failed,
            expected,
            metadata,
        },
    )
}

/// Judge calls one pass makes at once (and at most), so a pass ends well inside its lease.
pub const JUDGE_CALLS: usize = 16;
/// Tries of a judge call that timed out or met a 429 or 5xx (waits of 1, 2, 4 s between).
pub const JUDGE_TRIES: i32 = 4;

/// What became of one job.
enum Outcome {
    /// Scored, by this judge model (rules: none), at this cost.
    Scored(Box<ScoreRow>, Option<String>, f64),
    /// Failed for good, with the reason.
    Failed(String),
    /// Tried again after this many seconds, with the reason.
    Retry(i32, String),
    /// Its evaluator is gone or paused: dropped, counted as skipped.
    Dropped,
}

/// The score a verdict (`pass` of a rule, or a judge's value) gives the job.
fn score_of(
    job: &Claimed,
    def: &Definition,
    value: Value,
    why: Option<String>,
    configs: &Live,
    now: DateTime<Utc>,
) -> std::result::Result<ScoreRow, String> {
    let target = Target {
        evaluator: job.evaluator_id,
        version: def.version,
        score_name: &def.score_name,
        trace: &job.trace_id,
        span: &job.span_id,
    };
    verdicts::score(target, value, why, configs, now)
}

/// Runs the judge jobs of one pass: at most [`JUDGE_CALLS`] at once, none for an evaluator past
/// its daily limit. Answers each job's outcome and the evaluators that reached their limit.
async fn judge_all(
    services: &Services,
    workspace: WorkspaceId,
    work: Vec<(&Claimed, &Definition, Subject)>,
    endpoint: &std::result::Result<judge::Endpoint, String>,
    configs: &Live,
    spent: &HashMap<Uuid, f64>,
) -> Result<(Vec<Outcome>, Vec<(Uuid, f64, f64)>)> {
    let endpoint = match endpoint {
        Ok(e) => e,
        Err(why) => {
            return Ok((
                work.iter().map(|_| Outcome::Failed(why.clone())).collect(),
                Vec::new(),
            ))
        }
    };
    let overrides = crate::pricing::cached_overrides(services, workspace).await?;
    let pricing = crate::pricing::Pricing::new(&overrides);
    let now = Utc::now();
    let calls = work.iter().map(|(job, def, subject)| {
        let prompt = judge::render(def.judge_prompt().unwrap_or_default(), subject);
        let config = configs.by_name(&def.score_name).cloned();
        let judges = services.judges.clone();
        async move {
            let reply = judge::call(&judges, endpoint, &prompt, config.as_ref()).await;
            (job, def, reply, config)
        }
    });
    let replies = futures::future::join_all(calls).await;
    let mut outcomes = Vec::with_capacity(replies.len());
    let mut cost_of: HashMap<Uuid, f64> = HashMap::new();
    for (job, def, reply, config) in replies {
        outcomes.push(match reply {
            Ok(verdict) => {
                let cost = verdict.cost(&pricing);
                *cost_of.entry(job.evaluator_id).or_default() += cost;
                let value = judge::coerce(verdict.value.clone(), config.as_ref());
                match score_of(job, def, value, verdict.explanation.clone(), configs, now) {
                    Ok(row) => Outcome::Scored(Box::new(row), Some(verdict.model.clone()), cost),
                    Err(why) => Outcome::Failed(format!("the judge's verdict was refused: {why}")),
                }
            }
            Err(judge::CallError::Transient(why)) if job.attempts < JUDGE_TRIES => {
                Outcome::Retry(1 << (job.attempts - 1).clamp(0, 10), why)
            }
            Err(judge::CallError::Transient(why)) => {
                Outcome::Failed(format!("{why} (gave up after {JUDGE_TRIES} tries)"))
            }
            Err(judge::CallError::Permanent(why)) => Outcome::Failed(why),
        });
    }
    let reached: Vec<(Uuid, f64, f64)> = cost_of
        .into_iter()
        .filter_map(|(id, cost)| {
            let limit = work
                .iter()
                .find(|w| w.0.evaluator_id == id)?
                .1
                .daily_limit_usd?;
            let total = spent.get(&id).copied().unwrap_or(0.0) + cost;
            (total >= limit).then_some((id, limit, total))
        })
        .collect();
    Ok((outcomes, reached))
}

/// One workspace's claimed jobs: read what they judge, run rules in process and judges over
/// HTTP (outside any transaction), then store scores, end jobs and keep counters in one
/// transaction.
async fn process(
    services: &Services,
    workspace: WorkspaceId,
    jobs: &[Claimed],
) -> Result<(usize, usize)> {
    let now = Utc::now();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let defs = definitions(&mut tx, workspace, jobs).await?;
    let configs = Live::load(&mut tx, workspace).await?;
    let is_judged = |j: &Claimed| {
        defs.get(&j.evaluator_id)
            .is_some_and(|d| d.active && d.judge_prompt().is_some())
    };
    // A pass calls a judge at most JUDGE_CALLS times; the rest go back to the queue at once.
    let mut judged = 0;
    let mut returned: Vec<&Claimed> = Vec::new();
    let jobs: Vec<&Claimed> = jobs
        .iter()
        .filter(|j| {
            if !is_judged(j) {
                return true;
            }
            judged += 1;
            if judged > JUDGE_CALLS {
                returned.push(j);
                false
            } else {
                true
            }
        })
        .collect();
    let any_judge = judged > 0;
    let span_jobs: Vec<&Claimed> = jobs
        .iter()
        .copied()
        .filter(|j| !j.span_id.is_empty())
        .collect();
    let spans = span_subjects(&mut tx, workspace, &span_jobs, any_judge).await?;
    let mut subjects: Vec<Option<Subject>> = Vec::with_capacity(jobs.len());
    for job in &jobs {
        let mut subject = if job.span_id.is_empty() {
            let meta = is_judged(job);
            trace_subject(&mut tx, workspace, &job.trace_id, meta).await?
        } else {
            spans
                .get(&(job.trace_id.clone(), job.span_id.clone()))
                .cloned()
        };
        if let Some(s) = subject.as_mut().filter(|_| is_judged(job)) {
            expected_from_dataset(&mut tx, workspace, s).await?;
        }
        subjects.push(subject);
    }
    let (endpoint, spent) = if any_judge {
        let endpoint = judge::endpoint(&mut tx, &services.judges, workspace).await?;
        let spent: Vec<(Uuid, f64)> = sqlx::query_as(
            "SELECT evaluator_id, spent_usd FROM evaluator_daily WHERE workspace_id = $1 \
             AND day = $2",
        )
        .bind(workspace.0)
        .bind(now.date_naive())
        .fetch_all(&mut *tx)
        .await?;
        (Some(endpoint), spent.into_iter().collect::<HashMap<_, _>>())
    } else {
        (None, HashMap::new())
    };
    release(&mut tx, workspace, &returned).await?;
    // A judge may take longer than the claim's lease: the judged jobs' lease covers its timeout,
    // so no other worker takes them over (and pays for them again) while they are in flight.
    if let Some(Ok(e)) = &endpoint {
        let judged: Vec<&Claimed> = jobs.iter().copied().filter(|j| is_judged(j)).collect();
        let secs = e.timeout.as_secs() as i32 + LEASE_SECS;
        sqlx::query(
            "UPDATE eval_jobs j SET lease_until = now() + make_interval(secs => $5) \
             FROM unnest($2::uuid[], $3::text[], $4::text[]) AS k(evaluator_id, trace_id, span_id) \
             WHERE j.workspace_id = $1 AND j.evaluator_id = k.evaluator_id \
             AND j.trace_id = k.trace_id AND j.span_id = k.span_id AND j.status = 'running'",
        )
        .bind(workspace.0)
        .bind(column(&judged, |j| j.evaluator_id))
        .bind(column(&judged, |j| j.trace_id.clone()))
        .bind(column(&judged, |j| j.span_id.clone()))
        .bind(secs)
        .execute(&mut *tx)
        .await?;
    }
    // Rules alone: the same transaction writes. Judges: it ends before their calls.
    let mut open = Some(tx);
    if any_judge {
        if let Some(tx) = open.take() {
            tx.commit().await?;
        }
    }

    // Rules now; judges' calls together.
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(jobs.len());
    let mut to_judge: Vec<(usize, (&Claimed, &Definition, Subject))> = Vec::new();
    for (i, (job, subject)) in jobs.iter().zip(subjects).enumerate() {
        let Some(def) = defs.get(&job.evaluator_id).filter(|d| d.active) else {
            outcomes.push(Some(Outcome::Dropped));
            continue;
        };
        let outcome = match (&def.rule, subject) {
            (Err(why), _) => Outcome::Failed(format!("the rule is invalid: {why}")),
            (Ok(_), None) => {
                Outcome::Failed("the span or trace is gone (deleted or past retention)".into())
            }
            (Ok(rule), Some(subject)) if rule.judge_prompt().is_some() => {
                if spent.get(&job.evaluator_id).copied().unwrap_or(0.0)
                    >= def.daily_limit_usd.unwrap_or(f64::INFINITY)
                {
                    Outcome::Failed(limit_reason(def.daily_limit_usd.unwrap_or(0.0)))
                } else {
                    to_judge.push((i, (job, def, subject)));
                    outcomes.push(None);
                    continue;
                }
            }
            (Ok(rule), Some(subject)) => match rule.verdict(&subject) {
                Ok((pass, why)) => {
                    match score_of(job, def, Value::Bool(pass), Some(why), &configs, now) {
                        Ok(row) => Outcome::Scored(Box::new(row), None, 0.0),
                        Err(why) => Outcome::Failed(why),
                    }
                }
                Err(why) => Outcome::Failed(why),
            },
        };
        outcomes.push(Some(outcome));
    }
    let mut reached = Vec::new();
    if !to_judge.is_empty() {
        let (slots, work): (Vec<usize>, Vec<_>) = to_judge.into_iter().unzip();
        let endpoint = endpoint.unwrap_or_else(|| Err("no judge model is set up".into()));
        let (judged, limits) =
            judge_all(services, workspace, work, &endpoint, &configs, &spent).await?;
        for (slot, outcome) in slots.into_iter().zip(judged) {
            outcomes[slot] = Some(outcome);
        }
        reached = limits;
    }
    let outcomes: Vec<(&Claimed, Outcome)> = jobs
        .iter()
        .copied()
        .zip(outcomes.into_iter().map(|o| o.unwrap_or(Outcome::Dropped)))
        .collect();
    let tx = match open {
        Some(tx) => tx,
        None => tenancy::begin(&services.pool, workspace).await?,
    };
    store(tx, workspace, &defs, &outcomes, &reached, now).await
}

fn limit_reason(limit: f64) -> String {
    format!(
        "the evaluator's daily spend limit (${limit}) is reached: it is paused until resumed \
         (raise the limit or resume it tomorrow)"
    )
}

/// Puts jobs back in the queue untried (a pass took more judge jobs than it calls at once).
async fn release(conn: &mut PgConnection, workspace: WorkspaceId, jobs: &[&Claimed]) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE eval_jobs j SET status = 'queued', attempts = greatest(j.attempts - 1, 0), \
         lease_until = NULL FROM unnest($2::uuid[], $3::text[], $4::text[]) \
         AS k(evaluator_id, trace_id, span_id) WHERE j.workspace_id = $1 \
         AND j.evaluator_id = k.evaluator_id AND j.trace_id = k.trace_id \
         AND j.span_id = k.span_id",
    )
    .bind(workspace.0)
    .bind(column(jobs, |j| j.evaluator_id))
    .bind(column(jobs, |j| j.trace_id.clone()))
    .bind(column(jobs, |j| j.span_id.clone()))
    .execute(conn)
    .await?;
    Ok(())
}

/// The write of a pass: scores, jobs ended or retried, today's counters and spend, evaluators
/// paused at their limit — one transaction.
async fn store(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    workspace: WorkspaceId,
    defs: &HashMap<Uuid, Definition>,
    outcomes: &[(&Claimed, Outcome)],
    reached: &[(Uuid, f64, f64)],
    now: DateTime<Utc>,
) -> Result<(usize, usize)> {
    // Per (evaluator, judge model): the scores to store.
    let mut scores: BTreeMap<(Uuid, Option<String>), Vec<ScoreRow>> = BTreeMap::new();
    let mut done: Vec<&Claimed> = Vec::new();
    let mut failed: Vec<Failure> = Vec::new();
    let mut retried: Vec<(&Claimed, i32, &String)> = Vec::new();
    let mut counts: BTreeMap<Uuid, Tally> = BTreeMap::new();
    for (job, outcome) in outcomes {
        let known = defs.contains_key(&job.evaluator_id);
        let c = counts.entry(job.evaluator_id).or_default();
        match outcome {
            Outcome::Scored(row, model, cost) => {
                scores
                    .entry((job.evaluator_id, model.clone()))
                    .or_default()
                    .push((**row).clone());
                done.push(job);
                c.done += 1;
                c.spent_usd += cost;
            }
            Outcome::Failed(why) => {
                failed.push(failure(job, why.clone()));
                c.failed += 1;
            }
            Outcome::Retry(secs, why) => retried.push((job, *secs, why)),
            Outcome::Dropped => {
                done.push(job);
                if known {
                    c.skipped += 1;
                }
            }
        }
    }
    let mut scored = 0;
    for ((evaluator, model), rows) in &scores {
        let provenance = verdicts::provenance(*evaluator, defs[evaluator].version, model.clone());
        insert(&mut tx, workspace, &provenance, rows).await?;
        scored += rows.len();
    }
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
    verdicts::fail(&mut tx, workspace, &failed).await?;
    if !retried.is_empty() {
        sqlx::query(
            "UPDATE eval_jobs j SET status = 'queued', lease_until = NULL, last_error = k.why, \
             run_after = now() + make_interval(secs => k.secs) \
             FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::text[]) \
             AS k(evaluator_id, trace_id, span_id, secs, why) WHERE j.workspace_id = $1 \
             AND j.evaluator_id = k.evaluator_id AND j.trace_id = k.trace_id \
             AND j.span_id = k.span_id",
        )
        .bind(workspace.0)
        .bind(column(&retried, |r| r.0.evaluator_id))
        .bind(column(&retried, |r| r.0.trace_id.clone()))
        .bind(column(&retried, |r| r.0.span_id.clone()))
        .bind(column(&retried, |r| r.1))
        .bind(column(&retried, |r| r.2.clone()))
        .execute(&mut *tx)
        .await?;
    }
    let tallies: Vec<(Uuid, Tally)> = counts
        .into_iter()
        .filter(|(id, _)| defs.contains_key(id))
        .collect();
    verdicts::count(&mut tx, workspace, now.date_naive(), &tallies).await?;
    for (evaluator, limit, total) in reached {
        sqlx::query(
            "UPDATE evaluators SET status = 'paused', paused_reason = $3, updated_at = now() \
             WHERE workspace_id = $1 AND id = $2 AND status = 'active'",
        )
        .bind(workspace.0)
        .bind(evaluator)
        .bind(format!(
            "daily spend limit reached: ${total:.4} of ${limit} spent today (UTC); resume it \
             to go on"
        ))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((scored, failed.len()))
}

fn failure(job: &Claimed, why: String) -> Failure<'_> {
    Failure {
        evaluator: job.evaluator_id,
        trace: &job.trace_id,
        span: &job.span_id,
        span_start: job.span_start,
        why,
    }
}

/// Ends jobs whose batches kept failing, with the reason (never silently pending).
async fn give_up(services: &Services, workspace: WorkspaceId, jobs: &[Claimed]) -> Result<()> {
    let why = format!(
        "gave up after {MAX_ATTEMPTS} attempts (the batch kept failing; see the server log)"
    );
    let failed: Vec<Failure> = jobs.iter().map(|j| failure(j, why.clone())).collect();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    verdicts::fail(&mut tx, workspace, &failed).await?;
    tx.commit().await?;
    Ok(())
}
