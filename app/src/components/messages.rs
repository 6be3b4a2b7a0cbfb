//! GenAI messages as people read them: a trace's spans and a session's turns.

use leptos::prelude::*;
use serde_json::Value;

/// GenAI messages, readably: each message's role and its parts (text, tool calls and their
/// results); anything else as formatted JSON.
#[component]
pub fn Messages(value: Value) -> impl IntoView {
    let messages: Vec<Value> = match &value {
        Value::Array(items) if items.iter().all(Value::is_object) => items.clone(),
        Value::Object(_) => vec![value.clone()],
        _ => Vec::new(),
    };
    if messages.is_empty() {
        let text = match &value {
            Value::String(s) => s.clone(),
            other => serde_json::to_string_pretty(other).unwrap_or_default(),
        };
        return view! { <div class="messages"><pre class="message-text">{text}</pre></div> }
            .into_any();
    }
    view! {
        <div class="messages" data-testid="messages">
            {messages.into_iter().map(|m| {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("message").to_owned();
                let parts = message_parts(&m);
                view! {
                    <div class="message" data-role=role.clone()>
                        <span class="message-role">{role.clone()}</span>
                        {parts.into_iter().map(|(label, text)| view! {
                            <div class="message-part">
                                {label.map(|l| view! { <span class="muted">{l}</span> })}
                                <pre class="message-text">{text}</pre>
                            </div>
                        }).collect_view()}
                    </div>
                }
            }).collect_view()}
        </div>
    }
    .into_any()
}

/// The readable parts of one message: `(label, text)`.
fn message_parts(m: &Value) -> Vec<(Option<String>, String)> {
    let part = |p: &Value| -> (Option<String>, String) {
        let kind = p.get("type").and_then(Value::as_str).unwrap_or("text");
        match kind {
            "text" | "reasoning" => (
                (kind == "reasoning").then(|| "reasoning".to_owned()),
                p.get("content")
                    .or_else(|| p.get("text"))
                    .map(compact_json)
                    .unwrap_or_default(),
            ),
            "tool_call" => (
                Some(format!(
                    "tool call {}",
                    p.get("name").and_then(Value::as_str).unwrap_or("")
                )),
                p.get("arguments")
                    .map(|a| serde_json::to_string_pretty(a).unwrap_or_default())
                    .unwrap_or_default(),
            ),
            "tool_call_response" => (
                Some("tool result".to_owned()),
                p.get("response")
                    .or_else(|| p.get("result"))
                    .map(compact_json)
                    .unwrap_or_default(),
            ),
            other => (
                Some(other.to_owned()),
                serde_json::to_string_pretty(p).unwrap_or_default(),
            ),
        }
    };
    match (m.get("parts"), m.get("content")) {
        (Some(Value::Array(parts)), _) => parts.iter().map(part).collect(),
        (_, Some(Value::String(s))) => vec![(None, s.clone())],
        (_, Some(Value::Array(parts))) => parts.iter().map(part).collect(),
        _ => vec![(None, serde_json::to_string_pretty(m).unwrap_or_default())],
    }
}

fn compact_json(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genai_messages_read_as_role_and_text() {
        let m = serde_json::json!({"role": "assistant", "parts": [
            {"type": "text", "content": "hello"},
            {"type": "tool_call", "name": "search", "arguments": {"q": "x"}}
        ]});
        let parts = message_parts(&m);
        assert_eq!(parts[0], (None, "hello".to_owned()));
        assert_eq!(parts[1].0.as_deref(), Some("tool call search"));
        let old = serde_json::json!({"role": "user", "content": "hi"});
        assert_eq!(message_parts(&old), vec![(None, "hi".to_owned())]);
    }
}
