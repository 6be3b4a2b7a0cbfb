//! The agents registry: every agent the workspace has sent, with its deployments and its last
//! 24 hours (from the hourly rollups). Small: offset pagination, `meta {total, page, limit,
//! has_more}` as the seed's small-dataset pattern.

use std::collections::HashMap;

use argus_types::{AgentInfo, AgentPage, PageMeta};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::histogram::{Histogram, Stored};
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

pub const DEFAULT_LIMIT: u32 = 25;
pub const MAX_LIMIT: u32 = 100;

/// Checks `page` (from 1) and `limit` (1–100) as given in a query string.
pub fn paging(page: Option<&str>, limit: Option<&str>) -> Result<(u32, u32)> {
    let parse = |field: &str, v: Option<&str>, default: u32, max: u32| match v.map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| Error::invalid_input(field, format!("a whole number from 1 to {max}"))),
    };
    Ok((
        parse("page", page, 1, 1_000_000)?,
        parse("limit", limit, DEFAULT_LIMIT, MAX_LIMIT)?,
    ))
}

#[derive(sqlx::FromRow)]
struct Registered {
    agent: String,
    display_name: Option<String>,
    department: String,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Recent {
    agent: String,
    traces: i64,
    errors: i64,
    cost: f64,
    environments: Vec<String>,
    versions: Vec<String>,
}

/// One page of the registry, most recently seen first; `agent` narrows it to one.
pub async fn list(
    services: &Services,
    ws: WorkspaceId,
    page: u32,
    limit: u32,
    agent: Option<&str>,
    now: DateTime<Utc>,
) -> Result<AgentPage> {
    let mut tx = tenancy::begin(services.read_pool(ws).await, ws).await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM agents WHERE workspace_id = $1 AND ($2::text IS NULL OR agent = $2)",
    )
    .bind(ws)
    .bind(agent)
    .fetch_one(&mut *tx)
    .await?;
    let rows: Vec<Registered> = sqlx::query_as(
        "SELECT agent, display_name, coalesce(department_override, department) AS department, \
           first_seen, last_seen FROM agents \
         WHERE workspace_id = $1 AND ($2::text IS NULL OR agent = $2) \
         ORDER BY last_seen DESC, agent LIMIT $3 OFFSET $4",
    )
    .bind(ws)
    .bind(agent)
    .bind(i64::from(limit))
    .bind((i64::from(page) - 1) * i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    let names: Vec<&str> = rows.iter().map(|r| r.agent.as_str()).collect();
    let hour = TimeDelta::hours(1);
    let since = now.duration_trunc(hour).unwrap_or(now) + hour - TimeDelta::hours(24);
    let recent: Vec<Recent> = sqlx::query_as(
        "SELECT agent, sum(traces)::bigint AS traces, sum(trace_errors)::bigint AS errors, \
           sum(cost_usd)::float8 AS cost, \
           array_agg(DISTINCT environment ORDER BY environment) AS environments, \
           array_agg(DISTINCT version ORDER BY version) AS versions \
         FROM rollup_hourly WHERE workspace_id = $1 AND bucket >= $2 AND agent = ANY($3) \
         GROUP BY agent",
    )
    .bind(ws)
    .bind(since)
    .bind(&names)
    .fetch_all(&mut *tx)
    .await?;
    let hists: Vec<(String, Stored)> = sqlx::query_as(
        "SELECT agent, trace_latency_hist FROM rollup_hourly \
         WHERE workspace_id = $1 AND bucket >= $2 AND agent = ANY($3) AND model = '' \
           AND traces > 0",
    )
    .bind(ws)
    .bind(since)
    .bind(&names)
    .fetch_all(&mut *tx)
    .await?;
    // Deployments over the rollups' whole history (daily: a row per day and deployment).
    let deployments: Vec<(String, Vec<String>, Vec<String>)> = sqlx::query_as(
        "SELECT agent, array_agg(DISTINCT environment ORDER BY environment), \
           array_agg(DISTINCT version ORDER BY version) \
         FROM rollup_daily WHERE workspace_id = $1 AND agent = ANY($2) GROUP BY agent",
    )
    .bind(ws)
    .bind(&names)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;

    let mut latency: HashMap<String, Histogram> = HashMap::new();
    for (agent, Stored(h)) in hists {
        latency.entry(agent).or_default().merge(&h);
    }
    let recent: HashMap<String, Recent> =
        recent.into_iter().map(|r| (r.agent.clone(), r)).collect();
    let deployments: HashMap<String, (Vec<String>, Vec<String>)> = deployments
        .into_iter()
        .map(|(a, e, v)| (a, (e, v)))
        .collect();
    let agents = rows
        .into_iter()
        .map(|r| {
            let last = recent.get(&r.agent);
            let (mut environments, mut versions) =
                deployments.get(&r.agent).cloned().unwrap_or_default();
            if let Some(l) = last {
                environments.extend(l.environments.iter().cloned());
                versions.extend(l.versions.iter().cloned());
            }
            environments.sort();
            environments.dedup();
            versions.sort();
            versions.dedup();
            let traces = last.map_or(0, |l| l.traces);
            AgentInfo {
                requests_24h: traces,
                error_rate_24h: (traces > 0)
                    .then(|| last.map_or(0, |l| l.errors) as f64 / traces as f64),
                p95_ms_24h: latency
                    .get(&r.agent)
                    .and_then(|h| h.quantile(0.95))
                    .map(|us| us / 1000.0),
                cost_usd_24h: last.map_or(0.0, |l| l.cost),
                environments,
                versions,
                agent: r.agent,
                display_name: r.display_name,
                department: r.department,
                first_seen: r.first_seen,
                last_seen: r.last_seen,
            }
        })
        .collect();
    Ok(AgentPage {
        agents,
        meta: PageMeta {
            total,
            page,
            limit,
            has_more: i64::from(page) * i64::from(limit) < total,
        },
    })
}

/// One agent of the registry; unknown → not found.
pub async fn get(services: &Services, ws: WorkspaceId, agent: &str) -> Result<AgentInfo> {
    list(services, ws, 1, 1, Some(agent), Utc::now())
        .await?
        .agents
        .pop()
        .ok_or_else(|| Error::not_found("agent"))
}

/// Sets an agent's department and display name (an empty name clears it). The registry shows
/// this department from now on; spans keep the one they were sent with.
pub async fn update(
    services: &Services,
    ws: WorkspaceId,
    agent: &str,
    department: &str,
    display_name: &str,
) -> Result<()> {
    let department = department.trim();
    if department.is_empty() || department.len() > 200 || department.contains('\0') {
        return Err(Error::invalid_input(
            "department",
            "1 to 200 characters, no NUL",
        ));
    }
    let display_name = display_name.trim();
    if display_name.len() > 200 || display_name.contains('\0') {
        return Err(Error::invalid_input(
            "display_name",
            "at most 200 characters, no NUL",
        ));
    }
    let mut tx = tenancy::begin(&services.pool, ws).await?;
    let done = sqlx::query(
        "UPDATE agents SET department_override = $3, display_name = nullif($4, '') \
         WHERE workspace_id = $1 AND agent = $2",
    )
    .bind(ws)
    .bind(agent)
    .bind(department)
    .bind(display_name)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("agent"));
    }
    tx.commit().await?;
    Ok(())
}
