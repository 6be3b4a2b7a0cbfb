//! The standard error envelope as an HTTP response.

use argus_types::{ErrorCode, ErrorEnvelope};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::request_id::current_request_id;

/// An error on its way to the client: always the standard envelope with its code's status.
#[derive(Debug)]
pub struct HttpError(pub ErrorEnvelope);

impl HttpError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        HttpError(ErrorEnvelope::new(code, message))
    }

    pub fn with_details(self, details: serde_json::Value) -> Self {
        HttpError(self.0.with_details(details))
    }
}

impl From<argus_domain::Error> for HttpError {
    fn from(err: argus_domain::Error) -> Self {
        if err.is_server_fault() {
            // The cause goes to the log (inside the request's span, so with its request id);
            // the client gets a generic message.
            tracing::error!(error = ?err, "request failed");
        }
        HttpError(err.to_envelope())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        envelope_response(self.0)
    }
}

/// Stamps the envelope with the time and the current request id and renders it.
pub fn envelope_response(envelope: ErrorEnvelope) -> Response {
    let envelope = argus_domain::error::stamp(envelope, current_request_id());
    let status =
        StatusCode::from_u16(envelope.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&envelope).unwrap_or_else(|_| {
        br#"{"error":{"code":"INTERNAL_ERROR","message":"an internal error occurred","details":null,"timestamp":"","request_id":null}}"#.to_vec()
    });
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if envelope.code() == ErrorCode::ServiceUnavailable || status == StatusCode::TOO_MANY_REQUESTS {
        if let Some(secs) = envelope.retry_after_seconds() {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
    }
    res
}

/// `Json<T>` whose rejections are envelopes: malformed JSON is 400 INVALID_FORMAT with the line
/// and column, a body of the wrong shape 400 INVALID_INPUT, an oversized body 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> HttpError {
    // axum's text for these names the position (`at line 1 column 9`), which is what a client
    // needs; it never holds server internals.
    let text = rejection.body_text();
    match rejection {
        JsonRejection::JsonSyntaxError(_) => {
            HttpError::new(ErrorCode::InvalidFormat, "malformed JSON")
                .with_details(json!({ "location": "body", "reason": text }))
        }
        JsonRejection::JsonDataError(_) => HttpError::new(
            ErrorCode::InvalidInput,
            "the JSON body does not match the expected shape",
        )
        .with_details(json!({ "location": "body", "reason": text })),
        JsonRejection::MissingJsonContentType(_) => HttpError::new(
            ErrorCode::InvalidFormat,
            "expected a request with Content-Type: application/json",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            HttpError::new(ErrorCode::PayloadTooLarge, "request body too large")
        }
        _ => HttpError::new(ErrorCode::InvalidFormat, "could not read the request body")
            .with_details(json!({ "reason": text })),
    }
}
