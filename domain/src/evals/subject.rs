//! What an evaluation reads: a span's or a whole trace's input, output, latency, cost, tool
//! failures, and (for a judge) its attributes and expected output — from the span attributes,
//! or from the dataset item the trace ran (`dataset.item_id`).

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::rules::{self, Subject};
use crate::tenancy::WorkspaceId;
use crate::Result;

/// The span attribute naming the dataset item a trace ran (see `experiments`).
pub const ITEM_ATTRIBUTE: &str = "dataset.item_id";

pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    v.map(rules::text_of).filter(|t| !t.is_empty())
}

/// Whether a span is a failed tool call (what the `tool_calls_succeed` rule looks for).
pub(crate) fn tool_failed(operation: Option<&str>, error: bool) -> bool {
    operation == Some("execute_tool") && error
}

/// What a judge's `{{metadata.*}}` and `{{expected}}` read: the span's attributes and its
/// dimensions.
pub(crate) fn metadata(
    attributes: Option<Value>,
    dims: [(&str, Option<String>); 4],
) -> (serde_json::Map<String, Value>, Option<String>) {
    let mut map = match attributes {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let expected = ["argus.expected_output", "expected_output"]
        .iter()
        .find_map(|k| map.get(*k))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => rules::text_of(other),
        })
        .filter(|t| !t.is_empty());
    for (k, v) in dims {
        if let Some(v) = v {
            map.insert(k.to_owned(), Value::String(v));
        }
    }
    (map, expected)
}

/// A judged subject without an expected output, run on a dataset item (its
/// `dataset.item_id` attribute), takes the item's expected output.
pub(crate) async fn expected_from_dataset(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    subject: &mut Subject,
) -> Result<()> {
    if subject.expected.is_some() {
        return Ok(());
    }
    let key = ITEM_ATTRIBUTE;
    let item = subject
        .metadata
        .get(key)
        .or_else(|| subject.metadata.get("metadata").and_then(|m| m.get(key)))
        .and_then(Value::as_str)
        .and_then(|v| Uuid::parse_str(v.trim()).ok());
    if let Some(item) = item {
        subject.expected = sqlx::query_scalar(
            "SELECT expected_output FROM dataset_items WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace.0)
        .bind(item)
        .fetch_optional(conn)
        .await?
        .flatten();
    }
    Ok(())
}

/// A whole trace: its latency and cost, the first input and the last output of its spans
/// (the root's when it has them), whether a tool call failed, and its root's attributes.
pub(crate) async fn trace_subject(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    trace: &str,
    with_metadata: bool,
) -> Result<Option<Subject>> {
    type Head = (
        i64,
        Option<f64>,
        String,
        String,
        String,
        Option<String>,
        Option<Value>,
    );
    let head: Option<Head> = sqlx::query_as(
        "SELECT t.latency_us, t.cost_usd::float8, t.agent, t.environment, t.version, \
         (SELECT model FROM spans WHERE workspace_id = $1 AND trace_id = $2 AND model IS NOT NULL \
          ORDER BY start_time LIMIT 1), \
         CASE WHEN $3 THEN (SELECT attributes FROM spans WHERE workspace_id = $1 \
          AND trace_id = $2 ORDER BY parent_span_id IS NOT NULL, start_time LIMIT 1) END \
         FROM traces t WHERE t.workspace_id = $1 AND t.trace_id = $2",
    )
    .bind(workspace.0)
    .bind(trace)
    .bind(with_metadata)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((latency_us, cost, agent, environment, version, model, attributes)) = head else {
        return Ok(None);
    };
    let (input, output, tool_failed): (Option<Value>, Option<Value>, bool) = sqlx::query_as(
        "SELECT \
           (SELECT input FROM spans WHERE workspace_id = $1 AND trace_id = $2 AND input IS NOT NULL \
            ORDER BY parent_span_id IS NOT NULL, start_time LIMIT 1), \
           (SELECT output FROM spans WHERE workspace_id = $1 AND trace_id = $2 AND output IS NOT NULL \
            ORDER BY parent_span_id IS NOT NULL, end_time DESC LIMIT 1), \
           EXISTS (SELECT 1 FROM spans WHERE workspace_id = $1 AND trace_id = $2 \
            AND operation = 'execute_tool' AND status = 'error')",
    )
    .bind(workspace.0)
    .bind(trace)
    .fetch_one(&mut *conn)
    .await?;
    let (metadata, expected) = if with_metadata {
        metadata(
            attributes,
            [
                ("agent", Some(agent)),
                ("environment", Some(environment)),
                ("version", Some(version)),
                ("model", model),
            ],
        )
    } else {
        Default::default()
    };
    Ok(Some(Subject {
        input: text(input.as_ref()),
        output: text(output.as_ref()),
        latency_ms: latency_us as f64 / 1000.0,
        cost_usd: cost,
        tool_failed,
        expected,
        metadata,
    }))
}
