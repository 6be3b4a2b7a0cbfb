//! The agents' hours and days (migration 0033: a row per UTC day, department and agent, its 24
//! hours as arrays; 0036: a row per UTC month, its 31 days; 0038 and 0040: the same per
//! environment) for the reads that need neither a model, a version nor latencies: the activity
//! stream's spikes, usage by department or agent, cost per department per step, the home
//! page's top agents. Hourly windows read the hours, daily windows the days (per environment
//! under an environment filter).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::window::Resolved;
use crate::ingest::rollup::{month_start, SLOT_COUNTS};
use crate::tenancy::{self, WorkspaceId};
use crate::Result;

/// One bucket (an hour, or a day on daily windows) of one agent (of one department) with
/// something in it; its names borrowed from the period read ([`Periods::buckets`]) or owned.
pub(super) struct AgentBucket<S = String> {
    pub(super) bucket: DateTime<Utc>,
    pub(super) department: S,
    pub(super) agent: S,
    pub(super) traces: i64,
    pub(super) trace_errors: i64,
    pub(super) input_tokens: i64,
    pub(super) output_tokens: i64,
    pub(super) cache_read_tokens: i64,
    pub(super) reasoning_tokens: i64,
    pub(super) cost: f64,
}

/// A row of either table: a period (a day of hours, a month of days) of one agent.
#[derive(sqlx::FromRow)]
struct Period {
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
    /// Whether the agents' hours (hourly windows) or days (daily ones) answer this window: no
    /// filter on a dimension they do not have (version, model).
    pub(super) fn reads_agent_buckets(&self) -> bool {
        self.dims.version.is_none() && self.dims.model.is_none()
    }
}

/// The buckets of `[q.from, q.to)` under the department and agent filters that hold a
/// trace, a span or a cost — what the agent rollup's rows of those buckets hold, summed per
/// department and agent.
pub(super) async fn agent_buckets(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
    needs: &[&str],
) -> Result<Vec<AgentBucket>> {
    let periods = agent_periods(pool, workspace, q, needs).await?;
    Ok(periods
        .buckets(q)
        .map(|b| AgentBucket {
            bucket: b.bucket,
            department: b.department.to_owned(),
            agent: b.agent.to_owned(),
            traces: b.traces,
            trace_errors: b.trace_errors,
            input_tokens: b.input_tokens,
            output_tokens: b.output_tokens,
            cache_read_tokens: b.cache_read_tokens,
            reasoning_tokens: b.reasoning_tokens,
            cost: b.cost,
        })
        .collect())
}

/// The periods (days of hours, months of days) that [`agent_buckets`] expands, for readers
/// that sum buckets per agent without copying a name per bucket ([`Periods::buckets`]).
pub(super) struct Periods(Vec<Period>);

impl Periods {
    /// The window's buckets with something in them, their names borrowed.
    pub(super) fn buckets<'p>(
        &'p self,
        q: &'p Resolved,
    ) -> impl Iterator<Item = AgentBucket<&'p str>> + 'p {
        expand(q, &self.0)
    }
}

/// The measures the home page's top agents and the activity spikes read.
const REQUESTS_ERRORS_COST: [&str; 3] = ["traces", "trace_errors", "cost_usd"];

/// The agents' periods with [`REQUESTS_ERRORS_COST`] for one request, read once however
/// many of its readers ask: the home page's top agents and its activity spikes read the same
/// rows, concurrently (the first to ask reads, the other waits for it).
pub(super) struct SharedPeriods<'a> {
    workspace: WorkspaceId,
    q: &'a Resolved,
    cell: tokio::sync::OnceCell<Periods>,
}

impl<'a> SharedPeriods<'a> {
    pub(super) fn new(workspace: WorkspaceId, q: &'a Resolved) -> Self {
        Self {
            workspace,
            q,
            cell: tokio::sync::OnceCell::new(),
        }
    }

    /// The periods, read from `pool` by the first reader to ask.
    pub(super) async fn get(&self, pool: &sqlx::PgPool) -> Result<&Periods> {
        self.cell
            .get_or_try_init(|| agent_periods(pool, self.workspace, self.q, &REQUESTS_ERRORS_COST))
            .await
    }
}

/// The rows under [`agent_buckets`].
pub(super) async fn agent_periods(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
    needs: &[&str],
) -> Result<Periods> {
    // `$6` the environment: filtered in the table that has one (read only with a filter), NULL
    // in the others ([`Resolved::reads_agent_buckets`]).
    let day = q.from.duration_trunc(TimeDelta::days(1)).unwrap_or(q.from);
    let first = if q.daily { month_start(q.from) } else { day };
    let (table, env) = match (q.daily, q.dims.env.is_some()) {
        (true, false) => ("rollup_agent_days", "$6::text IS NULL"),
        (true, true) => ("rollup_agent_env_days", "environment = $6"),
        (false, false) => ("rollup_agent_hours", "$6::text IS NULL"),
        (false, true) => ("rollup_agent_env_hours", "environment = $6"),
    };
    let mut tx = tenancy::begin_rollup_read(pool, workspace).await?;
    let periods: Vec<Period> = sqlx::query_as(&format!(
        "SELECT bucket, department, agent, {} FROM {table} \
         WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3 \
           AND ($4::text IS NULL OR department = $4) AND ($5::text IS NULL OR agent = $5) \
           AND {env}",
        select_list(needs)
    ))
    .bind(workspace)
    .bind(first)
    .bind(q.to)
    .bind(&q.dims.dept)
    .bind(&q.dims.agent)
    .bind(&q.dims.env)
    .fetch_all(&mut *tx)
    .await?;
    tenancy::end_read(tx);
    Ok(Periods(periods))
}

/// The measures a reader needs, the others as empty arrays: PostgreSQL sends an array element
/// by element (a week of 40 agents is 320 rows × 24 slots an array), so an array not read is
/// time not spent.
fn select_list(needs: &[&str]) -> String {
    SLOT_COUNTS
        .iter()
        .chain(&["cost_usd"])
        .map(|m| match (needs.contains(m), *m) {
            (true, m) => m.to_owned(),
            (false, "cost_usd") => "'{}'::float8[] AS cost_usd".to_owned(),
            (false, m) => format!("'{{}}'::int8[] AS {m}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each period's buckets inside the window that hold something: a day's hours, or a month's
/// days (on daily windows). Measures not read are 0.
fn expand<'p>(
    q: &'p Resolved,
    periods: &'p [Period],
) -> impl Iterator<Item = AgentBucket<&'p str>> + 'p {
    let (step, slots) = if q.daily {
        (TimeDelta::days(1), 31)
    } else {
        (TimeDelta::hours(1), 24)
    };
    periods.iter().flat_map(move |p| {
        let at = |v: &[i64], i: usize| v.get(i).copied().unwrap_or(0);
        (0..slots).filter_map(move |i| {
            let bucket = p.bucket + step * i as i32;
            // (A month's slots past its last day are 0; skipped all the same.)
            let past_the_month = q.daily && month_start(bucket) != p.bucket;
            if bucket < q.from || bucket >= q.to || past_the_month {
                return None;
            }
            let b = AgentBucket {
                bucket,
                department: p.department.as_str(),
                agent: p.agent.as_str(),
                traces: at(&p.traces, i),
                trace_errors: at(&p.trace_errors, i),
                input_tokens: at(&p.input_tokens, i),
                output_tokens: at(&p.output_tokens, i),
                cache_read_tokens: at(&p.cache_read_tokens, i),
                reasoning_tokens: at(&p.reasoning_tokens, i),
                cost: p.cost_usd.get(i).copied().unwrap_or(0.0),
            };
            let empty = b.traces == 0
                && at(&p.spans, i) == 0
                && b.input_tokens == 0
                && b.output_tokens == 0
                && b.cost == 0.0;
            (!empty).then_some(b)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(d).unwrap().with_timezone(&Utc)
    }

    /// The window of `range` at 2026-12-02 10:30 UTC, unfiltered.
    fn window(range: &str) -> Resolved {
        let filters = argus_types::Filters::from_query(&format!("range={range}"));
        crate::analytics::window::resolve(&filters, day("2026-12-02T10:30:00Z")).unwrap()
    }

    /// A period of agent "a" starting at `bucket` with these traces and nothing else.
    fn period(bucket: DateTime<Utc>, traces: &[i64]) -> Period {
        let zeros = vec![0; traces.len()];
        Period {
            bucket,
            department: "d".into(),
            agent: "a".into(),
            traces: traces.to_vec(),
            trace_errors: zeros.clone(),
            spans: zeros.clone(),
            input_tokens: zeros.clone(),
            output_tokens: zeros.clone(),
            cache_read_tokens: zeros.clone(),
            reasoning_tokens: zeros,
            cost_usd: vec![0.0; traces.len()],
        }
    }

    #[test]
    fn only_the_windows_hours_with_something_in_them() {
        let mut q = window("24h");
        assert!(q.reads_agent_buckets());
        // The window is 2026-12-01 11:00 to 2026-12-02 11:00.
        let mut traces = vec![1; 24];
        traces[12] = 0;
        let row = |bucket| period(bucket, &traces);
        let periods = [
            row(day("2026-12-01T00:00:00Z")),
            row(day("2026-12-02T00:00:00Z")),
        ];
        let hours: Vec<_> = expand(&q, &periods).collect();
        // 13 hours of the first day (11:00–23:00, 12:00 empty: 12) and 11 of the second.
        assert_eq!(hours.len(), 12 + 11);
        assert_eq!(hours[0].bucket, day("2026-12-01T11:00:00Z"));
        assert!(hours.iter().all(|h| h.bucket >= q.from && h.bucket < q.to));
        assert!(!hours
            .iter()
            .any(|h| h.bucket == day("2026-12-01T12:00:00Z")));
        q.dims.env = Some("prod".into());
        assert!(
            q.reads_agent_buckets(),
            "hourly: the agents' hours per environment"
        );
        q.dims.version = Some("v1".into());
        assert!(!q.reads_agent_buckets());
    }

    #[test]
    fn only_the_windows_days_with_something_in_them() {
        let mut q = window("90d");
        assert!(q.daily && q.reads_agent_buckets());
        q.dims.env = Some("prod".into());
        assert!(
            q.reads_agent_buckets(),
            "daily: the agents' days per environment"
        );
        q.dims.env = None;
        // Every slot set, even November's 31st (none is written there): it is not Dec 1.
        let row = |bucket| period(bucket, &[1; 31]);
        let months = [
            "2026-08-01",
            "2026-09-01",
            "2026-10-01",
            "2026-11-01",
            "2026-12-01",
        ];
        let periods: Vec<Period> = months
            .iter()
            .map(|m| row(day(&format!("{m}T00:00:00Z"))))
            .collect();
        let days: Vec<_> = expand(&q, &periods).collect();
        // Each day of the window once, in order, and nothing outside it.
        let got: Vec<DateTime<Utc>> = days.iter().map(|d| d.bucket).collect();
        let mut all_days = Vec::new();
        let mut t = q.from;
        while t < q.to {
            all_days.push(t);
            t += TimeDelta::days(1);
        }
        assert_eq!(got, all_days);
        assert_eq!(
            month_start(day("2026-11-30T23:00:00Z")),
            day("2026-11-01T00:00:00Z")
        );
    }
}
