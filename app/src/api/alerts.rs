//! Alerts and budgets under `/api/v1/alerts/`: rules (list, create, update, delete, backtest),
//! what fires now, acknowledgement, the history of state changes, silences, notification
//! channels (create, send a test, turn on or off, delete), deliveries and dead letters, budgets.
//!
//! Reading needs any member or a `read` key; rules, silences and acknowledgements a member;
//! deleting rules, channels and budgets an admin. A rule's definition travels as JSON text
//! (`definition`); channel lists as comma-separated ids.

#[cfg(feature = "ssr")]
use argus_types::Role;
use argus_types::{
    AlertBacktest, AlertChannel, AlertDelivery, AlertEvent, AlertFeed, AlertRule, AlertSilence,
    Budget,
};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use uuid::Uuid;

use crate::error::AppError;

#[cfg(feature = "ssr")]
fn invalid(field: &str, message: &str) -> AppError {
    AppError::from(argus_domain::Error::invalid_input(field, message))
}

#[cfg(feature = "ssr")]
fn definition(text: &str) -> Result<argus_types::AlertDefinition, AppError> {
    serde_json::from_str(text).map_err(|e| {
        invalid(
            "definition",
            &format!(
                "not a rule definition (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

#[cfg(feature = "ssr")]
fn ids(field: &str, text: Option<String>) -> Result<Vec<Uuid>, AppError> {
    text.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Uuid>()
                .map_err(|_| invalid(field, "channel ids, comma-separated"))
        })
        .collect()
}

#[cfg(feature = "ssr")]
fn new_rule(
    name: String,
    definition_text: &str,
    channels: Option<String>,
    enabled: Option<bool>,
) -> Result<argus_domain::alerts::rules::NewRule, AppError> {
    Ok(argus_domain::alerts::rules::NewRule {
        name,
        definition: definition(definition_text)?,
        channels: ids("channels", channels)?,
        enabled: enabled.unwrap_or(true),
    })
}

/// `GET /api/v1/alerts/rules`: every rule by name with its instances (worst first).
#[server(prefix = "/api/v1", endpoint = "alerts/rules", input = GetUrl)]
pub async fn list_alert_rules() -> Result<Vec<AlertRule>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::alerts::rules::list(&services(), access.workspace).await?)
}

/// `POST /api/v1/alerts/rules/create` (member): `name`, `definition` (JSON: `metric`,
/// `window_secs`, `filters`, `op`, `threshold`, `min_requests`, `for_secs`, `group_by`,
/// `score_name`, `score_label`, `repeat_secs`), `channels` (ids, comma-separated), `enabled`.
#[server(prefix = "/api/v1", endpoint = "alerts/rules/create")]
pub async fn create_alert_rule(
    name: String,
    definition: String,
    channels: Option<String>,
    enabled: Option<bool>,
) -> Result<AlertRule, AppError> {
    use super::context::{require, services};
    let access = require(Role::Member)?;
    let new = new_rule(name, &definition, channels, enabled)?;
    Ok(
        argus_domain::alerts::rules::create(&services(), access.workspace, access.user(), &new)
            .await?,
    )
}

/// `POST /api/v1/alerts/rules/update` (member): `id` and the fields of `create`; a changed
/// definition starts its instances afresh.
#[server(prefix = "/api/v1", endpoint = "alerts/rules/update")]
pub async fn update_alert_rule(
    id: Uuid,
    name: String,
    definition: String,
    channels: Option<String>,
    enabled: Option<bool>,
) -> Result<AlertRule, AppError> {
    use super::context::{require, services};
    let access = require(Role::Member)?;
    let new = new_rule(name, &definition, channels, enabled)?;
    Ok(argus_domain::alerts::rules::update(&services(), access.workspace, id, &new).await?)
}

/// `POST /api/v1/alerts/rules/delete` (admin): `id`; its history stays.
#[server(prefix = "/api/v1", endpoint = "alerts/rules/delete")]
pub async fn delete_alert_rule(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::alerts::rules::delete(&services(), access.workspace, id).await?)
}

/// `POST /api/v1/alerts/rules/backtest` (member): how often a draft `definition` would have
/// fired over the last 7 days (hourly steps on the hourly rollup).
#[server(prefix = "/api/v1", endpoint = "alerts/rules/backtest")]
pub async fn backtest_alert_rule(definition: String) -> Result<AlertBacktest, AppError> {
    use super::context::{require, services};
    let access = require(Role::Member)?;
    let def = self::definition(&definition)?;
    Ok(argus_domain::alerts::backtest::backtest(
        &services(),
        access.workspace,
        &def,
        chrono::Utc::now(),
    )
    .await?)
}

/// `GET /api/v1/alerts/instances`: what fires and is pending now, and the budgets past 80 %
/// or forecast to run out (the home page's card and the bell; cached 30 s, dropped on change).
#[server(prefix = "/api/v1", endpoint = "alerts/instances", input = GetUrl)]
pub async fn get_alert_feed() -> Result<AlertFeed, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::alerts::feed::get(&services(), access.workspace).await?)
}

/// `POST /api/v1/alerts/instances/ack` (member): `rule_id`, `group_value` (blank without
/// group-by): no repeated notifications until its state changes.
#[server(prefix = "/api/v1", endpoint = "alerts/instances/ack")]
pub async fn acknowledge_alert(rule_id: Uuid, group_value: Option<String>) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Member)?;
    let services = services();
    argus_domain::alerts::rules::acknowledge(
        &services,
        access.workspace,
        access.user(),
        rule_id,
        group_value.as_deref().unwrap_or(""),
    )
    .await?;
    argus_domain::alerts::cache::forget(&services, access.workspace).await;
    Ok(())
}

/// `GET /api/v1/alerts/history`: state changes newest first (`rule`: one rule's; `limit` ≤ 500).
#[server(prefix = "/api/v1", endpoint = "alerts/history", input = GetUrl)]
pub async fn alert_history(
    rule: Option<Uuid>,
    limit: Option<i64>,
) -> Result<Vec<AlertEvent>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(
        argus_domain::alerts::history(&services(), access.workspace, rule, limit.unwrap_or(100))
            .await?,
    )
}

/// `GET /api/v1/alerts/silences`: active silences first, then the latest ended.
#[server(prefix = "/api/v1", endpoint = "alerts/silences", input = GetUrl)]
pub async fn list_silences() -> Result<Vec<AlertSilence>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::alerts::silences::list(&services(), access.workspace).await?)
}

/// `POST /api/v1/alerts/silences/create` (member): `rule_id` (blank: every rule),
/// `group_value` (blank: every group), `minutes` (to 90 days), `comment`.
#[server(prefix = "/api/v1", endpoint = "alerts/silences/create")]
pub async fn create_silence(
    rule_id: Option<String>,
    group_value: Option<String>,
    minutes: i64,
    comment: Option<String>,
) -> Result<AlertSilence, AppError> {
    use super::context::{require, services};
    let access = require(Role::Member)?;
    let rule = match rule_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<Uuid>()
                .map_err(|_| invalid("rule_id", "a rule id"))?,
        ),
    };
    let services = services();
    let silence = argus_domain::alerts::silences::create(
        &services,
        access.workspace,
        access.user(),
        rule,
        group_value,
        minutes,
        comment.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(silence)
}

/// `POST /api/v1/alerts/silences/expire` (member): `id`; ends it now.
#[server(prefix = "/api/v1", endpoint = "alerts/silences/expire")]
pub async fn expire_silence(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Member)?;
    Ok(argus_domain::alerts::silences::expire(&services(), access.workspace, id).await?)
}

/// `GET /api/v1/alerts/channels`: the notification channels (a Slack URL masked; never a
/// signing secret).
#[server(prefix = "/api/v1", endpoint = "alerts/channels", input = GetUrl)]
pub async fn list_channels() -> Result<Vec<AlertChannel>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::alerts::channels::channels(&services(), access.workspace).await?)
}

/// `POST /api/v1/alerts/channels/create` (admin): `name`, `kind` (`webhook`, `slack` or
/// `email`), `target` (the URL, or comma-separated addresses). A webhook's signing secret is in this answer only.
#[server(prefix = "/api/v1", endpoint = "alerts/channels/create")]
pub async fn create_channel(
    name: String,
    kind: String,
    target: String,
) -> Result<AlertChannel, AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let kind = argus_types::ChannelKind::parse(kind.trim())
        .ok_or_else(|| invalid("kind", "webhook, slack or email"))?;
    Ok(argus_domain::alerts::channels::create_channel(
        &services(),
        access.workspace,
        &name,
        kind,
        &target,
    )
    .await?)
}

/// `POST /api/v1/alerts/channels/test` (admin): `id`; queues a test notification and answers
/// its delivery's id (see `deliveries`).
#[server(prefix = "/api/v1", endpoint = "alerts/channels/test")]
pub async fn test_channel(id: Uuid) -> Result<Uuid, AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::alerts::channels::send_test(&services(), access.workspace, id).await?)
}

/// `POST /api/v1/alerts/channels/enable` (admin): `id`, `enabled`; turning a channel on clears
/// its failures.
#[server(prefix = "/api/v1", endpoint = "alerts/channels/enable")]
pub async fn enable_channel(id: Uuid, enabled: bool) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::alerts::channels::set_channel_enabled(
        &services(),
        access.workspace,
        id,
        enabled,
    )
    .await?)
}

/// `POST /api/v1/alerts/channels/delete` (admin): `id`; rules and budgets forget it.
#[server(prefix = "/api/v1", endpoint = "alerts/channels/delete")]
pub async fn delete_channel(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::alerts::channels::delete_channel(&services(), access.workspace, id).await?)
}

/// `GET /api/v1/alerts/deliveries`: the latest deliveries (`dead=true`: the dead letters).
#[server(prefix = "/api/v1", endpoint = "alerts/deliveries", input = GetUrl)]
pub async fn list_deliveries(
    dead: Option<bool>,
    limit: Option<i64>,
) -> Result<Vec<AlertDelivery>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::alerts::channels::deliveries(
        &services(),
        access.workspace,
        dead.unwrap_or(false),
        limit.unwrap_or(50),
    )
    .await?)
}

/// `GET /api/v1/alerts/budgets`: each budget's month so far and its forecast.
#[server(prefix = "/api/v1", endpoint = "alerts/budgets", input = GetUrl)]
pub async fn list_budgets() -> Result<Vec<Budget>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(
        argus_domain::alerts::budgets::list(&services(), access.workspace, chrono::Utc::now())
            .await?,
    )
}

/// `POST /api/v1/alerts/budgets/set` (admin): `scope` (`workspace`, `department`, `agent`),
/// `scope_value` (the department or agent), `amount_usd` a month, `channels`.
#[server(prefix = "/api/v1", endpoint = "alerts/budgets/set")]
pub async fn set_budget(
    scope: String,
    scope_value: Option<String>,
    amount_usd: f64,
    channels: Option<String>,
) -> Result<Budget, AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let scope = argus_types::BudgetScope::parse(scope.trim())
        .ok_or_else(|| invalid("scope", "workspace, department or agent"))?;
    Ok(argus_domain::alerts::budgets::upsert(
        &services(),
        access.workspace,
        access.user(),
        scope,
        scope_value.as_deref().unwrap_or(""),
        amount_usd,
        &ids("channels", channels)?,
    )
    .await?)
}

/// `POST /api/v1/alerts/budgets/delete` (admin): `id`.
#[server(prefix = "/api/v1", endpoint = "alerts/budgets/delete")]
pub async fn delete_budget(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::alerts::budgets::delete(&services(), access.workspace, id).await?)
}
