//! A score as a client sends it, checked on its own: its target (a trace, a span of a trace,
//! or a session), its name, its type and value against the live config of its name.

use argus_types::{ScoreConfig, ScoreType};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::configs::{clean_name, Live};
use crate::ingest::native::{span_key, trace_key};
use crate::{Error, Result};

/// Scores a request may hold.
pub const MAX_SCORES: usize = 1_000;
pub const MAX_TEXT_CHARS: usize = 10_000;
pub const MAX_SESSION_CHARS: usize = 200;

/// One score as a client sends it (`POST /api/v1/evaluate/scores`).
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct NewScore {
    /// Any string; the same id sent again stores nothing new (a UUID is kept as it is).
    pub id: Option<String>,
    /// The trace scored (or the span's trace). Ids as sent to ingest: 32 hex digits, or the
    /// native API's own string.
    pub trace_id: Option<String>,
    /// A span of `trace_id`.
    pub span_id: Option<String>,
    /// A session, instead of a trace.
    pub session_id: Option<String>,
    /// The score's name; may be left out when `config_id` names it.
    pub name: Option<String>,
    /// A number, `true`/`false`, a category's label, or the text of a text score.
    pub value: Option<Value>,
    /// A label given with a numeric value (`"relevant"`).
    pub label: Option<String>,
    /// `numeric`, `boolean`, `categorical` or `text`; defaults to the config's type, else
    /// what `value` is.
    pub data_type: Option<String>,
    /// The config to check against; defaults to the live config of the same name.
    pub config_id: Option<Uuid>,
    /// Why (an evaluator's reasoning, a reviewer's comment).
    #[serde(alias = "comment")]
    pub explanation: Option<String>,
    /// When it was scored; now when left out.
    pub timestamp: Option<DateTime<Utc>>,
}

/// A checked score, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreRow {
    pub id: Uuid,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub session_id: Option<String>,
    pub name: String,
    pub data_type: ScoreType,
    pub value: Option<f64>,
    pub string_value: Option<String>,
    pub explanation: Option<String>,
    pub config_id: Option<Uuid>,
    pub scored_at: DateTime<Utc>,
}

/// A stable id for a score a client named with any string.
pub fn score_key(raw: &str) -> Uuid {
    let raw = raw.trim();
    if let Ok(id) = Uuid::parse_str(raw) {
        return id;
    }
    derived_id(&["score", raw])
}

/// A UUID from the SHA-256 of `parts` (version 8, so it never equals a random one).
pub fn derived_id(parts: &[&str]) -> Uuid {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0x1f]);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(Error::invalid_input(
            field,
            format!("at most {max} characters"),
        ));
    }
    if v.contains('\0') {
        return Err(Error::invalid_input(field, "no NUL characters"));
    }
    Ok(Some(v.to_owned()))
}

fn type_of(value: &Value) -> Option<ScoreType> {
    match value {
        Value::Number(_) => Some(ScoreType::Numeric),
        Value::Bool(_) => Some(ScoreType::Boolean),
        Value::String(_) => Some(ScoreType::Categorical),
        _ => None,
    }
}

fn number(value: &Value) -> Result<f64> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| Error::invalid_input("value", "must be a finite number")),
        other => Err(Error::invalid_input(
            "value",
            format!("a numeric score's value is a number, not {other}"),
        )),
    }
}

/// The value as stored: `(value, string_value)`, checked against the type and the config.
fn value_of(
    data_type: ScoreType,
    value: Option<&Value>,
    label: Option<String>,
    config: Option<&ScoreConfig>,
) -> Result<(Option<f64>, Option<String>)> {
    let missing = || Error::MissingField {
        field: "value".into(),
    };
    match data_type {
        ScoreType::Numeric => {
            let v = number(value.ok_or_else(missing)?)?;
            if let Some(c) = config {
                let below = c.min_value.is_some_and(|lo| v < lo);
                let above = c.max_value.is_some_and(|hi| v > hi);
                if below || above {
                    return Err(Error::invalid_input(
                        "value",
                        format!(
                            "{v} is outside {}'s range [{}, {}]",
                            c.name,
                            c.min_value.map_or("-∞".into(), |v| v.to_string()),
                            c.max_value.map_or("∞".into(), |v| v.to_string()),
                        ),
                    ));
                }
            }
            Ok((Some(v), label))
        }
        ScoreType::Boolean => {
            let b = match value.ok_or_else(missing)? {
                Value::Bool(b) => *b,
                Value::Number(n) if n.as_f64() == Some(1.0) => true,
                Value::Number(n) if n.as_f64() == Some(0.0) => false,
                Value::String(s) if s.trim().eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.trim().eq_ignore_ascii_case("false") => false,
                other => {
                    return Err(Error::invalid_input(
                        "value",
                        format!(
                            "a boolean score's value is true or false (or 1 or 0), not {other}"
                        ),
                    ))
                }
            };
            Ok((Some(f64::from(u8::from(b))), Some(b.to_string())))
        }
        ScoreType::Categorical => {
            let given = match (value, label) {
                (Some(Value::String(s)), _) => s.trim().to_owned(),
                (None, Some(label)) => label,
                (Some(Value::Number(_)), _) if config.is_some() => {
                    // A category's number stands for its label.
                    let v = number(value.ok_or_else(missing)?)?;
                    let c = config.expect("checked");
                    return c
                        .categories
                        .iter()
                        .find(|k| k.value == Some(v))
                        .map(|k| (k.value, Some(k.label.clone())))
                        .ok_or_else(|| {
                            Error::invalid_input(
                                "value",
                                format!("{v} is none of {}'s categories", c.name),
                            )
                        });
                }
                (None, None) => return Err(missing()),
                (Some(other), _) => {
                    return Err(Error::invalid_input(
                        "value",
                        format!("a categorical score's value is a label, not {other}"),
                    ))
                }
            };
            let label = clean_name("value", &given)?;
            match config {
                Some(c) => c
                    .categories
                    .iter()
                    .find(|k| k.label == label)
                    .map(|k| (k.value, Some(label.clone())))
                    .ok_or_else(|| {
                        let allowed: Vec<&str> =
                            c.categories.iter().map(|k| k.label.as_str()).collect();
                        Error::invalid_input(
                            "value",
                            format!(
                                "{label:?} is not one of {}'s categories ({})",
                                c.name,
                                allowed.join(", ")
                            ),
                        )
                    }),
                None => Ok((None, Some(label))),
            }
        }
        ScoreType::Text => match value {
            Some(Value::String(s)) => Ok((
                None,
                Some(text("value", Some(s), MAX_TEXT_CHARS)?.ok_or_else(missing)?),
            )),
            None => Err(missing()),
            Some(other) => Err(Error::invalid_input(
                "value",
                format!("a text score's value is a string, not {other}"),
            )),
        },
    }
}

/// Checks one score. `now` bounds its time (not after tomorrow, not before 2000).
pub fn check(new: &NewScore, configs: &Live, now: DateTime<Utc>) -> Result<ScoreRow> {
    let config = match new.config_id {
        Some(id) => {
            let c = configs
                .by_id(id)
                .ok_or_else(|| Error::invalid_input("config_id", "no score config with this id"))?;
            if c.archived_at.is_some() {
                return Err(Error::invalid_input(
                    "config_id",
                    format!("the config {:?} is archived; use the live one", c.name),
                ));
            }
            Some(c)
        }
        None => None,
    };
    let name = match (new.name.as_deref(), config) {
        (Some(name), _) => clean_name("name", name)?,
        (None, Some(c)) => c.name.clone(),
        (None, None) => {
            return Err(Error::MissingField {
                field: "name".into(),
            })
        }
    };
    let config = match config {
        Some(c) if c.name != name => {
            return Err(Error::invalid_input(
                "config_id",
                format!("the config is for {:?}, not {name:?}", c.name),
            ))
        }
        Some(c) => Some(c),
        None => configs.by_name(&name),
    };
    let asked = match new.data_type.as_deref() {
        Some(t) => Some(ScoreType::parse(t).ok_or_else(|| {
            Error::invalid_input(
                "data_type",
                format!("{t:?} is not a score type (numeric, boolean, categorical or text)"),
            )
        })?),
        None => None,
    };
    let data_type = match (config, asked) {
        (Some(c), Some(t)) if c.data_type != t => {
            return Err(Error::invalid_input(
                "data_type",
                format!("{name} is {} by its config, not {t}", c.data_type),
            ))
        }
        (Some(c), _) => c.data_type,
        (None, Some(t)) => t,
        (None, None) => match new.value.as_ref() {
            Some(v) => type_of(v)
                .ok_or_else(|| Error::invalid_input("value", "a number, true/false or a string"))?,
            None if new.label.is_some() => ScoreType::Categorical,
            None => {
                return Err(Error::MissingField {
                    field: "value".into(),
                })
            }
        },
    };
    let label = text("label", new.label.as_deref(), 200)?;
    let (value, string_value) = value_of(data_type, new.value.as_ref(), label, config)?;

    let raw_trace = text("trace_id", new.trace_id.as_deref(), 200)?;
    let raw_span = text("span_id", new.span_id.as_deref(), 200)?;
    let session_id = text("session_id", new.session_id.as_deref(), MAX_SESSION_CHARS)?;
    let (trace_id, span_id, session_id) = match (raw_trace, raw_span, session_id) {
        (Some(t), span, None) => {
            let span_id = span.map(|s| span_key(&t, &s));
            (Some(trace_key(&t)), span_id, None)
        }
        (None, None, Some(s)) => (None, None, Some(s)),
        (None, Some(_), _) => {
            return Err(Error::invalid_input(
                "span_id",
                "a span is scored with its trace_id",
            ))
        }
        (Some(_), _, Some(_)) => {
            return Err(Error::invalid_input(
                "session_id",
                "score a trace (or span) or a session, not both",
            ))
        }
        (None, None, None) => {
            return Err(Error::MissingField {
                field: "trace_id".into(),
            })
        }
    };
    let scored_at = new.timestamp.unwrap_or(now);
    if scored_at > now + Duration::days(1)
        || scored_at < DateTime::from_timestamp(946_684_800, 0).expect("2000-01-01")
    {
        return Err(Error::invalid_input(
            "timestamp",
            "must lie between 2000-01-01 and tomorrow",
        ));
    }
    let explanation = text("explanation", new.explanation.as_deref(), MAX_TEXT_CHARS)?;
    let id = match new.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) if raw.chars().count() > 200 => {
            return Err(Error::invalid_input("id", "at most 200 characters"))
        }
        Some(raw) => score_key(raw),
        None => Uuid::now_v7(),
    };
    Ok(ScoreRow {
        id,
        trace_id,
        span_id,
        session_id,
        name,
        data_type,
        value,
        string_value,
        explanation,
        config_id: config.map(|c| c.id),
        scored_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn new(value: Value) -> NewScore {
        NewScore {
            trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
            name: Some("helpfulness".into()),
            value: Some(value),
            ..NewScore::default()
        }
    }

    #[test]
    fn the_type_follows_the_value_without_a_config() {
        let live = Live::default();
        let now = Utc::now();
        let n = check(&new(json!(0.5)), &live, now).unwrap();
        assert_eq!((n.data_type, n.value), (ScoreType::Numeric, Some(0.5)));
        let b = check(&new(json!(true)), &live, now).unwrap();
        assert_eq!(
            (b.data_type, b.value, b.string_value.as_deref()),
            (ScoreType::Boolean, Some(1.0), Some("true"))
        );
        let c = check(&new(json!("good")), &live, now).unwrap();
        assert_eq!(
            (c.data_type, c.string_value.as_deref()),
            (ScoreType::Categorical, Some("good"))
        );
        let t = check(
            &NewScore {
                data_type: Some("text".into()),
                ..new(json!("reads well"))
            },
            &live,
            now,
        )
        .unwrap();
        assert_eq!(t.data_type, ScoreType::Text);
        assert!(check(&new(json!([1])), &live, now).is_err());
        assert!(check(&new(json!(f64::MAX)), &live, now).is_ok());
    }

    #[test]
    fn a_target_is_one_trace_span_or_session() {
        let live = Live::default();
        let now = Utc::now();
        let span_without_trace = NewScore {
            trace_id: None,
            span_id: Some("b7ad6b7169203331".into()),
            ..new(json!(1))
        };
        assert!(check(&span_without_trace, &live, now).is_err());
        let both = NewScore {
            session_id: Some("conv-1".into()),
            ..new(json!(1))
        };
        assert!(check(&both, &live, now).is_err());
        let none = NewScore {
            trace_id: None,
            ..new(json!(1))
        };
        assert!(check(&none, &live, now).is_err());
        let native = NewScore {
            trace_id: Some("order-42".into()),
            span_id: Some("lookup".into()),
            ..new(json!(1))
        };
        let row = check(&native, &live, now).unwrap();
        assert_eq!(
            row.trace_id.as_deref(),
            Some(trace_key("order-42").as_str())
        );
        assert_eq!(
            row.span_id.as_deref(),
            Some(span_key("order-42", "lookup").as_str())
        );
        let future = NewScore {
            timestamp: Some(now + Duration::days(3)),
            ..new(json!(1))
        };
        assert!(check(&future, &live, now).is_err());
    }

    #[test]
    fn a_client_id_is_stable() {
        assert_eq!(score_key("eval-1"), score_key(" eval-1 "));
        assert_ne!(score_key("eval-1"), score_key("eval-2"));
        let id = Uuid::now_v7();
        assert_eq!(score_key(&id.to_string()), id);
    }
}
