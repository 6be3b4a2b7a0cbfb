//! Alert rules: validation, create (a member), update, delete (an admin), and the listing with
//! each rule's instances; the links from an instance to the dashboard and traces of its window.

use argus_types::{
    AlertDefinition, AlertFilters, AlertInstance, AlertMetric, AlertRule, AlertState, Dim, GroupBy,
};
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::tenancy::{self, UserId, WorkspaceId};
use crate::{Error, Result, Services};

pub const MIN_WINDOW_SECS: i64 = 300;
pub const MAX_WINDOW_SECS: i64 = 7 * 86_400;
pub const MAX_FOR_SECS: i64 = 86_400;
/// Rules a workspace may have.
pub const MAX_RULES: i64 = 2_000;

/// A rule as a form sends it.
#[derive(Clone, Debug)]
pub struct NewRule {
    pub name: String,
    pub definition: AlertDefinition,
    pub channels: Vec<Uuid>,
    pub enabled: bool,
}

fn clean_dim(field: &str, v: &Option<String>) -> Result<Option<String>> {
    match v {
        None => Ok(None),
        Some(v) => Dim::new(v)
            .map(|d| d.map(|d| d.as_str().to_owned()))
            .map_err(|m| Error::invalid_input(field, m)),
    }
}

/// Checks a definition and returns it with its values trimmed; every error names its field.
pub fn validate(def: &AlertDefinition) -> Result<AlertDefinition> {
    let mut d = def.clone();
    if !(MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&d.window_secs) {
        return Err(Error::invalid_input(
            "window_secs",
            "from 300 (5 minutes) to 604800 (7 days)",
        ));
    }
    if !d.threshold.is_finite() {
        return Err(Error::invalid_input("threshold", "a finite number"));
    }
    if !(0..=1_000_000_000).contains(&d.min_requests) {
        return Err(Error::invalid_input("min_requests", "from 0 to 1000000000"));
    }
    if !(0..=MAX_FOR_SECS).contains(&d.for_secs) {
        return Err(Error::invalid_input("for_secs", "from 0 to 86400 (a day)"));
    }
    if d.repeat_secs != 0 && !(300..=MAX_WINDOW_SECS).contains(&d.repeat_secs) {
        return Err(Error::invalid_input(
            "repeat_secs",
            "0 (notify once) or from 300 to 604800",
        ));
    }
    d.filters = AlertFilters {
        dept: clean_dim("filters.dept", &d.filters.dept)?,
        env: clean_dim("filters.env", &d.filters.env)?,
        version: clean_dim("filters.version", &d.filters.version)?,
        agent: clean_dim("filters.agent", &d.filters.agent)?,
        model: clean_dim("filters.model", &d.filters.model)?,
    };
    d.score_name = clean_dim("score_name", &d.score_name)?;
    d.score_label = clean_dim("score_label", &d.score_label)?;
    match d.metric {
        AlertMetric::GuardBlocks | AlertMetric::GuardFlags => {
            if matches!(d.group_by, Some(GroupBy::Model | GroupBy::Version)) {
                return Err(Error::invalid_input(
                    "group_by",
                    "guardrail decisions are by agent, department or environment",
                ));
            }
            if d.filters.model.is_some() || d.filters.version.is_some() {
                return Err(Error::invalid_input(
                    "filters",
                    "guardrail decisions have no model or version",
                ));
            }
        }
        AlertMetric::ScoreAvg | AlertMetric::ScoreShare => {
            if d.score_name.is_none() {
                return Err(Error::invalid_input("score_name", "the score's name"));
            }
            if d.metric == AlertMetric::ScoreShare && d.score_label.is_none() {
                return Err(Error::invalid_input(
                    "score_label",
                    "the label whose share is measured (\"fail\", \"false\", …)",
                ));
            }
            if d.group_by == Some(GroupBy::Model) || d.filters.model.is_some() {
                return Err(Error::invalid_input("group_by", "scores have no model"));
            }
        }
        _ => {}
    }
    if matches!(d.metric, AlertMetric::ErrorRate | AlertMetric::ScoreShare)
        && !(0.0..=100.0).contains(&d.threshold)
    {
        return Err(Error::invalid_input("threshold", "a percentage, 0 to 100"));
    }
    Ok(d)
}

fn clean_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "name",
            "1 to 200 characters, no control characters",
        ));
    }
    Ok(n.to_owned())
}

/// Refuses channel ids that are not this workspace's (naming the field).
pub(super) async fn check_channels(
    conn: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    channels: &[Uuid],
) -> Result<()> {
    let found: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM alert_channels WHERE workspace_id = $1 AND id = ANY($2)",
    )
    .bind(workspace)
    .bind(channels)
    .fetch_one(&mut *conn)
    .await?;
    let mut distinct = channels.to_vec();
    distinct.sort();
    distinct.dedup();
    if found as usize != distinct.len() {
        return Err(Error::invalid_input(
            "channels",
            "a channel of this workspace",
        ));
    }
    Ok(())
}

fn unique_name(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::AlreadyExists {
            what: "an alert rule with this name".into(),
        },
        _ => e.into(),
    }
}

/// Creates a rule.
pub async fn create(
    services: &Services,
    workspace: WorkspaceId,
    by: Option<UserId>,
    new: &NewRule,
) -> Result<AlertRule> {
    let name = clean_name(&new.name)?;
    let def = validate(&new.definition)?;
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_rules WHERE workspace_id = $1")
        .bind(workspace)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_RULES {
        return Err(Error::invalid_input(
            "name",
            format!("a workspace has at most {MAX_RULES} rules"),
        ));
    }
    check_channels(&mut tx, workspace, &new.channels).await?;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO alert_rules (workspace_id, id, name, definition, channels, enabled, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(workspace)
    .bind(id)
    .bind(&name)
    .bind(sqlx::types::Json(&def))
    .bind(&new.channels)
    .bind(new.enabled)
    .bind(by.map(|u| u.0))
    .execute(&mut *tx)
    .await
    .map_err(unique_name)?;
    tx.commit().await?;
    get(services, workspace, id).await
}

/// Replaces a rule's name, definition, channels and switch. A changed definition starts its
/// instances afresh (their states were about another condition).
pub async fn update(
    services: &Services,
    workspace: WorkspaceId,
    id: Uuid,
    new: &NewRule,
) -> Result<AlertRule> {
    let name = clean_name(&new.name)?;
    let def = validate(&new.definition)?;
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    check_channels(&mut tx, workspace, &new.channels).await?;
    let old: Option<sqlx::types::Json<AlertDefinition>> = sqlx::query_scalar(
        "SELECT definition FROM alert_rules WHERE workspace_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(workspace)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(old) = old else {
        return Err(Error::not_found("alert rule"));
    };
    sqlx::query(
        "UPDATE alert_rules SET name = $3, definition = $4, channels = $5, enabled = $6, \
         updated_at = now() WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace)
    .bind(id)
    .bind(&name)
    .bind(sqlx::types::Json(&def))
    .bind(&new.channels)
    .bind(new.enabled)
    .execute(&mut *tx)
    .await
    .map_err(unique_name)?;
    if old.0 != def || !new.enabled {
        sqlx::query("DELETE FROM alert_instances WHERE workspace_id = $1 AND rule_id = $2")
            .bind(workspace)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    super::cache::forget(services, workspace).await;
    get(services, workspace, id).await
}

/// Deletes a rule with its instances (its history stays, by name).
pub async fn delete(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<()> {
    tenancy::delete_row(&services.pool, workspace, "alert_rules", id, "alert rule").await?;
    super::cache::forget(services, workspace).await;
    Ok(())
}

type RuleRow = (
    Uuid,
    String,
    sqlx::types::Json<AlertDefinition>,
    Vec<Uuid>,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
);

type InstanceRow = (
    Uuid,
    String,
    String,
    DateTime<Utc>,
    Option<f64>,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

const INSTANCE_COLUMNS: &str =
    "rule_id, group_value, state, since, value, reason, evaluated_at, acked_at";

/// The links of an instance: the dashboard and traces filtered as the rule is (and by the
/// group value), over the window that was evaluated.
pub fn links(def: &AlertDefinition, group: &str, to: DateTime<Utc>) -> (String, String) {
    let from = to - TimeDelta::seconds(def.window_secs);
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("from", &from.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    q.append_pair("to", &to.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let f = &def.filters;
    let mut dims: Vec<(&str, Option<&str>)> = vec![
        ("dept", f.dept.as_deref()),
        ("env", f.env.as_deref()),
        ("version", f.version.as_deref()),
        ("agent", f.agent.as_deref()),
        ("model", f.model.as_deref()),
    ];
    if let Some(by) = def.group_by {
        let key = match by {
            GroupBy::Agent => "agent",
            GroupBy::Department => "dept",
            GroupBy::Environment => "env",
            GroupBy::Version => "version",
            GroupBy::Model => "model",
        };
        for d in dims.iter_mut().filter(|d| d.0 == key) {
            d.1 = Some(group).filter(|g| !g.is_empty());
        }
    }
    for (k, v) in dims {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    let query = q.finish();
    let traces = if matches!(def.metric, AlertMetric::ErrorRate) {
        format!("/traces?{query}&status=error")
    } else {
        format!("/traces?{query}")
    };
    (format!("/?{query}"), traces)
}

pub(super) fn instance(
    rule: Uuid,
    name: &str,
    def: &AlertDefinition,
    r: InstanceRow,
) -> AlertInstance {
    let (dashboard_link, traces_link) = links(def, &r.1, r.6);
    AlertInstance {
        rule_id: rule,
        rule_name: name.to_owned(),
        group_value: r.1,
        state: AlertState::parse(&r.2).unwrap_or(AlertState::Normal),
        since: r.3,
        value: r.4,
        threshold: def.threshold,
        metric: def.metric,
        reason: r.5,
        evaluated_at: r.6,
        acked_at: r.7,
        dashboard_link,
        traces_link,
    }
}

/// How bad a state is, for a rule's summary.
pub fn severity(s: AlertState) -> u8 {
    match s {
        AlertState::Firing => 5,
        AlertState::Error => 4,
        AlertState::NoData => 3,
        AlertState::Pending => 2,
        AlertState::Resolved => 1,
        AlertState::Normal => 0,
    }
}

/// Every rule of the workspace by name, with its instances (worst first).
pub async fn list(services: &Services, workspace: WorkspaceId) -> Result<Vec<AlertRule>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rules: Vec<RuleRow> = sqlx::query_as(
        "SELECT id, name, definition, channels, enabled, created_at, updated_at FROM alert_rules \
         WHERE workspace_id = $1 ORDER BY name",
    )
    .bind(workspace)
    .fetch_all(&mut *tx)
    .await?;
    let instances: Vec<InstanceRow> = sqlx::query_as(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM alert_instances WHERE workspace_id = $1"
    ))
    .bind(workspace)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut by_rule: std::collections::HashMap<Uuid, Vec<InstanceRow>> = Default::default();
    for i in instances {
        by_rule.entry(i.0).or_default().push(i);
    }
    Ok(rules
        .into_iter()
        .map(|r| {
            let mut instances: Vec<AlertInstance> = by_rule
                .remove(&r.0)
                .unwrap_or_default()
                .into_iter()
                .map(|i| instance(r.0, &r.1, &r.2 .0, i))
                .collect();
            instances.sort_by(|a, b| {
                severity(b.state)
                    .cmp(&severity(a.state))
                    .then_with(|| a.group_value.cmp(&b.group_value))
            });
            AlertRule {
                state: instances.first().map_or(AlertState::Normal, |i| i.state),
                id: r.0,
                name: r.1,
                definition: r.2 .0,
                channels: r.3,
                enabled: r.4,
                created_at: r.5,
                updated_at: r.6,
                instances,
            }
        })
        .collect())
}

/// One rule.
pub async fn get(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<AlertRule> {
    list(services, workspace)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| Error::not_found("alert rule"))
}

type ActiveRow = (
    String,
    sqlx::types::Json<AlertDefinition>,
    Uuid,
    String,
    String,
    DateTime<Utc>,
    Option<f64>,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// The instances firing or pending now, worst first (the home page's card and the bell).
pub async fn active(services: &Services, workspace: WorkspaceId) -> Result<Vec<AlertInstance>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<ActiveRow> =
        sqlx::query_as(
            "SELECT r.name, r.definition, i.rule_id, i.group_value, i.state, i.since, i.value, \
               i.reason, i.evaluated_at, i.acked_at \
             FROM alert_instances i JOIN alert_rules r ON r.workspace_id = i.workspace_id AND r.id = i.rule_id \
             WHERE i.workspace_id = $1 AND i.state IN ('firing', 'pending') \
             ORDER BY i.state, i.since LIMIT 200",
        )
        .bind(workspace)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| instance(r.2, &r.0, &r.1 .0, (r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9)))
        .collect())
}

/// Acknowledges an instance: no repeats until its state changes.
pub async fn acknowledge(
    services: &Services,
    workspace: WorkspaceId,
    by: Option<UserId>,
    rule: Uuid,
    group_value: &str,
) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let done = sqlx::query(
        "UPDATE alert_instances SET acked_at = now(), acked_by = $4 \
         WHERE workspace_id = $1 AND rule_id = $2 AND group_value = $3",
    )
    .bind(workspace)
    .bind(rule)
    .bind(group_value)
    .bind(by.map(|u| u.0))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("alert instance"));
    }
    Ok(())
}
