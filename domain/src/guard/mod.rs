//! Guardrails: deterministic checks that run in process, in well under a millisecond, on the
//! text an agent is about to send to a model, a model's answer, or a tool call's arguments.
//!
//! `engine` (a policy compiled: rules, actions, shadow mode, redaction per part) · `finding`
//! (what a check finds: kind, byte span, score) · `pii` · `secrets` · `injection`
//! (after Unicode normalisation; inside base64, comments and tag characters) · `banned` (a
//! policy's terms and patterns) · `limits` (tokens, JSON, JSON Schema) · `redact` (typed
//! placeholders) · `request` (a request's text, messages or arguments as parts, and back) ·
//! `quality` (recall and false positives on the labelled corpus) · `policies` (a workspace's,
//! versioned; compiled and cached by name) · `check` (the API's check, "try it") ·
//! `decisions` (recorded off the request path, rolled up, read for the page and a trace) ·
//! `ingest` (spans redacted before they are stored).

pub mod banned;
pub mod check;
pub mod decisions;
pub mod engine;
pub mod finding;
pub mod ingest;
pub mod injection;
pub mod limits;
pub mod pii;
pub mod policies;
pub mod quality;
pub mod redact;
pub mod request;
pub mod secrets;

pub use finding::{Check, Finding};

/// Every built-in check (PII, secrets, injection) on `text`, in order of position.
pub fn scan_all(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    pii::scan(text, &mut out);
    secrets::scan(text, &mut out);
    injection::scan(text, &mut out);
    out
}
