//! Ingest routes: `POST /v1/traces`, `POST /v1/metrics` and `POST /v1/logs` (OTLP/HTTP, as
//! every OpenTelemetry exporter sends them), `POST /api/v1/traces` (the native JSON batch) and
//! `POST /api/v1/evaluate/scores` (a batch of scores). Thin adapters over `argus_domain::ingest`.

use argus_domain::access::{Access, Caller};
use argus_domain::ingest::gate::Admission;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use http_body_util::BodyExt;

use crate::error::HttpError;
use crate::state::AppState;

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads the body within the byte limit and the read timeout, charging every chunk to the
/// admission as it arrives (a body that trickles in holds its bytes only until the timeout).
async fn read_body(
    body: Body,
    limit: u64,
    timeout: std::time::Duration,
    admission: &mut Admission,
) -> Result<Bytes, HttpError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut body = body;
    let mut out: Vec<u8> = Vec::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                tracing::info!(received = out.len(), "request body not received in time");
                return Err(HttpError::from(argus_domain::Error::RequestTimeout(
                    format!(
                        "the request body did not arrive within {} s",
                        timeout.as_secs()
                    ),
                )));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                let too_large = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                return Err(HttpError::from(if too_large {
                    argus_domain::Error::PayloadTooLarge { limit_bytes: limit }
                } else {
                    argus_domain::Error::InvalidFormat {
                        message: format!("could not read the request body: {e}"),
                        location: None,
                    }
                }));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if (out.len() + data.len()) as u64 > limit {
            return Err(HttpError::from(argus_domain::Error::PayloadTooLarge {
                limit_bytes: limit,
            }));
        }
        admission.charge(data.len() as u64)?;
        out.extend_from_slice(&data);
    }
    Ok(Bytes::from(out))
}

/// The caller's access (which must hold the ingest scope: checked before anything is held),
/// the export's admission (see `IngestGate`), and its body. The write slot is taken once the
/// body is in, so a slow upload never holds one.
async fn admit(
    state: &AppState,
    caller: Option<Extension<Caller>>,
    body: Body,
) -> Result<(Access, Admission, Bytes), HttpError> {
    let caller = caller.map_or(Caller::Anonymous, |Extension(c)| c);
    let access = caller.access().cloned().map_err(HttpError)?;
    access.require_ingest()?;
    let mut admission = state.services.ingest_gate.admit(access.workspace);
    let limit = state.gateway.body_limit_bytes;
    let bytes = read_body(body, limit, state.gateway.body_read_timeout, &mut admission).await?;
    admission.take_slot()?;
    Ok((access, admission, bytes))
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

/// The OTLP signals Argus stores.
#[derive(Clone, Copy, Debug)]
pub enum Signal {
    Traces,
    Metrics,
    /// Only `gen_ai.evaluation.result` records (they become scores).
    Logs,
}

/// An OTLP export as it arrived (its body read within the limit).
pub struct Incoming<'a> {
    pub signal: Signal,
    pub body: &'a [u8],
    pub content_type: Option<&'a str>,
    pub encoding: Option<&'a str>,
    /// The body limit, also for what it inflates to.
    pub limit: u64,
}

/// An admitted OTLP export, stored by the domain: the response body and its content type (the
/// request's encoding). Shared by OTLP/HTTP and OTLP/gRPC.
pub async fn store(
    services: &argus_domain::Services,
    access: &Access,
    admission: &mut Admission,
    incoming: Incoming<'_>,
) -> argus_domain::Result<(&'static str, Vec<u8>)> {
    let Incoming {
        signal,
        body,
        content_type,
        encoding,
        limit,
    } = incoming;
    match signal {
        Signal::Traces => {
            let e = argus_domain::ingest::export_traces(
                services,
                access,
                admission,
                body,
                content_type,
                encoding,
                limit,
            )
            .await?;
            tracing::debug!(
                inserted = e.stored.inserted,
                duplicates = e.stored.duplicates,
                rejected = e.rejected,
                "OTLP traces stored"
            );
            // Span events that are evaluation results become scores; the spans are
            // stored whatever becomes of them.
            if !e.evaluations.is_empty() {
                match argus_domain::evals::otel::record(services, access.workspace, e.evaluations)
                    .await
                {
                    Ok(r) if !r.rejected.is_empty() => tracing::info!(
                        stored = r.stored,
                        rejected = r.rejected.len(),
                        first = %r.rejected[0],
                        "evaluation span events not stored as scores"
                    ),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "storing evaluation span events"),
                }
            }
            Ok((e.content_type, e.body))
        }
        Signal::Logs => argus_domain::evals::otel::export_logs(
            services,
            access,
            admission,
            body,
            content_type,
            encoding,
            limit,
        )
        .await
        .map(|e| {
            tracing::debug!(
                scores = e.recorded.stored,
                duplicates = e.recorded.duplicates,
                rejected = e.recorded.rejected.len(),
                ignored = e.ignored,
                "OTLP logs read"
            );
            (e.content_type, e.body)
        }),
        Signal::Metrics => argus_domain::ingest::metrics::export(
            services,
            access,
            admission,
            body,
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
    }
}

/// One OTLP/HTTP export: admission, the body within the limit, the domain's export, and its
/// response in the request's encoding.
async fn export(
    state: AppState,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Body,
    signal: Signal,
) -> Response {
    let limit = state.gateway.body_limit_bytes;
    let (access, mut admission, body) = match admit(&state, caller, body).await {
        Ok(admitted) => admitted,
        Err(error) => return error.into_response(),
    };
    let content_type = header_str(&headers, header::CONTENT_TYPE);
    let encoding = header_str(&headers, header::CONTENT_ENCODING);
    let incoming = Incoming {
        signal,
        body: &body,
        content_type,
        encoding,
        limit,
    };
    let answer = store(&state.services, &access, &mut admission, incoming).await;
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

/// `POST /v1/logs`: `gen_ai.evaluation.result` records become scores; other records are
/// accepted and ignored.
pub async fn logs(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    export(state, caller, headers, body, Signal::Logs).await
}

/// `POST /api/v1/evaluate/scores`: a batch of scores. 200 when every score was stored (or
/// was already), 207 with `rejected: [{index, code, message, field}]` when some were not.
pub async fn scores(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    body: Body,
) -> Response {
    use argus_domain::evals::scores::{store_batch, Provenance};
    let caller = caller.map_or(Caller::Anonymous, |Extension(c)| c);
    let access = match caller.access() {
        Ok(access) => access.clone(),
        Err(envelope) => return HttpError(envelope).into_response(),
    };
    if let Err(err) = access.require_score() {
        return HttpError::from(err).into_response();
    }
    let limit = state.gateway.body_limit_bytes;
    let mut admission = state.services.ingest_gate.admit(access.workspace);
    let body = match read_body(body, limit, state.gateway.body_read_timeout, &mut admission).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let provenance = Provenance {
        source: argus_types::ScoreSource::Api,
        author: argus_types::ScoreAuthor {
            user_id: access.user().map(|u| u.0),
            api_key_id: access.key_id(),
            ..Default::default()
        },
    };
    match store_batch(&state.services, access.workspace, &provenance, &body).await {
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

/// `POST /api/v1/traces`: the native JSON batch. 200 when every trace was stored, 207 with
/// `{accepted, rejected: [{index, code, message, field}]}` when some were not.
pub async fn native_batch(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    body: Body,
) -> Response {
    let (access, mut admission, body) = match admit(&state, caller, body).await {
        Ok(admitted) => admitted,
        Err(error) => return error.into_response(),
    };
    match argus_domain::ingest::export_native(&state.services, &access, &mut admission, &body).await
    {
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
