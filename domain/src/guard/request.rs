//! What a check request gives — a `text`, chat `messages`, or a tool call's `arguments` — as
//! the parts a policy checks, each with its place (a JSON Pointer below the field: `messages`
//! `/2/content`, `arguments` `/filters/0/name`); and the redacted parts put back in the same
//! shape, so a client can send on what it gets back.

use serde_json::Value;

use super::engine::Part;
use crate::{Error, Result};

/// Bounds on a request's texts.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
pub const MAX_PARTS: usize = 1_000;

/// The field a request's texts are in.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    Text(String),
    /// Chat messages: `[{"role": …, "content": "…" | [{"type": "text", "text": "…"}, …]}]`.
    Messages(Value),
    /// A tool call's arguments: any JSON; every string in it is checked.
    Arguments(Value),
}

impl Content {
    /// The one content of a request; exactly one of the three must be given.
    pub fn of(
        text: Option<String>,
        messages: Option<Value>,
        arguments: Option<Value>,
    ) -> Result<Content> {
        match (text, messages, arguments) {
            (Some(t), None, None) => Ok(Content::Text(t)),
            (None, Some(m @ Value::Array(_)), None) => Ok(Content::Messages(m)),
            (None, Some(_), None) => Err(Error::invalid_input(
                "messages",
                "a list of {\"role\", \"content\"} objects",
            )),
            (None, None, Some(a)) => Ok(Content::Arguments(a)),
            (None, None, None) => Err(Error::invalid_input(
                "text",
                "give the text to check: text, messages or arguments",
            )),
            _ => Err(Error::invalid_input(
                "text",
                "give one of text, messages or arguments, not several",
            )),
        }
    }

    /// The field's name in the request (and in a part's path).
    pub fn field(&self) -> &'static str {
        match self {
            Content::Text(_) => "text",
            Content::Messages(_) => "messages",
            Content::Arguments(_) => "arguments",
        }
    }

    /// The texts to check, with their places; `json`: whether the whole text should be JSON
    /// (an output given as `text`).
    pub fn parts(&self, json: bool) -> Result<Vec<Part<'_>>> {
        let mut out = Vec::new();
        match self {
            Content::Text(t) => out.push(Part {
                path: None,
                text: t,
                json,
            }),
            Content::Messages(Value::Array(messages)) => {
                for (i, m) in messages.iter().enumerate() {
                    let content = m.get("content").ok_or_else(|| {
                        Error::invalid_input(
                            format!("messages[{i}].content"),
                            "each message needs its content",
                        )
                    })?;
                    leaves(content, &mut format!("/{i}/content"), &mut out, "messages")?;
                }
            }
            Content::Messages(_) => {}
            Content::Arguments(a) => leaves(a, &mut String::new(), &mut out, "arguments")?,
        }
        let total: usize = out.iter().map(|p| p.text.len()).sum();
        if total > MAX_TEXT_BYTES {
            return Err(Error::invalid_input(
                self.field(),
                format!("at most {MAX_TEXT_BYTES} bytes of text a check"),
            ));
        }
        Ok(out)
    }

    /// The content with `redacted` texts (by part, `None`: unchanged) put in their places.
    pub fn with_redacted(&self, parts: &[Part<'_>], redacted: &[Option<String>]) -> Value {
        let mut value = match self {
            Content::Text(t) => Value::String(t.clone()),
            Content::Messages(v) | Content::Arguments(v) => v.clone(),
        };
        for (part, new) in parts.iter().zip(redacted) {
            let Some(new) = new else { continue };
            let pointer = part
                .path
                .as_deref()
                .and_then(|p| p.split_once('/').map(|(_, rest)| format!("/{rest}")));
            let slot = match &pointer {
                None => Some(&mut value),
                Some(p) if p == "/" => Some(&mut value),
                Some(p) => value.pointer_mut(p),
            };
            if let Some(slot) = slot {
                *slot = Value::String(new.clone());
            }
        }
        value
    }
}

/// RFC 6901: `~` as `~0`, `/` as `~1`.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Every string in `v`, with its path (`field` then a JSON Pointer).
fn leaves<'a>(v: &'a Value, at: &mut String, out: &mut Vec<Part<'a>>, field: &str) -> Result<()> {
    if out.len() > MAX_PARTS {
        return Err(Error::invalid_input(
            field,
            format!("at most {MAX_PARTS} texts a check"),
        ));
    }
    match v {
        Value::String(s) => out.push(Part {
            path: Some(format!("{field}{}", if at.is_empty() { "/" } else { at })),
            text: s,
            json: false,
        }),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                leaves(item, at, out, field)?;
                at.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                // Chat parts' labels are not what was said.
                if matches!(k.as_str(), "type" | "role") {
                    continue;
                }
                let len = at.len();
                at.push('/');
                at.push_str(&escape(k));
                leaves(item, at, out, field)?;
                at.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_and_arguments_become_parts_and_come_back_redacted() {
        let c = Content::of(
            None,
            Some(json!([
                {"role": "system", "content": "be nice"},
                {"role": "user", "content": [{"type": "text", "text": "mail a@x.io"}]}
            ])),
            None,
        )
        .unwrap();
        let parts = c.parts(false).unwrap();
        let paths: Vec<&str> = parts.iter().map(|p| p.path.as_deref().unwrap()).collect();
        assert_eq!(paths, ["messages/0/content", "messages/1/content/0/text"]);
        let back = c.with_redacted(&parts, &[None, Some("mail [EMAIL_1]".into())]);
        assert_eq!(back[1]["content"][0]["text"], "mail [EMAIL_1]");
        assert_eq!(back[0]["content"], "be nice");

        let a = Content::of(None, None, Some(json!({"q/x": ["k1", {"n": 3, "s": "v"}]}))).unwrap();
        let parts = a.parts(false).unwrap();
        let paths: Vec<&str> = parts.iter().map(|p| p.path.as_deref().unwrap()).collect();
        assert_eq!(paths, ["arguments/q~1x/0", "arguments/q~1x/1/s"]);
        let back = a.with_redacted(&parts, &[Some("K".into()), None]);
        assert_eq!(back, json!({"q/x": ["K", {"n": 3, "s": "v"}]}));

        let t = Content::of(Some("hello".into()), None, None).unwrap();
        let parts = t.parts(true).unwrap();
        assert!(parts[0].json && parts[0].path.is_none());
        assert_eq!(
            t.with_redacted(&parts, &[Some("[X_1]".into())]),
            json!("[X_1]")
        );
        let s = Content::of(None, None, Some(json!("just a string"))).unwrap();
        let parts = s.parts(false).unwrap();
        assert_eq!(s.with_redacted(&parts, &[Some("R".into())]), json!("R"));
    }

    #[test]
    fn one_content_is_required_and_bounded() {
        assert!(Content::of(None, None, None).is_err());
        assert!(Content::of(Some("a".into()), None, Some(json!({}))).is_err());
        assert!(Content::of(None, Some(json!({"role": "user"})), None).is_err());
        let no_content = Content::of(None, Some(json!([{"role": "user"}])), None).unwrap();
        let err = no_content.parts(false).unwrap_err();
        assert!(err.to_string().contains("messages[0].content"), "{err}");
        let many = Content::of(None, None, Some(json!(vec!["x"; MAX_PARTS + 5]))).unwrap();
        assert!(many.parts(false).is_err());
        let big = Content::of(Some("x".repeat(MAX_TEXT_BYTES + 1)), None, None).unwrap();
        assert!(big.parts(false).is_err());
    }
}
