//! What the request says about itself, with nothing of the app's: its cookies, whether it came
//! over https, whether it is a plain form post. Server-side only.

use http::header;
use http::request::Parts;
use leptos::prelude::*;

/// The cookie that carries a browser's session token (development).
pub const SESSION_COOKIE: &str = "argus_session";
/// The same cookie in production: the `__Host-` prefix makes the browser insist on Secure,
/// `Path=/` and no `Domain`.
pub const SECURE_SESSION_COOKIE: &str = "__Host-argus_session";

/// The value of one cookie in a `Cookie` header.
pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// The session cookie's name: `__Host-argus_session` in production (the browser then insists
/// on Secure, Path=/ and no Domain, so no subdomain can plant or read it).
pub fn session_cookie_name(production: bool) -> &'static str {
    if production {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// Whether the page was reached over https (directly or behind a proxy that says so).
pub(crate) fn is_https() -> bool {
    use_context::<Parts>().is_some_and(|parts| {
        let forwarded = parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
        let origin = parts
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("https://"));
        forwarded || origin || parts.uri.scheme_str() == Some("https")
    })
}

/// Whether the request is a plain HTML form post (no JavaScript): it will be redirected back.
pub fn is_form_post() -> bool {
    use_context::<Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    })
}

/// `scheme://host` the request was sent to (its `Host` header; `127.0.0.1:3000` without one):
/// where snippets point when the operator set no public URL. Shown to the caller only.
pub(crate) fn base_url() -> String {
    let host = use_context::<Parts>()
        .and_then(|parts| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let scheme = if is_https() { "https" } else { "http" };
    format!("{scheme}://{host}")
}
