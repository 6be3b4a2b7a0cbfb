//! Online evaluators on the wire: which spans or traces they judge (a filter and a sampling
//! rate), the rule, and what they have done.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Which spans an evaluator looks at: every field it sets must match (exactly; `span_name` is
/// a case-insensitive substring).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EvaluatorFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The GenAI operation (`chat`, `execute_tool`, `invoke_agent`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_name: Option<String>,
    /// `ok` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// What a filter is matched against.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpanFacts<'a> {
    pub agent: &'a str,
    pub environment: &'a str,
    pub version: &'a str,
    pub model: Option<&'a str>,
    pub operation: Option<&'a str>,
    pub name: &'a str,
    /// `ok`, `error` or `unset`.
    pub status: &'a str,
}

impl EvaluatorFilter {
    pub fn matches(&self, s: &SpanFacts) -> bool {
        let eq = |want: &Option<String>, got: Option<&str>| {
            want.as_deref().is_none_or(|w| got == Some(w))
        };
        eq(&self.agent, Some(s.agent))
            && eq(&self.environment, Some(s.environment))
            && eq(&self.version, Some(s.version))
            && eq(&self.model, s.model)
            && eq(&self.operation, s.operation)
            && self
                .span_name
                .as_deref()
                .is_none_or(|w| s.name.to_lowercase().contains(&w.to_lowercase()))
            && self.status.as_deref().is_none_or(|w| match w {
                "ok" => s.status != "error",
                other => s.status == other,
            })
    }

    /// The filter as a person reads it (`agent = support-bot · operation = chat`), or
    /// "every span".
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("agent", &self.agent),
            ("environment", &self.environment),
            ("version", &self.version),
            ("model", &self.model),
            ("operation", &self.operation),
            ("name contains", &self.span_name),
            ("status", &self.status),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} = {v}")))
        .collect();
        if parts.is_empty() {
            "everything".into()
        } else {
            parts.join(" · ")
        }
    }
}

/// Where a rule reads its text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum RuleField {
    Input,
    #[default]
    Output,
}

/// A rule evaluator's check. Every rule gives a boolean score: true when the check passes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Rule {
    /// The text contains `value` (case-insensitive).
    Contains { field: RuleField, value: String },
    /// The text does not contain `value` (case-insensitive).
    NotContains { field: RuleField, value: String },
    /// The text matches the regular expression.
    Regex { field: RuleField, pattern: String },
    /// The text is valid JSON.
    ValidJson { field: RuleField },
    /// The text is JSON that the JSON Schema (draft 2020-12 by default, or its `$schema`)
    /// accepts. Only the schema itself is read: no remote or file `$ref`.
    JsonSchema { field: RuleField, schema: String },
    /// The text's length in characters lies within the bounds.
    Length {
        field: RuleField,
        min: Option<u64>,
        max: Option<u64>,
    },
    /// The span (or trace) took at most `max_ms`.
    LatencyBelow { max_ms: f64 },
    /// The span (or trace) cost at most `max_usd`.
    CostBelow { max_usd: f64 },
    /// No tool call failed (a span with operation `execute_tool` in error).
    ToolCallsSucceed,
    /// The output holds none of the refusal phrases (the built-in list when empty).
    NoRefusal {
        #[serde(default)]
        phrases: Vec<String>,
    },
    /// LLM-as-judge: the workspace's judge model reads the prompt (`{{input}}`, `{{output}}`,
    /// `{{expected}}`, `{{metadata.KEY}}` filled in) and answers a verdict, parsed into the
    /// score (numeric, boolean or a label, as the score's config says) and its explanation.
    Judge { prompt: String },
}

impl Rule {
    /// The rule as a person reads it.
    pub fn describe(&self) -> String {
        let f = |f: &RuleField| match f {
            RuleField::Input => "input",
            RuleField::Output => "output",
        };
        match self {
            Rule::Contains { field, value } => format!("{} contains {value:?}", f(field)),
            Rule::NotContains { field, value } => {
                format!("{} does not contain {value:?}", f(field))
            }
            Rule::Regex { field, pattern } => format!("{} matches /{pattern}/", f(field)),
            Rule::ValidJson { field } => format!("{} is valid JSON", f(field)),
            Rule::JsonSchema { field, .. } => format!("{} matches a JSON Schema", f(field)),
            Rule::Length { field, min, max } => format!(
                "{} length within {}–{} characters",
                f(field),
                min.map_or("0".into(), |v| v.to_string()),
                max.map_or("∞".into(), |v| v.to_string())
            ),
            Rule::LatencyBelow { max_ms } => format!("latency ≤ {max_ms} ms"),
            Rule::CostBelow { max_usd } => format!("cost ≤ ${max_usd}"),
            Rule::ToolCallsSucceed => "no tool call failed".into(),
            Rule::NoRefusal { .. } => "the output is not a refusal".into(),
            Rule::Judge { prompt } => {
                let first: String = prompt
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(80)
                    .collect();
                format!("LLM judge: {first}")
            }
        }
    }
}

/// A rule as a form sends it: `rule_type` and the fields that type reads, as strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RuleForm {
    /// `contains`, `not_contains`, `regex`, `valid_json`, `json_schema`, `length`, `latency_below`,
    /// `cost_below`, `tool_calls_succeed` or `no_refusal`.
    #[serde(default)]
    pub rule_type: Option<String>,
    /// `input` or `output` (default).
    #[serde(default)]
    pub field: Option<String>,
    /// The text (`contains`, `not_contains`).
    #[serde(default)]
    pub value: Option<String>,
    /// The regular expression (`regex`).
    #[serde(default)]
    pub pattern: Option<String>,
    /// Characters (`length`).
    #[serde(default)]
    pub min: Option<String>,
    #[serde(default)]
    pub max: Option<String>,
    /// Milliseconds (`latency_below`).
    #[serde(default)]
    pub max_ms: Option<String>,
    /// USD (`cost_below`).
    #[serde(default)]
    pub max_usd: Option<String>,
    /// Refusal phrases, one per line or comma-separated (`no_refusal`; blank: the built-in list).
    #[serde(default)]
    pub phrases: Option<String>,
    /// The judge's prompt template (`judge`).
    #[serde(default)]
    pub prompt: Option<String>,
    /// The JSON Schema, as JSON text (`json_schema`).
    #[serde(default)]
    pub schema: Option<String>,
}

impl RuleForm {
    /// The form that describes `rule` (what an edit form starts from).
    pub fn of(rule: &Rule) -> RuleForm {
        let field = |f: &RuleField| {
            Some(match f {
                RuleField::Input => "input".to_owned(),
                RuleField::Output => "output".to_owned(),
            })
        };
        let kind = |k: &str| Some(k.to_owned());
        let number = |n: &Option<u64>| n.map(|n| n.to_string());
        match rule {
            Rule::Contains { field: f, value } => RuleForm {
                rule_type: kind("contains"),
                field: field(f),
                value: Some(value.clone()),
                ..RuleForm::default()
            },
            Rule::NotContains { field: f, value } => RuleForm {
                rule_type: kind("not_contains"),
                field: field(f),
                value: Some(value.clone()),
                ..RuleForm::default()
            },
            Rule::Regex { field: f, pattern } => RuleForm {
                rule_type: kind("regex"),
                field: field(f),
                pattern: Some(pattern.clone()),
                ..RuleForm::default()
            },
            Rule::ValidJson { field: f } => RuleForm {
                rule_type: kind("valid_json"),
                field: field(f),
                ..RuleForm::default()
            },
            Rule::JsonSchema { field: f, schema } => RuleForm {
                rule_type: kind("json_schema"),
                field: field(f),
                schema: Some(schema.clone()),
                ..RuleForm::default()
            },
            Rule::Length { field: f, min, max } => RuleForm {
                rule_type: kind("length"),
                field: field(f),
                min: number(min),
                max: number(max),
                ..RuleForm::default()
            },
            Rule::LatencyBelow { max_ms } => RuleForm {
                rule_type: kind("latency_below"),
                max_ms: Some(max_ms.to_string()),
                ..RuleForm::default()
            },
            Rule::CostBelow { max_usd } => RuleForm {
                rule_type: kind("cost_below"),
                max_usd: Some(max_usd.to_string()),
                ..RuleForm::default()
            },
            Rule::ToolCallsSucceed => RuleForm {
                rule_type: kind("tool_calls_succeed"),
                ..RuleForm::default()
            },
            Rule::NoRefusal { phrases } => RuleForm {
                rule_type: kind("no_refusal"),
                phrases: (!phrases.is_empty()).then(|| phrases.join(", ")),
                ..RuleForm::default()
            },
            Rule::Judge { prompt } => RuleForm {
                rule_type: kind("judge"),
                prompt: Some(prompt.clone()),
                ..RuleForm::default()
            },
        }
    }
}

/// What an evaluator judges: each matching span, or the whole trace once its root is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum EvalTarget {
    Span,
    Trace,
}

impl EvalTarget {
    pub const fn as_str(self) -> &'static str {
        match self {
            EvalTarget::Span => "span",
            EvalTarget::Trace => "trace",
        }
    }

    pub fn parse(s: &str) -> Option<EvalTarget> {
        match s.trim() {
            "span" => Some(EvalTarget::Span),
            "trace" => Some(EvalTarget::Trace),
            _ => None,
        }
    }
}

/// What an evaluator has done: jobs waiting, and today's (UTC) done, failed, sampled out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EvaluatorStats {
    /// Waiting or running now.
    pub queued: i64,
    pub done_today: i64,
    pub failed_today: i64,
    pub skipped_today: i64,
    pub spent_today_usd: f64,
    /// The latest failures, newest first: `(when, why)`.
    pub last_errors: Vec<(DateTime<Utc>, String)>,
}

/// One online evaluator of the workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Evaluator {
    pub id: Uuid,
    pub name: String,
    pub version: i32,
    pub target: EvalTarget,
    pub filter: EvaluatorFilter,
    /// The share of matching spans (or traces) judged, 0 < sampling ≤ 1.
    pub sampling: f64,
    pub rule: Rule,
    /// The score it writes (a boolean: the rule passed).
    pub score_name: String,
    /// `active` or `paused`.
    pub status: String,
    pub paused_reason: Option<String>,
    /// A judge's spend cap per UTC day: reached, the evaluator pauses and says so.
    pub daily_limit_usd: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub stats: EvaluatorStats,
    /// Its latest backfill, if any.
    #[serde(default)]
    pub backfill: Option<Backfill>,
    /// Where people also scored (annotation, same name) what it scored: how they agree.
    #[serde(default)]
    pub agreement: Option<crate::Agreement>,
}

/// An evaluator run over what is already stored in a window: the jobs it queued so far and how
/// far through the window it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Backfill {
    pub id: Uuid,
    pub evaluator_id: Uuid,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The dashboard filters it was limited to, as a query string (`agent=…&env=…`).
    pub filter: String,
    pub status: crate::JobStatus,
    /// Everything before this was looked at.
    pub reached: DateTime<Utc>,
    /// Spans (or root spans) looked at, and jobs queued for them.
    pub scanned: i64,
    pub queued: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Backfill {
    /// How far through its window, 0–100.
    pub fn percent(&self) -> f64 {
        if self.status == crate::JobStatus::Done {
            return 100.0;
        }
        let all = (self.to - self.from).num_seconds().max(1) as f64;
        let done = (self.reached - self.from).num_seconds().max(0) as f64;
        (done / all * 100.0).clamp(0.0, 100.0)
    }
}

/// The workspace's judge model: an OpenAI-compatible chat endpoint. The API key is write-only:
/// only its last four characters come back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct JudgeSettings {
    /// `false` until an admin sets it up.
    pub configured: bool,
    /// E.g. `https://api.openai.com/v1` (the path `/chat/completions` is added).
    pub base_url: String,
    pub model: String,
    /// `…abcd`, or `None` when the endpoint takes no key.
    pub key_hint: Option<String>,
    pub timeout_ms: i32,
    pub updated_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_matches_what_it_names() {
        let span = SpanFacts {
            agent: "support-bot",
            environment: "production",
            version: "2.4.0",
            model: Some("gpt-4o"),
            operation: Some("chat"),
            name: "chat gpt-4o",
            status: "unset",
        };
        assert!(EvaluatorFilter::default().matches(&span));
        let f = EvaluatorFilter {
            agent: Some("support-bot".into()),
            operation: Some("chat".into()),
            span_name: Some("GPT".into()),
            status: Some("ok".into()),
            ..EvaluatorFilter::default()
        };
        assert!(f.matches(&span));
        assert!(!EvaluatorFilter {
            status: Some("error".into()),
            ..f.clone()
        }
        .matches(&span));
        assert!(!EvaluatorFilter {
            model: Some("claude".into()),
            ..f
        }
        .matches(&span));
        let rule: Rule =
            serde_json::from_str(r#"{"type": "contains", "field": "output", "value": "refund"}"#)
                .unwrap();
        assert_eq!(rule.describe(), "output contains \"refund\"");
    }
}
