//! The activity stream: notable events derived from the rollups over the window —
//! a new agent, model or agent version seen for the first time (under the filters), an
//! agent's error-rate spike, an agent's cost spike. Buckets are hours (days on ranges read
//! from the daily rollup).
//!
//! The rules, kept simple enough to state on the page:
//! - error spike: a bucket with at least [`SPIKE_MIN_REQUESTS`] requests whose error rate is
//!   at least twice, and at least 10 points above, the agent's rate over the rest of the window;
//! - cost spike: a bucket costing at least three times the agent's average over its other
//!   active buckets (at least [`SPIKE_MIN_BUCKETS`] of them) and at least $1 more.

use std::collections::BTreeMap;

use argus_types::{Activity, ActivityEvent};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::hours::{AgentBucket, SharedPeriods};
use super::query::{fetch_window, window_and_dims};
use super::report::Report;
use super::window::Resolved;
use crate::tenancy::WorkspaceId;
use crate::Result;

pub const SPIKE_MIN_REQUESTS: i64 = 20;
pub const SPIKE_MIN_BUCKETS: usize = 4;
/// The most events returned.
pub const MAX_EVENTS: usize = 50;

/// First appearances of agents, models and agent versions under the filters, `(kind, agent,
/// subject, first hour)`, from the first hour of each combination of dimensions (migration
/// 0029: a row per combination ever seen, not the history of the rollups).
const FIRST_SEEN: &str =
    "WITH f AS (SELECT agent, model, version, first_hour FROM rollup_first_seen \
       WHERE workspace_id = $1 AND ($2::text IS NULL OR department = $2) \
         AND ($3::text IS NULL OR environment = $3) AND ($4::text IS NULL OR version = $4) \
         AND ($5::text IS NULL OR agent = $5) AND ($6::text IS NULL OR model = $6)) \
     SELECT 'new_agent' AS kind, agent, '' AS subject, min(first_hour) AS first FROM f \
       GROUP BY agent \
     UNION ALL SELECT 'new_model', '', model, min(first_hour) FROM f WHERE model <> '' \
       GROUP BY model \
     UNION ALL SELECT 'new_version', agent, version, min(first_hour) FROM f \
       WHERE version <> '' GROUP BY agent, version";

type FirstSeen = (String, String, String, DateTime<Utc>);

async fn new_things(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
) -> Result<Vec<ActivityEvent>> {
    let d = &q.dims;
    let mut tx = crate::tenancy::begin(pool, workspace).await?;
    let seen: Vec<FirstSeen> = sqlx::query_as(FIRST_SEEN)
        .bind(workspace)
        .bind(&d.dept)
        .bind(&d.env)
        .bind(&d.version)
        .bind(&d.agent)
        .bind(&d.model)
        .fetch_all(&mut *tx)
        .await?;
    crate::tenancy::end_read(tx);
    // On ranges read from the daily rollup, events fall on their day.
    let day = TimeDelta::days(1);
    let seen: Vec<FirstSeen> = seen
        .into_iter()
        .map(|(k, a, s, t)| {
            let t = if q.daily {
                t.duration_trunc(day).unwrap_or(t)
            } else {
                t
            };
            (k, a, s, t)
        })
        .collect();
    let new_agents: BTreeMap<String, DateTime<Utc>> = seen
        .iter()
        .filter(|(k, ..)| k == "new_agent")
        .map(|(_, a, _, t)| (a.clone(), *t))
        .collect();
    Ok(seen
        .into_iter()
        .filter(|(.., first)| *first >= q.from && *first < q.to)
        // A new agent's first version is not news of its own.
        .filter(|(k, a, _, t)| k != "new_version" || new_agents.get(a) != Some(t))
        .map(|(kind, agent, subject, at)| {
            let message = match kind.as_str() {
                "new_agent" => format!("New agent {agent} sent its first trace"),
                "new_model" => format!("Model {subject} used for the first time"),
                _ => format!("{agent} version {subject} seen for the first time"),
            };
            ActivityEvent {
                at,
                kind,
                agent,
                subject,
                message,
            }
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct Bucket {
    bucket: DateTime<Utc>,
    agent: String,
    requests: i64,
    errors: i64,
    cost: f64,
}

/// An agent's bucket: what the spikes look at.
#[derive(Clone, Copy)]
struct Hour {
    bucket: DateTime<Utc>,
    requests: i64,
    errors: i64,
    cost: f64,
}

/// Each agent's buckets, one per bucket, its name borrowed from the rows read.
type ByAgent<'a> = BTreeMap<&'a str, Vec<Hour>>;

/// Rows summed per (bucket, agent) already (the SQL path), grouped per agent.
fn by_agent(buckets: &[Bucket]) -> ByAgent<'_> {
    let mut by_agent: ByAgent = BTreeMap::new();
    for b in buckets {
        by_agent.entry(&b.agent).or_default().push(Hour {
            bucket: b.bucket,
            requests: b.requests,
            errors: b.errors,
            cost: b.cost,
        });
    }
    by_agent
}

/// The agents' buckets from the agents' hours or days, summed over departments (an agent in
/// two departments has two rows a period).
fn by_agent_from<'p>(buckets: impl Iterator<Item = AgentBucket<&'p str>>) -> ByAgent<'p> {
    let mut by_agent: ByAgent = BTreeMap::new();
    for b in buckets {
        by_agent.entry(b.agent).or_default().push(Hour {
            bucket: b.bucket,
            requests: b.traces,
            errors: b.trace_errors,
            cost: b.cost,
        });
    }
    for hours in by_agent.values_mut() {
        hours.sort_by_key(|h| h.bucket);
        hours.dedup_by(|later, kept| {
            let same = later.bucket == kept.bucket;
            if same {
                kept.requests += later.requests;
                kept.errors += later.errors;
                kept.cost += later.cost;
            }
            same
        });
    }
    by_agent
}

fn spikes(by_agent: &ByAgent) -> Vec<ActivityEvent> {
    let mut events = Vec::new();
    for (agent, list) in by_agent {
        let requests: i64 = list.iter().map(|b| b.requests).sum();
        let errors: i64 = list.iter().map(|b| b.errors).sum();
        let cost: f64 = list.iter().map(|b| b.cost).sum();
        let active = list.iter().filter(|b| b.cost > 0.0).count();
        for b in list {
            let rest = requests - b.requests;
            if b.requests >= SPIKE_MIN_REQUESTS && rest > 0 {
                let rate = b.errors as f64 * 100.0 / b.requests as f64;
                let base = (errors - b.errors) as f64 * 100.0 / rest as f64;
                if rate >= 2.0 * base && rate >= base + 10.0 {
                    events.push(ActivityEvent {
                        at: b.bucket,
                        kind: "error_spike".into(),
                        agent: agent.to_string(),
                        subject: String::new(),
                        message: format!(
                            "{agent}: error rate {rate:.1} % ({} of {}) against {base:.1} % \
                             over the rest of the range",
                            b.errors, b.requests
                        ),
                    });
                }
            }
            if active > SPIKE_MIN_BUCKETS && b.cost > 0.0 {
                let mean = (cost - b.cost) / (active - 1) as f64;
                if b.cost >= 3.0 * mean && b.cost - mean >= 1.0 {
                    events.push(ActivityEvent {
                        at: b.bucket,
                        kind: "cost_spike".into(),
                        agent: agent.to_string(),
                        subject: String::new(),
                        message: format!(
                            "{agent}: cost ${:.2} against ${mean:.2} on average",
                            b.cost
                        ),
                    });
                }
            }
        }
    }
    events
}

/// The activity over the window, newest first (at most [`MAX_EVENTS`]), uncached; the spikes
/// from `periods` when the agents' hours or days answer the window.
pub(super) async fn activity_uncached(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
    periods: &SharedPeriods<'_>,
) -> Result<Activity> {
    let (requests, errors) = if q.dims.model.is_some() {
        ("spans", "span_errors")
    } else {
        ("traces", "trace_errors")
    };
    let sql = format!(
        "SELECT bucket, agent, sum({requests})::bigint AS requests, \
           sum({errors})::bigint AS errors, sum(cost_usd)::float8 AS cost \
         FROM {table} WHERE {dims} GROUP BY bucket, agent",
        table = q.table(),
        dims = window_and_dims(q.table()),
    );
    let spiked = async {
        if !q.reads_agent_buckets() {
            let rows: Vec<Bucket> =
                fetch_window(pool, workspace, &sql, (q.from, q.to), &q.dims).await?;
            return Ok(spikes(&by_agent(&rows)));
        }
        Ok(spikes(&by_agent_from(periods.get(pool).await?.buckets(q))))
    };
    let (spiked, mut events) = tokio::try_join!(spiked, new_things(pool, workspace, q))?;
    events.extend(spiked);
    events.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.agent.cmp(&b.agent))
            .then_with(|| a.subject.cmp(&b.subject))
    });
    events.truncate(MAX_EVENTS);
    Ok(Activity {
        window: q.window(),
        generated_at: Utc::now(),
        events,
    })
}

impl Report for Activity {
    const DOMAIN: &'static str = "activity";
    type Args = ();

    async fn read(
        pool: &sqlx::PgPool,
        workspace: WorkspaceId,
        q: &Resolved,
        _: &(),
    ) -> Result<Self> {
        activity_uncached(pool, workspace, q, &SharedPeriods::new(workspace, q)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(hour: i64, agent: &str, requests: i64, errors: i64, cost: f64) -> Bucket {
        Bucket {
            bucket: DateTime::<Utc>::UNIX_EPOCH + TimeDelta::hours(hour),
            agent: agent.into(),
            requests,
            errors,
            cost,
        }
    }

    #[test]
    fn spikes_stand_out_from_the_rest_of_the_range() {
        let mut buckets: Vec<Bucket> = (0..10).map(|h| bucket(h, "a", 100, 2, 1.0)).collect();
        buckets.push(bucket(10, "a", 50, 20, 5.0)); // 40 % errors against 2 %; $5 against $1
        buckets.push(bucket(11, "a", 10, 9, 1.0)); // too few requests to call
        buckets.extend((0..10).map(|h| bucket(h, "b", 100, 30, 0.1)));
        buckets.push(bucket(10, "b", 100, 45, 0.5)); // 45 % against 30 %: not twice; $0.5: < $1 more
        let events = spikes(&by_agent(&buckets));
        let kinds: Vec<(&str, &str, i64)> = events
            .iter()
            .map(|e| (e.kind.as_str(), e.agent.as_str(), e.at.timestamp() / 3600))
            .collect();
        assert_eq!(
            kinds,
            vec![("error_spike", "a", 10), ("cost_spike", "a", 10)]
        );
        assert!(
            events[0].message.contains("40.0 % (20 of 50)"),
            "{}",
            events[0].message
        );
    }

    #[test]
    fn an_agents_buckets_are_summed_over_its_departments() {
        let at = |hour: i64| DateTime::<Utc>::UNIX_EPOCH + TimeDelta::hours(hour);
        let b = |hour, department, agent, traces, cost| AgentBucket {
            bucket: at(hour),
            department,
            agent,
            traces,
            trace_errors: 1,
            input_tokens: 0,
            output_tokens: 0,
            cache_read_tokens: 0,
            reasoning_tokens: 0,
            cost,
        };
        let grouped = by_agent_from(
            [
                b(2, "d1", "a", 10, 1.0),
                b(1, "d2", "a", 5, 0.5),
                b(1, "d1", "a", 7, 0.25),
                b(1, "d1", "b", 3, 0.0),
            ]
            .into_iter(),
        );
        let a: Vec<(DateTime<Utc>, i64, i64, f64)> = grouped["a"]
            .iter()
            .map(|h| (h.bucket, h.requests, h.errors, h.cost))
            .collect();
        assert_eq!(a, vec![(at(1), 12, 2, 0.75), (at(2), 10, 1, 1.0)]);
        assert_eq!(grouped["b"].len(), 1);
    }
}
