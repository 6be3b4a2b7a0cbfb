//! OpenTelemetry evaluation results become scores: `gen_ai.evaluation.result` span events
//! (from `POST /v1/traces`) and log records (`POST /v1/logs`).
//!
//! | score | from |
//! |---|---|
//! | target | the event's span; a log record's trace and span context; else the span whose `gen_ai.response.id` it names |
//! | name | `gen_ai.evaluation.name` |
//! | value | `gen_ai.evaluation.score.value` (numeric, with the label); else `gen_ai.evaluation.score.label` (categorical) |
//! | explanation | `gen_ai.evaluation.explanation` |
//! | id | derived from the span, the name and the time, so a re-sent export stores nothing twice |
//!
//! An event with `error.type` (the evaluation itself failed) is no score and is skipped.

use argus_types::{ScoreAuthor, ScoreSource};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use serde_json::Value;

use super::check::{check, derived_id, NewScore};
use super::configs::Live;
use super::scores::{insert, Provenance};
use crate::access::Access;
use crate::ingest::gate::Admission;
use crate::ingest::logs;
use crate::ingest::model::Evaluation;
use crate::ingest::otlp::Encoding;
use crate::tenancy::{self, WorkspaceId};
use crate::{Result, Services};

/// What became of a request's evaluations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recorded {
    pub stored: usize,
    pub duplicates: usize,
    /// Evaluations that reported a failure of their own (`error.type`).
    pub failed_evaluations: usize,
    /// Why the others were refused.
    pub rejected: Vec<String>,
}

fn provenance() -> Provenance {
    Provenance {
        source: ScoreSource::Otel,
        author: ScoreAuthor::default(),
    }
}

/// Finds the span of each evaluation that names only a `gen_ai.response.id`.
async fn resolve_responses(
    conn: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    evaluations: &mut [Evaluation],
) -> Result<()> {
    let wanted: Vec<String> = evaluations
        .iter()
        .filter(|e| e.span_id.is_none())
        .filter_map(|e| e.response_id.clone())
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let found: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (attributes ->> 'gen_ai.response.id') \
         attributes ->> 'gen_ai.response.id', trace_id, span_id FROM spans \
         WHERE workspace_id = $1 AND attributes ? 'gen_ai.response.id' \
         AND (attributes ->> 'gen_ai.response.id') = ANY($2) \
         ORDER BY attributes ->> 'gen_ai.response.id', start_time DESC",
    )
    .bind(workspace.0)
    .bind(&wanted)
    .fetch_all(&mut *conn)
    .await?;
    for e in evaluations.iter_mut().filter(|e| e.span_id.is_none()) {
        if let Some((_, trace, span)) = found
            .iter()
            .find(|(id, _, _)| Some(id) == e.response_id.as_ref())
        {
            e.trace_id = Some(trace.clone());
            e.span_id = Some(span.clone());
        }
    }
    Ok(())
}

/// The score an evaluation asks for, or why it is none.
fn as_score(e: &Evaluation) -> std::result::Result<NewScore, String> {
    let (Some(trace), Some(span)) = (&e.trace_id, &e.span_id) else {
        return Err(match &e.response_id {
            Some(id) => format!("no span with gen_ai.response.id {id:?} has arrived yet"),
            None => "it names no span (no trace context and no gen_ai.response.id)".into(),
        });
    };
    let name = e.name.clone().ok_or("gen_ai.evaluation.name is missing")?;
    let nanos = e.time.timestamp_nanos_opt().unwrap_or_default().to_string();
    let (value, label) = match (e.value, &e.label) {
        (Some(v), label) => (Some(Value::from(v)), label.clone()),
        (None, Some(label)) => (Some(Value::String(label.clone())), None),
        (None, None) => {
            return Err(format!(
                "{name}: neither gen_ai.evaluation.score.value nor .label is set"
            ))
        }
    };
    Ok(NewScore {
        id: Some(derived_id(&["otel", trace, span, &name, &nanos]).to_string()),
        trace_id: Some(trace.clone()),
        span_id: Some(span.clone()),
        name: Some(name),
        value,
        label,
        explanation: e.explanation.clone(),
        timestamp: Some(e.time),
        ..NewScore::default()
    })
}

/// Stores the evaluations of one request as scores (checked against the live configs, as the
/// API's are).
pub async fn record(
    services: &Services,
    workspace: WorkspaceId,
    mut evaluations: Vec<Evaluation>,
) -> Result<Recorded> {
    let mut out = Recorded::default();
    evaluations.retain(|e| {
        let failed = e.error_type.is_some();
        out.failed_evaluations += usize::from(failed);
        !failed
    });
    if evaluations.is_empty() {
        return Ok(out);
    }
    let now = chrono::Utc::now();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    resolve_responses(&mut tx, workspace, &mut evaluations).await?;
    let configs = Live::load(&mut tx, workspace).await?;
    let mut rows = Vec::with_capacity(evaluations.len());
    for e in &evaluations {
        match as_score(e).and_then(|new| check(&new, &configs, now).map_err(|err| err.to_string()))
        {
            Ok(row) => rows.push(row),
            Err(why) => out.rejected.push(why),
        }
    }
    let new = insert(&mut tx, workspace, &provenance(), &rows).await?;
    tx.commit().await?;
    out.stored = new.len();
    out.duplicates = rows.len() - new.len();
    Ok(out)
}

/// What a logs export did, and the response body (in the request's encoding).
#[derive(Clone, Debug)]
pub struct LogsExported {
    pub recorded: Recorded,
    pub ignored: usize,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// `POST /v1/logs`: evaluation events become scores; other records are accepted and ignored.
/// Evaluations that cannot be scores are reported in `partial_success`.
pub async fn export_logs(
    services: &Services,
    access: &Access,
    admission: &mut Admission,
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body_limit: u64,
) -> Result<LogsExported> {
    access.require_ingest()?;
    let encoding = Encoding::from_content_type(content_type)?;
    let read = logs::read(body, encoding, content_encoding, body_limit, admission)?;
    let recorded = record(services, access.workspace, read.evaluations).await?;
    let partial_success = (!recorded.rejected.is_empty()).then(|| {
        let mut reasons: Vec<String> = recorded.rejected.iter().take(5).cloned().collect();
        if recorded.rejected.len() > 5 {
            reasons.push(format!("and {} more", recorded.rejected.len() - 5));
        }
        ExportLogsPartialSuccess {
            rejected_log_records: recorded.rejected.len() as i64,
            error_message: format!(
                "{} evaluation record(s) not stored: {}",
                recorded.rejected.len(),
                reasons.join("; ")
            ),
        }
    });
    let response = ExportLogsServiceResponse { partial_success };
    let body = encoding.encode(&response)?;
    Ok(LogsExported {
        recorded,
        ignored: read.ignored,
        content_type: encoding.content_type(),
        body,
    })
}
