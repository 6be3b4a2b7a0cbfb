//! Ingest feeds the online evaluators' queue, in the transaction that stores the spans: a span
//! is never stored without its jobs, and a crash loses neither. Each active evaluator of the
//! workspace whose filter matches a fresh span (or, for a trace-level evaluator, a fresh root
//! span) gets one job per span (or trace), unless sampling leaves it out; sampling is decided
//! by the evaluator and the trace, so a re-sent span is sampled the same way.

use std::collections::BTreeMap;

use argus_types::{EvalTarget, EvaluatorFilter, SpanFacts};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::SpanRecord;
use crate::db::column;
use crate::tenancy::WorkspaceId;
use crate::Result;

/// A trace-level job waits this long after its root span, for late children.
pub const TRACE_SETTLE: Duration = Duration::seconds(5);

struct Active {
    id: Uuid,
    target: EvalTarget,
    filter: EvaluatorFilter,
    sampling: f64,
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

/// Queues the evaluations `fresh` spans call for; answers how many jobs were queued.
pub async fn enqueue(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    fresh: &[&SpanRecord],
    now: DateTime<Utc>,
) -> Result<usize> {
    if fresh.is_empty() {
        return Ok(0);
    }
    let rows: Vec<(Uuid, String, sqlx::types::Json<EvaluatorFilter>, f64)> = sqlx::query_as(
        "SELECT id, target, filter, sampling FROM evaluators \
         WHERE workspace_id = $1 AND status = 'active'",
    )
    .bind(workspace.0)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let active: Vec<Active> = rows
        .into_iter()
        .filter_map(|(id, target, filter, sampling)| {
            Some(Active {
                id,
                target: EvalTarget::parse(&target)?,
                filter: filter.0,
                sampling,
            })
        })
        .collect();
    let mut jobs: Vec<Job> = Vec::new();
    let mut skipped: BTreeMap<Uuid, i64> = BTreeMap::new();
    for e in &active {
        for s in fresh {
            let due = match e.target {
                EvalTarget::Span => now,
                EvalTarget::Trace if s.parent_span_id.is_none() => now + TRACE_SETTLE,
                EvalTarget::Trace => continue,
            };
            if !e.filter.matches(&facts(s)) {
                continue;
            }
            if !sampled(e.id, &s.trace_id, e.sampling) {
                *skipped.entry(e.id).or_default() += 1;
                continue;
            }
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
    if !skipped.is_empty() {
        let (ids, counts): (Vec<Uuid>, Vec<i64>) = skipped.into_iter().unzip();
        sqlx::query(
            "INSERT INTO evaluator_daily (workspace_id, evaluator_id, day, skipped) \
             SELECT $1, u.id, $4, u.n FROM unnest($2::uuid[], $3::bigint[]) AS u(id, n) \
             ON CONFLICT (workspace_id, evaluator_id, day) \
             DO UPDATE SET skipped = evaluator_daily.skipped + excluded.skipped",
        )
        .bind(workspace.0)
        .bind(&ids)
        .bind(&counts)
        .bind(now.date_naive())
        .execute(&mut *conn)
        .await?;
    }
    Ok(queued)
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
