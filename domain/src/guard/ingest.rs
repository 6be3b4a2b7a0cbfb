//! Redaction at ingest: when a workspace attached a policy to ingestion, each span's input
//! and output messages, string attributes, status message and user id are run through it
//! before the span is stored — what a `redact` (or `block`) rule finds is replaced by its
//! placeholder in the span itself, so the raw value never reaches PostgreSQL, a cache or an
//! export. A span with findings leaves a decision (source `ingest`, its trace and span named).

use argus_types::{GuardAction, GuardStage, GuardViolation};
use chrono::Utc;
use serde_json::Value;

use super::decisions::Pending;
use super::engine::Part;
use super::policies::{self, Loaded};
use crate::ingest::model::SpanRecord;
use crate::tenancy::WorkspaceId;
use crate::{Result, Services};

/// Strings shorter than this hold nothing a check finds (the shortest email or key is longer).
const MIN_TEXT: usize = 6;
/// The most strings of one span that are checked (the rest are stored as sent: the ingest
/// limits keep attributes and messages bounded anyway).
const MAX_STRINGS: usize = 2_000;

/// Every string of `v` with its JSON Pointer below `field`.
fn strings<'a>(v: &'a Value, at: &mut String, field: &str, out: &mut Vec<(String, &'a str)>) {
    if out.len() >= MAX_STRINGS {
        return;
    }
    match v {
        Value::String(s) if s.len() >= MIN_TEXT => {
            out.push((format!("{field}{at}"), s.as_str()));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                strings(item, at, field, out);
                at.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let len = at.len();
                at.push('/');
                at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                strings(item, at, field, out);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

fn put(root: &mut Option<Value>, pointer: &str, new: String) {
    if let Some(root) = root {
        if pointer.is_empty() {
            *root = Value::String(new);
        } else if let Some(slot) = root.pointer_mut(pointer) {
            *slot = Value::String(new);
        }
    }
}

/// Redacts one span in place with `policy`; answers the decision to record when something
/// was found (`None`: nothing).
pub fn redact_span(
    policy: &Loaded,
    workspace: WorkspaceId,
    span: &mut SpanRecord,
) -> Option<Pending> {
    let engine = &policy.engine;
    if !engine.applies(&span.dims.agent, &span.dims.environment) {
        return None;
    }
    let started = std::time::Instant::now();
    // (stage, where, pointer, text) for every string worth checking.
    let mut input: Vec<(String, &str)> = Vec::new();
    if let Some(v) = &span.input {
        strings(v, &mut String::new(), "input", &mut input);
    }
    strings(
        &span.attributes,
        &mut String::new(),
        "attributes",
        &mut input,
    );
    if let Some(m) = span
        .status_message
        .as_deref()
        .filter(|m| m.len() >= MIN_TEXT)
    {
        input.push(("status_message".into(), m));
    }
    if let Some(u) = span.user_id.as_deref().filter(|u| u.len() >= MIN_TEXT) {
        input.push(("user_id".into(), u));
    }
    let mut output: Vec<(String, &str)> = Vec::new();
    if let Some(v) = &span.output {
        strings(v, &mut String::new(), "output", &mut output);
    }
    let mut violations: Vec<GuardViolation> = Vec::new();
    let mut replace: Vec<(String, String)> = Vec::new();
    let mut would = GuardAction::Allow;
    let mut stage_of_first = None;
    for (stage, texts) in [(GuardStage::Input, &input), (GuardStage::Output, &output)] {
        if texts.is_empty() {
            continue;
        }
        let parts: Vec<Part<'_>> = texts
            .iter()
            .map(|(path, text)| Part {
                path: Some(path.clone()),
                text,
                json: false,
            })
            .collect();
        let d = engine.run_for_storage(stage, &parts);
        if d.violations.is_empty() {
            continue;
        }
        stage_of_first.get_or_insert(stage);
        would = would.max(d.would);
        for v in &d.violations {
            violations.push(GuardViolation {
                check: v.finding.check.as_str().to_owned(),
                kind: v.finding.kind.clone(),
                start: v.finding.start,
                end: v.finding.end,
                score: v.finding.score,
                action: v.action,
                path: parts.get(v.part).and_then(|p| p.path.clone()),
            });
        }
        if !d.shadow {
            for (part, new) in parts.iter().zip(d.redacted) {
                if let (Some(new), Some(path)) = (new, &part.path) {
                    replace.push((path.clone(), new));
                }
            }
        }
    }
    let stage = stage_of_first?;
    for (path, new) in replace {
        let (field, pointer) = path
            .split_once('/')
            .map_or((path.as_str(), ""), |(f, p)| (f, p));
        let pointer = if pointer.is_empty() {
            String::new()
        } else {
            format!("/{pointer}")
        };
        match field {
            "input" => put(&mut span.input, &pointer, new),
            "output" => put(&mut span.output, &pointer, new),
            "attributes" => {
                if let Some(slot) = span.attributes.pointer_mut(&pointer) {
                    *slot = Value::String(new);
                }
            }
            "status_message" => span.status_message = Some(new),
            "user_id" => span.user_id = Some(new),
            _ => {}
        }
    }
    let shadow = engine.is_shadow();
    Some(Pending {
        workspace,
        at: Utc::now(),
        policy_id: policy.id,
        policy_name: policy.name.clone(),
        policy_version: policy.version,
        source: "ingest",
        stage,
        agent: span.dims.agent.clone(),
        environment: span.dims.environment.clone(),
        // What storage did: the values were replaced (or, in shadow mode, kept).
        action: if shadow {
            GuardAction::Allow
        } else {
            would.min(GuardAction::Redact)
        },
        would,
        shadow,
        violations,
        excerpt: None,
        trace_id: Some(span.trace_id.clone()),
        span_id: Some(span.span_id.clone()),
        duration_us: i32::try_from(started.elapsed().as_micros()).unwrap_or(i32::MAX),
    })
}

/// Redacts the spans of an ingest request with the workspace's ingest policy, if it has one,
/// and records a decision for each span with findings.
pub async fn redact_spans(
    services: &Services,
    workspace: WorkspaceId,
    spans: &mut [SpanRecord],
) -> Result<()> {
    let Some(policy) = policies::for_ingest(services, workspace).await? else {
        return Ok(());
    };
    for span in spans.iter_mut() {
        if let Some(decision) = redact_span(&policy, workspace, span) {
            services.guard_decisions.record(decision);
        }
    }
    Ok(())
}
