//! What every server function needs from its request: the services, the caller, the client's
//! address, and the session cookie. Server-side only.

use argus_domain::access::{Access, Caller};
use argus_domain::Services;
use argus_types::Role;
use http::request::Parts;
use http::{header, HeaderValue};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::error::AppError;

use super::request::is_https;
pub use super::request::{cookie, is_form_post, session_cookie_name};

pub fn services() -> Services {
    expect_context::<Services>()
}

/// What the gateway made of the request's credentials.
pub fn caller() -> Caller {
    use_context::<Caller>()
        .or_else(|| {
            use_context::<Parts>().and_then(|parts| parts.extensions.get::<Caller>().cloned())
        })
        .unwrap_or(Caller::Anonymous)
}

/// The resolved caller, or the error for one that is not signed in.
pub fn access() -> Result<Access, AppError> {
    caller().access().cloned().map_err(AppError::from_envelope)
}

/// The caller, who must hold at least `min` in their workspace.
pub fn require(min: Role) -> Result<Access, AppError> {
    let access = access()?;
    access.require(min)?;
    Ok(access)
}

/// The caller, who must be a signed-in user (not an API key) holding at least `min`.
pub fn require_user(min: Role) -> Result<(Access, argus_domain::identity::UserId), AppError> {
    let access = require(min)?;
    let user = access.user().ok_or_else(|| {
        AppError::from(argus_domain::Error::Forbidden(
            "this needs a signed-in user, not an API key".into(),
        ))
    })?;
    Ok((access, user))
}

/// The address of the client: the peer of the connection, or the address a trusted proxy
/// (`ARGUS_TRUSTED_PROXIES`) names in `X-Forwarded-For`.
pub fn client_ip() -> Option<std::net::IpAddr> {
    let parts = use_context::<Parts>()?;
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|ci| ci.0.ip());
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    services().policy.client_ip(peer, &forwarded)
}

/// Where a new session comes from (its browser and address), for the user's session list.
pub fn origin() -> argus_domain::user_sessions::Origin {
    let user_agent = use_context::<Parts>().and_then(|parts| {
        parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    argus_domain::user_sessions::Origin {
        user_agent,
        client_ip: client_ip().map(|ip| ip.to_string()),
    }
}

/// Whether cookies get `Secure`: always in production (TLS may end at a proxy that does not
/// say so), else when the request came over https.
fn secure_cookies() -> bool {
    services().policy.production || is_https()
}

/// A short-lived, HttpOnly, SameSite=Strict cookie for the settings pages.
pub fn set_flash_cookie(name: &str, value: &str, max_age_secs: u64) {
    let secure = if secure_cookies() { "; Secure" } else { "" };
    append_set_cookie(format!(
        "{name}={value}; Path=/settings; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ));
}

fn set_cookie(value: &str, max_age_secs: u64) {
    let secure = if secure_cookies() { "; Secure" } else { "" };
    let name = session_cookie_name(services().policy.production);
    append_set_cookie(format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ));
}

fn append_set_cookie(cookie: String) {
    if let (Some(res), Ok(value)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(&cookie),
    ) {
        res.append_header(header::SET_COOKIE, value);
    }
}

/// Hands the browser its session token: HttpOnly, SameSite=Lax, Secure behind https.
pub fn set_session_cookie(token: &str) {
    set_cookie(token, services().tokens.ttl().as_secs());
}

pub fn clear_session_cookie() {
    set_cookie("", 0);
}
