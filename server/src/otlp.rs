//! `POST /v1/traces`: OTLP/HTTP, as every OpenTelemetry exporter sends it. A thin adapter over
//! `argus_domain::ingest::export_traces`.

use argus_domain::access::Caller;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::error::HttpError;
use crate::state::AppState;

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub async fn traces(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let caller = caller.map_or(Caller::Anonymous, |Extension(c)| c);
    let access = match caller.access() {
        Ok(access) => access.clone(),
        Err(envelope) => return HttpError(envelope).into_response(),
    };
    let limit = state.gateway.body_limit_bytes;
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return HttpError::from(argus_domain::Error::PayloadTooLarge { limit_bytes: limit })
                .into_response()
        }
        Err(rejection) => {
            return HttpError::from(argus_domain::Error::InvalidFormat {
                message: format!("could not read the request body: {rejection}"),
                location: None,
            })
            .into_response()
        }
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
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(exported.content_type),
                )],
                exported.body,
            )
                .into_response()
        }
        Err(err) => HttpError::from(err).into_response(),
    }
}
