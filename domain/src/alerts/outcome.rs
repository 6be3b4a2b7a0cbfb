//! What a try at a delivery came to, and when the next try is: shared by the webhook sender
//! (HTTP statuses) and the e-mail sender (SMTP replies).

use std::time::Duration;

pub const MAX_BACKOFF_SECS: f64 = 300.0;
/// The most of a receiver's answer kept with a failed delivery.
pub const ERROR_CHARS: usize = 300;

/// The wait before try `attempt + 1` (after `attempt` failed): 1 s, 2 s, 4 s … capped, ±20 %.
pub fn backoff(attempt: i32, jitter: f64) -> Duration {
    let base = 2f64.powi((attempt - 1).clamp(0, 30)).min(MAX_BACKOFF_SECS);
    Duration::from_secs_f64(base * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0)))
}

/// What a receiver's answer means for a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered(u16),
    /// Try again later (timeouts, connection failures, 429, 5xx).
    Retry(Option<u16>, String),
    /// Never retried (other 4xx, redirects, a bad channel).
    Final(Option<u16>, String),
}

/// Classifies an HTTP status.
pub fn classify(status: u16, body: &str) -> Outcome {
    let said = || {
        let b: String = body.chars().take(ERROR_CHARS).collect();
        format!(
            "HTTP {status}{}",
            if b.is_empty() {
                String::new()
            } else {
                format!(": {b}")
            }
        )
    };
    match status {
        200..=299 => Outcome::Delivered(status),
        429 | 500..=599 => Outcome::Retry(Some(status), said()),
        300..=399 => Outcome::Final(
            Some(status),
            format!("{} (redirects are not followed)", said()),
        ),
        _ => Outcome::Final(Some(status), said()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_and_is_capped() {
        let secs: Vec<f64> = (1..=12).map(|a| backoff(a, 0.0).as_secs_f64()).collect();
        assert_eq!(&secs[..5], &[1.0, 2.0, 4.0, 8.0, 16.0]);
        assert_eq!(secs[11], MAX_BACKOFF_SECS);
        assert_eq!(backoff(3, 1.0).as_secs_f64(), 4.8);
        assert_eq!(backoff(3, -1.0).as_secs_f64(), 3.2);
    }

    #[test]
    fn what_is_retried() {
        assert_eq!(classify(204, ""), Outcome::Delivered(204));
        assert!(matches!(classify(429, ""), Outcome::Retry(Some(429), _)));
        assert!(matches!(
            classify(503, "busy"),
            Outcome::Retry(Some(503), _)
        ));
        assert!(matches!(classify(400, "bad"), Outcome::Final(Some(400), _)));
        assert!(matches!(classify(404, ""), Outcome::Final(Some(404), _)));
        assert!(matches!(classify(301, ""), Outcome::Final(Some(301), _)));
    }
}
