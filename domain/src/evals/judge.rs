//! LLM-as-judge: the workspace's judge (an OpenAI-compatible chat endpoint; its API key sealed at
//! rest and never shown again), the prompt a judge evaluator fills in, the call with its failure
//! kinds (timeouts, 429 and 5xx are retried; anything else fails the job with the reason), the
//! verdict parsed into a score, and what the call cost.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use argus_types::{JudgeSettings, ScoreConfig, ScoreType};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgConnection;
use url::Url;

use super::rules::Subject;
use crate::identity::UserId;
use crate::ingest::model::Usage;
use crate::pricing::Pricing;
use crate::sealed::Sealer;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// The most of a judge's reply read.
const MAX_REPLY_BYTES: usize = 1 << 20;
/// The most of a subject's text put into a prompt (characters per placeholder).
const MAX_FIELD_CHARS: usize = 20_000;
const DEFAULT_TIMEOUT_MS: i32 = 30_000;

/// The judge client this process shares: one HTTP connection pool, the sealer for keys, and
/// whether endpoints on private networks are allowed.
#[derive(Clone, Debug)]
pub struct Judges {
    http: reqwest::Client,
    pub sealer: Sealer,
    pub allow_private: bool,
}

impl Judges {
    /// `allow_private`: endpoints on loopback and private networks (a local model server) are
    /// allowed; otherwise names that resolve there are refused (no requests to the metadata
    /// service or the database from a workspace's settings).
    pub fn new(key: &[u8; 32], allow_private: bool) -> Judges {
        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("argus-judge/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(60));
        if !allow_private {
            http = http.dns_resolver(Arc::new(PublicOnly));
        }
        Judges {
            http: http.build().expect("the judge's HTTP client builds"),
            sealer: Sealer::new(key),
            allow_private,
        }
    }
}

/// An address a workspace's judge may not reach unless the operator allows private networks.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [.., a, b] = seg;
                let v4 = std::net::Ipv4Addr::from(((a as u32) << 16) | b as u32);
                return is_private(IpAddr::V4(v4));
            }
            let first = seg[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Resolves names to public addresses only (judges and alert webhooks).
pub(crate) struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_private(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address (private networks are not allowed for \
                     judges and webhooks; the operator can allow them with \
                     ARGUS_JUDGE_ALLOW_PRIVATE_NETWORKS or ARGUS_WEBHOOK_ALLOW_PRIVATE_NETWORKS)"
                )
                .into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The judge as an admin sets it.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct JudgeForm {
    /// `https://api.openai.com/v1`, `http://localhost:11434/v1`, …
    pub base_url: String,
    pub model: String,
    /// Left blank: the stored key is kept. `-`: the endpoint takes no key.
    pub api_key: Option<String>,
    /// How long one call may take (default 30,000).
    pub timeout_ms: Option<String>,
}

/// A base URL an admin may set: http(s), a host, no credentials, no query; a literal private
/// address only when allowed.
pub fn clean_base_url(raw: &str, allow_private: bool) -> Result<Url> {
    let raw = raw.trim().trim_end_matches('/');
    let bad = |why: &str| Error::invalid_input("base_url", why.to_owned());
    if raw.is_empty() {
        return Err(Error::MissingField {
            field: "base_url".into(),
        });
    }
    if raw.len() > 500 {
        return Err(bad("at most 500 characters"));
    }
    let url = Url::parse(raw).map_err(|e| bad(&format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("http:// or https://"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "no user or password in the URL; put the key in api_key",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("no query or fragment"));
    }
    let private_literal = match url.host() {
        None => return Err(bad("a host is needed")),
        Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
    };
    if private_literal && !allow_private {
        return Err(bad(
            "a private or loopback address; the operator can allow them with \
             ARGUS_JUDGE_ALLOW_PRIVATE_NETWORKS=true",
        ));
    }
    Ok(url)
}

type SettingsRow = (String, String, Option<String>, i32, DateTime<Utc>);

/// The workspace's judge (never its key).
pub async fn settings(services: &Services, workspace: WorkspaceId) -> Result<JudgeSettings> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let row: Option<SettingsRow> = sqlx::query_as(
        "SELECT base_url, model, key_hint, timeout_ms, updated_at FROM judges \
         WHERE workspace_id = $1",
    )
    .bind(workspace.0)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(match row {
        None => JudgeSettings {
            timeout_ms: DEFAULT_TIMEOUT_MS,
            ..JudgeSettings::default()
        },
        Some((base_url, model, key_hint, timeout_ms, at)) => JudgeSettings {
            configured: true,
            base_url,
            model,
            key_hint,
            timeout_ms,
            updated_at: Some(at),
        },
    })
}

/// Sets the workspace's judge. The key is sealed before it is stored; a blank key keeps the
/// stored one.
pub async fn set(
    services: &Services,
    workspace: WorkspaceId,
    by: Option<UserId>,
    form: &JudgeForm,
) -> Result<JudgeSettings> {
    let judges = &services.judges;
    let url = clean_base_url(&form.base_url, judges.allow_private)?;
    let model = super::configs::clean_name("model", &form.model)?;
    let timeout_ms = match form.timeout_ms.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_TIMEOUT_MS,
        Some(t) => t
            .parse::<i32>()
            .ok()
            .filter(|t| (100..=300_000).contains(t))
            .ok_or_else(|| Error::invalid_input("timeout_ms", "milliseconds from 100 to 300000"))?,
    };
    // None: keep; Some(None): no key; Some(Some(k)): this key.
    let key: Option<Option<String>> = match form.api_key.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("-") => Some(None),
        Some(k) if k.len() > 1_000 || k.chars().any(char::is_control) => {
            return Err(Error::invalid_input(
                "api_key",
                "at most 1,000 characters, no control characters",
            ))
        }
        Some(k) => Some(Some(k.to_owned())),
    };
    let sealed = key
        .as_ref()
        .map(|k| k.as_ref().map(|k| judges.sealer.seal(workspace, k)));
    let hint = key.as_ref().map(|k| {
        k.as_ref().map(|k| {
            let tail: String = k
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("…{tail}")
        })
    });
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    sqlx::query(
        "INSERT INTO judges (workspace_id, base_url, model, api_key, key_hint, timeout_ms, \
         updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (workspace_id) DO UPDATE SET base_url = excluded.base_url, \
           model = excluded.model, timeout_ms = excluded.timeout_ms, \
           api_key = CASE WHEN $8 THEN excluded.api_key ELSE judges.api_key END, \
           key_hint = CASE WHEN $8 THEN excluded.key_hint ELSE judges.key_hint END, \
           updated_by = excluded.updated_by, updated_at = now()",
    )
    .bind(workspace.0)
    .bind(url.as_str().trim_end_matches('/'))
    .bind(&model)
    .bind(sealed.clone().flatten())
    .bind(hint.clone().flatten())
    .bind(timeout_ms)
    .bind(by.map(|u| u.0))
    .bind(key.is_some())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    settings(services, workspace).await
}

/// The judge a worker calls, its key opened.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub url: String,
    pub model: String,
    key: Option<String>,
    pub timeout: Duration,
}

/// The workspace's judge for a worker: `Err` with the reason when it cannot be called.
pub async fn endpoint(
    conn: &mut PgConnection,
    judges: &Judges,
    workspace: WorkspaceId,
) -> Result<std::result::Result<Endpoint, String>> {
    let row: Option<(String, String, Option<Vec<u8>>, i32)> = sqlx::query_as(
        "SELECT base_url, model, api_key, timeout_ms FROM judges WHERE workspace_id = $1",
    )
    .bind(workspace.0)
    .fetch_optional(conn)
    .await?;
    let Some((base, model, sealed, timeout_ms)) = row else {
        return Ok(Err(
            "no judge model is set up (Evaluations → Judge model)".into()
        ));
    };
    let key = match sealed {
        None => None,
        Some(s) => match judges.sealer.open(workspace, &s) {
            Some(k) => Some(k),
            None => {
                return Ok(Err(
                    "the judge's API key cannot be opened with this server's key \
                               (ARGUS_ENCRYPTION_KEY or ARGUS_JWT_SECRET changed): enter it again"
                        .into(),
                ))
            }
        },
    };
    if let Err(e) = clean_base_url(&base, judges.allow_private) {
        return Ok(Err(format!("the judge's base URL is refused: {e}")));
    }
    Ok(Ok(Endpoint {
        url: format!("{}/chat/completions", base.trim_end_matches('/')),
        model,
        key,
        timeout: Duration::from_millis(timeout_ms.max(100) as u64),
    }))
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push_str(" […]");
    out
}

/// The prompt with `{{input}}`, `{{output}}`, `{{expected}}` and `{{metadata.KEY}}` filled in
/// (an unknown key: empty). Values are put in as they are; the template is not re-read.
pub fn render(template: &str, s: &Subject) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let name = after[..close].trim();
        let value = match name {
            "input" => s.input.clone().unwrap_or_default(),
            "output" => s.output.clone().unwrap_or_default(),
            "expected" => s.expected.clone().unwrap_or_default(),
            _ => match name.strip_prefix("metadata.") {
                Some(key) => s
                    .metadata
                    .get(key)
                    .map(|v| match v {
                        Value::String(t) => t.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_default(),
                None => {
                    // Not a placeholder: kept as written.
                    out.push_str(&rest[open..open + 2 + close + 2]);
                    rest = &after[close + 2..];
                    continue;
                }
            },
        };
        out.push_str(&clip(&value, MAX_FIELD_CHARS));
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// What the reply must look like, told the judge, by the score's config.
fn answer_format(config: Option<&ScoreConfig>) -> String {
    let score = match config {
        Some(c) => match c.data_type {
            ScoreType::Numeric => match (c.min_value, c.max_value) {
                (Some(lo), Some(hi)) => format!("a number from {lo} to {hi}"),
                (Some(lo), None) => format!("a number of at least {lo}"),
                (None, Some(hi)) => format!("a number of at most {hi}"),
                _ => "a number".into(),
            },
            ScoreType::Boolean => "true or false".into(),
            ScoreType::Categorical => {
                let labels: Vec<String> = c
                    .categories
                    .iter()
                    .map(|c| format!("{:?}", c.label))
                    .collect();
                format!("one of {}", labels.join(", "))
            }
            ScoreType::Text => "a short text".into(),
        },
        None => "a number from 0 to 1 (1 is best)".into(),
    };
    format!(
        "You are an evaluator. Judge what the user shows you, as the instructions say. Answer \
         with one JSON object and nothing else: {{\"score\": <{score}>, \"explanation\": \
         \"<one or two sentences>\"}}"
    )
}

/// A call that did not give a verdict.
#[derive(Clone, Debug, PartialEq)]
pub enum CallError {
    /// A timeout, 429 or 5xx: tried again after 1, 2, 4 s.
    Transient(String),
    /// Anything else: the job fails with this reason.
    Permanent(String),
}

/// A verdict: the score's value, the explanation, and what the call cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub value: Value,
    pub explanation: Option<String>,
    pub model: String,
    pub usage: Usage,
    /// The cost the endpoint reported (`usage.cost`), if any.
    pub sent_cost: Option<f64>,
}

impl Verdict {
    /// USD, by the workspace's prices (the endpoint's own figure first); 0 when unpriced.
    pub fn cost(&self, pricing: &Pricing) -> f64 {
        pricing
            .price(
                self.sent_cost,
                Some(&self.model),
                None,
                &self.usage,
                Utc::now(),
            )
            .0
            .unwrap_or(0.0)
    }
}

/// Asks the judge.
pub async fn call(
    judges: &Judges,
    endpoint: &Endpoint,
    prompt: &str,
    config: Option<&ScoreConfig>,
) -> std::result::Result<Verdict, CallError> {
    let body = json!({
        "model": endpoint.model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": answer_format(config)},
            {"role": "user", "content": prompt},
        ],
    });
    let mut req = judges
        .http
        .post(&endpoint.url)
        .timeout(endpoint.timeout)
        .json(&body);
    if let Some(key) = &endpoint.key {
        req = req.bearer_auth(key);
    }
    let sent = req.send().await.map_err(|e| describe_send(&e, endpoint))?;
    let status = sent.status();
    let read = read_capped(sent).await;
    let bytes = match read {
        Ok(b) => b,
        Err(e) if e.is_timeout() => {
            return Err(CallError::Transient(format!(
                "the judge did not answer within {} ms",
                endpoint.timeout.as_millis()
            )))
        }
        Err(e) => {
            return Err(CallError::Transient(format!(
                "reading the judge's reply: {e}"
            )))
        }
    };
    if !status.is_success() {
        let detail = clip(String::from_utf8_lossy(&bytes).trim(), 200);
        let why = format!("the judge answered HTTP {}: {detail}", status.as_u16());
        return Err(if status.as_u16() == 429 || status.is_server_error() {
            CallError::Transient(why)
        } else {
            CallError::Permanent(why)
        });
    }
    parse_reply(&bytes, &endpoint.model).map_err(CallError::Permanent)
}

fn describe_send(e: &reqwest::Error, endpoint: &Endpoint) -> CallError {
    if e.is_timeout() {
        return CallError::Transient(format!(
            "the judge did not answer within {} ms",
            endpoint.timeout.as_millis()
        ));
    }
    // The chain says why (refused connection, DNS, TLS).
    let mut why = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        why = format!("{why}: {s}");
        source = s.source();
    }
    if e.is_connect() {
        CallError::Transient(format!("cannot reach the judge: {why}"))
    } else {
        CallError::Permanent(format!("the call to the judge failed: {why}"))
    }
}

async fn read_capped(mut res: reqwest::Response) -> reqwest::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = res.chunk().await? {
        let room = MAX_REPLY_BYTES.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<CompletionUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<Value>,
}

#[derive(Deserialize)]
struct CompletionUsage {
    #[serde(default)]
    prompt_tokens: i64,
    #[serde(default)]
    completion_tokens: i64,
    #[serde(default)]
    cost: Option<f64>,
}

/// A chat completion's verdict.
pub fn parse_reply(bytes: &[u8], asked_model: &str) -> std::result::Result<Verdict, String> {
    let completion: Completion = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "the judge's reply is not a chat completion ({e}): {}",
            clip(String::from_utf8_lossy(bytes).trim(), 200)
        )
    })?;
    let content = completion
        .choices
        .first()
        .and_then(|c| c.message.content.as_ref())
        .map(super::rules::text_of)
        .ok_or("the judge's reply has no message")?;
    let (value, explanation) = parse_verdict(&content)?;
    let usage = completion.usage.as_ref();
    Ok(Verdict {
        value,
        explanation,
        model: completion.model.unwrap_or_else(|| asked_model.to_owned()),
        usage: Usage {
            input: usage.map_or(0, |u| u.prompt_tokens.max(0)),
            output: usage.map_or(0, |u| u.completion_tokens.max(0)),
            ..Usage::default()
        },
        sent_cost: usage
            .and_then(|u| u.cost)
            .filter(|c| c.is_finite() && *c >= 0.0),
    })
}

/// The score and the explanation in the judge's answer: a JSON object (in a code fence or
/// among other words is fine) with `score` (or `value`, `verdict`, `label`) and `explanation`
/// (or `reason`, `reasoning`).
pub fn parse_verdict(content: &str) -> std::result::Result<(Value, Option<String>), String> {
    let not_a_verdict = || {
        format!(
            "the judge's answer is not a verdict (a JSON object with \"score\"): {}",
            clip(content.trim(), 200)
        )
    };
    let start = content.find('{').ok_or_else(not_a_verdict)?;
    let end = content.rfind('}').ok_or_else(not_a_verdict)?;
    if end < start {
        return Err(not_a_verdict());
    }
    let object: serde_json::Map<String, Value> =
        serde_json::from_str(&content[start..=end]).map_err(|_| not_a_verdict())?;
    let value = ["score", "value", "verdict", "label"]
        .iter()
        .find_map(|k| object.get(*k).filter(|v| !v.is_null()))
        .cloned()
        .ok_or_else(not_a_verdict)?;
    if !matches!(value, Value::Number(_) | Value::Bool(_) | Value::String(_)) {
        return Err(not_a_verdict());
    }
    let explanation = ["explanation", "reason", "reasoning"]
        .iter()
        .find_map(|k| object.get(*k))
        .map(|v| match v {
            Value::String(s) => s.trim().to_owned(),
            other => other.to_string(),
        })
        .filter(|s| !s.is_empty())
        .map(|s| clip(&s, 5_000));
    Ok((value, explanation))
}

/// The verdict's value in the score's type: `"yes"`/`"pass"` for a boolean, `"4"` for a
/// number, a label's case ignored.
pub fn coerce(value: Value, config: Option<&ScoreConfig>) -> Value {
    let Some(c) = config else { return value };
    match (c.data_type, &value) {
        (ScoreType::Boolean, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "pass" | "passed" | "1" => Value::Bool(true),
            "false" | "no" | "fail" | "failed" | "0" => Value::Bool(false),
            _ => value,
        },
        (ScoreType::Boolean, Value::Number(n)) => match n.as_f64() {
            Some(1.0) => Value::Bool(true),
            Some(0.0) => Value::Bool(false),
            _ => value,
        },
        (ScoreType::Numeric, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(value, Value::Number),
        (ScoreType::Numeric, Value::Bool(b)) => json!(if *b { 1 } else { 0 }),
        (ScoreType::Categorical, Value::String(s)) => c
            .categories
            .iter()
            .find(|cat| cat.label.eq_ignore_ascii_case(s.trim()))
            .map_or(value, |cat| Value::String(cat.label.clone())),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        let mut metadata = serde_json::Map::new();
        metadata.insert("agent".into(), json!("support-bot"));
        metadata.insert("turns".into(), json!(3));
        Subject {
            input: Some("Where is my order?".into()),
            output: Some("It ships {{tomorrow}}.".into()),
            expected: Some("A date".into()),
            metadata,
            ..Subject::default()
        }
    }

    #[test]
    fn a_template_is_filled_once() {
        let p = render(
            "Q: {{input}}\nA: {{ output }}\nWant: {{expected}} ({{metadata.agent}}, \
             {{metadata.turns}} turns, {{metadata.none}}) {{other}} {{",
            &subject(),
        );
        assert_eq!(
            p,
            "Q: Where is my order?\nA: It ships {{tomorrow}}.\nWant: A date (support-bot, 3 \
             turns, ) {{other}} {{"
        );
        assert!(super::super::rules::check_template("Rate {{output}}").is_ok());
        assert!(super::super::rules::check_template("Rate it").is_err());
        assert!(super::super::rules::check_template("  ").is_err());
    }

    #[test]
    fn verdicts_are_read_from_what_judges_write() {
        assert_eq!(
            parse_verdict(r#"{"score": 0.8, "explanation": "fine"}"#).unwrap(),
            (json!(0.8), Some("fine".into()))
        );
        assert_eq!(
            parse_verdict("Sure!\n```json\n{\"verdict\": \"pass\", \"reason\": \"ok\"}\n```")
                .unwrap(),
            (json!("pass"), Some("ok".into()))
        );
        assert!(parse_verdict("I think it is good.").is_err());
        assert!(parse_verdict(r#"{"explanation": "no score"}"#).is_err());
        assert!(parse_verdict(r#"{"score": [1]}"#).is_err());
        assert!(parse_verdict("} {").is_err());
        let reply = br#"{"model": "judge-1", "choices": [{"message": {"role": "assistant",
            "content": "{\"score\": true, \"explanation\": \"polite\"}"}}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 15}}"#;
        let v = parse_reply(reply, "asked").unwrap();
        assert_eq!(v.value, json!(true));
        assert_eq!(v.model, "judge-1");
        assert_eq!((v.usage.input, v.usage.output), (120, 15));
        assert!(parse_reply(b"<html>", "m")
            .unwrap_err()
            .contains("not a chat completion"));
        assert!(parse_reply(br#"{"choices": []}"#, "m").is_err());
    }

    #[test]
    fn values_take_the_configs_type() {
        let config = |data_type| ScoreConfig {
            id: uuid::Uuid::nil(),
            name: "x".into(),
            data_type,
            min_value: Some(0.0),
            max_value: Some(5.0),
            categories: vec![argus_types::Category {
                label: "Good".into(),
                value: Some(1.0),
            }],
            higher_is_better: Some(true),
            description: None,
            created_at: Utc::now(),
            archived_at: None,
        };
        let b = config(ScoreType::Boolean);
        assert_eq!(coerce(json!("Yes"), Some(&b)), json!(true));
        assert_eq!(coerce(json!(0), Some(&b)), json!(false));
        assert_eq!(
            coerce(json!("4"), Some(&config(ScoreType::Numeric))),
            json!(4.0)
        );
        assert_eq!(
            coerce(json!("good"), Some(&config(ScoreType::Categorical))),
            json!("Good")
        );
        assert_eq!(coerce(json!("maybe"), None), json!("maybe"));
        assert!(answer_format(Some(&config(ScoreType::Numeric))).contains("from 0 to 5"));
    }

    #[test]
    fn private_addresses_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/v1",
            "http://169.254.169.254/latest",
            "http://10.0.0.1/v1",
            "http://[::1]/v1",
            "http://[::ffff:192.168.1.1]/v1",
            "http://localhost:11434/v1",
            "http://100.64.0.1/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[fd00::1]/",
            "http://0.0.0.0/",
        ] {
            assert!(clean_base_url(url, false).is_err(), "{url}");
            assert!(clean_base_url(url, true).is_ok(), "{url}");
        }
        assert!(clean_base_url("https://api.openai.com/v1/", false).is_ok());
        assert!(clean_base_url("ftp://example.com", true).is_err());
        assert!(clean_base_url("https://user:pw@example.com", true).is_err());
        assert!(clean_base_url("https://example.com/v1?x=1", true).is_err());
        assert!(clean_base_url("", true).is_err());
    }
}
