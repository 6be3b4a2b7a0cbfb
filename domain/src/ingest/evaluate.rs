//! Ingest runs the online evaluators, in the transaction that stores the spans: a span is
//! never stored without its verdicts or its jobs, and a crash loses neither. Each active
//! evaluator of the workspace whose filter matches a fresh span (or, for a trace-level
//! evaluator, a fresh root span) is reached once per span (or trace), unless sampling leaves it
//! out; sampling is decided by the evaluator and the trace, so a re-sent span is sampled the
//! same way. A span-level rule runs here and now — its span is in memory, so its score is
//! stored with the span, at no extra read; the rest (trace-level rules wait for late children,
//! judges call out) become jobs of the durable queue the worker runs.

use std::collections::BTreeMap;

use argus_types::{EvalTarget, EvaluatorFilter, Rule, SpanFacts};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::{SpanRecord, SpanStatus};
use crate::db::column;
use crate::evals::check::ScoreRow;
use crate::evals::configs::Live;
use crate::evals::rules::{Compiled, Subject};
use crate::evals::scores::insert;
use crate::evals::subject::{text, tool_failed};
use crate::evals::verdicts::{self, Failure, Tally, Target};
use crate::tenancy::WorkspaceId;
use crate::Result;

/// A trace-level job waits this long after its root span, for late children.
pub const TRACE_SETTLE: Duration = Duration::seconds(5);

struct Active {
    id: Uuid,
    version: i32,
    score_name: String,
    target: EvalTarget,
    filter: EvaluatorFilter,
    sampling: f64,
    /// A span-level rule, compiled: run inline. `None`: queued.
    inline: Option<std::result::Result<Compiled, String>>,
}

/// One job to queue: the evaluator, the trace, the span ('' for the trace), the span's start
/// and when it falls due.
struct Job<'a> {
    evaluator: Uuid,
    trace: &'a str,
    span: &'a str,
    start: DateTime<Utc>,
    due: DateTime<Utc>,
}

/// Whether `trace` is in an evaluator's sample: a stable draw in [0, 1) per (evaluator, trace).
pub fn sampled(evaluator: Uuid, trace: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    let digest = Sha256::new()
        .chain_update(evaluator.as_bytes())
        .chain_update(trace.as_bytes())
        .finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    let draw = (u64::from_be_bytes(head) >> 11) as f64 / (1u64 << 53) as f64;
    draw < rate
}

fn facts(s: &SpanRecord) -> SpanFacts<'_> {
    SpanFacts {
        agent: &s.dims.agent,
        environment: &s.dims.environment,
        version: &s.dims.version,
        model: s.model.as_deref(),
        operation: s.operation.as_deref(),
        name: &s.name,
        status: s.status.as_str(),
    }
}

/// A span-level rule's verdict on a span: pass or fail and why, or why there is none.
type Reached<'a> = (
    &'a Active,
    &'a SpanRecord,
    std::result::Result<(bool, String), String>,
);

/// What ingest did for the evaluators.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evaluated {
    /// Jobs queued for the worker.
    pub queued: usize,
    /// Scores stored inline.
    pub scored: usize,
}

/// What a span-level rule reads of a span, as ingest has it in memory.
fn subject(s: &SpanRecord, cost: Option<f64>) -> Subject {
    Subject {
        input: text(s.input.as_ref()),
        output: text(s.output.as_ref()),
        latency_ms: s.duration_us as f64 / 1000.0,
        cost_usd: cost,
        tool_failed: tool_failed(s.operation.as_deref(), s.status == SpanStatus::Error),
        ..Subject::default()
    }
}

async fn active(conn: &mut PgConnection, workspace: WorkspaceId) -> Result<Vec<Active>> {
    type Row = (
        Uuid,
        i32,
        String,
        String,
        sqlx::types::Json<EvaluatorFilter>,
        f64,
        sqlx::types::Json<Rule>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, version, score_name, target, filter, sampling, rule FROM evaluators \
         WHERE workspace_id = $1 AND status = 'active'",
    )
    .bind(workspace.0)
    .fetch_all(&mut *conn)
    .await?;
    let mut active = Vec::with_capacity(rows.len());
    for (id, version, score_name, target, filter, sampling, rule) in rows {
        let Some(target) = EvalTarget::parse(&target) else {
            continue;
        };
        let inline = match (target, &rule.0) {
            (EvalTarget::Span, r) if !matches!(r, Rule::Judge { .. }) => {
                Some(verdicts::compiled(id, version, r).await)
            }
            _ => None,
        };
        active.push(Active {
            id,
            version,
            score_name,
            target,
            filter: filter.0,
            sampling,
            inline,
        });
    }
    Ok(active)
}

/// Runs the span-level rules `fresh` spans call for and queues the rest; `costs` are the
/// spans' costs as stored.
pub async fn evaluate(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    fresh: &[&SpanRecord],
    costs: &[Option<f64>],
    now: DateTime<Utc>,
) -> Result<Evaluated> {
    if fresh.is_empty() {
        return Ok(Evaluated::default());
    }
    let active = active(conn, workspace).await?;
    if active.is_empty() {
        return Ok(Evaluated::default());
    }
    let mut jobs: Vec<Job> = Vec::new();
    let mut tallies: BTreeMap<Uuid, Tally> = BTreeMap::new();
    let mut verdicts_of: Vec<Reached<'_>> = Vec::new();
    let mut subjects: Vec<Option<Subject>> = vec![None; fresh.len()];
    for e in &active {
        for (i, s) in fresh.iter().enumerate() {
            let due = match e.target {
                EvalTarget::Span => now,
                EvalTarget::Trace if s.parent_span_id.is_none() => now + TRACE_SETTLE,
                EvalTarget::Trace => continue,
            };
            if !e.filter.matches(&facts(s)) {
                continue;
            }
            if !sampled(e.id, &s.trace_id, e.sampling) {
                tallies.entry(e.id).or_default().skipped += 1;
                continue;
            }
            match &e.inline {
                Some(Ok(rule)) => {
                    let subject = subjects[i].get_or_insert_with(|| subject(s, costs[i]));
                    verdicts_of.push((e, s, rule.verdict(subject)));
                }
                Some(Err(why)) => {
                    verdicts_of.push((e, s, Err(format!("the rule is invalid: {why}"))));
                }
                None => {
                    let span = match e.target {
                        EvalTarget::Span => s.span_id.as_str(),
                        EvalTarget::Trace => "",
                    };
                    jobs.push(Job {
                        evaluator: e.id,
                        trace: &s.trace_id,
                        span,
                        start: s.start_time,
                        due,
                    });
                }
            }
        }
    }
    let scored = if verdicts_of.is_empty() {
        0
    } else {
        store_verdicts(conn, workspace, verdicts_of, &mut tallies, now).await?
    };
    let queued = if jobs.is_empty() {
        0
    } else {
        sqlx::query(
            "INSERT INTO eval_jobs (workspace_id, evaluator_id, trace_id, span_id, span_start, \
             run_after) SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], \
             $5::timestamptz[], $6::timestamptz[]) ON CONFLICT DO NOTHING",
        )
        .bind(workspace.0)
        .bind(column(&jobs, |j| j.evaluator))
        .bind(column(&jobs, |j| j.trace))
        .bind(column(&jobs, |j| j.span))
        .bind(column(&jobs, |j| j.start))
        .bind(column(&jobs, |j| j.due))
        .execute(&mut *conn)
        .await?
        .rows_affected() as usize
    };
    let tallies: Vec<(Uuid, Tally)> = tallies.into_iter().collect();
    verdicts::count(conn, workspace, now.date_naive(), &tallies).await?;
    Ok(Evaluated { queued, scored })
}

/// Stores the inline verdicts as scores (or failures), counting them; answers how many scores
/// were stored.
async fn store_verdicts(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    reached: Vec<Reached<'_>>,
    tallies: &mut BTreeMap<Uuid, Tally>,
    now: DateTime<Utc>,
) -> Result<usize> {
    let configs = Live::load(&mut *conn, workspace).await?;
    let mut rows: BTreeMap<(Uuid, i32), Vec<ScoreRow>> = BTreeMap::new();
    let mut failed: Vec<Failure> = Vec::new();
    for (e, s, verdict) in reached {
        let target = Target {
            evaluator: e.id,
            version: e.version,
            score_name: &e.score_name,
            trace: &s.trace_id,
            span: &s.span_id,
        };
        let row = verdict.and_then(|(pass, why)| {
            verdicts::score(target, Value::Bool(pass), Some(why), &configs, now)
        });
        let tally = tallies.entry(e.id).or_default();
        match row {
            Ok(row) => {
                rows.entry((e.id, e.version)).or_default().push(row);
                tally.done += 1;
            }
            Err(why) => {
                failed.push(Failure {
                    evaluator: e.id,
                    trace: &s.trace_id,
                    span: &s.span_id,
                    span_start: s.start_time,
                    why,
                });
                tally.failed += 1;
            }
        }
    }
    let mut scored = 0;
    for ((evaluator, version), rows) in &rows {
        let provenance = verdicts::provenance(*evaluator, *version, None);
        scored += insert(&mut *conn, workspace, &provenance, rows)
            .await?
            .len();
    }
    verdicts::fail(conn, workspace, &failed).await?;
    Ok(scored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_stable_and_near_its_rate() {
        let e = Uuid::now_v7();
        let hits = (0..10_000)
            .filter(|i| sampled(e, &format!("{i:032x}"), 0.25))
            .count();
        assert!((2_200..2_800).contains(&hits), "{hits}");
        assert_eq!(
            sampled(e, "0af7651916cd43dd8448eb211c80319c", 0.5),
            sampled(e, "0af7651916cd43dd8448eb211c80319c", 0.5)
        );
        assert!(sampled(e, "x", 1.0));
    }
}
