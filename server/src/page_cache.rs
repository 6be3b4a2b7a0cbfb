//! Whole rendered dashboard pages, cached for the hot tier (30 s) per workspace, user, role and
//! URL (`argus_domain::cache::pages::key`).
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
use argus_domain::cache::pages;
use argus_domain::cache::{Lookup, Ttl};
use argus_domain::Services;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http_body_util::BodyExt;

use crate::gateway::NONCE_HEADER;

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
                    Some(pages::key(access.workspace, user, access.role, uri))
                }
                _ => None,
            }
        }
        _ => None,
    };
    let Some(key) = key else {
        return next.run(req).await;
    };
    let stamp = match services.cache.get_bytes(&key).await {
        Lookup::Hit(stored) => match replay(&stored) {
            Some(response) => return response,
            None => return next.run(req).await,
        },
        Lookup::Miss(stamp) => stamp,
    };
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
    let (bytes, rest) = match read_up_to(body, MAX_PAGE).await {
        Ok(read) => read,
        Err(e) => {
            tracing::error!(error = %e, "a rendered page could not be read");
            return crate::error::HttpError::new(
                argus_types::ErrorCode::InternalError,
                "an internal error occurred",
            )
            .into_response();
        }
    };
    let Some(rest) = rest else {
        let nonce = parts
            .headers
            .get(NONCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut stored = Vec::with_capacity(nonce.len() + 1 + bytes.len());
        stored.extend_from_slice(nonce.as_bytes());
        stored.push(b'\n');
        stored.extend_from_slice(&bytes);
        services
            .cache
            .set_bytes(&key, &stamp, &stored, Ttl::Hot)
            .await;
        parts
            .headers
            .insert(CACHE_HEADER, HeaderValue::from_static("miss"));
        return Response::from_parts(parts, Body::from(bytes));
    };
    // Over the size limit: sent as rendered, not kept.
    tracing::debug!("a page over the cache's size limit is not cached");
    let stream = futures::stream::once(async move { Ok::<_, axum::Error>(bytes) })
        .chain(rest.into_data_stream());
    Response::from_parts(parts, Body::from_stream(stream))
}

/// Reads at most `max` bytes of `body`: all of it (`None` after), or the part read and the
/// rest still to stream.
async fn read_up_to(mut body: Body, max: usize) -> Result<(Bytes, Option<Body>), axum::Error> {
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            read.extend_from_slice(&data);
            if read.len() > max {
                return Ok((Bytes::from(read), Some(body)));
            }
        }
    }
    Ok((Bytes::from(read), None))
}

/// A kept page, served with a fresh nonce for its inline scripts: the one it was rendered with
/// is replaced wherever it appears as an attribute value (`nonce="…"`, and the `crossorigin`
/// Leptos also gives it).
fn replay(stored: &[u8]) -> Option<Response> {
    let split = stored.iter().position(|b| *b == b'\n')?;
    let (old, html) = (&stored[..split], &stored[split + 1..]);
    let response = if old.is_empty() {
        page(StatusCode::OK, Body::from(html.to_vec()), "hit")
    } else {
        let fresh = fresh_nonce();
        let from = [b"\"", old, b"\""].concat();
        let to = [b"\"", fresh.as_bytes(), b"\""].concat();
        let body = replace_all(html, &from, &to);
        let mut response = page(StatusCode::OK, Body::from(body), "hit");
        response
            .headers_mut()
            .insert(NONCE_HEADER, HeaderValue::from_str(&fresh).ok()?);
        response
    };
    Some(response)
}

fn fresh_nonce() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_page_over_the_limit_is_passed_on_whole_not_cut() {
        let big = vec![b'x'; 3 * 1024];
        let (read, rest) = read_up_to(Body::from(big.clone()), 1024).await.unwrap();
        let rest = rest.expect("over the limit: the rest still to stream");
        let mut whole = read.to_vec();
        whole.extend_from_slice(&rest.collect().await.unwrap().to_bytes());
        assert_eq!(whole, big, "nothing lost");
        let (read, rest) = read_up_to(Body::from(vec![b'y'; 10]), 1024).await.unwrap();
        assert!(rest.is_none());
        assert_eq!(read.len(), 10);
    }

    #[test]
    fn a_replayed_page_gets_a_fresh_nonce_everywhere_the_old_one_was() {
        let stored =
            b"abc\n<script nonce=\"abc\">1</script><p>abc</p><script nonce=\"abc\">2</script>";
        let response = replay(stored).unwrap();
        let fresh = response.headers()[NONCE_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        assert_ne!(fresh, "abc");
        assert_eq!(fresh.len(), 22);
    }
}
