//! E-mail notifications through the operator's SMTP relay (`ARGUS_SMTP_URL`).
//!
//! A channel of kind `email` names up to [`MAX_RECIPIENTS`] addresses. Each delivery is one
//! message to all of them, its `Message-ID` made from the delivery id (a resent message after a
//! crash is the same message to a mail system that deduplicates). Replies: 2xx delivered; 4xx
//! (transient: "mailbox busy", greylisting) and connection failures retried like a webhook's 5xx;
//! 5xx (permanent: "no such user") final.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use uuid::Uuid;

use super::outcome::Outcome;
use crate::{Error, Result};

/// Addresses one channel may send to.
pub const MAX_RECIPIENTS: usize = 10;
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// The relay and the sender every alert e-mail comes from.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the relay's password: never printed.
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// `url`: `smtps://user:pass@smtp.example.com` (TLS, port 465), `smtp://…:587?tls=required`
    /// (STARTTLS), or `smtp://relay.internal:25` (plain, for a relay on a trusted network).
    /// `from`: `Argus <alerts@example.com>`.
    pub fn new(url: &str, from: &str) -> std::result::Result<Mailer, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.trim())
            .map_err(|e| format!("ARGUS_SMTP_URL is not usable: {e}"))?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        let from = from.trim().parse::<Mailbox>().map_err(|e| {
            format!("ARGUS_SMTP_FROM must be an address like 'Argus <alerts@example.com>': {e}")
        })?;
        Ok(Mailer { transport, from })
    }

    /// Sends one notification; `body` is the webhook's JSON.
    pub async fn send(&self, id: Uuid, recipients: &str, body: &Value) -> Outcome {
        let to = match recipients_of(recipients) {
            Ok(to) => to,
            Err(e) => return Outcome::Final(None, e.to_string()),
        };
        let (subject, text) = compose(body);
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(format!("<{id}@argus.alerts>")))
            .header(ContentType::TEXT_PLAIN);
        for mailbox in to {
            builder = builder.to(mailbox);
        }
        let mut message = match builder.body(text) {
            Ok(m) => m,
            Err(e) => return Outcome::Final(None, format!("the message cannot be built: {e}")),
        };
        let headers = message.headers_mut();
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ));
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Argus-Delivery"),
            id.to_string(),
        ));
        match self.transport.send(message).await {
            Ok(reply) => Outcome::Delivered(code(&reply.code())),
            Err(e) => classify(&e),
        }
    }
}

fn code(c: &lettre::transport::smtp::response::Code) -> u16 {
    c.to_string().parse().unwrap_or(0)
}

/// What an SMTP failure means for the delivery.
fn classify(e: &lettre::transport::smtp::Error) -> Outcome {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    let msg: String = format!("SMTP: {msg}").chars().take(300).collect();
    let status = e.status().map(|c| code(&c));
    if e.is_permanent() || e.is_client() {
        Outcome::Final(status, msg)
    } else {
        // 4xx replies, timeouts, refused connections, TLS handshakes that failed.
        Outcome::Retry(status, msg)
    }
}

/// The addresses of a channel's target: comma- or whitespace-separated, 1 to
/// [`MAX_RECIPIENTS`], each a valid address.
pub fn recipients_of(raw: &str) -> Result<Vec<Mailbox>> {
    let bad = |why: String| Error::invalid_input("target", why);
    let parts: Vec<&str> = raw
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return Err(bad(
            "one or more e-mail addresses, separated by commas".into()
        ));
    }
    if parts.len() > MAX_RECIPIENTS {
        return Err(bad(format!("at most {MAX_RECIPIENTS} addresses")));
    }
    parts
        .into_iter()
        .map(|p| {
            p.parse::<lettre::Address>()
                .map(|a| Mailbox::new(None, a))
                .map_err(|_| bad(format!("'{}' is not an e-mail address", shorten(p))))
        })
        .collect()
}

/// The stored form of a channel's addresses: `a@x.org, b@y.org`.
pub fn normalized(raw: &str) -> Result<String> {
    Ok(recipients_of(raw)?
        .iter()
        .map(|m| m.email.to_string())
        .collect::<Vec<_>>()
        .join(", "))
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// The subject and plain-text body of a notification.
pub fn compose(body: &Value) -> (String, String) {
    let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
    let state = s("state");
    let group = s("group_value");
    // A rule's change names the state and the rule; a budget notice or a test says itself.
    let mut subject = match body.pointer("/rule/name").and_then(Value::as_str) {
        Some(rule) => format!("[Argus] {} {rule}", state.replace('_', " ").to_uppercase()),
        None => format!("[Argus] {}", s("reason")),
    };
    if !group.is_empty() && body.get("rule").is_some() {
        subject.push_str(&format!(" ({group})"));
    }
    let subject: String = subject
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let mut text = format!("{}\n", s("reason"));
    if let Some(v) = body.get("value").filter(|v| !v.is_null()) {
        text.push_str(&format!("\nValue: {v}"));
    }
    if let Some(t) = body.get("threshold").filter(|v| !v.is_null()) {
        text.push_str(&format!("\nThreshold: {t}"));
    }
    if !s("at").is_empty() {
        text.push_str(&format!("\nAt: {}", s("at")));
    }
    if let Some(links) = body.get("links").and_then(Value::as_object) {
        text.push('\n');
        for (name, link) in links {
            if let Some(link) = link.as_str() {
                text.push_str(&format!("\n{name}: {link}"));
            }
        }
    }
    text.push_str("\n\n-- \nSent by Argus because this address is on an alert channel.\n");
    (subject, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recipients_are_checked_and_normalized() {
        assert_eq!(
            normalized(" ops@example.com,  oncall@example.org ").unwrap(),
            "ops@example.com, oncall@example.org"
        );
        assert!(normalized("").is_err());
        assert!(normalized("not an address").is_err());
        let many = (0..11)
            .map(|i| format!("u{i}@example.com"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(normalized(&many).is_err());
    }

    #[test]
    fn a_notification_reads_as_a_mail() {
        let (subject, text) = compose(&json!({
            "state": "no_data", "group_value": "support-bot", "reason": "no requests for 5 minutes",
            "rule": {"name": "Quiet bot"}, "value": null, "at": "2026-12-01T10:00:00Z",
            "links": {"dashboard": "https://argus.test/?agent=support-bot"}
        }));
        assert_eq!(subject, "[Argus] NO DATA Quiet bot (support-bot)");
        assert!(text.starts_with("no requests for 5 minutes\n"));
        assert!(text.contains("dashboard: https://argus.test/?agent=support-bot"));
        assert!(!text.contains("Value"));
        let (subject, _) = compose(&json!({
            "state": "budget", "group_value": "support",
            "reason": "at this rate support exceeds its $500.00 budget on the 23rd"
        }));
        assert_eq!(
            subject,
            "[Argus] at this rate support exceeds its $500.00 budget on the 23rd"
        );
    }

    #[test]
    fn a_subject_cannot_carry_a_header() {
        let (subject, _) =
            compose(&json!({"state": "firing", "rule": {"name": "x\r\nBcc: evil@example.com"}}));
        assert!(!subject.contains('\n') && !subject.contains('\r'));
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        assert!(Mailer::new("ftp://x", "a@b.c")
            .unwrap_err()
            .contains("ARGUS_SMTP_URL"));
        assert!(Mailer::new("smtp://127.0.0.1:25", "nobody")
            .unwrap_err()
            .contains("ARGUS_SMTP_FROM"));
    }
}
