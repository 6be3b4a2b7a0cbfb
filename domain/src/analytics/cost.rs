//! Cost: over time stacked by department, by department, model and agent with the cost per
//! 1,000 requests, and each department's month-to-date with a projected month-end.
//!
//! The projection is deliberately simple and stated on the page: the month-to-date plus the
//! average daily cost of the last [`TRAILING_DAYS`] complete days (UTC) times the days left
//! in the month. It reads the daily rollup (at most ~38 rows per department).

use std::collections::BTreeMap;

use argus_types::{CostReport, CostRow, CostSeries, MonthProjection};
use chrono::{DateTime, Datelike, DurationRound, NaiveDate, TimeDelta, Utc};

use super::hours::agent_buckets;
use super::query::{by_whole_periods, fetch_window, fetch_window_and_days, window_and_dims};
use super::report::Report;
use super::window::Resolved;
use crate::tenancy::WorkspaceId;
use crate::Result;

/// The complete days whose average is the projection's daily rate.
pub const TRAILING_DAYS: i64 = 7;

/// The window's sums of one (department, agent, model).
#[derive(sqlx::FromRow)]
struct Row {
    department: String,
    agent: String,
    model: String,
    traces: i64,
    spans: i64,
    cost: f64,
    unpriced_spans: i64,
}

/// One department's cost in one rollup bucket (for the chart).
#[derive(sqlx::FromRow)]
struct Step {
    bucket: DateTime<Utc>,
    department: String,
    cost: f64,
}

/// The window's sums per (department, agent, model), summed by PostgreSQL, and the range
/// `$9`–`$10` to bind with them: on hourly windows the edge hours from the hourly rollup, the
/// whole days from the daily one (7 d: ~900 rows read instead of ~12,300 and ~100 returned);
/// on daily windows the edge days, and the whole weeks from the weekly agent rollup where it
/// answers ([`by_whole_periods`]; 90 d: ~2,000 rows instead of 7,200).
fn sums_sql(q: &Resolved) -> (String, (DateTime<Utc>, DateTime<Utc>)) {
    let part = |table: &str, from: &str, to: &str| {
        format!(
            "SELECT department, agent, model, traces, spans, cost_usd, unpriced_spans \
             FROM {table} WHERE {} AND bucket >= {from} AND bucket < {to}",
            window_and_dims(table)
        )
    };
    let (rows, periods) = by_whole_periods(q, part);
    let sql = format!(
        "SELECT department, agent, model, sum(traces)::bigint AS traces, \
           sum(spans)::bigint AS spans, sum(cost_usd)::float8 AS cost, \
           sum(unpriced_spans)::bigint AS unpriced_spans \
         FROM ({rows}) w GROUP BY department, agent, model",
    );
    (sql, periods)
}

#[derive(Default)]
struct Group {
    requests: i64,
    cost: f64,
    unpriced: i64,
}

fn rows_of(groups: BTreeMap<String, Group>) -> Vec<CostRow> {
    let mut rows: Vec<CostRow> = groups
        .into_iter()
        .filter(|(_, g)| g.requests > 0 || g.cost != 0.0 || g.unpriced > 0)
        .map(|(key, g)| CostRow {
            key,
            requests: g.requests,
            cost_usd: g.cost,
            per_1k_requests: (g.requests > 0).then(|| g.cost * 1000.0 / g.requests as f64),
            unpriced_spans: g.unpriced,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then(b.requests.cmp(&a.requests))
            .then_with(|| a.key.cmp(&b.key))
    });
    rows
}

fn add(groups: &mut BTreeMap<String, Group>, key: &str, requests: i64, r: &Row) {
    let g = groups.entry(key.to_owned()).or_default();
    g.requests += requests;
    g.cost += r.cost;
    g.unpriced += r.unpriced_spans;
}

/// The first instant of the month after `day`'s.
fn next_month(day: NaiveDate) -> DateTime<Utc> {
    let (y, m) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .unwrap_or(day)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
}

/// The month-to-date and projection per department at `now`, under the dimension filters.
async fn projections(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
    now: DateTime<Utc>,
) -> Result<(String, String, Vec<MonthProjection>)> {
    let today = now.duration_trunc(TimeDelta::days(1)).unwrap_or(now);
    let month_start = today
        .date_naive()
        .with_day(1)
        .unwrap_or(today.date_naive())
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let month_end = next_month(today.date_naive());
    let trailing_from = today - TimeDelta::days(TRAILING_DAYS);
    let sql = format!(
        "SELECT bucket, department, sum(cost_usd)::float8 AS cost FROM {table} \
         WHERE {dims} GROUP BY bucket, department",
        table = q.daily_table(),
        dims = window_and_dims(q.daily_table()),
    );
    let rows: Vec<(DateTime<Utc>, String, f64)> = fetch_window(
        pool,
        workspace,
        &sql,
        (month_start.min(trailing_from), today + TimeDelta::days(1)),
        &q.dims,
    )
    .await?;
    let mut by_dept: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (bucket, dept, cost) in rows {
        let e = by_dept.entry(dept).or_default();
        if bucket >= month_start {
            e.0 += cost;
        }
        if bucket >= trailing_from && bucket < today {
            e.1 += cost;
        }
    }
    let days_left = (month_end - now).num_seconds() as f64 / 86_400.0;
    let mut out: Vec<MonthProjection> = by_dept
        .into_iter()
        .filter(|(_, (mtd, trailing))| *mtd != 0.0 || *trailing != 0.0)
        .map(|(department, (mtd, trailing))| {
            let rate = trailing / TRAILING_DAYS as f64;
            MonthProjection {
                department,
                month_to_date_usd: mtd,
                daily_rate_usd: rate,
                projected_usd: mtd + rate * days_left,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.projected_usd
            .total_cmp(&a.projected_usd)
            .then_with(|| a.department.cmp(&b.department))
    });
    let method = format!(
        "Month-to-date cost plus the average daily cost of the last {TRAILING_DAYS} complete \
         days ({} to {}, UTC) times the {days_left:.1} days left in {}.",
        trailing_from.format("%b %-d"),
        (today - TimeDelta::days(1)).format("%b %-d"),
        today.format("%B"),
    );
    Ok((today.format("%Y-%m").to_string(), method, out))
}

/// The cost of the previous period: from the workspace totals when no filter is set, else
/// from the narrowest rollup ([`Resolved::table`]); either way its whole days as daily rows.
async fn previous_cost(pool: &sqlx::PgPool, workspace: WorkspaceId, q: &Resolved) -> Result<f64> {
    let (days_from, days_to) = q.previous_whole_days();
    let sql = if q.is_unfiltered() {
        format!(
            "SELECT coalesce(sum(cost_usd), 0)::float8 FROM ( \
               SELECT cost_usd FROM {} WHERE workspace_id = $1 AND bucket >= $2 \
                 AND bucket < $3 AND NOT (bucket >= $9 AND bucket < $10) \
               UNION ALL SELECT cost_usd FROM rollup_total_daily \
                 WHERE workspace_id = $1 AND bucket >= $9 AND bucket < $10) t",
            q.total_table()
        )
    } else {
        let (table, daily) = (q.table(), q.daily_table());
        format!(
            "SELECT coalesce(sum(cost_usd), 0)::float8 FROM ( \
               SELECT cost_usd FROM {table} WHERE {} AND NOT (bucket >= $9 AND bucket < $10) \
               UNION ALL SELECT cost_usd FROM {daily} WHERE {} \
                 AND bucket >= $9 AND bucket < $10) t",
            window_and_dims(table),
            window_and_dims(daily),
        )
    };
    let cost: Vec<(f64,)> = fetch_window_and_days(
        pool,
        workspace,
        &sql,
        (q.previous_from, q.from),
        &q.dims,
        (days_from, days_to),
    )
    .await?;
    Ok(cost.first().map_or(0.0, |c| c.0))
}

/// Each department's cost per bucket of the window: from the agents' hours or days when they
/// answer (one row per bucket, department and agent: summed by the caller), else `steps_sql`.
async fn steps(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
    steps_sql: &str,
) -> Result<Vec<Step>> {
    if !q.reads_agent_buckets() {
        return fetch_window(pool, workspace, steps_sql, (q.from, q.to), &q.dims).await;
    }
    Ok(agent_buckets(pool, workspace, q, &["cost_usd"])
        .await?
        .into_iter()
        .map(|h| Step {
            bucket: h.bucket,
            department: h.department,
            cost: h.cost,
        })
        .collect())
}

/// The cost report for the caller's filters, uncached.
async fn cost_report_uncached(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    q: &Resolved,
) -> Result<CostReport> {
    let steps_sql = format!(
        "SELECT bucket, department, sum(cost_usd)::float8 AS cost \
         FROM {table} WHERE {dims} GROUP BY bucket, department",
        table = q.table(),
        dims = window_and_dims(q.table()),
    );
    // The window's sums, each department's cost per bucket, the previous period's cost (its
    // sum only), and the month's projections: four reads at once.
    let now = Utc::now();
    let (sums, periods) = sums_sql(q);
    let (rows, buckets, previous, (month, projection_method, projections)) = tokio::try_join!(
        fetch_window_and_days::<Row>(pool, workspace, &sums, (q.from, q.to), &q.dims, periods),
        steps(pool, workspace, q, &steps_sql),
        previous_cost(pool, workspace, q),
        projections(pool, workspace, q, now),
    )?;
    // Requests are traces, or the model's calls under a model filter (as on Home).
    let calls = q.dims.model.is_some();
    let points = q.points();
    let (mut total, mut requests) = (0.0, 0_i64);
    let mut by_department = BTreeMap::new();
    let mut by_agent = BTreeMap::new();
    let mut by_model = BTreeMap::new();
    let mut per_step: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &rows {
        let n = if calls { r.spans } else { r.traces };
        total += r.cost;
        requests += n;
        add(&mut by_department, &r.department, n, r);
        add(&mut by_agent, &r.agent, n, r);
        let model = if r.model.is_empty() {
            "(no model)"
        } else {
            &r.model
        };
        add(
            &mut by_model,
            model,
            if r.model.is_empty() { 0 } else { r.spans },
            r,
        );
    }
    for b in &buckets {
        if let Some(i) = q.step_of(b.bucket) {
            per_step
                .entry(b.department.clone())
                .or_insert_with(|| vec![0.0; points])[i] += b.cost;
        }
    }
    let by_department = rows_of(by_department);
    let mut series: Vec<CostSeries> = Vec::new();
    let mut other = vec![0.0; points];
    for (n, d) in by_department.iter().enumerate() {
        let values = per_step.remove(&d.key).unwrap_or_else(|| vec![0.0; points]);
        if n < 5 {
            series.push(CostSeries {
                key: d.key.clone(),
                values,
            });
        } else {
            other.iter_mut().zip(values).for_each(|(o, v)| *o += v);
        }
    }
    if by_department.len() > 5 {
        series.push(CostSeries {
            key: "other".into(),
            values: other,
        });
    }
    Ok(CostReport {
        window: q.window(),
        generated_at: now,
        notices: Vec::new(),
        total_usd: total,
        previous_usd: previous,
        requests,
        per_1k_requests: (requests > 0).then(|| total * 1000.0 / requests as f64),
        steps: q.steps(),
        series,
        by_department,
        by_model: rows_of(by_model),
        by_agent: rows_of(by_agent),
        month,
        projection_method,
        projections,
    })
}

impl Report for CostReport {
    const DOMAIN: &'static str = "cost";
    type Args = ();

    fn read(
        pool: &sqlx::PgPool,
        workspace: WorkspaceId,
        q: &Resolved,
        _: &(),
    ) -> impl std::future::Future<Output = Result<Self>> + Send {
        cost_report_uncached(pool, workspace, q)
    }
}
