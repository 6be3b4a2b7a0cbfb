//! The one error type of the domain, mapped to the wire's [`ErrorCode`]s.

use argus_types::{ErrorCode, ErrorEnvelope};
use serde_json::json;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure a domain function can report.
///
/// Client-caused variants carry a message that is safe to send. Server faults (`Database`,
/// `Cache`, `Internal`) carry their cause for the log only; clients get a generic text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Unknown email or wrong password: one error for both, so neither is revealed.
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("the token has expired")]
    ExpiredToken,
    /// Unknown, malformed, revoked or expired API key: one error for all.
    #[error("invalid API key")]
    InvalidApiKey,
    /// Authenticated, but the role or the key's scopes do not allow this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{what} already exists")]
    AlreadyExists { what: String },
    #[error("{0}")]
    Conflict(String),
    #[error("invalid {field}: {message}")]
    InvalidInput { field: String, message: String },
    #[error("missing required field {field}")]
    MissingField { field: String },
    #[error("{message}")]
    InvalidFormat {
        message: String,
        /// Where parsing failed (a path, line/column, …), when known.
        location: Option<String>,
    },
    /// A body in a content type or encoding this endpoint does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("request body larger than {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: u64 },
    /// A body within the byte limit that holds more than one request may (413).
    #[error("{0}")]
    TooLarge(String),
    /// The client did not send its request body in time (408).
    #[error("{0}")]
    RequestTimeout(String),
    #[error("rate limit exceeded, retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// Too much work in flight: try again after the given time.
    #[error("Argus is busy ingesting; retry after {retry_after_secs} s")]
    Overloaded { retry_after_secs: u64 },
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration error")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cache error: {0}")]
    Cache(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A day partition of `spans` a batch needed is gone (dropped by retention, perhaps on
    /// another replica, since this process made it): the caller makes it again and retries.
    #[error("a day partition of spans is missing: {0}")]
    MissingPartition(String),
}

impl Error {
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound { what: what.into() }
    }

    pub fn invalid_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidCredentials => ErrorCode::InvalidCredentials,
            Error::ExpiredToken => ErrorCode::ExpiredToken,
            Error::InvalidApiKey => ErrorCode::InvalidApiKey,
            Error::Forbidden(_) => ErrorCode::InsufficientPermissions,
            Error::NotFound { .. } => ErrorCode::ResourceNotFound,
            Error::AlreadyExists { .. } => ErrorCode::ResourceAlreadyExists,
            Error::Conflict(_) => ErrorCode::ResourceConflict,
            Error::InvalidInput { .. } => ErrorCode::InvalidInput,
            Error::MissingField { .. } => ErrorCode::MissingRequiredField,
            Error::InvalidFormat { .. } => ErrorCode::InvalidFormat,
            Error::PayloadTooLarge { .. } | Error::TooLarge(_) => ErrorCode::PayloadTooLarge,
            Error::RequestTimeout(_) => ErrorCode::RequestTimeout,
            Error::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            Error::RateLimited { .. } => ErrorCode::RateLimitExceeded,
            Error::Unavailable(_) | Error::Overloaded { .. } => ErrorCode::ServiceUnavailable,
            Error::Database(e) if transient(e) => ErrorCode::ServiceUnavailable,
            Error::Database(_) | Error::Migrate(_) => ErrorCode::DatabaseError,
            Error::Cache(_) => ErrorCode::CacheError,
            Error::Internal(_) | Error::MissingPartition(_) => ErrorCode::InternalError,
        }
    }

    /// Whether this error is the server's fault and must be logged with its cause.
    pub fn is_server_fault(&self) -> bool {
        !self.code().is_client_error()
    }

    /// The envelope a client may see: server faults never expose their cause.
    pub fn to_envelope(&self) -> ErrorEnvelope {
        let code = self.code();
        match self {
            Error::InvalidInput { field, .. } | Error::MissingField { field } => {
                ErrorEnvelope::new(code, self.to_string()).with_details(json!({ "field": field }))
            }
            Error::InvalidFormat {
                location: Some(location),
                ..
            } => ErrorEnvelope::new(code, self.to_string())
                .with_details(json!({ "location": location })),
            Error::PayloadTooLarge { limit_bytes } => ErrorEnvelope::new(code, self.to_string())
                .with_details(json!({ "limit_bytes": limit_bytes })),
            Error::RateLimited { retry_after_secs } | Error::Overloaded { retry_after_secs } => {
                ErrorEnvelope::new(code, self.to_string())
                    .with_details(json!({ "retry_after_seconds": retry_after_secs }))
            }
            Error::Database(e) if transient(e) => ErrorEnvelope::new(
                code,
                "the database is busy or restarting, try again shortly",
            )
            .with_details(json!({ "retry_after_seconds": TRANSIENT_RETRY_SECS })),
            Error::Database(_) | Error::Migrate(_) => {
                ErrorEnvelope::new(code, "a database error occurred")
            }
            Error::Cache(_) => ErrorEnvelope::new(code, "a cache error occurred"),
            Error::Internal(_) | Error::MissingPartition(_) => {
                ErrorEnvelope::new(code, "an internal error occurred")
            }
            _ => ErrorEnvelope::new(code, self.to_string()),
        }
    }
}

/// Seconds a client is told to wait after a transient database fault.
pub const TRANSIENT_RETRY_SECS: u64 = 1;

/// Whether a database failure is one a retry can outlive: the pool exhausted or closed, the
/// connection lost, the server starting or shutting down, a serialization failure or deadlock,
/// a statement cancelled by its timeout. These answer 503 with `Retry-After`, which
/// OpenTelemetry exporters retry (a 500 they would drop).
pub fn transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08")
                || c.starts_with("57P")
                || matches!(c.as_ref(), "40001" | "40P01" | "53300" | "57014")
        }),
        _ => false,
    }
}

/// Sets the envelope's timestamp (now) and request id, as sent to the client.
pub fn stamp(mut envelope: ErrorEnvelope, request_id: Option<String>) -> ErrorEnvelope {
    envelope.error.timestamp =
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    envelope.error.request_id = request_id;
    envelope
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_faults_never_expose_their_cause() {
        let err = Error::Database(sqlx::Error::Protocol(
            "relation \"secret_table\" does not exist".into(),
        ));
        let env = err.to_envelope();
        assert_eq!(env.code(), ErrorCode::DatabaseError);
        assert!(!env.error.message.contains("secret_table"));
        assert!(err.is_server_fault());

        let env = Error::Internal("stack: at foo.rs:12".into()).to_envelope();
        assert_eq!(env.error.message, "an internal error occurred");
    }

    #[test]
    fn client_errors_name_the_field() {
        let env = Error::invalid_input("range", "must be one of 1h, 24h, 7d").to_envelope();
        assert_eq!(env.code(), ErrorCode::InvalidInput);
        assert_eq!(env.status(), 400);
        assert_eq!(env.error.details.unwrap()["field"], "range");
        assert!(env.error.message.contains("must be one of"));
    }

    #[test]
    fn transient_database_faults_are_service_unavailable_with_retry_after() {
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(io()),
        ] {
            let err = Error::Database(err);
            assert_eq!(err.code(), ErrorCode::ServiceUnavailable, "{err:?}");
            let env = err.to_envelope();
            assert_eq!(env.status(), 503);
            assert_eq!(env.retry_after_seconds(), Some(TRANSIENT_RETRY_SECS));
        }
        let other = Error::Database(sqlx::Error::RowNotFound);
        assert_eq!(other.code(), ErrorCode::DatabaseError);
    }
}
