//! Notification channels as an admin manages them (webhook, Slack-compatible, e-mail), their
//! test sends, and the deliveries they were sent (the dead letters among them).

use argus_types::{AlertChannel, AlertDelivery, ChannelKind};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::json;
use uuid::Uuid;

use super::email;
use crate::evals::judge::is_private;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// A channel's URL as an admin may set it.
fn clean_url(raw: &str, allow_private: bool) -> Result<url::Url> {
    let bad = |why: &str| Error::invalid_input("target", why.to_owned());
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(bad("the URL to POST to"));
    }
    if raw.len() > 2000 {
        return Err(bad("at most 2,000 characters"));
    }
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("http:// or https://"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("no user or password in the URL"));
    }
    let private_literal = match url.host() {
        None => return Err(bad("a host is needed")),
        Some(url::Host::Ipv4(ip)) => is_private(ip.into()),
        Some(url::Host::Ipv6(ip)) => is_private(ip.into()),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
    };
    if private_literal && !allow_private {
        return Err(bad(
            "a private or loopback address; the operator can allow them with \
             ARGUS_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true",
        ));
    }
    Ok(url)
}

/// A Slack URL shown without its secret path: `https://hooks.slack.com/…/abcd`.
fn masked(kind: ChannelKind, target: &str) -> String {
    if kind != ChannelKind::Slack {
        return target.to_owned();
    }
    match url::Url::parse(target) {
        Ok(u) => {
            let tail: String = {
                let p = u.path();
                p.chars()
                    .skip(p.chars().count().saturating_sub(4))
                    .collect()
            };
            format!("{}://{}/…{tail}", u.scheme(), u.host_str().unwrap_or(""))
        }
        Err(_) => "…".into(),
    }
}

type ChannelRow = (
    Uuid,
    String,
    String,
    String,
    bool,
    Option<String>,
    i32,
    DateTime<Utc>,
);

fn channel(r: ChannelRow) -> AlertChannel {
    let kind = ChannelKind::parse(&r.2).unwrap_or(ChannelKind::Webhook);
    AlertChannel {
        id: r.0,
        name: r.1,
        kind,
        target: masked(kind, &r.3),
        enabled: r.4,
        disabled_reason: r.5,
        failures: r.6,
        created_at: r.7,
        secret: None,
    }
}

/// Creates a channel. A webhook gets a signing secret, returned this once.
pub async fn create_channel(
    services: &Services,
    workspace: WorkspaceId,
    name: &str,
    kind: ChannelKind,
    target: &str,
) -> Result<AlertChannel> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "name",
            "1 to 100 characters, no control characters",
        ));
    }
    let notifier = &services.notifier;
    let target = match kind {
        ChannelKind::Webhook | ChannelKind::Slack => {
            clean_url(target, notifier.allow_private)?.to_string()
        }
        ChannelKind::Email if notifier.mailer.is_some() => email::normalized(target)?,
        ChannelKind::Email => {
            return Err(Error::invalid_input(
                "kind",
                "e-mail is not available on this server (no SMTP relay is configured: \
                 ARGUS_SMTP_URL); use a webhook or a Slack-compatible URL",
            ))
        }
    };
    let secret = (kind == ChannelKind::Webhook).then(|| {
        let bytes: [u8; 24] = rand::rng().random();
        format!(
            "whsec_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    });
    let id = Uuid::new_v4();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let row: ChannelRow = sqlx::query_as(
        "INSERT INTO alert_channels (workspace_id, id, name, kind, target, secret_sealed) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, name, kind, target, enabled, disabled_reason, failures, created_at",
    )
    .bind(workspace)
    .bind(id)
    .bind(name)
    .bind(kind.as_str())
    .bind(&target)
    .bind(
        secret
            .as_deref()
            .map(|s| notifier.sealer.seal(workspace, s)),
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::AlreadyExists {
            what: "a channel with this name".into(),
        },
        _ => e.into(),
    })?;
    tx.commit().await?;
    Ok(AlertChannel {
        secret,
        ..channel(row)
    })
}

/// The workspace's channels by name.
pub async fn channels(services: &Services, workspace: WorkspaceId) -> Result<Vec<AlertChannel>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<ChannelRow> = sqlx::query_as(
        "SELECT id, name, kind, target, enabled, disabled_reason, failures, created_at \
         FROM alert_channels WHERE workspace_id = $1 ORDER BY name",
    )
    .bind(workspace)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(channel).collect())
}

/// Turns a channel on again (clearing its failures) or off.
pub async fn set_channel_enabled(
    services: &Services,
    workspace: WorkspaceId,
    id: Uuid,
    enabled: bool,
) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let done = sqlx::query(
        "UPDATE alert_channels SET enabled = $3, failures = 0, \
           disabled_reason = CASE WHEN $3 THEN NULL ELSE 'turned off by an admin' END \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace)
    .bind(id)
    .bind(enabled)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("channel"));
    }
    Ok(())
}

/// Deletes a channel (its deliveries go with it; rules and budgets forget it).
pub async fn delete_channel(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    for table in ["alert_rules", "budgets"] {
        sqlx::query(&format!(
            "UPDATE {table} SET channels = array_remove(channels, $2) \
             WHERE workspace_id = $1 AND $2 = ANY(channels)"
        ))
        .bind(workspace)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    let done = sqlx::query("DELETE FROM alert_channels WHERE workspace_id = $1 AND id = $2")
        .bind(workspace)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("channel"));
    }
    Ok(())
}

/// Queues a test notification to one channel (also when it is disabled: that is how an admin
/// checks a fix before turning it on).
pub async fn send_test(services: &Services, workspace: WorkspaceId, channel: Uuid) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let exists: Option<String> =
        sqlx::query_scalar("SELECT name FROM alert_channels WHERE workspace_id = $1 AND id = $2")
            .bind(workspace)
            .bind(channel)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(name) = exists else {
        return Err(Error::not_found("channel"));
    };
    let body = json!({
        "version": "1",
        "id": id,
        "event": "test",
        "workspace_id": workspace.0,
        "state": "test",
        "reason": format!("a test notification to the channel \"{name}\""),
        "at": Utc::now(),
        "links": {"alerts": services.notifier.link("/alerts")},
    });
    sqlx::query(
        "INSERT INTO alert_deliveries (workspace_id, id, channel_id, event, payload) \
         VALUES ($1, $2, $3, 'test', $4)",
    )
    .bind(workspace)
    .bind(id)
    .bind(channel)
    .bind(&body)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    services.notifier.wake.notify_waiters();
    Ok(id)
}

type DeliveryRow = (
    Uuid,
    Uuid,
    String,
    Option<Uuid>,
    String,
    String,
    String,
    i32,
    DateTime<Utc>,
    Option<i32>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// The latest deliveries (`dead_only`: the dead letters), newest first.
pub async fn deliveries(
    services: &Services,
    workspace: WorkspaceId,
    dead_only: bool,
    limit: i64,
) -> Result<Vec<AlertDelivery>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<DeliveryRow> = sqlx::query_as(
        "SELECT d.id, d.channel_id, c.name, d.rule_id, d.group_value, d.event, d.status, \
           d.attempts, d.next_at, d.last_status, d.last_error, d.created_at, d.finished_at \
         FROM alert_deliveries d JOIN alert_channels c \
           ON c.workspace_id = d.workspace_id AND c.id = d.channel_id \
         WHERE d.workspace_id = $1 AND (NOT $2 OR d.status = 'dead') \
         ORDER BY d.created_at DESC, d.id LIMIT $3",
    )
    .bind(workspace)
    .bind(dead_only)
    .bind(limit.clamp(1, 500))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| AlertDelivery {
            id: r.0,
            channel_id: r.1,
            channel_name: r.2,
            rule_id: r.3,
            group_value: r.4,
            event: r.5,
            status: r.6,
            attempts: r.7,
            next_at: r.8,
            last_status: r.9,
            last_error: r.10,
            created_at: r.11,
            finished_at: r.12,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_urls_are_masked() {
        assert_eq!(
            masked(
                ChannelKind::Slack,
                "https://hooks.slack.com/services/T0/B0/secretXYZW"
            ),
            "https://hooks.slack.com/…XYZW"
        );
    }
}
