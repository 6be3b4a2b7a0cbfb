//! The demo workspace's alerts: rules on its traffic (one of them, the day's spend, set where
//! the demo's own traffic crosses it, so the page and the home card have something firing) and
//! two budgets, evaluated once so their states are there on the first visit.

use argus_types::{AlertDefinition, AlertFilters, AlertMetric, BudgetScope, Comparison, GroupBy};
use chrono::{TimeDelta, Utc};

use super::{budgets, evaluate, rules};
use crate::tenancy::{self, UserId, WorkspaceId};
use crate::{Result, Services};

fn rule(metric: AlertMetric, window_secs: i64, threshold: f64) -> AlertDefinition {
    AlertDefinition {
        metric,
        window_secs,
        filters: AlertFilters::default(),
        op: Comparison::Gt,
        threshold,
        min_requests: 0,
        for_secs: 0,
        group_by: None,
        score_name: None,
        score_label: None,
        repeat_secs: 4 * 3600,
    }
}

/// A round number at most `v` (two significant digits).
fn round_down(v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    let scale = 10f64.powi(v.log10().floor() as i32 - 1);
    (v / scale).floor() * scale
}

/// Adds the demo's rules and budgets (nothing when the workspace has rules already).
pub async fn sample(services: &Services, workspace: WorkspaceId, user: UserId) -> Result<()> {
    if !rules::list(services, workspace).await?.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let day_cost: f64 = sqlx::query_scalar(
        "SELECT coalesce(sum(cost_usd), 0)::float8 FROM rollup_hourly \
         WHERE workspace_id = $1 AND bucket >= $2",
    )
    .bind(workspace)
    .bind(now - TimeDelta::hours(24))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let create = |name: &str, definition: AlertDefinition| rules::NewRule {
        name: name.into(),
        definition,
        channels: Vec::new(),
        enabled: true,
    };
    for new in [
        create(
            "Slow agents (p95 over 8 s)",
            AlertDefinition {
                min_requests: 20,
                for_secs: 300,
                group_by: Some(GroupBy::Agent),
                ..rule(AlertMetric::LatencyP95, 86_400, 8_000.0)
            },
        ),
        create(
            "Error rate by department",
            AlertDefinition {
                min_requests: 50,
                group_by: Some(GroupBy::Department),
                ..rule(AlertMetric::ErrorRate, 86_400, 5.0)
            },
        ),
        create(
            "Daily spend",
            rule(
                AlertMetric::Cost,
                86_400,
                round_down(day_cost * 0.8).max(0.01),
            ),
        ),
    ] {
        rules::create(services, workspace, Some(user), &new).await?;
    }
    // Budgets: the workspace's under its forecast (so the forecast is announced), support's
    // comfortably above.
    let probe = budgets::upsert(
        services,
        workspace,
        Some(user),
        BudgetScope::Workspace,
        "",
        1e9,
        &[],
    )
    .await?;
    let amount = round_down(probe.forecast_usd * 0.8).max(1.0);
    budgets::upsert(
        services,
        workspace,
        Some(user),
        BudgetScope::Workspace,
        "",
        amount,
        &[],
    )
    .await?;
    let support = budgets::upsert(
        services,
        workspace,
        Some(user),
        BudgetScope::Department,
        "support",
        1e9,
        &[],
    )
    .await?;
    let amount = round_down(support.forecast_usd * 1.5).max(1.0);
    budgets::upsert(
        services,
        workspace,
        Some(user),
        BudgetScope::Department,
        "support",
        amount,
        &[],
    )
    .await?;
    evaluate::run_once(services, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_numbers() {
        assert_eq!(super::round_down(1234.5), 1200.0);
        assert_eq!(super::round_down(0.0456), 0.045);
        assert_eq!(super::round_down(0.0), 0.0);
    }
}
