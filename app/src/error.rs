//! The error type of every server function: the standard envelope, on the wire and in the UI.

use std::fmt;

use argus_types::{ErrorCode, ErrorEnvelope};
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A server function's error: exactly the envelope the server sent, with its HTTP status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppError(pub ErrorEnvelope);

impl AppError {
    pub fn code(&self) -> ErrorCode {
        self.0.code()
    }

    pub fn message(&self) -> &str {
        &self.0.error.message
    }

    pub fn request_id(&self) -> Option<&str> {
        self.0.error.request_id.as_deref()
    }

    /// An envelope from the server side (e.g. the gateway's verdict on the credentials).
    #[cfg(feature = "ssr")]
    pub fn from_envelope(envelope: ErrorEnvelope) -> Self {
        Self::on_server(envelope)
    }

    /// Builds the error on the server: stamps it, sets the response status, logs server faults.
    ///
    /// A plain HTML form post (no JavaScript) keeps the redirect back to its page, which
    /// carries the error in the URL; every other caller gets the envelope's status.
    #[cfg(feature = "ssr")]
    fn on_server(envelope: ErrorEnvelope) -> Self {
        use leptos::prelude::use_context;

        let request_id = use_context::<http::request::Parts>().and_then(|parts| {
            parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
        let envelope = argus_domain::error::stamp(envelope, request_id);
        // A plain form post is redirected back (the error rides in the URL); a page rendering
        // on the server that called this function directly keeps its own status and type
        // (it shows the error, or its 404 page, as HTML).
        let page_render = use_context::<http::request::Parts>()
            .is_some_and(|parts| !parts.uri.path().starts_with("/api/"));
        if crate::api::request::is_form_post() || page_render {
            return AppError(envelope);
        }
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            if let Some(secs) = envelope.retry_after_seconds() {
                res.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
            }
            res.set_status(
                http::StatusCode::from_u16(envelope.status())
                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            );
            res.insert_header(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
        }
        AppError(envelope)
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.error.message)
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let (code, message) = match value {
            ServerFnErrorErr::Args(m) => {
                (ErrorCode::InvalidFormat, format!("invalid arguments: {m}"))
            }
            // On the server this is the request's arguments; in the browser, the response body.
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(m) => {
                (ErrorCode::InvalidFormat, format!("invalid arguments: {m}"))
            }
            #[cfg(not(feature = "ssr"))]
            ServerFnErrorErr::Deserialization(m) => (
                ErrorCode::ServiceUnavailable,
                format!("unexpected response from the Argus server: {m}"),
            ),
            ServerFnErrorErr::MissingArg(m) => (
                ErrorCode::MissingRequiredField,
                format!("missing argument: {m}"),
            ),
            ServerFnErrorErr::UnsupportedRequestMethod(m) => (ErrorCode::MethodNotAllowed, m),
            // Network failures seen by the browser: the server never answered.
            ServerFnErrorErr::Request(m) => (
                ErrorCode::ServiceUnavailable,
                format!("could not reach the Argus server: {m}"),
            ),
            ServerFnErrorErr::Response(m) => (
                ErrorCode::ServiceUnavailable,
                format!("unexpected response from the Argus server: {m}"),
            ),
            other => {
                #[cfg(feature = "ssr")]
                tracing::error!(error = %other, "server function failed");
                #[cfg(not(feature = "ssr"))]
                let _ = other;
                (
                    ErrorCode::InternalError,
                    "an internal error occurred".to_owned(),
                )
            }
        };
        let envelope = ErrorEnvelope::new(code, message);
        #[cfg(feature = "ssr")]
        return AppError::on_server(envelope);
        #[cfg(not(feature = "ssr"))]
        AppError(envelope)
    }
}

#[cfg(feature = "ssr")]
impl From<argus_domain::Error> for AppError {
    fn from(err: argus_domain::Error) -> Self {
        if err.is_server_fault() {
            tracing::error!(error = ?err, "server function failed");
        }
        AppError::on_server(err.to_envelope())
    }
}
