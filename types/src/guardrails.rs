//! Guardrail policies on the wire: which checks run on which stage with which action, the
//! policy's own banned terms and limits, where it applies; and what a check decided.

use serde::{Deserialize, Serialize};

/// What a policy does about a violation, from the mildest: `allow` (nothing found), `flag`
/// (record it), `redact` (replace what was found with a typed placeholder), `block`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum GuardAction {
    #[default]
    Allow,
    Flag,
    Redact,
    Block,
}

impl GuardAction {
    pub const ALL: [GuardAction; 4] = [
        GuardAction::Allow,
        GuardAction::Flag,
        GuardAction::Redact,
        GuardAction::Block,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GuardAction::Allow => "allow",
            GuardAction::Flag => "flag",
            GuardAction::Redact => "redact",
            GuardAction::Block => "block",
        }
    }

    pub fn parse(s: &str) -> Option<GuardAction> {
        GuardAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s.trim())
    }
}

/// What is checked: what goes to a model, what comes back, or a tool call's arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum GuardStage {
    Input,
    Output,
    ToolCall,
}

impl GuardStage {
    pub const ALL: [GuardStage; 3] = [GuardStage::Input, GuardStage::Output, GuardStage::ToolCall];

    pub fn as_str(self) -> &'static str {
        match self {
            GuardStage::Input => "input",
            GuardStage::Output => "output",
            GuardStage::ToolCall => "tool_call",
        }
    }

    pub fn parse(s: &str) -> Option<GuardStage> {
        GuardStage::ALL.into_iter().find(|a| a.as_str() == s.trim())
    }
}

/// One check of a policy and what to do about what it finds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GuardRule {
    /// `pii`, `secrets`, `injection`, `banned` or `limits`.
    pub check: String,
    pub action: GuardAction,
    /// The stages it runs on; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<GuardStage>,
    /// Only these kinds (`email`, `card`, `aws_access_key`, …); empty: every kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Findings scored below this (0–1) are ignored (the injection heuristics score).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
}

/// A policy's definition (a new version each time it changes).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PolicyDefinition {
    pub rules: Vec<GuardRule>,
    /// For the `banned` check: terms (whole words, any case) and patterns (regular expressions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub banned_terms: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub banned_patterns: Vec<String>,
    /// For the `limits` check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub require_json: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<String>,
    /// The agents and environments it applies to; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// Decide and record ("would block"), change nothing.
    #[serde(default)]
    pub shadow: bool,
}

/// One thing a check found, and what the policy does about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GuardViolation {
    pub check: String,
    pub kind: String,
    /// Byte offsets in the checked text (of the message or argument `path` names);
    /// `start == end` for the whole text.
    pub start: usize,
    pub end: usize,
    pub score: f64,
    pub action: GuardAction,
    /// Where in the request: `messages/2/content`, `arguments/query`; none for `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `POST /api/v1/guardrails/check`: what to check, with which policy, for whom.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GuardCheckRequest {
    /// The policy's name.
    pub policy: String,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    pub stage: GuardStage,
    /// Exactly one of `text`, `messages` (chat messages) or `arguments` (a tool call's).
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub messages: Option<serde_json::Value>,
    #[serde(default)]
    pub arguments: Option<serde_json::Value>,
    /// The trace (and span) the check belongs to: the decision is shown on it.
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub span_id: Option<String>,
}

/// What a check decided. A blocked check is still a 200: clients branch on `action`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GuardCheckResponse {
    /// What to do: `allow`, `flag` (go on, it is recorded), `redact` (send `redacted`
    /// instead), `block`. Always `allow` in shadow mode.
    pub action: GuardAction,
    /// What the policy would do if enforced (equals `action` unless in shadow mode).
    pub would: GuardAction,
    pub shadow: bool,
    pub violations: Vec<GuardViolation>,
    /// The content with what a `redact` rule found replaced, in the request's shape (a string
    /// for `text`, the messages or the arguments); absent when nothing was redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<serde_json::Value>,
    pub policy: String,
    pub policy_version: i32,
    /// Time spent checking, microseconds.
    pub duration_us: u64,
}

/// A policy of the workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GuardPolicy {
    pub id: uuid::Uuid,
    pub name: String,
    pub description: String,
    pub version: i32,
    pub definition: PolicyDefinition,
    /// Ingestion redacts spans with this policy before storing them.
    pub ingest: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Decisions in the last 24 hours, and how many were (or in shadow mode would be) blocks.
    pub decisions_24h: i64,
    pub blocks_24h: i64,
}

/// One recorded decision (never the checked text: what was found, where, and an excerpt with
/// every finding redacted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GuardDecision {
    pub id: uuid::Uuid,
    pub at: chrono::DateTime<chrono::Utc>,
    pub policy: String,
    pub policy_version: i32,
    /// `api` or `ingest`.
    pub source: String,
    pub stage: GuardStage,
    pub agent: String,
    pub environment: String,
    pub action: GuardAction,
    pub would: GuardAction,
    pub shadow: bool,
    pub violations: Vec<GuardViolation>,
    pub excerpt: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub duration_us: i64,
}

/// Decisions in one time bucket, by action (what was done; shadow decisions count as allow).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GuardBucket {
    pub at: chrono::DateTime<chrono::Utc>,
    pub allow: i64,
    pub flag: i64,
    pub redact: i64,
    pub block: i64,
}

/// A count under a name (a check, an agent).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GuardCount {
    pub name: String,
    pub violations: i64,
    pub blocks: i64,
}

/// A shadow-mode policy's effect: how often it would have acted had it been enforced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GuardShadow {
    pub policy: String,
    pub decisions: i64,
    pub would_block: i64,
    pub would_redact: i64,
    pub would_flag: i64,
}

/// The Guardrails page: the window's decisions over time, by check, by agent, shadow effects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GuardSummary {
    pub decisions: i64,
    pub blocked: i64,
    pub redacted: i64,
    pub flagged: i64,
    /// The chart's step (an hour or a day, as the window's rollup).
    pub step_seconds: i64,
    pub series: Vec<GuardBucket>,
    pub by_check: Vec<GuardCount>,
    pub top_agents: Vec<GuardCount>,
    pub shadow: Vec<GuardShadow>,
}
