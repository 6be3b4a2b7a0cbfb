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

pub async fn traces(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limit = state.gateway.body_limit_bytes;
    let (access, _admitted, body) = match admit(&state, caller, &headers, body).await {
        Ok(admitted) => admitted,
        Err(error) => return error.into_response(),
    };
    match argus_domain::ingest::export_traces(
        &state.services,
        &access,
        &body,
        header_str(&headers, header::CONTENT_TYPE),
        header_str(&headers, header::CONTENT_ENCODING),
        limit,
    )
    .await
    {
        Ok(exported) => {
            tracing::debug!(
                inserted = exported.stored.inserted,
                duplicates = exported.stored.duplicates,
                rejected = exported.rejected,
                "OTLP traces stored"
            );
            otlp_response(exported.content_type, exported.body)
        }
        Err(err) => HttpError::from(err).into_response(),
    }
}

/// `POST /v1/metrics`: the GenAI client metrics (others are accepted and ignored).
pub async fn metrics(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limit = state.gateway.body_limit_bytes;
    let (access, _admitted, body) = match admit(&state, caller, &headers, body).await {
        Ok(admitted) => admitted,
        Err(error) => return error.into_response(),
    };
    match argus_domain::ingest::metrics::export(
        &state.services,
        &access,
        &body,
        header_str(&headers, header::CONTENT_TYPE),
        header_str(&headers, header::CONTENT_ENCODING),
        limit,
    )
    .await
    {
        Ok(exported) => {
            tracing::debug!(
                points = exported.stored.points,
                duplicates = exported.stored.duplicates,
                ignored = exported.ignored,
                rejected = exported.rejected,
                "OTLP metrics stored"
            );
            otlp_response(exported.content_type, exported.body)
        }
        Err(err) => HttpError::from(err).into_response(),
    }
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
