//! The home page's reads: KPIs with the top agents, the series, the filter options.

use std::collections::BTreeSet;

use argus_types::{
    Activity, AgentStat, FilterOptions, Home, HomeKpis, Kpi, SeriesPoint, Timeseries,
};
use chrono::Utc;

use super::activity::activity_uncached;
use super::hours::SharedPeriods;
use super::query::{by_whole_days, fetch_window_and_days, rows, window_and_dims};
use super::report::{cache_aside, Report};
use super::sums::{kpis, totals, Totals};
use super::window::Resolved;
use crate::cache::{CacheKey, Ttl};
use crate::tenancy::{self, WorkspaceId};
use crate::{Result, Services};

/// Requests, errors and cost per agent over the window (for the top lists). From the
/// agents' periods when they answer the window, and on unfiltered hourly windows only when
/// `spikes_read_them` (the home page: its activity spikes read the same rows anyway).
async fn agent_stats(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
    periods: &SharedPeriods<'_>,
    spikes_read_them: bool,
) -> Result<Vec<AgentStat>> {
    if q.reads_agent_buckets() && (q.daily || q.dims.env.is_some() || spikes_read_them) {
        // Summed per agent from the agents' days: a row per month and agent (90 d: 160 rows
        // where the daily agent rollup has 7,300), or under an environment filter from the
        // agents' hours in it (7 d of a department: 40 rows where the detailed rollup has
        // 3,280). Other hourly windows alone sum fewer rows in SQL below (whole days daily)
        // than the agents' hours would send.
        let mut by_agent: std::collections::BTreeMap<&str, AgentStat> = Default::default();
        for b in periods.get(pool).await?.buckets(q) {
            let a = by_agent.entry(b.agent).or_insert_with(|| AgentStat {
                agent: b.agent.to_owned(),
                department: b.department.to_owned(),
                requests: 0,
                errors: 0,
                cost_usd: 0.0,
            });
            // An agent in several departments is listed under the first by name (as `min`).
            if b.department < a.department.as_str() {
                a.department = b.department.to_owned();
            }
            a.requests += b.traces;
            a.errors += b.trace_errors;
            a.cost_usd += b.cost;
        }
        return Ok(by_agent.into_values().collect());
    }
    let (requests, errors) = if q.dims.model.is_some() {
        ("spans", "span_errors")
    } else {
        ("traces", "trace_errors")
    };
    // Window sums only: the whole days from the daily rollup, the edge hours from the hourly
    // (`$9`–`$10`, [`Resolved::window_whole_days`]; empty on daily windows).
    let part = |table: &str, from: &str, to: &str| {
        format!(
            "SELECT agent, department, {requests} AS requests, {errors} AS errors, cost_usd \
             FROM {table} WHERE {} AND bucket >= {from} AND bucket < {to}",
            window_and_dims(table)
        )
    };
    let sql = format!(
        "SELECT agent, min(department) AS department, sum(requests)::bigint AS requests, \
           sum(errors)::bigint AS errors, sum(cost_usd)::float8 AS cost_usd \
         FROM ({}) w GROUP BY agent",
        by_whole_days(q, part),
    );
    let rows: Vec<(String, String, i64, i64, f64)> = fetch_window_and_days(
        pool,
        workspace,
        &sql,
        (q.from, q.to),
        &q.dims,
        q.window_whole_days(),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(agent, department, requests, errors, cost_usd)| AgentStat {
                agent,
                department,
                requests,
                errors,
                cost_usd,
            },
        )
        .collect())
}

/// The five agents with the most of `by` (none with zero).
fn top(stats: &[AgentStat], by: impl Fn(&AgentStat) -> f64) -> Vec<AgentStat> {
    let mut all: Vec<AgentStat> = stats.iter().filter(|a| by(a) > 0.0).cloned().collect();
    all.sort_by(|a, b| by(b).total_cmp(&by(a)).then_with(|| a.agent.cmp(&b.agent)));
    all.truncate(5);
    all
}

fn home_kpis_of(q: &Resolved, t: &Totals, agents: &[AgentStat]) -> HomeKpis {
    HomeKpis {
        window: q.window(),
        generated_at: Utc::now(),
        notices: Vec::new(),
        kpis: kpis(q, t),
        top_by_cost: top(agents, |a| a.cost_usd),
        top_by_errors: top(agents, |a| a.errors as f64),
    }
}

fn timeseries_of(q: &Resolved, t: &Totals) -> Timeseries {
    Timeseries {
        window: q.window(),
        points: t
            .steps
            .iter()
            .zip(q.steps())
            .map(|(s, t)| SeriesPoint {
                t,
                requests: s.requests,
                errors: s.errors,
                input_tokens: s.input_tokens,
                output_tokens: s.output_tokens,
                cost_usd: s.cost,
                avg_latency_ms: s.avg_latency_ms(),
            })
            .collect(),
    }
}

/// The KPI cards alone (the values, previous periods and sparklines), uncached: what the
/// dashboard benchmark times.
pub async fn kpis_uncached(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
) -> Result<Vec<Kpi>> {
    let rows = rows(pool, workspace, q).await?;
    Ok(kpis(q, &totals(q, &rows)))
}

/// Home KPIs (the cards and the top agents, read concurrently), uncached.
async fn home_kpis_uncached(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
) -> Result<HomeKpis> {
    let periods = SharedPeriods::new(workspace, q);
    let (rows, agents) = tokio::try_join!(
        rows(pool, workspace, q),
        agent_stats(pool, workspace, q, &periods, false)
    )?;
    Ok(home_kpis_of(q, &totals(q, &rows), &agents))
}

impl Report for HomeKpis {
    const DOMAIN: &'static str = "home_kpis";
    type Args = ();

    fn read(
        pool: &sqlx::PgPool,
        workspace: WorkspaceId,
        q: &Resolved,
        _: &(),
    ) -> impl std::future::Future<Output = Result<Self>> + Send {
        home_kpis_uncached(pool, workspace, q)
    }
}

/// Requests, errors, tokens, cost and latency per chart step.
impl Report for Timeseries {
    const DOMAIN: &'static str = "timeseries";
    type Args = ();

    async fn read(
        pool: &sqlx::PgPool,
        workspace: WorkspaceId,
        q: &Resolved,
        _: &(),
    ) -> Result<Self> {
        let rows = rows(pool, workspace, q).await?;
        Ok(timeseries_of(q, &totals(q, &rows)))
    }
}

/// Everything the home page shows, its independent parts fetched concurrently: the KPIs and
/// the time series from one read of the rollups (cached together), and the activity stream
/// (cached as `/activity` is). The top agents and the activity's spikes share one read of the
/// agents' periods when both miss the cache.
pub async fn home(services: &Services, workspace: WorkspaceId, q: &Resolved) -> Result<Home> {
    // Each part picks its pool after its cache lookup (see `reads`).
    let periods = SharedPeriods::new(workspace, q);
    let (both, activity) = tokio::join!(
        cache_aside(services, "home", workspace, q, "", || async {
            let pool = services.read_pool(workspace).await;
            let (rows, agents) = tokio::try_join!(
                rows(pool, workspace, q),
                agent_stats(pool, workspace, q, &periods, true)
            )?;
            let t = totals(q, &rows);
            Ok((home_kpis_of(q, &t, &agents), timeseries_of(q, &t)))
        }),
        cache_aside(services, Activity::DOMAIN, workspace, q, "", || async {
            let pool = services.read_pool(workspace).await;
            activity_uncached(pool, workspace, q, &periods).await
        }),
    );
    let (kpis, series) = both?;
    Ok(Home {
        kpis,
        series,
        activity: activity?,
    })
}

/// The departments, environments, versions, agents and models this workspace has sent
/// (cached, warm).
pub async fn filter_options(services: &Services, workspace: WorkspaceId) -> Result<FilterOptions> {
    let key = CacheKey::new("filters", workspace, "options");
    services
        .cache
        .get_with_cache(&key, Ttl::Warm, || async {
            let pool = services.read_pool(workspace).await;
            let mut tx = tenancy::begin_rollup_read(pool, workspace).await?;
            // A row per combination of the dimensions with data kept (retention drops those
            // whose rollups are gone): 480 rows at 10 M traces, where the daily rollup's
            // DISTINCT scanned 43,680 (33 ms).
            let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
                "SELECT department, environment, version, agent, model FROM rollup_first_seen \
                 WHERE workspace_id = $1",
            )
            .bind(workspace)
            .fetch_all(&mut *tx)
            .await?;
            tenancy::end_read(tx);
            let mut sets: [BTreeSet<String>; 5] = Default::default();
            for (d, e, v, a, m) in rows {
                for (set, value) in sets.iter_mut().zip([d, e, v, a, m]) {
                    if !value.is_empty() {
                        set.insert(value);
                    }
                }
            }
            let [departments, environments, versions, agents, models] =
                sets.map(|s| s.into_iter().collect::<Vec<_>>());
            Ok(FilterOptions {
                departments,
                environments,
                versions,
                agents,
                models,
            })
        })
        .await
}
