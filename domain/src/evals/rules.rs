//! Rule evaluators' checks, in process: each reads a span's (or a trace's) text, time, cost
//! and tool calls and answers pass or fail with the reason.

use argus_types::{Rule, RuleField};
use regex::{Regex, RegexBuilder};
use serde_json::Value;

use crate::{Error, Result};

/// The refusal phrases a `no_refusal` rule uses when it names none.
pub const REFUSALS: [&str; 8] = [
    "i can't help with",
    "i cannot help with",
    "i can't assist with",
    "i cannot assist with",
    "i'm not able to help",
    "i am unable to",
    "as an ai language model",
    "i won't be able to",
];

/// A rule's bounds: a pattern's compiled size, a phrase's length.
const MAX_PATTERN_BYTES: usize = 1_000;
const MAX_COMPILED_BYTES: usize = 1 << 20;
const MAX_VALUE_CHARS: usize = 1_000;

/// What a rule looks at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Subject {
    pub input: Option<String>,
    pub output: Option<String>,
    pub latency_ms: f64,
    pub cost_usd: Option<f64>,
    /// An `execute_tool` span of it failed.
    pub tool_failed: bool,
    /// What the answer should have been (the `expected_output` attribute), for a judge.
    pub expected: Option<String>,
    /// The span's attributes and dimensions (`agent`, `environment`, `version`, `model`), for
    /// a judge's `{{metadata.KEY}}`.
    pub metadata: serde_json::Map<String, Value>,
}

/// The text of a message value: every string in it, in order, one per line (chat messages'
/// parts and contents, or a plain string).
pub fn text_of(value: &Value) -> String {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => {
                // Roles and types are labels, not what was said.
                for (k, v) in map {
                    if !matches!(k.as_str(), "role" | "type" | "finish_reason" | "id") {
                        walk(v, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out.join("\n")
}

/// The longest judge prompt template.
pub const MAX_PROMPT_CHARS: usize = 20_000;

/// Checks a judge evaluator's template.
pub fn check_template(prompt: &str) -> Result<()> {
    let p = prompt.trim();
    if p.is_empty() {
        return Err(Error::invalid_input(
            "rule.prompt",
            "give the judge's instructions, e.g. \"Is {{output}} a helpful answer to {{input}}?\"",
        ));
    }
    if p.chars().count() > MAX_PROMPT_CHARS {
        return Err(Error::invalid_input(
            "rule.prompt",
            format!("at most {MAX_PROMPT_CHARS} characters"),
        ));
    }
    if !p.contains("{{input}}") && !p.contains("{{output}}") {
        return Err(Error::invalid_input(
            "rule.prompt",
            "the prompt must show the judge {{input}} or {{output}}",
        ));
    }
    Ok(())
}

/// A rule made ready to run (its pattern compiled once).
#[derive(Clone, Debug)]
pub struct Compiled {
    rule: Rule,
    regex: Option<Regex>,
    schema: Option<std::sync::Arc<jsonschema::Validator>>,
}

/// Bytes of a JSON Schema at most.
const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// A JSON Schema as an admin gives it: JSON, within the size limit, compiled with the
/// linear-time regex engine for `pattern` keywords (bounded like the regex rule's) and no way
/// to fetch a remote or file `$ref`.
pub(crate) fn compile_schema(text: &str) -> Result<jsonschema::Validator> {
    if text.len() > MAX_SCHEMA_BYTES {
        return Err(Error::invalid_input(
            "rule.schema",
            format!("at most {MAX_SCHEMA_BYTES} bytes"),
        ));
    }
    let schema: Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid_input("rule.schema", format!("not JSON: {e}")))?;
    jsonschema::options()
        .with_pattern_options(
            jsonschema::PatternOptions::regex()
                .size_limit(MAX_COMPILED_BYTES)
                .dfa_size_limit(MAX_COMPILED_BYTES),
        )
        .build(&schema)
        .map_err(|e| Error::invalid_input("rule.schema", format!("not a usable JSON Schema: {e}")))
}

/// Checks a rule as an admin defines it, and compiles its pattern.
pub fn compile(rule: &Rule) -> Result<Compiled> {
    let too_long =
        |field: &str| Error::invalid_input(field, format!("at most {MAX_VALUE_CHARS} characters"));
    let regex = match rule {
        Rule::Regex { pattern, .. } => {
            if pattern.len() > MAX_PATTERN_BYTES {
                return Err(Error::invalid_input(
                    "rule.pattern",
                    format!("at most {MAX_PATTERN_BYTES} bytes"),
                ));
            }
            Some(
                RegexBuilder::new(pattern)
                    .size_limit(MAX_COMPILED_BYTES)
                    .build()
                    .map_err(|e| Error::invalid_input("rule.pattern", e.to_string()))?,
            )
        }
        Rule::Contains { value, .. } | Rule::NotContains { value, .. } => {
            if value.trim().is_empty() {
                return Err(Error::invalid_input(
                    "rule.value",
                    "give the text to look for",
                ));
            }
            if value.chars().count() > MAX_VALUE_CHARS {
                return Err(too_long("rule.value"));
            }
            None
        }
        Rule::Length { min, max, .. } => {
            if let (Some(lo), Some(hi)) = (min, max) {
                if lo > hi {
                    return Err(Error::invalid_input("rule.max", "must not be below min"));
                }
            }
            None
        }
        Rule::LatencyBelow { max_ms } if !(max_ms.is_finite() && *max_ms >= 0.0) => {
            return Err(Error::invalid_input(
                "rule.max_ms",
                "a number of milliseconds ≥ 0",
            ))
        }
        Rule::CostBelow { max_usd } if !(max_usd.is_finite() && *max_usd >= 0.0) => {
            return Err(Error::invalid_input("rule.max_usd", "a number of USD ≥ 0"))
        }
        Rule::NoRefusal { phrases } => {
            if phrases.len() > 100 || phrases.iter().any(|p| p.chars().count() > MAX_VALUE_CHARS) {
                return Err(too_long("rule.phrases"));
            }
            None
        }
        Rule::Judge { prompt } => {
            check_template(prompt)?;
            None
        }
        _ => None,
    };
    let schema = match rule {
        Rule::JsonSchema { schema, .. } => Some(std::sync::Arc::new(compile_schema(schema)?)),
        _ => None,
    };
    Ok(Compiled {
        rule: rule.clone(),
        regex,
        schema,
    })
}

impl Compiled {
    /// Pass or fail, and why. `Err` when the subject lacks what the rule reads.
    pub fn verdict(&self, s: &Subject) -> std::result::Result<(bool, String), String> {
        let text = |field: &RuleField| -> std::result::Result<&str, String> {
            let (name, value) = match field {
                RuleField::Input => ("input", &s.input),
                RuleField::Output => ("output", &s.output),
            };
            value
                .as_deref()
                .ok_or_else(|| format!("it has no {name} to check"))
        };
        Ok(match &self.rule {
            Rule::Contains { field, value } => {
                let found = text(field)?.to_lowercase().contains(&value.to_lowercase());
                let why = if found {
                    "contains"
                } else {
                    "does not contain"
                };
                (found, format!("the text {why} {value:?}"))
            }
            Rule::NotContains { field, value } => {
                let found = text(field)?.to_lowercase().contains(&value.to_lowercase());
                let why = if found {
                    "contains"
                } else {
                    "does not contain"
                };
                (!found, format!("the text {why} {value:?}"))
            }
            Rule::Regex { field, pattern } => {
                let hit = self
                    .regex
                    .as_ref()
                    .is_some_and(|r| r.is_match(text(field).unwrap_or_default()));
                text(field)?;
                let why = if hit { "matches" } else { "does not match" };
                (hit, format!("the text {why} /{pattern}/"))
            }
            Rule::ValidJson { field } => match serde_json::from_str::<Value>(text(field)?) {
                Ok(_) => (true, "valid JSON".into()),
                Err(e) => (false, format!("not JSON: {e}")),
            },
            Rule::JsonSchema { field, .. } => {
                let value = match serde_json::from_str::<Value>(text(field)?) {
                    Ok(v) => v,
                    Err(e) => return Ok((false, format!("not JSON: {e}"))),
                };
                let validator = self.schema.as_ref().ok_or("the schema did not compile")?;
                let errors: Vec<String> = validator
                    .iter_errors(&value)
                    .take(3)
                    .map(|e| {
                        let at = e.instance_path().to_string();
                        if at.is_empty() {
                            e.to_string()
                        } else {
                            format!("{at}: {e}")
                        }
                    })
                    .collect();
                if errors.is_empty() {
                    (true, "matches the schema".into())
                } else {
                    (
                        false,
                        format!("does not match the schema: {}", errors.join("; ")),
                    )
                }
            }
            Rule::Length { field, min, max } => {
                let n = text(field)?.chars().count() as u64;
                let ok = min.is_none_or(|lo| n >= lo) && max.is_none_or(|hi| n <= hi);
                (ok, format!("{n} characters"))
            }
            Rule::LatencyBelow { max_ms } => (
                s.latency_ms <= *max_ms,
                format!("took {:.0} ms (limit {max_ms} ms)", s.latency_ms),
            ),
            Rule::CostBelow { max_usd } => {
                let cost = s
                    .cost_usd
                    .ok_or("it has no cost (its model is not priced)")?;
                (
                    cost <= *max_usd,
                    format!("cost ${cost:.6} (limit ${max_usd})"),
                )
            }
            Rule::ToolCallsSucceed => (
                !s.tool_failed,
                if s.tool_failed {
                    "a tool call failed".into()
                } else {
                    "no tool call failed".into()
                },
            ),
            Rule::NoRefusal { phrases } => {
                let out = text(&RuleField::Output)?.to_lowercase();
                let hit = if phrases.is_empty() {
                    REFUSALS
                        .iter()
                        .find(|p| out.contains(*p))
                        .map(|p| p.to_string())
                } else {
                    phrases
                        .iter()
                        .find(|p| out.contains(&p.to_lowercase()))
                        .cloned()
                };
                match hit {
                    Some(p) => (false, format!("a refusal: {p:?}")),
                    None => (true, "no refusal phrase".into()),
                }
            }
            Rule::Judge { .. } => {
                return Err("a judge's verdict comes from its model (evals::judge)".into())
            }
        })
    }

    /// The judge's prompt template, when the rule is a judge.
    pub fn judge_prompt(&self) -> Option<&str> {
        match &self.rule {
            Rule::Judge { prompt } => Some(prompt),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subject(output: &str) -> Subject {
        Subject {
            input: Some("Where is my refund?".into()),
            output: Some(output.into()),
            latency_ms: 1200.0,
            cost_usd: Some(0.002),
            tool_failed: false,
            ..Subject::default()
        }
    }

    fn run(rule: Value, s: &Subject) -> (bool, String) {
        let rule: Rule = serde_json::from_value(rule).unwrap();
        compile(&rule).unwrap().verdict(s).unwrap()
    }

    #[test]
    fn a_json_schema_rule_names_what_does_not_match() {
        let schema = json!({
            "type": "object",
            "required": ["order_id", "status"],
            "properties": {
                "order_id": {"type": "string", "pattern": "^[A-Z]{2}[0-9]+$"},
                "status": {"enum": ["shipped", "pending"]}
            }
        })
        .to_string();
        let rule = json!({"type": "json_schema", "field": "output", "schema": schema});
        let ok = run(
            rule.clone(),
            &subject(r#"{"order_id": "AB12", "status": "shipped"}"#),
        );
        assert_eq!(ok, (true, "matches the schema".into()));
        let (pass, why) = run(
            rule.clone(),
            &subject(r#"{"order_id": "12", "status": "lost"}"#),
        );
        assert!(!pass);
        assert!(
            why.contains("/order_id") && why.contains("/status"),
            "{why}"
        );
        let (pass, why) = run(rule.clone(), &subject("not json"));
        assert!(!pass && why.starts_with("not JSON"), "{why}");
        // Bad schemas are refused when the evaluator is defined.
        for bad in [
            "{not json",
            r#"{"type": "nonsense"}"#,
            r#"{"type": "string", "pattern": "(a"}"#,
            r#"{"$ref": "https://example.com/schema.json"}"#,
        ] {
            let rule: Rule = serde_json::from_value(
                json!({"type": "json_schema", "field": "output", "schema": bad}),
            )
            .unwrap();
            let err = compile(&rule)
                .err()
                .unwrap_or_else(|| panic!("{bad} compiled"));
            assert!(err.to_string().contains("rule.schema"), "{err}");
        }
        let huge = format!(r#"{{"description": "{}"}}"#, "x".repeat(MAX_SCHEMA_BYTES));
        let rule = Rule::JsonSchema {
            field: RuleField::Output,
            schema: huge,
        };
        assert!(compile(&rule).is_err());
    }

    #[test]
    fn each_rule_passes_and_fails_where_it_should() {
        let s = subject("Your refund was sent on Monday.");
        assert!(
            run(
                json!({"type": "contains", "field": "output", "value": "REFUND"}),
                &s
            )
            .0
        );
        assert!(
            !run(
                json!({"type": "not_contains", "field": "output", "value": "refund"}),
                &s
            )
            .0
        );
        assert!(
            run(
                json!({"type": "regex", "field": "output", "pattern": "(?i)monday|tuesday"}),
                &s
            )
            .0
        );
        assert!(!run(json!({"type": "valid_json", "field": "output"}), &s).0);
        assert!(
            run(
                json!({"type": "valid_json", "field": "output"}),
                &subject("{\"a\": 1}")
            )
            .0
        );
        assert!(
            run(
                json!({"type": "length", "field": "input", "min": 5, "max": 50}),
                &s
            )
            .0
        );
        assert!(!run(json!({"type": "length", "field": "output", "max": 10}), &s).0);
        assert!(run(json!({"type": "latency_below", "max_ms": 2000}), &s).0);
        assert!(!run(json!({"type": "cost_below", "max_usd": 0.001}), &s).0);
        assert!(run(json!({"type": "tool_calls_succeed"}), &s).0);
        assert!(run(json!({"type": "no_refusal"}), &s).0);
        let refusal = subject("I'm sorry, but I can't help with that request.");
        let (ok, why) = run(json!({"type": "no_refusal"}), &refusal);
        assert!(!ok && why.contains("can't help with"), "{why}");
        let missing = Subject::default();
        let rule: Rule =
            serde_json::from_value(json!({"type": "contains", "field": "output", "value": "x"}))
                .unwrap();
        assert!(compile(&rule).unwrap().verdict(&missing).is_err());
    }

    #[test]
    fn bad_rules_are_refused_when_defined() {
        for bad in [
            json!({"type": "regex", "field": "output", "pattern": "(unclosed"}),
            json!({"type": "contains", "field": "output", "value": "  "}),
            json!({"type": "length", "field": "output", "min": 9, "max": 3}),
            json!({"type": "latency_below", "max_ms": -1}),
        ] {
            let rule: Rule = serde_json::from_value(bad.clone()).unwrap();
            assert!(compile(&rule).is_err(), "{bad}");
        }
    }

    #[test]
    fn message_text_is_every_string_but_the_labels() {
        let v = json!([{"role": "user", "parts": [{"type": "text", "content": "hello"}]},
                       {"role": "assistant", "parts": [{"type": "text", "content": "hi there"}]}]);
        assert_eq!(text_of(&v), "hello\nhi there");
        assert_eq!(text_of(&json!("plain")), "plain");
    }
}
