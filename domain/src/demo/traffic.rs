//! The traffic: 30 days of agents' traces as OTLP requests, deterministic per day.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use super::DAYS;

struct Agent {
    name: &'static str,
    department: &'static str,
    model: &'static str,
    provider: &'static str,
    /// Relative traffic.
    weight: f64,
}

const AGENTS: &[Agent] = &[
    Agent {
        name: "support-bot",
        department: "support",
        model: "gpt-4o",
        provider: "openai",
        weight: 3.0,
    },
    Agent {
        name: "ticket-triage",
        department: "support",
        model: "gpt-4o-mini",
        provider: "openai",
        weight: 2.5,
    },
    Agent {
        name: "refund-agent",
        department: "support",
        model: "claude-sonnet-4",
        provider: "anthropic",
        weight: 1.0,
    },
    Agent {
        name: "faq-assistant",
        department: "support",
        model: "gemini-2.0-flash",
        provider: "gcp.gemini",
        weight: 2.0,
    },
    Agent {
        name: "sales-writer",
        department: "sales",
        model: "gemini-2.0-flash",
        provider: "gcp.gemini",
        weight: 1.5,
    },
    Agent {
        name: "lead-scorer",
        department: "sales",
        model: "gpt-4o-mini",
        provider: "openai",
        weight: 1.2,
    },
    Agent {
        name: "email-drafter",
        department: "sales",
        model: "claude-3-5-haiku",
        provider: "anthropic",
        weight: 1.0,
    },
    Agent {
        name: "crm-sync",
        department: "sales",
        model: "mistral-small",
        provider: "mistral_ai",
        weight: 0.6,
    },
    Agent {
        name: "code-reviewer",
        department: "engineering",
        model: "claude-sonnet-4",
        provider: "anthropic",
        weight: 1.4,
    },
    Agent {
        name: "incident-helper",
        department: "engineering",
        model: "gpt-4o",
        provider: "openai",
        weight: 0.5,
    },
    Agent {
        name: "docs-writer",
        department: "engineering",
        model: "llama-3.3-70b-versatile",
        provider: "groq",
        weight: 0.8,
    },
    Agent {
        name: "test-generator",
        department: "engineering",
        model: "deepseek-chat",
        provider: "deepseek",
        weight: 0.9,
    },
    Agent {
        name: "fin-analyst",
        department: "finance",
        model: "gpt-4o",
        provider: "openai",
        weight: 0.7,
    },
    Agent {
        name: "invoice-parser",
        department: "finance",
        model: "gemini-2.0-flash",
        provider: "gcp.gemini",
        weight: 1.1,
    },
    Agent {
        name: "forecast-bot",
        department: "finance",
        model: "claude-sonnet-4",
        provider: "anthropic",
        weight: 0.4,
    },
    Agent {
        name: "expense-checker",
        department: "finance",
        model: "gpt-4o-mini",
        provider: "openai",
        weight: 0.8,
    },
    Agent {
        name: "campaign-writer",
        department: "marketing",
        model: "gpt-4o",
        provider: "openai",
        weight: 0.9,
    },
    Agent {
        name: "seo-helper",
        department: "marketing",
        model: "mistral-large",
        provider: "mistral_ai",
        weight: 0.6,
    },
    Agent {
        name: "social-poster",
        department: "marketing",
        model: "gemini-2.0-flash",
        provider: "gcp.gemini",
        weight: 0.8,
    },
    Agent {
        name: "brand-checker",
        department: "marketing",
        model: "claude-3-5-haiku",
        provider: "anthropic",
        weight: 0.5,
    },
];

/// Traces per hour for an agent of weight 1 at the daily peak.
const PEAK_PER_HOUR: f64 = 2.2;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

fn i(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

fn id(parts: &str, len: usize) -> Vec<u8> {
    Sha256::digest(parts.as_bytes())[..len].to_vec()
}

fn nanos(t: DateTime<Utc>) -> u64 {
    t.timestamp_nanos_opt().unwrap_or(0).max(0) as u64
}

/// The first day of the demo window of [`DAYS`] days that ends at `until` (UTC): the window's
/// last day is the one `until` falls in (the day before, when `until` is a midnight).
pub fn first_day(until: DateTime<Utc>) -> NaiveDate {
    (until - Duration::nanoseconds(1)).date_naive() - Duration::days(DAYS - 1)
}

/// Load relative to the daily peak: quiet at night, high in the (UTC) afternoon, halved on
/// weekends.
fn load_factor(t: DateTime<Utc>) -> f64 {
    let hour = t.hour() as f64;
    let diurnal = 0.15 + 0.85 * (((hour - 14.0) / 24.0 * std::f64::consts::TAU).cos() * 0.5 + 0.5);
    let weekend = matches!(t.weekday(), Weekday::Sat | Weekday::Sun);
    diurnal * if weekend { 0.5 } else { 1.0 }
}

/// The OTLP requests of one demo day (one per agent and environment and hour with traffic),
/// without the traces that start at or after `until`. `index` is the day's position in the
/// window (0 = first), for the scripted events. A day's traces are the same whatever `until`.
pub fn day(date: NaiveDate, index: i64, until: DateTime<Utc>) -> Vec<ExportTraceServiceRequest> {
    let mut rng = StdRng::seed_from_u64(date.num_days_from_ce() as u64);
    let midnight = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight"));
    let release_day = DAYS / 2;
    let mut requests = Vec::new();
    for hour in 0..24 {
        let hour_start = midnight + Duration::hours(hour);
        let mut resource_spans = Vec::new();
        for agent in AGENTS {
            for (env, env_share) in [
                ("production", 0.8),
                ("staging", 0.15),
                ("development", 0.05),
            ] {
                let expected = PEAK_PER_HOUR * agent.weight * env_share * load_factor(hour_start);
                let count =
                    expected.floor() as usize + usize::from(rng.random::<f64>() < expected.fract());
                if count == 0 {
                    continue;
                }
                let released = index >= release_day || env != "production";
                let version = if released { "2.0.0" } else { "1.4.2" };
                let mut spans = Vec::new();
                for n in 0..count {
                    let start = hour_start + Duration::milliseconds(rng.random_range(0..3_600_000));
                    let key = format!("{date}/{}/{env}/{hour}/{n}", agent.name);
                    let made = trace(&mut rng, agent, env, start, &key, index, version);
                    if start < until {
                        spans.extend(made);
                    }
                }
                if spans.is_empty() {
                    continue;
                }
                resource_spans.push(ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![
                            s("service.name", agent.name),
                            s("service.version", version),
                            s("deployment.environment.name", env),
                            s("department", agent.department),
                        ],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "argus-demo".into(),
                            ..Default::default()
                        }),
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                });
            }
        }
        if !resource_spans.is_empty() {
            requests.push(ExportTraceServiceRequest { resource_spans });
        }
    }
    requests
}

/// One trace: the agent's root span, one to three model calls, maybe a tool call.
fn trace(
    rng: &mut StdRng,
    agent: &Agent,
    env: &str,
    start: DateTime<Utc>,
    key: &str,
    day_index: i64,
    version: &str,
) -> Vec<Span> {
    let trace_id = id(key, 16);
    let root_id = id(&format!("{key}/root"), 8);
    let hour = start.hour();
    // Scripted events.
    let support_incident =
        day_index == 9 && agent.department == "support" && (10..12).contains(&hour);
    let gemini_outage = day_index == 22 && agent.provider == "gcp.gemini" && hour == 15;
    let cost_spike = day_index == 18 && agent.name == "forecast-bot" && (9..12).contains(&hour);
    let error_rate = if gemini_outage {
        0.6
    } else if support_incident {
        0.4
    } else if version == "2.0.0" && env == "production" {
        0.04
    } else {
        0.05
    };
    let calls = rng.random_range(1..=3);
    let mut spans = Vec::new();
    let mut t = start + Duration::milliseconds(rng.random_range(5..40));
    let mut failed = false;
    for c in 0..calls {
        let tokens_scale = if cost_spike { 12.0 } else { 1.0 };
        let input = (rng.random_range(300.0..2500.0) * tokens_scale) as i64;
        let output = (rng.random_range(40.0..600.0) * tokens_scale) as i64;
        let latency_ms = 250
            + (output as f64 * rng.random_range(8.0..18.0)) as i64
            + if gemini_outage { 8_000 } else { 0 };
        let end = t + Duration::milliseconds(latency_ms);
        let error = rng.random::<f64>() < error_rate / calls as f64;
        failed |= error;
        let mut attributes = vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", agent.provider),
            s("gen_ai.request.model", agent.model),
            i("gen_ai.usage.input_tokens", input),
            i("gen_ai.usage.output_tokens", output),
        ];
        if agent.provider == "openai" && c > 0 {
            attributes.push(i("gen_ai.usage.cache_read.input_tokens", input / 2));
        }
        if error {
            attributes.push(s(
                "error.type",
                if gemini_outage { "503" } else { "timeout" },
            ));
        }
        spans.push(Span {
            trace_id: trace_id.clone(),
            span_id: id(&format!("{key}/chat/{c}"), 8),
            parent_span_id: root_id.clone(),
            name: format!("chat {}", agent.model),
            kind: 3,
            start_time_unix_nano: nanos(t),
            end_time_unix_nano: nanos(end),
            attributes,
            status: error.then(|| Status {
                code: status::StatusCode::Error as i32,
                message: "the model call failed".into(),
            }),
            ..Default::default()
        });
        t = end + Duration::milliseconds(rng.random_range(5..80));
        if rng.random::<f64>() < 0.35 {
            let tool_end = t + Duration::milliseconds(rng.random_range(20..400));
            spans.push(Span {
                trace_id: trace_id.clone(),
                span_id: id(&format!("{key}/tool/{c}"), 8),
                parent_span_id: root_id.clone(),
                name: "execute_tool lookup".into(),
                kind: 1,
                start_time_unix_nano: nanos(t),
                end_time_unix_nano: nanos(tool_end),
                attributes: vec![
                    s("gen_ai.operation.name", "execute_tool"),
                    s("gen_ai.tool.name", "lookup"),
                ],
                ..Default::default()
            });
            t = tool_end;
        }
    }
    let end = t + Duration::milliseconds(rng.random_range(5..30));
    let mut attributes = vec![
        s("gen_ai.operation.name", "invoke_agent"),
        s("gen_ai.agent.name", agent.name),
        s("user.id", &format!("user-{}", rng.random_range(1..400))),
    ];
    if agent.department == "support" {
        // Conversations of a few traces each.
        let conversation = rng.random_range(0..150);
        attributes.push(s(
            "gen_ai.conversation.id",
            &format!("conv-{}-{conversation}", start.date_naive()),
        ));
    }
    spans.push(Span {
        trace_id,
        span_id: root_id,
        name: format!("invoke_agent {}", agent.name),
        kind: 1,
        start_time_unix_nano: nanos(start),
        end_time_unix_nano: nanos(end),
        attributes,
        status: failed.then(|| Status {
            code: status::StatusCode::Error as i32,
            message: "the agent failed".into(),
        }),
        ..Default::default()
    });
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_deterministic_and_realistic() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        let end = Utc.from_utc_datetime(&date.and_hms_opt(23, 59, 59).unwrap());
        let a = day(date, 3, end);
        assert_eq!(a, day(date, 3, end), "same day, same requests");
        let spans: usize = a
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        assert!((1_000..20_000).contains(&spans), "{spans} spans a day");
    }

    fn spans(requests: &[ExportTraceServiceRequest]) -> Vec<&Span> {
        requests
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .collect()
    }

    #[test]
    fn a_window_that_ends_now_has_traffic_up_to_now_and_none_after() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 22, 59, 30).unwrap();
        let first = first_day(now);
        assert_eq!(
            first,
            NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
            "30 days, today last"
        );
        let midnight = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        assert_eq!(
            first_day(midnight),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
        );
        let today = now.date_naive();
        let cut = day(today, DAYS - 1, now);
        let whole = day(today, DAYS - 1, now + Duration::days(1));
        let (cut, whole) = (spans(&cut), spans(&whole));
        // Traces are cut whole (a child may start a moment after `now`), and the ones kept are
        // the same traces as in the uncut day.
        let roots: Vec<_> = cut.iter().filter(|s| s.parent_span_id.is_empty()).collect();
        assert!(roots.iter().all(|s| s.start_time_unix_nano < nanos(now)));
        assert!(roots
            .iter()
            .any(|s| s.start_time_unix_nano >= nanos(now - Duration::hours(1))));
        assert!(cut.len() < whole.len());
        assert!(cut.iter().all(|s| whole.contains(s)));
    }
}
