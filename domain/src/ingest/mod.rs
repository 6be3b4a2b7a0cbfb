//! Ingestion: OTLP and the native batch API in, mapped spans out.
//!
//! `otlp` decodes what exporters send (protobuf or OTLP/JSON, optionally gzip); `mapping` turns
//! OTLP spans into [`model::SpanRecord`]s with the GenAI semantic conventions (current and legacy
//! names) resolved, each span validated on its own.

pub mod mapping;
pub mod model;
pub mod otlp;
pub mod rollup;
pub mod store;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};

use crate::access::Access;
use crate::{Result, Services};

/// What an OTLP export did, and the response body to send (in the request's encoding).
#[derive(Clone, Debug)]
pub struct Exported {
    pub stored: store::Stored,
    pub rejected: usize,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// `POST /v1/traces`: decode, map, validate, store; answer OTLP's `ExportTraceServiceResponse`
/// with `partial_success` when spans were rejected. The caller must hold the ingest scope.
pub async fn export_traces(
    services: &Services,
    access: &Access,
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body_limit: u64,
) -> Result<Exported> {
    access.require_ingest()?;
    let encoding = otlp::Encoding::from_content_type(content_type)?;
    let body = otlp::decompress(body, content_encoding, body_limit)?;
    let request = otlp::decode_traces(&body, encoding)?;
    let mut mapped = mapping::map_request(&request);
    let now = chrono::Utc::now();
    let (spans, out_of_range): (Vec<_>, Vec<_>) = std::mem::take(&mut mapped.spans)
        .into_iter()
        .partition(|s| store::time_in_range(s.start_time, now).is_ok());
    for s in out_of_range {
        let reason = store::time_in_range(s.start_time, now).unwrap_err();
        mapped.rejected.push(mapping::Rejection {
            trace_id: s.trace_id,
            span_id: s.span_id,
            reason,
        });
    }
    services
        .partitions
        .ensure(
            &services.pool,
            spans.iter().map(|s| s.start_time.date_naive()),
        )
        .await?;
    let stored = store::store(
        &services.pool,
        access.workspace,
        &spans,
        crate::cost::Catalog::builtin(),
    )
    .await?;
    let response = ExportTraceServiceResponse {
        partial_success: mapped
            .rejection_message()
            .map(|message| ExportTracePartialSuccess {
                rejected_spans: mapped.rejected.len() as i64,
                error_message: message,
            }),
    };
    let body = match encoding {
        otlp::Encoding::Protobuf => prost::Message::encode_to_vec(&response),
        otlp::Encoding::Json => serde_json::to_vec(&response)
            .map_err(|e| crate::Error::Internal(format!("encoding the OTLP response: {e}")))?,
    };
    Ok(Exported {
        stored,
        rejected: mapped.rejected.len(),
        content_type: encoding.content_type(),
        body,
    })
}
