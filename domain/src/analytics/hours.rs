//! The agents' hours (migration 0033: a row per UTC day, department and agent, its 24 hours
//! as arrays) for the reads of an hourly window that need neither a model nor latencies: the
//! activity stream's spikes, usage by department or agent, cost per department per step.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::window::Resolved;
use crate::tenancy::{self, WorkspaceId};
use crate::Result;

/// One hour of one agent (of one department) with something in it.
pub(super) struct AgentHour {
    pub(super) bucket: DateTime<Utc>,
    pub(super) department: String,
    pub(super) agent: String,
    pub(super) traces: i64,
    pub(super) trace_errors: i64,
    pub(super) input_tokens: i64,
    pub(super) output_tokens: i64,
    pub(super) cache_read_tokens: i64,
    pub(super) reasoning_tokens: i64,
    pub(super) cost: f64,
}

#[derive(sqlx::FromRow)]
struct Day {
    bucket: DateTime<Utc>,
    department: String,
    agent: String,
    traces: Vec<i64>,
    trace_errors: Vec<i64>,
    spans: Vec<i64>,
    input_tokens: Vec<i64>,
    output_tokens: Vec<i64>,
    cache_read_tokens: Vec<i64>,
    reasoning_tokens: Vec<i64>,
    cost_usd: Vec<f64>,
}

impl Resolved {
    /// Whether the agents' hours answer this window: hourly buckets, and no filter on a
    /// dimension they do not have (environment, version, model).
    pub(super) fn reads_agent_hours(&self) -> bool {
        !self.daily
            && self.dims.env.is_none()
            && self.dims.version.is_none()
            && self.dims.model.is_none()
    }
}

/// The hours of `[q.from, q.to)` under the department and agent filters that hold a trace, a
/// span or a cost — what the agent rollup's rows of those hours hold, summed per department
/// and agent.
pub(super) async fn agent_hours(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
) -> Result<Vec<AgentHour>> {
    let first_day = q.from.duration_trunc(TimeDelta::days(1)).unwrap_or(q.from);
    let mut tx = tenancy::begin_rollup_read(pool, workspace).await?;
    let days: Vec<Day> = sqlx::query_as(
        "SELECT bucket, department, agent, traces, trace_errors, spans, input_tokens, \
           output_tokens, cache_read_tokens, reasoning_tokens, cost_usd \
         FROM rollup_agent_hours WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3 \
           AND ($4::text IS NULL OR department = $4) AND ($5::text IS NULL OR agent = $5)",
    )
    .bind(workspace)
    .bind(first_day)
    .bind(q.to)
    .bind(&q.dims.dept)
    .bind(&q.dims.agent)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(expand(q, days))
}

/// Each day's hours inside the window that hold something.
fn expand(q: &Resolved, days: Vec<Day>) -> Vec<AgentHour> {
    let mut out = Vec::new();
    for d in days {
        let at = |v: &[i64], h: usize| v.get(h).copied().unwrap_or(0);
        for h in 0..24 {
            let bucket = d.bucket + TimeDelta::hours(h as i64);
            if bucket < q.from || bucket >= q.to {
                continue;
            }
            let cost = d.cost_usd.get(h).copied().unwrap_or(0.0);
            let (traces, spans) = (at(&d.traces, h), at(&d.spans, h));
            if traces == 0 && spans == 0 && cost == 0.0 {
                continue;
            }
            out.push(AgentHour {
                bucket,
                department: d.department.clone(),
                agent: d.agent.clone(),
                traces,
                trace_errors: at(&d.trace_errors, h),
                input_tokens: at(&d.input_tokens, h),
                output_tokens: at(&d.output_tokens, h),
                cache_read_tokens: at(&d.cache_read_tokens, h),
                reasoning_tokens: at(&d.reasoning_tokens, h),
                cost,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::window::Dims;

    #[test]
    fn only_the_windows_hours_with_something_in_them() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T10:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut q =
            crate::analytics::window::resolve(&argus_types::Filters::from_query("range=24h"), now)
                .unwrap();
        q.dims = Dims::default();
        assert!(q.reads_agent_hours());
        // The window is 2026-12-01 11:00 to 2026-12-02 11:00.
        let day = |d: &str| DateTime::parse_from_rfc3339(d).unwrap().with_timezone(&Utc);
        let mut traces = vec![1; 24];
        traces[12] = 0;
        let row = |bucket| Day {
            bucket,
            department: "d".into(),
            agent: "a".into(),
            traces: traces.clone(),
            trace_errors: vec![0; 24],
            spans: vec![0; 24],
            input_tokens: vec![0; 24],
            output_tokens: vec![0; 24],
            cache_read_tokens: vec![0; 24],
            reasoning_tokens: vec![0; 24],
            cost_usd: vec![0.0; 24],
        };
        let hours = expand(
            &q,
            vec![
                row(day("2026-12-01T00:00:00Z")),
                row(day("2026-12-02T00:00:00Z")),
            ],
        );
        // 13 hours of the first day (11:00–23:00, 12:00 empty: 12) and 11 of the second.
        assert_eq!(hours.len(), 12 + 11);
        assert_eq!(hours[0].bucket, day("2026-12-01T11:00:00Z"));
        assert!(hours.iter().all(|h| h.bucket >= q.from && h.bucket < q.to));
        assert!(!hours
            .iter()
            .any(|h| h.bucket == day("2026-12-01T12:00:00Z")));
        q.dims.env = Some("prod".into());
        assert!(!q.reads_agent_hours());
    }
}
