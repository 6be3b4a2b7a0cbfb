use std::fmt;

use serde::{Deserialize, Serialize};

/// The standard error codes of the Argus API. Each has exactly one HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidCredentials,
    InsufficientPermissions,
    ExpiredToken,
    InvalidApiKey,
    ResourceNotFound,
    ResourceAlreadyExists,
    ResourceConflict,
    InvalidInput,
    MissingRequiredField,
    InvalidFormat,
    PayloadTooLarge,
    MethodNotAllowed,
    UnsupportedMediaType,
    RequestTimeout,
    RateLimitExceeded,
    QuotaExceeded,
    DatabaseError,
    CacheError,
    ServiceUnavailable,
    GatewayTimeout,
    InternalError,
}

impl ErrorCode {
    /// Every code, in a stable order (used by tests and documentation).
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::InvalidCredentials,
        ErrorCode::InsufficientPermissions,
        ErrorCode::ExpiredToken,
        ErrorCode::InvalidApiKey,
        ErrorCode::ResourceNotFound,
        ErrorCode::ResourceAlreadyExists,
        ErrorCode::ResourceConflict,
        ErrorCode::InvalidInput,
        ErrorCode::MissingRequiredField,
        ErrorCode::InvalidFormat,
        ErrorCode::PayloadTooLarge,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RequestTimeout,
        ErrorCode::RateLimitExceeded,
        ErrorCode::QuotaExceeded,
        ErrorCode::DatabaseError,
        ErrorCode::CacheError,
        ErrorCode::ServiceUnavailable,
        ErrorCode::GatewayTimeout,
        ErrorCode::InternalError,
    ];

    /// The HTTP status this code is always sent with.
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidCredentials | ErrorCode::ExpiredToken | ErrorCode::InvalidApiKey => {
                401
            }
            ErrorCode::InsufficientPermissions => 403,
            ErrorCode::ResourceNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::ResourceAlreadyExists | ErrorCode::ResourceConflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::InvalidInput
            | ErrorCode::MissingRequiredField
            | ErrorCode::InvalidFormat => 400,
            ErrorCode::RateLimitExceeded | ErrorCode::QuotaExceeded => 429,
            ErrorCode::DatabaseError | ErrorCode::CacheError | ErrorCode::InternalError => 500,
            ErrorCode::ServiceUnavailable => 503,
            ErrorCode::GatewayTimeout => 504,
        }
    }

    /// The code as it appears on the wire, e.g. `RESOURCE_NOT_FOUND`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidCredentials => "INVALID_CREDENTIALS",
            ErrorCode::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            ErrorCode::ExpiredToken => "EXPIRED_TOKEN",
            ErrorCode::InvalidApiKey => "INVALID_API_KEY",
            ErrorCode::ResourceNotFound => "RESOURCE_NOT_FOUND",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::ResourceConflict => "RESOURCE_CONFLICT",
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::MissingRequiredField => "MISSING_REQUIRED_FIELD",
            ErrorCode::InvalidFormat => "INVALID_FORMAT",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::RequestTimeout => "REQUEST_TIMEOUT",
            ErrorCode::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::DatabaseError => "DATABASE_ERROR",
            ErrorCode::CacheError => "CACHE_ERROR",
            ErrorCode::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            ErrorCode::GatewayTimeout => "GATEWAY_TIMEOUT",
            ErrorCode::InternalError => "INTERNAL_ERROR",
        }
    }

    /// Whether the message of an error with this code is safe to show as written
    /// (client mistakes are; server faults get a generic text).
    pub const fn is_client_error(self) -> bool {
        self.status() < 500
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of the standard error envelope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// Structured context (e.g. the offending field). `null` when there is none.
    pub details: Option<serde_json::Value>,
    /// RFC 3339, UTC.
    pub timestamp: String,
    pub request_id: Option<String>,
}

/// `{"error":{"code","message","details","timestamp","request_id"}}`: every error Argus sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

impl ErrorEnvelope {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorEnvelope {
            error: ErrorBody {
                code,
                message: message.into(),
                details: None,
                timestamp: String::new(),
                request_id: None,
            },
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.error.details = Some(details);
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.error.code
    }

    pub fn status(&self) -> u16 {
        self.error.code.status()
    }

    /// When to retry, for rate limits and overload (`details.retry_after_seconds`): the
    /// response's `Retry-After`.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.error
            .details
            .as_ref()
            .and_then(|d| d.get("retry_after_seconds"))
            .and_then(|v| v.as_u64())
    }
}

impl fmt::Display for ErrorEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error.code, self.error.message)
    }
}

impl std::error::Error for ErrorEnvelope {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_name_matches_serde_name_for_every_code() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::Value::String(code.as_str().to_owned()));
            let back: ErrorCode = serde_json::from_value(json).unwrap();
            assert_eq!(back, code);
        }
    }

    #[test]
    fn seed_codes_have_their_statuses() {
        use ErrorCode::*;
        let expected = [
            (InvalidCredentials, 401),
            (InsufficientPermissions, 403),
            (ExpiredToken, 401),
            (InvalidApiKey, 401),
            (ResourceNotFound, 404),
            (ResourceAlreadyExists, 409),
            (ResourceConflict, 409),
            (InvalidInput, 400),
            (MissingRequiredField, 400),
            (InvalidFormat, 400),
            (RateLimitExceeded, 429),
            (QuotaExceeded, 429),
            (DatabaseError, 500),
            (CacheError, 500),
            (ServiceUnavailable, 503),
            (InternalError, 500),
        ];
        for (code, status) in expected {
            assert_eq!(code.status(), status, "{code}");
        }
    }

    #[test]
    fn envelope_serializes_exactly_the_standard_shape() {
        let mut env = ErrorEnvelope::new(ErrorCode::ResourceNotFound, "agent not found")
            .with_details(serde_json::json!({"agent_id": "a1"}));
        env.error.timestamp = "2026-01-01T00:00:00Z".into();
        env.error.request_id = Some("req_1".into());
        let json = serde_json::to_value(&env).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {
                "code": "RESOURCE_NOT_FOUND",
                "message": "agent not found",
                "details": {"agent_id": "a1"},
                "timestamp": "2026-01-01T00:00:00Z",
                "request_id": "req_1"
            }})
        );
    }

    #[test]
    fn envelope_without_details_sends_null() {
        let env = ErrorEnvelope::new(ErrorCode::InternalError, "internal error");
        let json = serde_json::to_value(&env).unwrap();
        assert!(json["error"]["details"].is_null());
        assert!(json["error"].as_object().unwrap().contains_key("details"));
    }
}
