//! The dashboard's query API: GET server functions under `/api/v1/metrics/…`, shared by the
//! pages and external clients. Parameters: `range` (1h, 24h, 7d, 30d, 90d) or `from`/`to`
//! (RFC 3339 or a date), and `dept`, `env`, `version`, `agent`, `model`. A bad value is a 400
//! `INVALID_INPUT` naming it — unless `fallback=true` (what the pages send): then it is
//! ignored and the answer's `notices` say so.

#[cfg(feature = "ssr")]
use argus_types::Role;
use argus_types::{FilterOptions, Filters, HomeKpis, Timeseries};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;

/// The caller's filters resolved against the clock: strictly (a refused value is a 400 naming
/// it), or with `fallback` leniently (dropped, and the notices say so).
#[cfg(feature = "ssr")]
fn resolve(
    filters: &Filters,
    fallback: Option<bool>,
) -> Result<(argus_domain::analytics::Resolved, Vec<String>), AppError> {
    use argus_domain::analytics;
    let now = chrono::Utc::now();
    if fallback.unwrap_or(false) {
        Ok(analytics::resolve_lenient(filters, now))
    } else {
        Ok((analytics::resolve(filters, now)?, Vec::new()))
    }
}

/// `GET /api/v1/metrics/home-kpis`: requests, error rate, average and p95 latency, tokens,
/// cost and active agents over the window, each with the previous period and a sparkline;
/// the top agents by cost and by errors.
#[server(prefix = "/api/v1", endpoint = "metrics/home-kpis", input = GetUrl)]
pub async fn get_home_kpis(
    #[server(flatten)] filters: Filters,
    fallback: Option<bool>,
) -> Result<HomeKpis, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let (q, notices) = resolve(&filters, fallback)?;
    let mut kpis =
        argus_domain::analytics::cached::<HomeKpis>(&services(), access.workspace, &q, &()).await?;
    kpis.notices = notices;
    Ok(kpis)
}

/// `GET /api/v1/metrics/timeseries`: requests, errors, tokens, cost and average latency per
/// chart step (at most 150 points).
#[server(prefix = "/api/v1", endpoint = "metrics/timeseries", input = GetUrl)]
pub async fn get_timeseries(
    #[server(flatten)] filters: Filters,
    fallback: Option<bool>,
) -> Result<Timeseries, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let (q, _) = resolve(&filters, fallback)?;
    Ok(
        argus_domain::analytics::cached::<Timeseries>(&services(), access.workspace, &q, &())
            .await?,
    )
}

/// `GET /api/v1/metrics/filter-options`: the departments, environments, versions, agents and
/// models this workspace has sent (what the filter dropdowns offer).
#[server(prefix = "/api/v1", endpoint = "metrics/filter-options", input = GetUrl)]
pub async fn get_filter_options() -> Result<FilterOptions, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::analytics::filter_options(&services(), access.workspace).await?)
}

/// `GET /api/v1/usage/breakdown`: requests, errors and tokens (input, output, cached,
/// reasoning) and cost split `by` department, agent or model (default department), every
/// group over the window plus the five largest per chart step. Same filters as the metrics.
#[server(prefix = "/api/v1", endpoint = "usage/breakdown", input = GetUrl)]
pub async fn get_usage_breakdown(
    by: Option<String>,
    #[server(flatten)] filters: Filters,
    fallback: Option<bool>,
) -> Result<argus_types::UsageBreakdown, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let (q, _) = resolve(&filters, fallback)?;
    let by = by.filter(|b| !b.is_empty());
    let by = match (by, fallback.unwrap_or(false)) {
        (Some(b), true) if !argus_domain::analytics::BREAKDOWNS.contains(&b.as_str()) => {
            "department".to_owned()
        }
        (b, _) => b.unwrap_or_else(|| "department".to_owned()),
    };
    Ok(
        argus_domain::analytics::cached::<argus_types::UsageBreakdown>(
            &services(),
            access.workspace,
            &q,
            &by,
        )
        .await?,
    )
}

/// `GET /api/v1/cost/breakdown`: cost over time stacked by department (five costliest and
/// `other`), cost and cost per 1,000 requests by department, model and agent, and each
/// department's month-to-date with a projected month-end (the method in
/// `projection_method`). Same filters as the metrics; the month ignores `range`.
#[server(prefix = "/api/v1", endpoint = "cost/breakdown", input = GetUrl)]
pub async fn get_cost_report(
    #[server(flatten)] filters: Filters,
    fallback: Option<bool>,
) -> Result<argus_types::CostReport, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let (q, notices) = resolve(&filters, fallback)?;
    let mut report = argus_domain::analytics::cached::<argus_types::CostReport>(
        &services(),
        access.workspace,
        &q,
        &(),
    )
    .await?;
    report.notices = notices;
    Ok(report)
}

/// `GET /api/v1/performance/latency`: p50/p95/p99 latency and the error rate per chart step
/// (from merged histograms, within 1 %), the slowest agents and models by p95, and the
/// distribution of latencies. Same filters as the metrics.
#[server(prefix = "/api/v1", endpoint = "performance/latency", input = GetUrl)]
pub async fn get_performance(
    #[server(flatten)] filters: Filters,
    fallback: Option<bool>,
) -> Result<argus_types::Performance, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let (q, notices) = resolve(&filters, fallback)?;
    let mut report = argus_domain::analytics::cached::<argus_types::Performance>(
        &services(),
        access.workspace,
        &q,
        &(),
    )
    .await?;
    report.notices = notices;
    Ok(report)
}

/// `GET /api/v1/activity`: notable events over the window, newest first — a new agent, model
/// or version seen, an agent's error-rate or cost spike. Same filters as the metrics.
#[server(prefix = "/api/v1", endpoint = "activity", input = GetUrl)]
pub async fn get_activity(
    #[server(flatten)] filters: Filters,
    fallback: Option<bool>,
) -> Result<argus_types::Activity, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let (q, _) = resolve(&filters, fallback)?;
    Ok(argus_domain::analytics::cached::<argus_types::Activity>(
        &services(),
        access.workspace,
        &q,
        &(),
    )
    .await?)
}

/// `GET /api/v1/metrics/home`: the home page in one response — the KPIs, the time series and
/// the activity stream (the first two from one read of the rollups, the activity concurrently).
#[server(prefix = "/api/v1", endpoint = "metrics/home", input = GetUrl)]
pub async fn get_home(
    #[server(flatten)] filters: Filters,
    fallback: Option<bool>,
) -> Result<argus_types::Home, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let (q, notices) = resolve(&filters, fallback)?;
    let mut home = argus_domain::analytics::home(&services(), access.workspace, &q).await?;
    home.kpis.notices = notices;
    Ok(home)
}
