//! Monthly budgets (USD) for the workspace, a department or an agent: the month's spend from
//! the daily rollup, the cost page's projection (month-to-date plus the average of the last
//! complete days times the days left), the day the projection crosses the budget, and the
//! levels announced — 50 %, 80 %, 100 % and the forecast — once each a month.

use std::collections::BTreeMap;

use argus_types::{Budget, BudgetScope};
use chrono::{DateTime, Datelike, DurationRound, NaiveDate, TimeDelta, Utc};
use uuid::Uuid;

use crate::analytics::TRAILING_DAYS;
use crate::tenancy::{self, UserId, WorkspaceId};
use crate::{Error, Result, Services};

/// The levels, in the order they are reached.
pub const LEVELS: [(&str, f64); 3] = [("50", 0.5), ("80", 0.8), ("100", 1.0)];

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn next_month(day: NaiveDate) -> NaiveDate {
    let (y, m) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(day)
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// The month's projection at `now` from the month-to-date and the last complete days' sum:
/// (projected spend, the day it crosses `amount` if it does this month).
pub fn project(
    now: DateTime<Utc>,
    spent: f64,
    trailing: f64,
    amount: f64,
) -> (f64, Option<NaiveDate>) {
    let today = now.date_naive();
    let end = midnight(next_month(today));
    let rate = trailing / TRAILING_DAYS as f64;
    let days_left = (end - now).num_seconds() as f64 / 86_400.0;
    let forecast = spent + rate * days_left;
    let crosses = if spent >= amount {
        Some(today)
    } else if rate > 0.0 && forecast > amount {
        let days = (amount - spent) / rate;
        let at = now + TimeDelta::seconds((days * 86_400.0) as i64);
        Some(at.date_naive())
    } else {
        None
    };
    (forecast, crosses.filter(|d| *d < next_month(today)))
}

type Row = (Uuid, String, String, f64, Vec<Uuid>);

/// Each budget's spend this month, with the projection.
pub async fn list(
    services: &Services,
    workspace: WorkspaceId,
    now: DateTime<Utc>,
) -> Result<Vec<Budget>> {
    let mut tx = tenancy::begin_rollup_read(&services.pool, workspace).await?;
    let out = figures(&mut tx, workspace, now).await?;
    tx.commit().await?;
    Ok(out)
}

/// [`list`] on a connection already bound to the workspace.
pub async fn figures(
    conn: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    now: DateTime<Utc>,
) -> Result<Vec<Budget>> {
    let budgets: Vec<Row> = sqlx::query_as(
        "SELECT id, scope, scope_value, amount_usd::float8, channels FROM budgets \
         WHERE workspace_id = $1 ORDER BY scope, scope_value",
    )
    .bind(workspace)
    .fetch_all(&mut *conn)
    .await?;
    if budgets.is_empty() {
        return Ok(Vec::new());
    }
    let today = now.duration_trunc(TimeDelta::days(1)).unwrap_or(now);
    let month = month_start(today.date_naive());
    let trailing_from = today - TimeDelta::days(TRAILING_DAYS);
    let from = midnight(month).min(trailing_from);
    // Per (department, agent) and day: the month's and the trailing days' cost.
    let rows: Vec<(DateTime<Utc>, String, String, f64)> = sqlx::query_as(
        "SELECT bucket, department, agent, sum(cost_usd)::float8 FROM rollup_daily \
         WHERE workspace_id = $1 AND bucket >= $2 AND bucket <= $3 GROUP BY 1, 2, 3",
    )
    .bind(workspace)
    .bind(from)
    .bind(today)
    .fetch_all(&mut *conn)
    .await?;
    let notices: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT budget_id, level FROM budget_notices WHERE workspace_id = $1 AND month = $2",
    )
    .bind(workspace)
    .bind(month)
    .fetch_all(&mut *conn)
    .await?;
    let mut announced: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
    for (b, level) in notices {
        announced.entry(b).or_default().push(level);
    }
    Ok(budgets
        .into_iter()
        .map(|(id, scope, value, amount, channels)| {
            let scope = BudgetScope::parse(&scope).unwrap_or(BudgetScope::Workspace);
            let (mut spent, mut trailing) = (0.0, 0.0);
            for (bucket, dept, agent, cost) in &rows {
                let mine = match scope {
                    BudgetScope::Workspace => true,
                    BudgetScope::Department => dept == &value,
                    BudgetScope::Agent => agent == &value,
                };
                if !mine {
                    continue;
                }
                if bucket.date_naive() >= month {
                    spent += cost;
                }
                if *bucket >= trailing_from && *bucket < today {
                    trailing += cost;
                }
            }
            let (forecast, exceeds_on) = project(now, spent, trailing, amount);
            Budget {
                id,
                scope,
                scope_value: value,
                amount_usd: amount,
                channels,
                month,
                spent_usd: spent,
                forecast_usd: forecast,
                exceeds_on,
                notices: announced.remove(&id).unwrap_or_default(),
            }
        })
        .collect())
}

/// The levels `b` has reached and not yet announced this month.
pub fn due(b: &Budget) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = LEVELS
        .iter()
        .filter(|(_, share)| b.spent_usd >= share * b.amount_usd)
        .map(|(l, _)| *l)
        .collect();
    if b.exceeds_on.is_some() && b.spent_usd < b.amount_usd {
        out.push("forecast");
    }
    out.retain(|l| !b.notices.iter().any(|n| n == l));
    out
}

/// "support has spent $412.00 of its $500.00 budget for December (82 %)"; the forecast
/// level: "at this rate support exceeds its $500.00 budget on the 23rd".
pub fn words(b: &Budget, level: &str) -> String {
    let who = match b.scope {
        BudgetScope::Workspace => "the workspace".to_owned(),
        _ => b.scope_value.clone(),
    };
    if level == "forecast" {
        let day = b.exceeds_on.map_or(0, |d| d.day());
        let suffix = match (day % 10, day % 100) {
            (1, n) if n != 11 => "st",
            (2, n) if n != 12 => "nd",
            (3, n) if n != 13 => "rd",
            _ => "th",
        };
        return format!(
            "at this rate {who} exceeds its ${:.2} budget on the {day}{suffix} (projected ${:.2} \
             for {})",
            b.amount_usd,
            b.forecast_usd,
            b.month.format("%B")
        );
    }
    format!(
        "{who} has spent ${:.2} of its ${:.2} budget for {} ({:.0} %)",
        b.spent_usd,
        b.amount_usd,
        b.month.format("%B"),
        b.spent_usd * 100.0 / b.amount_usd
    )
}

/// Creates (or replaces the amount and channels of) the budget of a scope.
pub async fn upsert(
    services: &Services,
    workspace: WorkspaceId,
    by: Option<UserId>,
    scope: BudgetScope,
    scope_value: &str,
    amount_usd: f64,
    channels: &[Uuid],
) -> Result<Budget> {
    let value = scope_value.trim();
    let value = match scope {
        BudgetScope::Workspace => "",
        _ if value.is_empty()
            || value.chars().count() > 200
            || value.chars().any(char::is_control) =>
        {
            return Err(Error::invalid_input(
                "scope_value",
                "the department's or agent's name (1 to 200 characters)",
            ))
        }
        _ => value,
    };
    if !amount_usd.is_finite() || amount_usd <= 0.0 || amount_usd > 1e12 {
        return Err(Error::invalid_input(
            "amount_usd",
            "a positive number of dollars a month",
        ));
    }
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    super::rules::check_channels(&mut tx, workspace, channels).await?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO budgets (workspace_id, id, scope, scope_value, amount_usd, channels, created_by) \
         VALUES ($1, $2, $3, $4, round($5::numeric, 2), $6, $7) \
         ON CONFLICT (workspace_id, scope, scope_value) DO UPDATE \
           SET amount_usd = excluded.amount_usd, channels = excluded.channels RETURNING id",
    )
    .bind(workspace)
    .bind(Uuid::new_v4())
    .bind(scope.as_str())
    .bind(value)
    .bind(amount_usd)
    .bind(channels)
    .bind(by.map(|u| u.0))
    .fetch_one(&mut *tx)
    .await?;
    // A changed amount may announce its levels again this month.
    sqlx::query("DELETE FROM budget_notices WHERE workspace_id = $1 AND budget_id = $2")
        .bind(workspace)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    super::cache::forget(services, workspace).await;
    list(services, workspace, Utc::now())
        .await?
        .into_iter()
        .find(|b| b.id == id)
        .ok_or_else(|| Error::not_found("budget"))
}

/// Deletes a budget.
pub async fn delete(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<()> {
    tenancy::delete_row(&services.pool, workspace, "budgets", id, "budget").await?;
    super::cache::forget(services, workspace).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn the_projection_names_the_day_the_budget_runs_out() {
        // $300 spent by noon on the 10th, $20 a day over the last week: $300 + 20 × 21.5 = $730;
        // $500 is crossed after 10 more days, on the 20th.
        let (forecast, day) = project(t("2026-12-10T12:00:00Z"), 300.0, 140.0, 500.0);
        assert!((forecast - 730.0).abs() < 1e-9);
        assert_eq!(day, NaiveDate::from_ymd_opt(2026, 12, 20));
        // A slower rate stays under the budget this month.
        assert_eq!(
            project(t("2026-12-10T12:00:00Z"), 300.0, 35.0, 500.0).1,
            None
        );
        // Already over: today.
        assert_eq!(
            project(t("2026-12-10T12:00:00Z"), 600.0, 0.0, 500.0).1,
            NaiveDate::from_ymd_opt(2026, 12, 10)
        );
    }

    #[test]
    fn levels_are_due_once() {
        let mut b = Budget {
            id: Uuid::nil(),
            scope: BudgetScope::Department,
            scope_value: "support".into(),
            amount_usd: 500.0,
            channels: vec![],
            month: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            spent_usd: 410.0,
            forecast_usd: 900.0,
            exceeds_on: NaiveDate::from_ymd_opt(2026, 12, 23),
            notices: vec![],
        };
        assert_eq!(due(&b), vec!["50", "80", "forecast"]);
        b.notices = vec!["50".into(), "80".into()];
        assert_eq!(due(&b), vec!["forecast"]);
        assert_eq!(
            words(&b, "forecast"),
            "at this rate support exceeds its $500.00 budget on the 23rd (projected $900.00 for December)"
        );
        assert_eq!(
            words(&b, "80"),
            "support has spent $410.00 of its $500.00 budget for December (82 %)"
        );
    }
}
