//! An evaluator's verdict, wherever it is reached — inline at ingest (a span-level rule, in the
//! spans' transaction) or from the queue (trace-level rules, judges, backfills): the score it
//! becomes, whose id comes from the evaluator, its version, the trace and the span, so a verdict
//! reached twice scores once; the evaluator's daily counters; its last errors; and its rule,
//! compiled once per version.

use std::sync::LazyLock;
use std::time::Duration;

use argus_types::{Rule, ScoreAuthor, ScoreSource};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::check::{check, derived_id, NewScore, ScoreRow};
use super::configs::Live;
use super::rules::{self, Compiled};
use super::scores::Provenance;
use crate::db::column;
use crate::tenancy::WorkspaceId;
use crate::Result;

/// What a verdict is about: the evaluator (at a version, scoring under a name), the trace, and
/// the span (`""` for the whole trace).
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub evaluator: Uuid,
    pub version: i32,
    pub score_name: &'a str,
    pub trace: &'a str,
    pub span: &'a str,
}

/// The score a verdict (`pass` of a rule, or a judge's value) gives its target, checked against
/// the workspace's configs; `Err` with the reason when the config refuses it.
pub fn score(
    target: Target<'_>,
    value: Value,
    why: Option<String>,
    configs: &Live,
    now: DateTime<Utc>,
) -> std::result::Result<ScoreRow, String> {
    let id = derived_id(&[
        "evaluator",
        &target.evaluator.to_string(),
        &target.version.to_string(),
        target.trace,
        target.span,
    ]);
    check(
        &NewScore {
            id: Some(id.to_string()),
            trace_id: Some(target.trace.to_owned()),
            span_id: (!target.span.is_empty()).then(|| target.span.to_owned()),
            name: Some(target.score_name.to_owned()),
            value: Some(value),
            explanation: why,
            ..NewScore::default()
        },
        configs,
        now,
    )
    .map_err(|e| e.to_string())
}

/// Who stores an evaluator's scores: the evaluator at its version, and the judge model.
pub fn provenance(evaluator: Uuid, version: i32, judge_model: Option<String>) -> Provenance {
    Provenance {
        source: ScoreSource::Evaluator,
        author: ScoreAuthor {
            evaluator_id: Some(evaluator),
            evaluator_version: Some(version),
            judge_model,
            ..ScoreAuthor::default()
        },
    }
}

/// What an evaluator did: scored, failed, left out (sampling, paused), spent on its judge.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    pub done: i64,
    pub failed: i64,
    pub skipped: i64,
    pub spent_usd: f64,
}

impl Tally {
    fn is_empty(&self) -> bool {
        *self == Tally::default()
    }
}

/// Adds to the evaluators' counters of `day` (UTC).
pub async fn count(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    day: NaiveDate,
    tallies: &[(Uuid, Tally)],
) -> Result<()> {
    let rows: Vec<&(Uuid, Tally)> = tallies.iter().filter(|(_, t)| !t.is_empty()).collect();
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO evaluator_daily (workspace_id, evaluator_id, day, done, failed, skipped, \
         spent_usd) \
         SELECT $1, u.id, $2, u.done, u.failed, u.skipped, u.spent \
         FROM unnest($3::uuid[], $4::bigint[], $5::bigint[], $6::bigint[], $7::float8[]) \
           AS u(id, done, failed, skipped, spent) \
         ON CONFLICT (workspace_id, evaluator_id, day) DO UPDATE SET \
           done = evaluator_daily.done + excluded.done, \
           failed = evaluator_daily.failed + excluded.failed, \
           skipped = evaluator_daily.skipped + excluded.skipped, \
           spent_usd = evaluator_daily.spent_usd + excluded.spent_usd",
    )
    .bind(workspace.0)
    .bind(day)
    .bind(column(&rows, |r| r.0))
    .bind(column(&rows, |r| r.1.done))
    .bind(column(&rows, |r| r.1.failed))
    .bind(column(&rows, |r| r.1.skipped))
    .bind(column(&rows, |r| r.1.spent_usd))
    .execute(conn)
    .await?;
    Ok(())
}

/// A verdict that could not be reached, and why.
#[derive(Clone, Debug)]
pub struct Failure<'a> {
    pub evaluator: Uuid,
    pub trace: &'a str,
    pub span: &'a str,
    pub span_start: DateTime<Utc>,
    pub why: String,
}

/// Records failures as failed jobs (a queued job ends so; an inline one is written so): they
/// show as the evaluator's last errors.
pub async fn fail(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    failed: &[Failure<'_>],
) -> Result<()> {
    if failed.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO eval_jobs AS j (workspace_id, evaluator_id, trace_id, span_id, span_start, \
         status, last_error, finished_at) \
         SELECT $1, k.evaluator_id, k.trace_id, k.span_id, k.span_start, 'failed', k.why, now() \
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::text[]) \
           AS k(evaluator_id, trace_id, span_id, span_start, why) \
         ON CONFLICT (workspace_id, evaluator_id, trace_id, span_id) DO UPDATE SET \
           status = 'failed', last_error = excluded.last_error, finished_at = now(), \
           lease_until = NULL",
    )
    .bind(workspace.0)
    .bind(column(failed, |f| f.evaluator))
    .bind(column(failed, |f| f.trace))
    .bind(column(failed, |f| f.span))
    .bind(column(failed, |f| f.span_start))
    .bind(column(failed, |f| f.why.clone()))
    .execute(conn)
    .await?;
    Ok(())
}

/// Compiled rules by (evaluator, version): an edit raises the version, so an entry never goes
/// stale; unused ones leave after an hour.
static COMPILED: LazyLock<moka::future::Cache<(Uuid, i32), std::result::Result<Compiled, String>>> =
    LazyLock::new(|| {
        moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_idle(Duration::from_secs(3600))
            .build()
    });

/// An evaluator's rule, compiled (once per version in this process); `Err` with the reason
/// when it does not compile.
pub async fn compiled(
    evaluator: Uuid,
    version: i32,
    rule: &Rule,
) -> std::result::Result<Compiled, String> {
    COMPILED
        .get_with((evaluator, version), async {
            rules::compile(rule).map_err(|e| e.to_string())
        })
        .await
}
