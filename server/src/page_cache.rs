//! Whole rendered dashboard pages, cached for the hot tier (30 s) per workspace, user, role and
//! URL (`argus_domain::workspaces::page_key`).
//!
//! A dashboard page's HTML depends on nothing else: its data come from the workspace's caches
//! and rollups, its header from the user's session, its forms from the role; preferences and
//! the theme are applied in the browser. So a page served from here is the page the same
//! request rendered less than 30 seconds ago, over data no older than the data caches would
//! give; it is dropped with those caches on ingest and re-pricing, on membership changes and
//! when the workspace is renamed. Rendering a page costs a few milliseconds of CPU; serving it
//! from here one cache read. Only `200 text/html` responses without `Set-Cookie` are kept, and
//! only for signed-in users (the gateway has checked the session before this runs).

use argus_domain::access::Caller;
use argus_domain::cache::Ttl;
use argus_domain::workspaces::page_key;
use argus_domain::Services;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The largest page kept (a dashboard page is about 30 KiB).
const MAX_PAGE: usize = 1 << 20;
/// URLs longer than this are rendered, not cached (keys stay small).
const MAX_URI: usize = 512;
/// Says where a page came from: `hit` or `miss`.
pub const CACHE_HEADER: &str = "x-argus-page-cache";

pub async fn serve(State(services): State<Services>, req: Request, next: Next) -> Response {
    let key = match (req.method(), req.extensions().get::<Caller>()) {
        (&Method::GET, Some(Caller::Authenticated(access)))
            if app::is_dashboard_page(req.uri().path()) =>
        {
            let uri = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
            match access.user() {
                Some(user) if uri.len() <= MAX_URI => {
                    Some(page_key(access.workspace, user, access.role, uri))
                }
                _ => None,
            }
        }
        _ => None,
    };
    let Some(key) = key else {
        return next.run(req).await;
    };
    if let Some(html) = services.cache.get_bytes(&key).await {
        return page(StatusCode::OK, Body::from(html.to_vec()), "hit");
    }
    let response = next.run(req).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if response.status() != StatusCode::OK
        || !html
        || response.headers().contains_key(header::SET_COOKIE)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_PAGE).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "a rendered page could not be read whole");
            return crate::error::HttpError::new(
                argus_types::ErrorCode::InternalError,
                "an internal error occurred",
            )
            .into_response();
        }
    };
    services
        .cache
        .set_bytes(&key, bytes.to_vec(), Ttl::Hot)
        .await;
    parts
        .headers
        .insert(CACHE_HEADER, HeaderValue::from_static("miss"));
    Response::from_parts(parts, Body::from(bytes))
}

fn page(status: StatusCode, body: Body, how: &'static str) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_HEADER, HeaderValue::from_static(how));
    response
}
