//! Size and shape: an estimate of the text's tokens against a maximum, and (for outputs) valid
//! JSON or JSON that matches a schema (compiled as the JSON Schema rule evaluator compiles it:
//! no remote `$ref`, bounded patterns).

use std::sync::Arc;

use super::finding::{Check, Finding};
use crate::evals::rules::compile_schema;
use crate::{Error, Result};

/// The most tokens a limit may name.
pub const MAX_TOKENS: u64 = 10_000_000;

/// A policy's limits, compiled.
#[derive(Clone, Debug, Default)]
pub struct Limits {
    pub max_tokens: Option<u64>,
    pub require_json: bool,
    schema: Option<Arc<jsonschema::Validator>>,
}

impl Limits {
    pub fn compile(
        max_tokens: Option<u64>,
        require_json: bool,
        schema: Option<&str>,
    ) -> Result<Limits> {
        if let Some(n) = max_tokens {
            if n == 0 || n > MAX_TOKENS {
                return Err(Error::invalid_input(
                    "max_tokens",
                    format!("between 1 and {MAX_TOKENS}"),
                ));
            }
        }
        let schema = match schema.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(Arc::new(compile_schema(s).map_err(|e| match e {
                Error::InvalidInput { message, .. } => Error::invalid_input("json_schema", message),
                other => other,
            })?)),
            None => None,
        };
        Ok(Limits {
            max_tokens,
            require_json: require_json || schema.is_some(),
            schema,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.max_tokens.is_none() && !self.require_json
    }

    /// Whether the text breaks a limit; limits are about the whole text (`start == end == 0`).
    /// `json` applies only where JSON is expected (outputs, tool-call arguments).
    pub fn scan(&self, text: &str, json: bool, out: &mut Vec<Finding>) {
        if let Some(max) = self.max_tokens {
            if estimate_tokens(text) > max {
                out.push(Finding::new(Check::Limits, "too_many_tokens", 0, 0, 1.0));
            }
        }
        if json && self.require_json {
            match serde_json::from_str::<serde_json::Value>(text) {
                Err(_) => out.push(Finding::new(Check::Limits, "not_json", 0, 0, 1.0)),
                Ok(value) => {
                    if let Some(schema) = &self.schema {
                        if !schema.is_valid(&value) {
                            out.push(Finding::new(Check::Limits, "schema_mismatch", 0, 0, 1.0));
                        }
                    }
                }
            }
        }
    }
}

/// Tokens, estimated the way tokenizers of Latin text come out (about four bytes a token) and
/// of other scripts (about one character a token).
pub fn estimate_tokens(text: &str) -> u64 {
    let ascii = text.bytes().filter(u8::is_ascii).count() as u64;
    let other = text.chars().filter(|c| !c.is_ascii()).count() as u64;
    ascii.div_ceil(4) + other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_on_tokens_json_and_schema() {
        let l = Limits::compile(
            Some(5),
            false,
            Some(r#"{"type": "object", "required": ["answer"]}"#),
        )
        .unwrap();
        let kinds = |text: &str, json: bool| {
            let mut out = Vec::new();
            l.scan(text, json, &mut out);
            out.into_iter().map(|f| f.kind).collect::<Vec<_>>()
        };
        assert_eq!(kinds(r#"{"answer": 1}"#, true), Vec::<String>::new());
        assert_eq!(kinds(r#"{"other": 1}"#, true), ["schema_mismatch"]);
        assert_eq!(kinds("not json", true), ["not_json"]);
        assert_eq!(kinds("not json", false), Vec::<String>::new());
        assert_eq!(
            kinds("a text that is far longer than five tokens", false),
            ["too_many_tokens"]
        );
        assert_eq!(estimate_tokens("日本語"), 3);
        assert!(Limits::compile(Some(0), false, None).is_err());
        assert!(Limits::compile(None, false, Some("{nope")).is_err());
    }
}
