//! Prometheus metrics (`argus_domain::meters`; every request is measured by the gateway's
//! `measure` layer): `GET /metrics` — on a listen address of its own (`ARGUS_METRICS_LISTEN`, no credentials:
//! bind it where only the scraper reaches), or on the main address behind a bearer token
//! (`ARGUS_METRICS_TOKEN`). With neither, `/metrics` is not served.

use std::net::SocketAddr;

use argus_domain::meters::{OPENMETRICS_TEXT, PROMETHEUS_TEXT};
use argus_domain::Services;
use argus_types::ErrorCode;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::error::HttpError;
use crate::state::AppState;

/// The path scrapers ask.
pub const PATH: &str = "/metrics";

/// Every metric, in the format the scraper asks for (OpenMetrics when its `Accept` names it).
async fn scrape(services: &Services, headers: &HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    match services.meters.render(services, openmetrics).await {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(if openmetrics {
                    OPENMETRICS_TEXT
                } else {
                    PROMETHEUS_TEXT
                }),
            )],
            body,
        )
            .into_response(),
        Err(err) => HttpError::from(err).into_response(),
    }
}

/// `GET /metrics` on the main address: only with `Authorization: Bearer <ARGUS_METRICS_TOKEN>`.
pub async fn on_main(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = state.metrics_token.as_deref() else {
        return HttpError::new(ErrorCode::ResourceNotFound, "no route /metrics").into_response();
    };
    if !bearer_matches(&headers, token) {
        let mut res = HttpError::new(
            ErrorCode::InvalidCredentials,
            "the metrics need the metrics token: Authorization: Bearer <ARGUS_METRICS_TOKEN>",
        )
        .into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"argus-metrics\""),
        );
        return res;
    }
    scrape(&state.services, &headers).await
}

fn bearer_matches(headers: &HeaderMap, token: &SecretString) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .is_some_and(|(_, given)| {
            bool::from(
                given
                    .trim()
                    .as_bytes()
                    .ct_eq(token.expose_secret().as_bytes()),
            )
        })
}

/// The metrics listener's router: `GET /metrics` and nothing else.
pub fn router(services: Services) -> Router {
    Router::new()
        .route(
            PATH,
            get(
                |State(services): State<Services>, headers: HeaderMap| async move {
                    scrape(&services, &headers).await
                },
            ),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "only /metrics is served here\n") })
        .with_state(services)
}

/// Serves [`router`] on `listener` for as long as the process lives.
pub fn spawn(listener: tokio::net::TcpListener, services: Services) {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(services)).await {
            tracing::error!(error = %e, ?addr, "the metrics listener stopped");
        }
    });
}
