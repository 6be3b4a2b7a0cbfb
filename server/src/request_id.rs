//! The request id: a sane `X-Request-ID` from the client or a new `req_<uuidv7>`, echoed on
//! every response and scoped to the task serving the request, so every envelope and log line
//! of the request carries it.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the request being served on this task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

tokio::task_local! {
    static REQUEST_ID: RequestId;
}

/// The id of the request this task is serving, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.0.clone()).ok()
}

/// Whether a client-supplied request id is safe to log and echo.
fn acceptable_request_id(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        });
    ok.then_some(s)
}

fn new_request_id() -> String {
    format!("req_{}", uuid::Uuid::now_v7().simple())
}

pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(acceptable_request_id)
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    let value = HeaderValue::from_str(&id).expect("request ids are visible ASCII");
    req.headers_mut().insert(X_REQUEST_ID, value.clone());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = REQUEST_ID.scope(RequestId(id), next.run(req)).await;
    res.headers_mut().insert(X_REQUEST_ID, value);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_ids_and_refuses_odd_ones() {
        let ok = |s: &str| acceptable_request_id(&HeaderValue::from_str(s).unwrap()).is_some();
        assert!(ok("req_abc123"));
        assert!(ok("0af7651916cd43dd8448eb211c80319c"));
        assert!(ok("a1b2-c3d4:5"));
        assert!(!ok(""));
        assert!(!ok("has space"));
        assert!(!ok("quote\"d"));
        assert!(!ok(&"x".repeat(129)));
    }

    #[test]
    fn generated_ids_are_unique_and_acceptable() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert!(acceptable_request_id(&HeaderValue::from_str(&a).unwrap()).is_some());
    }
}
