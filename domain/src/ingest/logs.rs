//! OTLP logs (`POST /v1/logs`): Argus keeps one kind of log record, the GenAI semantic
//! conventions' `gen_ai.evaluation.result` event (named by the record's `event_name`, or the
//! older `event.name` attribute); every other record is accepted and ignored.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message;

use super::gate::Admission;
use super::limits;
use super::mapping::{evaluation, optional_id, time};
use super::model::{Evaluation, EVALUATION_EVENT};
use super::otlp::{decompress, Encoding};
use crate::{Error, Result};

/// Log records a request may hold (more is a client bug, refused whole).
pub const MAX_RECORDS: usize = 50_000;

/// What a logs export holds for Argus.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Read {
    pub evaluations: Vec<Evaluation>,
    /// Records that are not evaluation events.
    pub ignored: usize,
}

fn is_evaluation(record: &LogRecord) -> bool {
    record.event_name == EVALUATION_EVENT
        || record.attributes.iter().any(|kv| {
            kv.key == "event.name"
                && matches!(
                    kv.value.as_ref().and_then(|v| v.value.as_ref()),
                    Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s))
                        if s == EVALUATION_EVENT
                )
        })
}

/// Decodes an `ExportLogsServiceRequest`.
pub fn decode(body: &[u8], encoding: Encoding) -> Result<ExportLogsServiceRequest> {
    match encoding {
        Encoding::Protobuf => {
            ExportLogsServiceRequest::decode(body).map_err(|e| Error::InvalidFormat {
                message: format!(
                    "the body is not a valid OTLP protobuf ExportLogsServiceRequest: {e}"
                ),
                location: None,
            })
        }
        Encoding::Json => serde_json::from_slice(body).map_err(|e| Error::InvalidFormat {
            message: format!("the body is not a valid OTLP/JSON ExportLogsServiceRequest: {e}"),
            location: Some(format!("line {}, column {}", e.line(), e.column())),
        }),
    }
}

/// Inflates, decodes and reads a logs export, without the database. Every failure is a
/// client error; nothing panics on any input.
pub fn read(
    body: &[u8],
    encoding: Encoding,
    content_encoding: Option<&str>,
    body_limit: u64,
    admission: &mut Admission,
) -> Result<Read> {
    let body = decompress(body, content_encoding, body_limit, admission)?;
    admission.charge((body.len() as u64).saturating_mul(limits::DECODE_FACTOR))?;
    let request = decode(&body, encoding)?;
    drop(body);
    let mut out = Read::default();
    let mut seen = 0usize;
    for resource in &request.resource_logs {
        for scope in &resource.scope_logs {
            for record in &scope.log_records {
                seen += 1;
                if seen > MAX_RECORDS {
                    return Err(Error::TooLarge(format!(
                        "at most {MAX_RECORDS} log records a request"
                    )));
                }
                if !is_evaluation(record) {
                    out.ignored += 1;
                    continue;
                }
                let span = optional_id(&record.trace_id, 16).zip(optional_id(&record.span_id, 8));
                // The SDKs often leave the event time out: the observed time stands in.
                let at = time(record.time_unix_nano, "time")
                    .or_else(|_| time(record.observed_time_unix_nano, "observed time"))
                    .unwrap_or_else(|_| chrono::Utc::now());
                out.evaluations
                    .push(evaluation(&record.attributes, span, at));
            }
        }
    }
    Ok(out)
}
