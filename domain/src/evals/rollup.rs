//! Score rollups (`score_rollup_hourly`, `score_rollup_daily`), kept in the transaction that
//! stores or deletes scores: per bucket, score name, label and the dashboard's dimensions, the
//! count, the count with a number, their sum and sum of squares, and the smallest and largest
//! number seen (deletions leave those two as seen), and numbers' histogram (`histogram`'s
//! bins, added and taken away bin by bin).

use argus_types::ScoreType;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::column;
use crate::tenancy::WorkspaceId;
use crate::Result;

/// One score as the rollups count it.
#[derive(Clone, Debug, PartialEq)]
pub struct Counted {
    pub at: DateTime<Utc>,
    pub name: String,
    pub data_type: ScoreType,
    pub value: Option<f64>,
    pub string_value: Option<String>,
    pub agent: Option<String>,
    pub department: Option<String>,
    pub environment: Option<String>,
    pub version: Option<String>,
}

impl Counted {
    /// The row's label: '' for a number, the label for categorical and boolean scores.
    fn label(&self) -> String {
        match self.data_type {
            ScoreType::Numeric | ScoreType::Text => String::new(),
            ScoreType::Categorical | ScoreType::Boolean => {
                self.string_value.clone().unwrap_or_default()
            }
        }
    }
}

/// Adds (`sign` 1) or takes away (`sign` -1) scores from both rollups. Text scores have
/// nothing to count.
pub async fn apply(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    scores: &[Counted],
    sign: i64,
) -> Result<()> {
    let rows: Vec<&Counted> = scores
        .iter()
        .filter(|s| s.data_type != ScoreType::Text)
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let dim = |v: &Option<String>| v.clone().unwrap_or_default();
    for (table, unit) in [
        ("score_rollup_hourly", "hour"),
        ("score_rollup_daily", "day"),
    ] {
        sqlx::query(&format!(
            "INSERT INTO {table} AS t (workspace_id, bucket, name, label, agent, department, \
               environment, version, n, valued, sum, sum_sq, min, max, hist) \
             SELECT $1, date_trunc('{unit}', u.at, 'UTC'), u.name, u.label, u.agent, u.dept, \
               u.env, u.version, count(*) * $10, count(u.value) * $10, \
               coalesce(sum(u.value), 0) * $10, coalesce(sum(u.value * u.value), 0) * $10, \
               min(u.value), max(u.value), \
               CASE WHEN u.label = '' THEN \
                 argus_hist_add(NULL, argus_score_hist(array_agg(u.value)), $10) END \
             FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], \
               $7::text[], $8::text[], $9::float8[]) \
               AS u(at, name, label, agent, dept, env, version, value) \
             GROUP BY 2, 3, 4, 5, 6, 7, 8 \
             ON CONFLICT (workspace_id, bucket, name, label, agent, department, environment, \
               version) DO UPDATE SET n = t.n + excluded.n, valued = t.valued + excluded.valued, \
               sum = t.sum + excluded.sum, sum_sq = t.sum_sq + excluded.sum_sq, \
               min = CASE WHEN $10 > 0 THEN least(t.min, excluded.min) ELSE t.min END, \
               max = CASE WHEN $10 > 0 THEN greatest(t.max, excluded.max) ELSE t.max END, \
               hist = argus_hist_add(t.hist, excluded.hist, 1)"
        ))
        .bind(workspace.0)
        .bind(column(&rows, |r| r.at))
        .bind(column(&rows, |r| r.name.clone()))
        .bind(column(&rows, |r| r.label()))
        .bind(column(&rows, |r| dim(&r.agent)))
        .bind(column(&rows, |r| dim(&r.department)))
        .bind(column(&rows, |r| dim(&r.environment)))
        .bind(column(&rows, |r| dim(&r.version)))
        .bind(column(&rows, |r| r.value))
        .bind(sign)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
