//! Ingestion: OTLP and the native batch API in, mapped spans out.
//!
//! `otlp` decodes what exporters send (protobuf or OTLP/JSON, optionally gzip); `mapping` turns
//! OTLP spans into [`model::SpanRecord`]s with the GenAI semantic conventions (current and legacy
//! names) resolved, each span validated on its own.

pub mod evaluate;
pub mod gate;
pub mod invalidate;
pub mod limits;
pub mod logs;
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
use crate::meters::{Rejected, Signal};
use crate::{Result, Services};

/// What an OTLP export did, and the response body to send (in the request's encoding).
#[derive(Clone, Debug)]
pub struct Exported {
    pub stored: store::Stored,
    pub rejected: usize,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// The stored spans' `gen_ai.evaluation.result` events, for `evals::otel::record`.
    pub evaluations: Vec<model::Evaluation>,
}

/// Stores validated spans in the caller's workspace (partitions first) and lets the
/// workspace's metric caches go when anything new was stored.
async fn persist(
    services: &Services,
    access: &Access,
    spans: &mut [model::SpanRecord],
) -> Result<store::Stored> {
    crate::guard::ingest::redact_spans(services, access.workspace, spans).await?;
    let spans: &[model::SpanRecord] = spans;
    services
        .partitions
        .ensure(
            &services.pool,
            spans.iter().map(|s| s.start_time.date_naive()),
            usize::MAX,
        )
        .await?;
    let overrides = crate::pricing::cached_overrides(services, access.workspace).await?;
    let pricing = crate::pricing::Pricing::new(&overrides);
    let stored = match store::store(&services.pool, access.workspace, spans, &pricing).await {
        // Retention (perhaps on another replica) dropped a partition this process knew: forget
        // what it knew, create what is missing, and try once more.
        Err(crate::Error::MissingPartition(_)) => {
            services.partitions.forget_before(chrono::NaiveDate::MAX);
            services
                .partitions
                .ensure(
                    &services.pool,
                    spans.iter().map(|s| s.start_time.date_naive()),
                    usize::MAX,
                )
                .await?;
            store::store(&services.pool, access.workspace, spans, &pricing).await?
        }
        other => other?,
    };
    services
        .meters
        .ingested(Signal::Spans, stored.inserted, stored.duplicates);
    if stored.evaluations > 0 {
        services.jobs.evaluations.notify_one();
    }
    if stored.inserted > 0 {
        services
            .invalidator
            .changed(&services.cache, &services.reads, access.workspace)
            .await;
    }
    Ok(stored)
}

/// How long the workspace keeps data, within the install's ceiling.
async fn retention_days(services: &Services, access: &Access) -> Result<i32> {
    let days = crate::workspaces::cached_retention_days(services, access.workspace).await?;
    Ok(days.min(services.policy.max_retention_days))
}

/// Why each span's time is refused, if it is: out of the stored range, or on a new day past
/// the request's allowance of new partitions (those are created here, before the write).
async fn time_problems(
    services: &Services,
    access: &Access,
    starts: &[chrono::DateTime<chrono::Utc>],
) -> Result<Vec<Option<String>>> {
    let now = chrono::Utc::now();
    let retention = retention_days(services, access).await?;
    let mut problems: Vec<Option<String>> = starts
        .iter()
        .map(|start| store::time_in_range(*start, now, retention).err())
        .collect();
    let days = starts
        .iter()
        .zip(&problems)
        .filter(|(_, p)| p.is_none())
        .map(|(start, _)| start.date_naive());
    let refused = services
        .partitions
        .ensure(&services.pool, days, store::MAX_NEW_PARTITIONS)
        .await?;
    if !refused.is_empty() {
        for (start, problem) in starts.iter().zip(problems.iter_mut()) {
            let day = start.date_naive();
            if problem.is_none() && refused.contains(&day) {
                *problem = Some(store::refused_day(day));
            }
        }
    }
    Ok(problems)
}

/// The decoding half of an OTLP traces export, without the database: inflate, take the census
/// (refusing what would not fit), decode, cap, map. Every failure is a client error; nothing
/// panics on any input (property-tested).
pub fn read_traces(
    body: &[u8],
    encoding: otlp::Encoding,
    content_encoding: Option<&str>,
    body_limit: u64,
    admission: &mut gate::Admission,
) -> Result<mapping::Mapped> {
    let body = otlp::decompress(body, content_encoding, body_limit, admission)?;
    let census = match encoding {
        otlp::Encoding::Protobuf => limits::wire::traces(&body)?,
        otlp::Encoding::Json => limits::json::census(&body, limits::json::Shape::Otlp)?,
    };
    // The decoded request, the span records mapped from it, and the rows written.
    admission.charge(census.bytes.saturating_mul(limits::DECODE_FACTOR))?;
    let mut request = otlp::decode_traces(&body, encoding)?;
    drop(body);
    let trimmed = limits::sanitize::traces(&mut request);
    let mut mapped = mapping::map_request(&request);
    drop(request);
    if trimmed.dropped_items > 0 {
        mapped.dropped = trimmed.dropped_items;
        mapped.dropped_reason = Some(limits::sanitize::Trimmed::reason("spans"));
    }
    Ok(mapped)
}

/// `POST /v1/traces`: inflate, take the census, decode, cap, map, validate, store; answer
/// OTLP's `ExportTraceServiceResponse` with `partial_success` when spans were rejected or
/// dropped. The caller must hold the ingest scope; every byte the export makes the server
/// hold is charged to `admission` first.
pub async fn export_traces(
    services: &Services,
    access: &Access,
    admission: &mut gate::Admission,
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body_limit: u64,
) -> Result<Exported> {
    access.require_ingest()?;
    let encoding = otlp::Encoding::from_content_type(content_type)?;
    let mut mapped = read_traces(body, encoding, content_encoding, body_limit, admission)?;
    let starts: Vec<_> = mapped.spans.iter().map(|s| s.start_time).collect();
    let problems = time_problems(services, access, &starts).await?;
    let invalid = mapped.rejected.len();
    let mut spans = Vec::with_capacity(mapped.spans.len());
    for (s, problem) in std::mem::take(&mut mapped.spans).into_iter().zip(problems) {
        match problem {
            None => spans.push(s),
            Some(reason) => mapped.rejected.push(mapping::Rejection {
                trace_id: s.trace_id,
                span_id: s.span_id,
                reason,
            }),
        }
    }
    let meters = &services.meters;
    meters.rejected(Signal::Spans, Rejected::Invalid, invalid);
    meters.rejected(
        Signal::Spans,
        Rejected::TimeRange,
        mapped.rejected.len() - invalid,
    );
    meters.rejected(Signal::Spans, Rejected::Dropped, mapped.dropped);
    let stored = persist(services, access, &mut spans).await?;
    let refused: std::collections::HashSet<(&str, &str)> = mapped
        .rejected
        .iter()
        .map(|r| (r.trace_id.as_str(), r.span_id.as_str()))
        .collect();
    let evaluations: Vec<model::Evaluation> = std::mem::take(&mut mapped.evaluations)
        .into_iter()
        .filter(|e| match (&e.trace_id, &e.span_id) {
            (Some(t), Some(s)) => !refused.contains(&(t.as_str(), s.as_str())),
            _ => true,
        })
        .collect();
    let response = ExportTraceServiceResponse {
        partial_success: mapped
            .rejection_message()
            .map(|message| ExportTracePartialSuccess {
                rejected_spans: mapped.rejected_count() as i64,
                error_message: message,
            }),
    };
    let body = encoding.encode(&response)?;
    Ok(Exported {
        stored,
        rejected: mapped.rejected_count(),
        content_type: encoding.content_type(),
        body,
        evaluations,
    })
}

/// What a native batch did: 200 when `rejected` is empty, else 207.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct BatchOutcome {
    pub accepted: usize,
    pub rejected: Vec<native::ItemError>,
}

/// The `traces` array of a native batch, refused as soon as it passes [`native::MAX_TRACES`]
/// (without reading, or allocating for, the rest).
struct BoundedTraces(Vec<serde_json::Value>);

const TOO_MANY_TRACES: &str = "too many traces";

impl<'de> serde::Deserialize<'de> for BoundedTraces {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = BoundedTraces;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of traces")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<BoundedTraces, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element()? {
                    if out.len() == native::MAX_TRACES {
                        return Err(serde::de::Error::custom(TOO_MANY_TRACES));
                    }
                    out.push(item);
                }
                Ok(BoundedTraces(out))
            }
        }
        d.deserialize_seq(Visitor)
    }
}

/// The traces of a native batch (by index) mapped to spans, and the items refused, without
/// the database. Every failure is a client error; nothing panics on any input.
#[allow(clippy::type_complexity)]
pub fn read_native(
    body: &[u8],
    admission: &mut gate::Admission,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Vec<(usize, Vec<model::SpanRecord>)>, Vec<native::ItemError>)> {
    use crate::Error;

    let census = limits::json::census(body, limits::json::Shape::Native)?;
    admission.charge(census.bytes.saturating_mul(limits::DECODE_FACTOR))?;
    #[derive(serde::Deserialize)]
    struct Batch {
        traces: Option<BoundedTraces>,
    }
    let batch: Batch = serde_json::from_slice(body).map_err(|e| {
        if e.to_string().starts_with(TOO_MANY_TRACES) {
            return Error::invalid_input(
                "traces",
                format!("at most {} traces a request", native::MAX_TRACES),
            );
        }
        Error::InvalidFormat {
            message: format!("the body is not a JSON object {{\"traces\": [...]}}: {e}"),
            location: Some(format!("line {}, column {}", e.line(), e.column())),
        }
    })?;
    let items = batch
        .traces
        .ok_or_else(|| Error::MissingField {
            field: "traces".into(),
        })?
        .0;
    let mut traces: Vec<(usize, Vec<model::SpanRecord>)> = Vec::new();
    let mut span_count = 0;
    let mut rejected = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let mapped = serde_json::from_value::<native::NativeTrace>(item)
            .map_err(|e| native::ItemError {
                index,
                code: argus_types::ErrorCode::InvalidFormat,
                message: e.to_string(),
                field: None,
            })
            .and_then(|t| native::map_trace(index, &t, now))
            .and_then(|trace_spans| {
                if span_count + trace_spans.len() > limits::MAX_SPANS {
                    return Err(native::ItemError {
                        index,
                        code: argus_types::ErrorCode::PayloadTooLarge,
                        message: format!(
                            "the request already holds {span_count} spans, at most {} a \
                             request: send this trace in another request",
                            limits::MAX_SPANS
                        ),
                        field: Some(format!("traces[{index}]")),
                    });
                }
                Ok(trace_spans)
            });
        match mapped {
            Ok(s) => {
                span_count += s.len();
                traces.push((index, s));
            }
            Err(e) => rejected.push(e),
        }
    }
    Ok((traces, rejected))
}

/// `POST /api/v1/traces`: the native JSON batch, each trace validated on its own; at most
/// [`native::MAX_TRACES`] traces and [`limits::MAX_SPANS`] spans a request.
pub async fn export_native(
    services: &Services,
    access: &Access,
    admission: &mut gate::Admission,
    body: &[u8],
) -> Result<BatchOutcome> {
    access.require_ingest()?;
    let now = chrono::Utc::now();
    let (traces, mut rejected) = read_native(body, admission, now)?;
    let invalid = rejected.len();
    let span_count = traces.iter().map(|(_, s)| s.len()).sum();
    // A trace is stored whole or not at all: one span out of range refuses its trace.
    let starts: Vec<_> = traces
        .iter()
        .flat_map(|(_, s)| s.iter().map(|s| s.start_time))
        .collect();
    let mut problems = time_problems(services, access, &starts).await?.into_iter();
    let mut spans = Vec::with_capacity(span_count);
    let mut accepted = 0;
    for (index, mut trace_spans) in traces {
        let problem = problems
            .by_ref()
            .take(trace_spans.len())
            .fold(None, |first, p| first.or(p));
        match problem {
            Some(message) => rejected.push(native::ItemError {
                index,
                code: argus_types::ErrorCode::InvalidInput,
                message,
                field: Some(format!("traces[{index}].start_time")),
            }),
            None => {
                accepted += 1;
                spans.append(&mut trace_spans);
            }
        }
    }
    rejected.sort_by_key(|e| e.index);
    let meters = &services.meters;
    meters.rejected(Signal::Traces, Rejected::Invalid, invalid);
    meters.rejected(
        Signal::Traces,
        Rejected::TimeRange,
        rejected.len() - invalid,
    );
    persist(services, access, &mut spans).await?;
    Ok(BatchOutcome { accepted, rejected })
}
