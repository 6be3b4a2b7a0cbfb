//! Ingest routes: `POST /v1/traces` and `POST /v1/metrics` (OTLP/HTTP, as every OpenTelemetry
//! exporter sends them) and `POST /api/v1/traces` (the native JSON batch). Thin adapters over `argus_domain::ingest`.

use argus_domain::access::{Access, Caller};
use argus_domain::ingest::gate::Admitted;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::error::HttpError;
use crate::state::AppState;

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The caller's access, the export's admission (backpressure, see `IngestGate`) and its body,
/// read within the limit.
async fn admit(
    state: &AppState,
    caller: Option<Extension<Caller>>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Access, Admitted, Bytes), HttpError> {
    let caller = caller.map_or(Caller::Anonymous, |Extension(c)| c);
    let access = caller.access().cloned().map_err(HttpError)?;
    let limit = state.gateway.body_limit_bytes;
    let declared = header_str(headers, header::CONTENT_LENGTH)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(limit);
    let admitted = state.services.ingest_gate.admit(declared.min(limit))?;
    let bytes = axum::body::to_bytes(body, limit.min(usize::MAX as u64) as usize)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            HttpError::from(if too_large {
                argus_domain::Error::PayloadTooLarge { limit_bytes: limit }
            } else {
                argus_domain::Error::InvalidFormat {
                    message: format!("could not read the request body: {e}"),
                    location: None,
                }
            })
        })?;
    Ok((access, admitted, bytes))
}

/// 200 with an OTLP export response, in the request's encoding.
fn otlp_response(content_type: &'static str, body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// The two OTLP signals Argus stores.
enum Signal {
    Traces,
    Metrics,
}

/// One OTLP export: admission, the body within the limit, the domain's export, and its
/// response in the request's encoding.
async fn export(
    state: AppState,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Body,
    signal: Signal,
) -> Response {
    let limit = state.gateway.body_limit_bytes;
    let (access, _admitted, body) = match admit(&state, caller, &headers, body).await {
        Ok(admitted) => admitted,
        Err(error) => return error.into_response(),
    };
    let content_type = header_str(&headers, header::CONTENT_TYPE);
    let encoding = header_str(&headers, header::CONTENT_ENCODING);
    let services = &state.services;
    let answer = match signal {
        Signal::Traces => argus_domain::ingest::export_traces(
            services,
            &access,
            &body,
            content_type,
            encoding,
            limit,
        )
        .await
        .map(|e| {
            tracing::debug!(
                inserted = e.stored.inserted,
                duplicates = e.stored.duplicates,
                rejected = e.rejected,
                "OTLP traces stored"
            );
            (e.content_type, e.body)
        }),
        Signal::Metrics => argus_domain::ingest::metrics::export(
            services,
            &access,
            &body,
            content_type,
            encoding,
            limit,
        )
        .await
        .map(|e| {
            tracing::debug!(
                points = e.stored.points,
                duplicates = e.stored.duplicates,
                ignored = e.ignored,
                rejected = e.rejected,
                "OTLP metrics stored"
            );
            (e.content_type, e.body)
        }),
    };
    match answer {
        Ok((content_type, body)) => otlp_response(content_type, body),
        Err(err) => HttpError::from(err).into_response(),
    }
}

/// `POST /v1/traces`.
pub async fn traces(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    export(state, caller, headers, body, Signal::Traces).await
}

/// `POST /v1/metrics`: the GenAI client metrics (others are accepted and ignored).
pub async fn metrics(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    export(state, caller, headers, body, Signal::Metrics).await
}

/// `POST /api/v1/traces`: the native JSON batch. 200 when every trace was stored, 207 with
/// `{accepted, rejected: [{index, code, message, field}]}` when some were not.
pub async fn native_batch(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (access, _admitted, body) = match admit(&state, caller, &headers, body).await {
        Ok(admitted) => admitted,
        Err(error) => return error.into_response(),
    };
    match argus_domain::ingest::export_native(&state.services, &access, &body).await {
        Ok(outcome) => {
            let status = if outcome.rejected.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::MULTI_STATUS
            };
            (status, axum::Json(outcome)).into_response()
        }
        Err(err) => HttpError::from(err).into_response(),
    }
}
