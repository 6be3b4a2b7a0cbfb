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
