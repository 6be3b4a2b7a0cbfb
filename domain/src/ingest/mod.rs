//! Ingestion: OTLP and the native batch API in, mapped spans out.
//!
//! `otlp` decodes what exporters send (protobuf or OTLP/JSON, optionally gzip); `mapping` turns
//! OTLP spans into [`model::SpanRecord`]s with the GenAI semantic conventions (current and legacy
//! names) resolved, each span validated on its own.

pub mod gate;
pub mod invalidate;
pub mod mapping;
pub mod metrics;
pub mod model;
pub mod native;
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

/// Stores validated spans in the caller's workspace (partitions first) and lets the
/// workspace's metric caches go when anything new was stored.
async fn persist(
    services: &Services,
    access: &Access,
    spans: &[model::SpanRecord],
) -> Result<store::Stored> {
    services
        .partitions
        .ensure(
            &services.pool,
            spans.iter().map(|s| s.start_time.date_naive()),
        )
        .await?;
    let overrides = crate::pricing::cached_overrides(services, access.workspace).await?;
    let pricing = crate::pricing::Pricing::new(&overrides);
    let stored = match store::store(&services.pool, access.workspace, spans, &pricing).await {
        // Retention (perhaps on another replica) dropped a partition this process knew: forget
        // what it knew, create what is missing, and try once more.
        Err(crate::Error::Internal(m)) if m.starts_with(store::MISSING_PARTITION) => {
            services.partitions.forget_before(chrono::NaiveDate::MAX);
            services
                .partitions
                .ensure(
                    &services.pool,
                    spans.iter().map(|s| s.start_time.date_naive()),
                )
                .await?;
            store::store(&services.pool, access.workspace, spans, &pricing).await?
        }
        other => other?,
    };
    if stored.inserted > 0 {
        services
            .invalidator
            .changed(&services.cache, access.workspace)
            .await;
    }
    Ok(stored)
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
    let mut spans = Vec::with_capacity(mapped.spans.len());
    for s in std::mem::take(&mut mapped.spans) {
        match store::time_in_range(s.start_time, now) {
            Ok(()) => spans.push(s),
            Err(reason) => mapped.rejected.push(mapping::Rejection {
                trace_id: s.trace_id,
                span_id: s.span_id,
                reason,
            }),
        }
    }
    let stored = persist(services, access, &spans).await?;
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

/// What a native batch did: 200 when `rejected` is empty, else 207.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BatchOutcome {
    pub accepted: usize,
    pub rejected: Vec<native::ItemError>,
}

/// `POST /api/v1/traces`: the native JSON batch, each trace validated on its own.
pub async fn export_native(
    services: &Services,
    access: &Access,
    body: &[u8],
) -> Result<BatchOutcome> {
    use crate::Error;

    access.require_ingest()?;
    #[derive(serde::Deserialize)]
    struct Batch {
        traces: Option<Vec<serde_json::Value>>,
    }
    let batch: Batch = serde_json::from_slice(body).map_err(|e| Error::InvalidFormat {
        message: format!("the body is not a JSON object {{\"traces\": [...]}}: {e}"),
        location: Some(format!("line {}, column {}", e.line(), e.column())),
    })?;
    let items = batch.traces.ok_or_else(|| Error::MissingField {
        field: "traces".into(),
    })?;
    if items.len() > native::MAX_TRACES {
        return Err(Error::invalid_input(
            "traces",
            format!(
                "at most {} traces a request, not {}",
                native::MAX_TRACES,
                items.len()
            ),
        ));
    }
    let now = chrono::Utc::now();
    let mut spans = Vec::new();
    let mut rejected = Vec::new();
    let mut accepted = 0;
    for (index, item) in items.into_iter().enumerate() {
        let mapped = serde_json::from_value::<native::NativeTrace>(item)
            .map_err(|e| native::ItemError {
                index,
                code: "INVALID_FORMAT".into(),
                message: e.to_string(),
                field: None,
            })
            .and_then(|t| native::map_trace(index, &t, now))
            .and_then(|trace_spans| {
                match trace_spans
                    .iter()
                    .find_map(|s| store::time_in_range(s.start_time, now).err())
                {
                    Some(message) => Err(native::ItemError {
                        index,
                        code: "INVALID_INPUT".into(),
                        message,
                        field: Some(format!("traces[{index}].start_time")),
                    }),
                    None => Ok(trace_spans),
                }
            });
        match mapped {
            Ok(mut s) => {
                accepted += 1;
                spans.append(&mut s);
            }
            Err(e) => rejected.push(e),
        }
    }
    persist(services, access, &spans).await?;
    Ok(BatchOutcome { accepted, rejected })
}
