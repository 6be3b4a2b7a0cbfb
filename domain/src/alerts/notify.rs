//! Notification channels and the delivery outbox.
//!
//! A notification is a row of `alert_deliveries`, inserted in the transaction that changed the
//! state (so a crash either loses the change and the notification or keeps both). Workers of
//! every replica claim due rows (`FOR UPDATE SKIP LOCKED`, under a lease: a worker that dies
//! mid-send has its row claimed again when the lease ends) and POST them. The row's id is the
//! receiver's idempotency key, so a send repeated after a crash is recognisable as the same.
//!
//! Retries: timeouts, connection failures, 429 and 5xx are retried after 1 s, 2 s, 4 s …
//! (capped at [`super::outcome::MAX_BACKOFF_SECS`], ±20 % jitter) up to `max_attempts`; any
//! other answer that is not 2xx is final. A delivery that gives up is dead (a dead letter, listed with its last error), and
//! a channel with [`DISABLE_AFTER`] dead deliveries in a row is disabled, saying why.
//!
//! Webhooks are signed: `X-Argus-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" under the channel's secret>`.

use std::sync::Arc;
use std::time::Duration;

use argus_types::ChannelKind;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::PgConnection;
use uuid::Uuid;

use super::email::Mailer;
use super::outcome::{backoff, classify, Outcome};
use crate::db::column;
use crate::evals::judge::PublicOnly;
use crate::sealed::Sealer;
use crate::tenancy::{self, WorkspaceId};
use crate::{Result, Services};

/// Dead deliveries in a row after which a channel is disabled.
pub const DISABLE_AFTER: i32 = 5;
/// Deliveries claimed at once.
const BATCH: i32 = 50;
/// How long a receiver may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// A claim's lease (the default [`Notifier::lease_secs`]).
const LEASE_SECS: i32 = 45;
/// What recording a send's outcome may take, beyond the send.
const SEND_MARGIN: Duration = Duration::from_secs(5);
/// The most of a receiver's answer kept with a failed delivery.
const ERROR_CHARS: usize = super::outcome::ERROR_CHARS;

/// The outbound side this process shares: the HTTP client (public addresses only unless the
/// operator allows private networks), the sealer for signing secrets, the public URL links
/// start with, and the retry policy.
#[derive(Clone, Debug)]
pub struct Notifier {
    http: reqwest::Client,
    pub sealer: Sealer,
    pub allow_private: bool,
    /// `https://argus.example.com`: absolute links in notifications (relative without).
    pub public_url: Option<String>,
    pub max_attempts: i32,
    /// How long a claim holds its deliveries: a worker that dies mid-send has them claimed
    /// again by another when it ends.
    pub lease_secs: i32,
    /// How long after its claim a worker still starts a channel's next send: past it, the
    /// channel's remaining deliveries are handed back (queued again, the try they were
    /// charged not counted), so no send starts that could outlast the lease and go out twice.
    pub send_window: Duration,
    /// Wakes the delivery workers when a delivery is queued.
    pub wake: Arc<tokio::sync::Notify>,
    /// The SMTP relay e-mail channels send through (none: e-mail channels are refused).
    pub mailer: Option<Mailer>,
}

impl Notifier {
    pub fn new(key: &[u8; 32], allow_private: bool, public_url: Option<String>) -> Notifier {
        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("argus-alerts/", env!("CARGO_PKG_VERSION")))
            .timeout(SEND_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(60));
        if !allow_private {
            http = http.dns_resolver(Arc::new(PublicOnly));
        }
        Notifier {
            http: http.build().expect("the notifier's HTTP client builds"),
            sealer: Sealer::new(key),
            allow_private,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            max_attempts: 8,
            // A dead worker's deliveries go to another within 47 s (lease and poll); a live
            // one stops starting sends 5 s before a send could outlast the lease.
            lease_secs: LEASE_SECS,
            send_window: Duration::from_secs(LEASE_SECS as u64) - SEND_TIMEOUT - SEND_MARGIN,
            wake: Arc::default(),
            mailer: None,
        }
    }

    /// `path` as a receiver can open it.
    pub fn link(&self, path: &str) -> String {
        match &self.public_url {
            Some(base) => format!("{base}{path}"),
            None => path.to_owned(),
        }
    }
}

/// `t=<ts>,v1=<hex>` over `"<ts>.<body>"`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

/// What a queued notification says (the generic webhook's JSON; Slack gets a text of it).
#[derive(Clone, Debug)]
pub struct Message {
    pub event: String,
    pub rule_id: Option<Uuid>,
    pub group_value: String,
    /// Everything but `id` (added per delivery).
    pub body: Value,
}

/// Queues `message` to each of `channels` that is enabled; answers how many were queued.
pub async fn enqueue(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    channels: &[Uuid],
    message: &Message,
) -> Result<usize> {
    if channels.is_empty() {
        return Ok(0);
    }
    let enabled: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM alert_channels WHERE workspace_id = $1 AND id = ANY($2) AND enabled",
    )
    .bind(workspace)
    .bind(channels)
    .fetch_all(&mut *conn)
    .await?;
    for channel in &enabled {
        let id = Uuid::new_v4();
        let mut body = message.body.clone();
        if let Value::Object(m) = &mut body {
            m.insert("id".into(), json!(id));
        }
        sqlx::query(
            "INSERT INTO alert_deliveries (workspace_id, id, channel_id, rule_id, group_value, \
               event, payload) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(workspace)
        .bind(id)
        .bind(channel)
        .bind(message.rule_id)
        .bind(&message.group_value)
        .bind(&message.event)
        .bind(&body)
        .execute(&mut *conn)
        .await?;
    }
    Ok(enabled.len())
}

/// Slack's text for a notification.
fn slack_text(body: &Value) -> String {
    let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
    let state = s("state");
    let icon = match state {
        "firing" => ":red_circle:",
        "resolved" => ":large_green_circle:",
        "no_data" | "error" => ":warning:",
        "budget" => ":moneybag:",
        _ => ":information_source:",
    };
    let rule = body
        .pointer("/rule/name")
        .and_then(Value::as_str)
        .unwrap_or("Argus");
    let group = s("group_value");
    let mut text = format!("{icon} *[{}] {rule}*", state.to_uppercase());
    if !group.is_empty() {
        text.push_str(&format!(" ({group})"));
    }
    text.push('\n');
    text.push_str(s("reason"));
    if let Some(link) = body.pointer("/links/dashboard").and_then(Value::as_str) {
        text.push_str(&format!("\n<{link}|Open the dashboard>"));
    }
    text
}

type Claimed = (Uuid, Uuid, i32, Uuid, DateTime<Utc>);

/// Claims due deliveries and sends them; answers how many were claimed. One channel's
/// deliveries go out one after another in the order they were queued (a receiver sees
/// "firing" before "repeat" and "resolved"); channels are served in parallel.
pub async fn run_once(services: &Services) -> Result<usize> {
    let n = &services.notifier;
    let mut claimed: Vec<Claimed> = sqlx::query_as(
        "SELECT workspace_id, id, attempts, channel_id, created_at \
         FROM argus_claim_alert_deliveries($1, $2)",
    )
    .bind(BATCH)
    .bind(n.lease_secs)
    .fetch_all(&services.pool)
    .await?;
    let count = claimed.len();
    claimed.sort_by_key(|&(ws, id, _, channel, at)| (ws, channel, at, id));
    let mut per_channel: Vec<Vec<(WorkspaceId, Uuid, i32)>> = Vec::new();
    let mut last = None;
    for (ws, id, attempts, channel, _) in claimed {
        if last != Some((ws, channel)) {
            per_channel.push(Vec::new());
            last = Some((ws, channel));
        }
        if let Some(queue) = per_channel.last_mut() {
            queue.push((WorkspaceId(ws), id, attempts));
        }
    }
    let claimed_at = tokio::time::Instant::now();
    let channels = per_channel.into_iter().map(|queue| async move {
        for (i, &(ws, id, attempts)) in queue.iter().enumerate() {
            // Each channel's first send starts at once; a later one only inside the window.
            if i > 0 && claimed_at.elapsed() >= n.send_window {
                if let Err(e) = hand_back(services, ws, &queue[i..]).await {
                    tracing::warn!(error = %e, "alert deliveries could not be handed back");
                }
                break;
            }
            if let Err(e) = deliver(services, ws, id, attempts).await {
                tracing::warn!(error = %e, "an alert delivery could not be recorded");
            }
        }
    });
    futures::future::join_all(channels).await;
    Ok(count)
}

/// Claimed deliveries not sent, queued again as they were before the claim (its try not
/// counted): any worker may claim them at once, this one on its next pass. A delivery claimed
/// again meanwhile by another worker (its try count moved on) is left to that one.
async fn hand_back(
    services: &Services,
    ws: WorkspaceId,
    claimed: &[(WorkspaceId, Uuid, i32)],
) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, ws).await?;
    sqlx::query(
        "UPDATE alert_deliveries d SET status = 'queued', attempts = d.attempts - 1, \
         lease_until = NULL FROM unnest($2::uuid[], $3::int4[]) AS c(id, attempts) \
         WHERE d.workspace_id = $1 AND d.id = c.id AND d.attempts = c.attempts \
         AND d.status = 'sending'",
    )
    .bind(ws)
    .bind(column(claimed, |&(_, id, _)| id))
    .bind(column(claimed, |&(_, _, attempts)| attempts))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

type Sending = (String, String, Option<Vec<u8>>, Value, bool);

async fn deliver(services: &Services, ws: WorkspaceId, id: Uuid, attempts: i32) -> Result<()> {
    let n = &services.notifier;
    let mut tx = tenancy::begin(&services.pool, ws).await?;
    let row: Option<Sending> = sqlx::query_as(
        "SELECT c.kind, c.target, c.secret_sealed, d.payload, c.enabled OR d.event = 'test' \
         FROM alert_deliveries d JOIN alert_channels c \
           ON c.workspace_id = d.workspace_id AND c.id = d.channel_id \
         WHERE d.workspace_id = $1 AND d.id = $2",
    )
    .bind(ws)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some((kind, target, sealed, payload, enabled)) = row else {
        return Ok(());
    };
    let outcome = if !enabled {
        Outcome::Final(None, "the channel is disabled".into())
    } else {
        send(n, ws, id, &kind, &target, sealed.as_deref(), &payload).await
    };
    record(services, ws, id, attempts, outcome).await
}

async fn send(
    n: &Notifier,
    ws: WorkspaceId,
    id: Uuid,
    kind: &str,
    target: &str,
    sealed: Option<&[u8]>,
    payload: &Value,
) -> Outcome {
    if kind == ChannelKind::Email.as_str() {
        return match &n.mailer {
            Some(mailer) => mailer.send(id, target, payload).await,
            None => Outcome::Final(
                None,
                "e-mail is not configured on this server any more (ARGUS_SMTP_URL)".into(),
            ),
        };
    }
    let body = if kind == "slack" {
        json!({"text": slack_text(payload)})
    } else {
        payload.clone()
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let now = Utc::now().timestamp();
    let mut req = n
        .http
        .post(target)
        .header("content-type", "application/json")
        .header("idempotency-key", id.to_string())
        .header("x-argus-delivery", id.to_string())
        .header("x-argus-timestamp", now.to_string());
    if let Some(sealed) = sealed {
        match n.sealer.open(ws, sealed) {
            Some(secret) => req = req.header("x-argus-signature", signature(&secret, now, &body)),
            None => {
                return Outcome::Final(
                    None,
                    "the signing secret cannot be opened (the server's key changed); create the \
                     channel again"
                        .into(),
                )
            }
        }
    }
    match req.body(body).send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            classify(status, &text)
        }
        Err(e) if e.is_timeout() => Outcome::Retry(None, "timed out".into()),
        Err(e) => {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            Outcome::Retry(None, msg.chars().take(ERROR_CHARS).collect())
        }
    }
}

/// Stores what a try came to, and a channel's run of failures.
async fn record(
    services: &Services,
    ws: WorkspaceId,
    id: Uuid,
    attempts: i32,
    outcome: Outcome,
) -> Result<()> {
    let n = &services.notifier;
    let mut tx = tenancy::begin(&services.pool, ws).await?;
    let (status, code, error, next) = match &outcome {
        Outcome::Delivered(code) => ("delivered", Some(*code), None, None),
        Outcome::Retry(code, e) if attempts < n.max_attempts => {
            let jitter = rand::rng().random_range(-1.0..=1.0);
            let wait = backoff(attempts, jitter);
            let at = Utc::now() + chrono::TimeDelta::from_std(wait).unwrap_or_default();
            ("queued", *code, Some(e.clone()), Some(at))
        }
        Outcome::Retry(code, e) => (
            "dead",
            *code,
            Some(format!("{e} (gave up after {attempts} tries)")),
            None,
        ),
        Outcome::Final(code, e) => ("dead", *code, Some(e.clone()), None),
    };
    let channel: Option<(Uuid, String)> = sqlx::query_as(
        "UPDATE alert_deliveries SET status = $3, last_status = $4, last_error = $5, \
           next_at = coalesce($6, next_at), lease_until = NULL, \
           finished_at = CASE WHEN $3 IN ('delivered', 'dead') THEN now() END \
         WHERE workspace_id = $1 AND id = $2 RETURNING channel_id, event",
    )
    .bind(ws)
    .bind(id)
    .bind(status)
    .bind(code.map(i32::from))
    .bind(&error)
    .bind(next)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((channel, event)) = channel.filter(|(_, e)| e != "test") {
        let _ = event;
        match status {
            "delivered" => {
                sqlx::query(
                    "UPDATE alert_channels SET failures = 0 WHERE workspace_id = $1 AND id = $2",
                )
                .bind(ws)
                .bind(channel)
                .execute(&mut *tx)
                .await?;
            }
            "dead" => {
                sqlx::query(
                    "UPDATE alert_channels SET failures = failures + 1, \
                       enabled = enabled AND failures + 1 < $3, \
                       disabled_reason = CASE WHEN enabled AND failures + 1 >= $3 \
                         THEN format('disabled after %s failed deliveries in a row; the last: %s', \
                                     failures + 1, $4) ELSE disabled_reason END \
                     WHERE workspace_id = $1 AND id = $2",
                )
                .bind(ws)
                .bind(channel)
                .bind(DISABLE_AFTER)
                .bind(error.as_deref().unwrap_or(""))
                .execute(&mut *tx)
                .await?;
            }
            _ => {}
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Delivery loops per process (a slow receiver does not hold up the others' next batch).
pub const LOOPS: usize = 2;
/// The longest a worker sleeps without being woken.
const IDLE: Duration = Duration::from_secs(2);

/// Runs the delivery workers until the process ends.
pub fn spawn(services: &Services) {
    for _ in 0..LOOPS {
        let services = services.clone();
        tokio::spawn(async move {
            loop {
                match run_once(&services).await {
                    Ok(n) if n as i32 == BATCH => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "claiming alert deliveries failed"),
                }
                let next: Option<DateTime<Utc>> =
                    sqlx::query_scalar("SELECT argus_next_alert_delivery()")
                        .fetch_one(&services.pool)
                        .await
                        .unwrap_or(None);
                let wait = next
                    .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                    .unwrap_or(IDLE)
                    .min(IDLE);
                if !wait.is_zero() {
                    let _ = tokio::time::timeout(wait, services.notifier.wake.notified()).await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }
}
