//! The gateway's authentication: one middleware resolves the caller of every request.
//!
//! Credentials, in order: `Authorization: Bearer` (an API key `argus_…` or a session token),
//! `X-API-Key`, the `argus_session` cookie. The outcome ([`Caller`]) goes into the request's
//! extensions — server functions read it from there — and the workspace and user into the
//! request's tracing span. Missing or refused credentials do not end the request here: a public
//! page or a log-in form needs none. Two things do end it:
//!
//! - **CSRF**: a state-changing request that is not authenticated by a header (so a browser
//!   form could have sent it) must come from this site: `Sec-Fetch-Site` must not be
//!   `cross-site`/`same-site` and `Origin`, when sent, must match `Host`. With the SameSite=Lax
//!   cookie this is OWASP's defence in depth without tokens, and it also stops log-in CSRF.
//! - **Protected pages**: a page that needs a session redirects to `/login?next=…`.

use std::net::{IpAddr, SocketAddr};

use argus_domain::access::{self, Caller};
use argus_domain::Services;
use argus_types::ErrorCode;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::HttpError;

pub use app::api::context::{cookie, session_cookie_name};
pub use app::api::session::SESSION_COOKIE;

/// The client's address as this server saw it (the peer of the TCP connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

enum Credential {
    ApiKey(String),
    Session { token: String, from_cookie: bool },
}

fn credential(headers: &HeaderMap, session_cookie: &str) -> Option<Credential> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, value) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| value.trim())
        });
    if let Some(value) = bearer {
        return Some(if access::is_api_key(value) {
            Credential::ApiKey(value.to_owned())
        } else {
            Credential::Session {
                token: value.to_owned(),
                from_cookie: false,
            }
        });
    }
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(Credential::ApiKey(key.trim().to_owned()));
    }
    cookie(headers, session_cookie).map(|token| Credential::Session {
        token: token.to_owned(),
        from_cookie: true,
    })
}

/// The API key a request carries (`Authorization: Bearer argus_…` or `X-API-Key`), if any.
pub fn api_key(headers: &HeaderMap) -> Option<String> {
    match credential(headers, "") {
        Some(Credential::ApiKey(key)) => Some(key),
        _ => None,
    }
}

/// Whether a request that a browser could have sent on its own comes from another site.
fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Browsers send Origin on every cross-origin POST; without one it is not a browser's
        // cross-site request.
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'));
    origin == "null" || origin_host.is_none() || origin_host != host
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub async fn authenticate(
    State(services): State<Services>,
    mut req: Request,
    next: Next,
) -> Response {
    let credential = credential(
        req.headers(),
        session_cookie_name(services.policy.production),
    );
    let header_authenticated = matches!(
        credential,
        Some(
            Credential::ApiKey(_)
                | Credential::Session {
                    from_cookie: false,
                    ..
                }
        )
    );
    if is_state_changing(req.method()) && !header_authenticated && cross_site(req.headers()) {
        tracing::warn!("refused a cross-site state-changing request");
        return HttpError::new(
            ErrorCode::InsufficientPermissions,
            "cross-site request refused: state-changing requests must come from Argus's own pages",
        )
        .into_response();
    }
    let resolved = match credential {
        None => None,
        Some(Credential::ApiKey(key)) => Some(access::from_api_key(&services, &key).await),
        Some(Credential::Session { token, .. }) => {
            Some(access::from_session(&services, &token).await)
        }
    };
    let caller = match resolved {
        None => Caller::Anonymous,
        Some(Ok(access)) => {
            let span = tracing::Span::current();
            span.record("workspace_id", tracing::field::display(access.workspace));
            match access.user() {
                Some(user) => span.record("user_id", tracing::field::display(user.0)),
                None => span.record(
                    "user_id",
                    tracing::field::display(format_args!(
                        "key:{}",
                        access.key_id().unwrap_or_default()
                    )),
                ),
            };
            Caller::Authenticated(access)
        }
        Some(Err(err)) => {
            if err.is_server_fault() {
                tracing::error!(error = ?err, "resolving credentials failed");
            }
            Caller::Rejected(err.to_envelope())
        }
    };
    let signed_in = matches!(&caller, Caller::Authenticated(a) if a.user().is_some());
    if req.method() == Method::GET && !signed_in && app::requires_session(req.uri().path()) {
        let next_path = req
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        return Redirect::to(&app::login_url(&next_path)).into_response();
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip());
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let client = services.policy.client_ip(peer, &forwarded);
    req.extensions_mut().insert(ClientIp(client));
    req.extensions_mut().insert(caller);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reads_one_cookie() {
        let h = headers(&[("cookie", "a=1; argus_session=tok; b=2")]);
        assert_eq!(cookie(&h, "argus_session"), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
        assert_eq!(
            cookie(&headers(&[("cookie", "argus_session=")]), "argus_session"),
            None
        );
    }

    #[test]
    fn same_origin_requests_pass_and_cross_site_ones_do_not() {
        let host = ("host", "argus.example:3000");
        assert!(!cross_site(&headers(&[host])), "curl: no Origin");
        assert!(!cross_site(&headers(&[
            host,
            ("origin", "http://argus.example:3000")
        ])));
        assert!(!cross_site(&headers(&[
            host,
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(cross_site(&headers(&[
            host,
            ("origin", "https://evil.example")
        ])));
        assert!(cross_site(&headers(&[host, ("origin", "null")])));
        assert!(cross_site(&headers(&[
            host,
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(cross_site(&headers(&[
            host,
            ("sec-fetch-site", "same-site")
        ])));
    }

    #[test]
    fn bearer_keys_and_tokens_are_told_apart() {
        let credential = |h: &HeaderMap| credential(h, SESSION_COOKIE);
        let key = credential(&headers(&[("authorization", "Bearer argus_abc_def")]));
        assert!(matches!(key, Some(Credential::ApiKey(k)) if k == "argus_abc_def"));
        let token = credential(&headers(&[
            ("authorization", "bearer eyJ.x.y"),
            ("cookie", "argus_session=other"),
        ]));
        assert!(
            matches!(token, Some(Credential::Session { from_cookie: false, token }) if token == "eyJ.x.y")
        );
        let cookie = credential(&headers(&[("cookie", "argus_session=c")]));
        assert!(matches!(
            cookie,
            Some(Credential::Session {
                from_cookie: true,
                ..
            })
        ));
        let x = credential(&headers(&[("x-api-key", "argus_k")]));
        assert!(matches!(x, Some(Credential::ApiKey(_))));
        assert!(credential(&headers(&[])).is_none());
    }
}
