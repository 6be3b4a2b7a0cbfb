//! Silences: matchers on a rule and a group value, with an end; the state still changes and is
//! kept in the history, but no notification is sent while one matches.

use argus_types::AlertSilence;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::tenancy::{self, UserId, WorkspaceId};
use crate::{Error, Result, Services};

/// The longest silence.
pub const MAX_DAYS: i64 = 90;

/// A silence as stored (the evaluator's view).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Matcher {
    pub rule_id: Option<Uuid>,
    pub group_value: Option<String>,
}

impl Matcher {
    pub fn matches(&self, rule: Uuid, group: &str) -> bool {
        self.rule_id.is_none_or(|r| r == rule)
            && self.group_value.as_deref().is_none_or(|g| g == group)
    }
}

/// The silences active at `now`.
pub async fn active(
    conn: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    now: DateTime<Utc>,
) -> Result<Vec<Matcher>> {
    Ok(sqlx::query_as(
        "SELECT rule_id, group_value FROM alert_silences \
         WHERE workspace_id = $1 AND starts_at <= $2 AND ends_at > $2",
    )
    .bind(workspace)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?)
}

/// Creates a silence from now for `minutes`.
pub async fn create(
    services: &Services,
    workspace: WorkspaceId,
    by: Option<UserId>,
    rule_id: Option<Uuid>,
    group_value: Option<String>,
    minutes: i64,
    comment: &str,
) -> Result<AlertSilence> {
    if !(1..=MAX_DAYS * 1440).contains(&minutes) {
        return Err(Error::invalid_input(
            "minutes",
            format!("from 1 to {} (90 days)", MAX_DAYS * 1440),
        ));
    }
    let comment = comment.trim();
    if comment.chars().count() > 1000 {
        return Err(Error::invalid_input("comment", "at most 1,000 characters"));
    }
    let group_value = group_value
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty());
    if group_value
        .as_ref()
        .is_some_and(|g| g.chars().count() > 200)
    {
        return Err(Error::invalid_input(
            "group_value",
            "at most 200 characters",
        ));
    }
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    if let Some(rule) = rule_id {
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM alert_rules WHERE workspace_id = $1 AND id = $2")
                .bind(workspace)
                .bind(rule)
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_none() {
            return Err(Error::not_found("alert rule"));
        }
    }
    let id = Uuid::new_v4();
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO alert_silences (workspace_id, id, rule_id, group_value, comment, starts_at, \
           ends_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(workspace)
    .bind(id)
    .bind(rule_id)
    .bind(&group_value)
    .bind(comment)
    .bind(now)
    .bind(now + TimeDelta::minutes(minutes))
    .bind(by.map(|u| u.0))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    list(services, workspace)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| Error::not_found("silence"))
}

/// Ends a silence now.
pub async fn expire(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let done = sqlx::query(
        "UPDATE alert_silences SET ends_at = greatest(starts_at + interval '1 second', now()) \
         WHERE workspace_id = $1 AND id = $2 AND ends_at > now()",
    )
    .bind(workspace)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("active silence"));
    }
    Ok(())
}

type Row = (
    Uuid,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
);

/// Active silences first, then the last 50 ended.
pub async fn list(services: &Services, workspace: WorkspaceId) -> Result<Vec<AlertSilence>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.id, s.rule_id, r.name, s.group_value, s.comment, s.starts_at, s.ends_at \
         FROM alert_silences s LEFT JOIN alert_rules r \
           ON r.workspace_id = s.workspace_id AND r.id = s.rule_id \
         WHERE s.workspace_id = $1 ORDER BY (s.ends_at > now()) DESC, s.ends_at DESC LIMIT 100",
    )
    .bind(workspace)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let now = Utc::now();
    Ok(rows
        .into_iter()
        .map(|r| AlertSilence {
            id: r.0,
            rule_id: r.1,
            rule_name: r.2,
            group_value: r.3,
            comment: r.4,
            starts_at: r.5,
            active: r.5 <= now && r.6 > now,
            ends_at: r.6,
        })
        .collect())
}
