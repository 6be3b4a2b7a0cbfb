//! Realistic agent traffic as OTLP requests: what one instrumented agent process exports.
//!
//! A request is one resource (the agent: service name, version, environment, department) with
//! `traces` traces of 4–6 spans each: the agent's root span, two or three model calls carrying
//! GenAI attributes (models, provider, token counts, a conversation, input and output messages
//! of a few hundred bytes) and tool calls. About 5 % of the traces fail.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};
use rand::Rng;

/// One agent of the simulated fleet.
#[derive(Clone, Debug)]
pub struct Agent {
    pub name: String,
    pub department: &'static str,
    pub environment: &'static str,
    pub version: &'static str,
    pub model: &'static str,
    pub provider: &'static str,
    /// Without input and output messages, as the OpenTelemetry GenAI instrumentations send
    /// by default (message capture is opt-in).
    pub lean: bool,
}

const FLEET: &[(&str, &str, &str)] = &[
    ("support", "gpt-4o", "openai"),
    ("sales", "claude-sonnet-4", "anthropic"),
    ("engineering", "gpt-4o-mini", "openai"),
    ("finance", "gemini-2.0-flash", "gcp.gemini"),
    ("operations", "mistral-small", "mistral_ai"),
    ("support", "claude-3-5-haiku", "anthropic"),
    ("engineering", "deepseek-chat", "deepseek"),
    ("sales", "llama-3.3-70b-versatile", "groq"),
];

/// The `n`th agent of the fleet (clients take one each).
pub fn agent(n: usize) -> Agent {
    let (department, model, provider) = FLEET[n % FLEET.len()];
    Agent {
        name: format!("bench-agent-{n}"),
        department,
        environment: if n % 3 == 2 { "staging" } else { "production" },
        version: if n.is_multiple_of(2) {
            "2.1.0"
        } else {
            "2.0.3"
        },
        model,
        provider,
        lean: false,
    }
}

fn s(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn i(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn random_id(rng: &mut impl Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.random()).collect()
}

const QUESTIONS: &[&str] = &[
    "My order #48213 arrived damaged, the box was crushed and two of the glasses are broken. Can I get a replacement shipped before Friday, or should I ask for a refund instead?",
    "Summarise the attached quarterly report for the board: revenue by region, the three largest cost increases and the hiring plan, in less than two hundred words.",
    "Review this pull request: it changes the retry policy of the payment client from exponential backoff to a fixed delay. Point out risks and missing tests.",
    "Draft a follow-up email to a prospect who attended yesterday's webinar on data pipelines and asked about pricing for teams of fifty engineers.",
];

const ANSWERS: &[&str] = &[
    "I am sorry about the damaged glasses. I have created replacement order #48214 with express shipping; it will arrive on Thursday. You do not need to return the broken items.",
    "Revenue grew 12% to $48.2M, led by EMEA (+19%). Cloud spend, contractor fees and travel rose most. The plan adds 34 engineers and 8 sales roles by Q3.",
    "A fixed delay removes jitter, so clients that fail together retry together. Keep exponential backoff with full jitter, and add a test for the maximum retry budget.",
];

/// One OTLP request: `traces` traces of `agent`, starting within the last minute.
pub fn request(rng: &mut impl Rng, agent: &Agent, traces: usize) -> ExportTraceServiceRequest {
    let now = now_nanos();
    let mut spans = Vec::with_capacity(traces * 5);
    for _ in 0..traces {
        trace(rng, agent, now, &mut spans);
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    s("service.name", agent.name.clone()),
                    s("service.version", agent.version),
                    s("deployment.environment.name", agent.environment),
                    s("department", agent.department),
                    s("telemetry.sdk.language", "python"),
                    s("telemetry.sdk.name", "opentelemetry"),
                    s("telemetry.sdk.version", "1.38.0"),
                    s("host.name", format!("{}-7d9f8c6b5-x2k4p", agent.name)),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "opentelemetry.instrumentation.openai_v2".into(),
                    version: "2.1b0".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Moves each request's root spans to the next request (the last keeps its own), so every
/// trace but the last request's arrives in two: its children, then its root.
pub fn roots_one_request_late(requests: &mut [ExportTraceServiceRequest]) {
    fn spans(r: &mut ExportTraceServiceRequest) -> &mut Vec<Span> {
        &mut r.resource_spans[0].scope_spans[0].spans
    }
    for i in (1..requests.len()).rev() {
        let (earlier, later) = requests.split_at_mut(i);
        let from = spans(&mut earlier[i - 1]);
        let (roots, children): (Vec<Span>, Vec<Span>) = std::mem::take(from)
            .into_iter()
            .partition(|s| s.parent_span_id.is_empty());
        *from = children;
        spans(&mut later[0]).extend(roots);
    }
}

/// Appends one trace of 4–6 spans (children first, as exporters send them).
fn trace(rng: &mut impl Rng, agent: &Agent, now: u64, out: &mut Vec<Span>) {
    const MS: u64 = 1_000_000;
    let trace_id = random_id(rng, 16);
    let root_id = random_id(rng, 8);
    let total_spans = rng.random_range(4..=6);
    let calls = if total_spans == 4 { 2 } else { 3 };
    let start = now - rng.random_range(1_000..60_000) * MS;
    let failed = rng.random::<f64>() < 0.05;
    let conversation = format!("conv-{}", rng.random_range(0..5_000));
    let mut t = start + rng.random_range(5..40) * MS;
    for c in 0..total_spans - 1 {
        let child_id = random_id(rng, 8);
        if c < calls {
            let input = rng.random_range(300..2_500);
            let output = rng.random_range(40..600);
            let end = t + (250 + output as u64 * rng.random_range(8..18)) * MS;
            let error = failed && c == calls - 1;
            let question = QUESTIONS[rng.random_range(0..QUESTIONS.len())];
            let answer = ANSWERS[rng.random_range(0..ANSWERS.len())];
            let mut attributes = vec![
                s("gen_ai.operation.name", "chat"),
                s("gen_ai.provider.name", agent.provider),
                s("gen_ai.request.model", agent.model),
                s("gen_ai.response.model", agent.model),
                s(
                    "gen_ai.response.id",
                    format!("chatcmpl-{:016x}", rng.random::<u64>()),
                ),
                s("gen_ai.response.finish_reasons", "stop"),
                i("gen_ai.request.max_tokens", 1024),
                i("gen_ai.usage.input_tokens", input),
                i("gen_ai.usage.output_tokens", output),
                s("gen_ai.conversation.id", conversation.clone()),
                s("server.address", "api.example.com"),
                i("server.port", 443),
            ];
            if !agent.lean {
                attributes.extend([
                s(
                    "gen_ai.input.messages",
                    serde_json::json!([
                        {"role": "system", "parts": [{"type": "text", "content": "You are a helpful assistant for Acme."}]},
                        {"role": "user", "parts": [{"type": "text", "content": question}]}
                    ])
                    .to_string(),
                    ),
                    s(
                    "gen_ai.output.messages",
                    serde_json::json!([
                        {"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}
                    ])
                    .to_string(),
                )
                ]);
            }
            if c > 0 {
                attributes.push(i("gen_ai.usage.cache_read.input_tokens", input / 2));
            }
            if error {
                attributes.push(s("error.type", "timeout"));
            }
            out.push(Span {
                trace_id: trace_id.clone(),
                span_id: child_id,
                parent_span_id: root_id.clone(),
                name: format!("chat {}", agent.model),
                kind: 3,
                start_time_unix_nano: t,
                end_time_unix_nano: end,
                attributes,
                status: error.then(|| Status {
                    code: status::StatusCode::Error as i32,
                    message: "the model call timed out".into(),
                }),
                ..Default::default()
            });
            t = end + rng.random_range(5..80) * MS;
        } else {
            let end = t + rng.random_range(20..400) * MS;
            out.push(Span {
                trace_id: trace_id.clone(),
                span_id: child_id,
                parent_span_id: root_id.clone(),
                name: "execute_tool search_orders".into(),
                kind: 1,
                start_time_unix_nano: t,
                end_time_unix_nano: end,
                attributes: vec![
                    s("gen_ai.operation.name", "execute_tool"),
                    s("gen_ai.tool.name", "search_orders"),
                    s(
                        "gen_ai.tool.call.id",
                        format!("call_{:012x}", rng.random::<u64>()),
                    ),
                ],
                ..Default::default()
            });
            t = end;
        }
    }
    out.push(Span {
        trace_id,
        span_id: root_id,
        name: format!("invoke_agent {}", agent.name),
        kind: 1,
        start_time_unix_nano: start,
        end_time_unix_nano: t + rng.random_range(5..30) * MS,
        attributes: vec![
            s("gen_ai.operation.name", "invoke_agent"),
            s("gen_ai.agent.name", agent.name.clone()),
            s("gen_ai.conversation.id", conversation),
            s("user.id", format!("user-{}", rng.random_range(1..400))),
        ],
        status: failed.then(|| Status {
            code: status::StatusCode::Error as i32,
            message: "the agent failed".into(),
        }),
        ..Default::default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn spans(r: &ExportTraceServiceRequest) -> &[Span] {
        &r.resource_spans[0].scope_spans[0].spans
    }

    #[test]
    fn split_traces_keep_every_span_and_send_each_root_one_request_later() {
        let mut rng = StdRng::seed_from_u64(1);
        let agent = agent(0);
        let whole: Vec<_> = (0..4).map(|_| request(&mut rng, &agent, 3)).collect();
        let mut split = whole.clone();
        roots_one_request_late(&mut split);
        let count =
            |rs: &[ExportTraceServiceRequest]| -> usize { rs.iter().map(|r| spans(r).len()).sum() };
        assert_eq!(count(&split), count(&whole));
        for (i, r) in whole.iter().enumerate() {
            for s in spans(r) {
                let late = s.parent_span_id.is_empty() && i + 1 < whole.len();
                let at = if late { i + 1 } else { i };
                assert!(
                    spans(&split[at]).iter().any(|t| t.span_id == s.span_id),
                    "span of request {i} in request {at}"
                );
            }
        }
        assert!(spans(&split[0])
            .iter()
            .all(|s| !s.parent_span_id.is_empty()));
    }
}
