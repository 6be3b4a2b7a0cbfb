//! What a check finds: the check, the kind of thing found, its byte span in the scanned text,
//! and how sure the check is.

use serde::{Deserialize, Serialize};

/// The checks a policy can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Personal data: emails, phone numbers, cards, IBANs, SSNs, IP addresses, dates of birth.
    Pii,
    /// Credentials: cloud and SaaS keys, private keys, JWTs, passwords in URLs, tokens.
    Secrets,
    /// Prompt injection and jailbreak attempts.
    Injection,
    /// The policy's own banned terms and patterns.
    Banned,
    /// Size and shape: too many tokens, not JSON, not matching a schema.
    Limits,
}

impl Check {
    pub const ALL: [Check; 5] = [
        Check::Pii,
        Check::Secrets,
        Check::Injection,
        Check::Banned,
        Check::Limits,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Check::Pii => "pii",
            Check::Secrets => "secrets",
            Check::Injection => "injection",
            Check::Banned => "banned",
            Check::Limits => "limits",
        }
    }

    pub fn parse(s: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.as_str() == s.trim())
    }
}

/// One thing a check found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub check: Check,
    /// `email`, `card`, `aws_access_key`, `ignore_instructions`, a banned term's label …
    pub kind: String,
    /// Byte offsets in the scanned text (on character boundaries); `start == end` for a
    /// finding about the whole text (a limit).
    pub start: usize,
    pub end: usize,
    /// 0–1: how sure the check is (1 for validated formats).
    pub score: f64,
}

impl Finding {
    pub fn new(check: Check, kind: &str, start: usize, end: usize, score: f64) -> Finding {
        Finding {
            check,
            kind: kind.to_owned(),
            start,
            end,
            score,
        }
    }

    /// Whether the finding names a part of the text (one that can be redacted).
    pub fn is_span(&self) -> bool {
        self.end > self.start
    }
}
