//! The gateway: tower layers every request passes, outermost first.
//!
//! 1. request id (`crate::request_id`) — accept a sane `X-Request-ID` or make one; echo it;
//!    scope it for envelopes
//! 2. measure — the request counted and timed by route pattern and status (Prometheus)
//! 3. trace span — request id, method, matched path, status, latency
//! 4. guard — body limit by `Content-Length` (413) and the request timeout (504)
//! 5. catch panic — a panicking handler answers a 500 envelope
//! 6. compression
//! 7. security headers — CSP (with the page's nonce), nosniff, no framing, a strict referrer
//!    policy, a permissions policy, HSTS in production
//!
//! and `DefaultBodyLimit` for bodies without a length.

use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_domain::meters::Meters;

use argus_types::ErrorCode;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;
use tracing::{field, Span};

use crate::error::HttpError;
pub use crate::request_id::{current_request_id, RequestId, X_REQUEST_ID};

/// Limits the gateway enforces.
#[derive(Clone, Copy, Debug)]
pub struct GatewayConfig {
    pub request_timeout: Duration,
    pub body_limit_bytes: u64,
    /// How long an ingest request's body may take to arrive (408 after).
    pub body_read_timeout: Duration,
    /// `ARGUS_ENV=production`: HSTS, and no development allowances in the CSP.
    pub production: bool,
}

/// The header a rendered page carries from the renderer to [`security_headers`]: the nonce of
/// its inline scripts. Never sent to the client.
pub const NONCE_HEADER: HeaderName = HeaderName::from_static("x-argus-csp-nonce");

/// The Content-Security-Policy of an HTML page whose inline scripts carry `nonce`.
pub fn page_csp(nonce: Option<&str>, production: bool) -> String {
    let nonce = nonce
        .filter(|n| {
            n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(|n| format!(" 'nonce-{n}'"))
        .unwrap_or_default();
    // `cargo leptos watch` reloads pages over a websocket of its own.
    let connect = if production {
        "'self'"
    } else {
        "'self' ws://127.0.0.1:3001 ws://localhost:3001"
    };
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
         connect-src {connect}; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Security headers on every response: a CSP (pages: scripts from this origin or with the
/// page's nonce, WASM, no framing; everything else: nothing at all), `nosniff`, no framing, a
/// strict referrer policy, no powerful browser features, and HSTS in production.
async fn security_headers(State(cfg): State<GatewayConfig>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    let nonce = headers
        .remove(NONCE_HEADER)
        .and_then(|v| v.to_str().ok().map(str::to_owned));
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let csp = if html {
        page_csp(nonce.as_deref(), cfg.production)
    } else {
        "default-src 'none'; frame-ancestors 'none'".to_owned()
    };
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    headers.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(
            "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
        ),
    );
    if cfg.production {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}

async fn guard(State(cfg): State<GatewayConfig>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > cfg.body_limit_bytes) {
        return payload_too_large(cfg.body_limit_bytes);
    }
    match tokio::time::timeout(cfg.request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(
                timeout_secs = cfg.request_timeout.as_secs_f64(),
                "request timed out"
            );
            HttpError::new(
                ErrorCode::GatewayTimeout,
                "the request took too long and was cancelled",
            )
            .with_details(json!({ "timeout_seconds": cfg.request_timeout.as_secs_f64() }))
            .into_response()
        }
    }
}

fn payload_too_large(limit: u64) -> Response {
    HttpError::new(
        ErrorCode::PayloadTooLarge,
        format!("request body larger than {limit} bytes"),
    )
    .with_details(json!({ "limit_bytes": limit }))
    .into_response()
}

fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic payload");
    tracing::error!(panic = detail, "handler panicked");
    HttpError::new(ErrorCode::InternalError, "an internal error occurred").into_response()
}

/// Counts and times every request by its route's pattern (`/api/v1/traces/{id}`, never the id).
pub async fn measure(State(meters): State<Arc<Meters>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let res = next.run(req).await;
    meters.http_served(
        &method,
        route.as_deref(),
        res.status().as_u16(),
        started.elapsed(),
    );
    res
}

fn make_span(req: &Request) -> Span {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or("<unmatched>");
    let request_id = req
        .extensions()
        .get::<crate::request_id::RequestId>()
        .map(|r| r.0.as_str())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        request_id,
        method = %req.method(),
        path,
        uri = %req.uri().path(),
        status = field::Empty,
        latency_ms = field::Empty,
        workspace_id = field::Empty,
        user_id = field::Empty,
    )
}

/// Wraps every route of `router` in the gateway layers.
pub fn apply(router: Router, cfg: GatewayConfig, services: argus_domain::Services) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(make_span)
        .on_request(())
        .on_response(|res: &Response, latency: Duration, span: &Span| {
            let latency_ms = latency.as_secs_f64() * 1000.0;
            span.record("status", res.status().as_u16());
            span.record("latency_ms", latency_ms);
            tracing::info!(status = res.status().as_u16(), latency_ms, "request served");
        })
        .on_failure(());
    router
        .layer(DefaultBodyLimit::max(
            cfg.body_limit_bytes.min(usize::MAX as u64) as usize,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(crate::request_id::request_id))
                .layer(middleware::from_fn_with_state(
                    services.meters.clone(),
                    measure,
                ))
                .layer(trace)
                .layer(middleware::from_fn_with_state(cfg, guard))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(CompressionLayer::new())
                .layer(middleware::from_fn_with_state(cfg, security_headers))
                // Innermost: every response it makes still gets the headers above.
                .layer(middleware::from_fn_with_state(
                    services,
                    crate::auth::authenticate,
                )),
        )
}
