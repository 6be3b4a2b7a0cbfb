//! The public API's REST door: resources at their own paths (`GET /api/v1/traces/{id}`,
//! `/api/v1/sessions/{id}`, `/api/v1/agents/{id}`), JSON request bodies for every `POST`
//! server function, and a `Deprecation` header on the older `…/get?id=` paths, which keep
//! answering. The handlers are as thin as the server functions: the caller the gateway
//! resolved, a role check, one domain call.

use std::collections::HashSet;
use std::sync::OnceLock;

use argus_domain::access::Caller;
use argus_domain::explorer;
use argus_types::{AgentInfo, ErrorCode, Role, SessionDetail, TraceDetail};
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::HttpError;
use crate::state::AppState;

/// The largest JSON body a server function takes (forms have the same bound).
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// The older paths and the REST path that replaced each.
pub const DEPRECATED: [(&str, &str); 3] = [
    ("/api/v1/traces/get", "/api/v1/traces/{id}"),
    ("/api/v1/sessions/get", "/api/v1/sessions/{id}"),
    ("/api/v1/agents/get", "/api/v1/agents/{id}"),
];

fn viewer(caller: Option<Extension<Caller>>) -> Result<argus_domain::access::Access, HttpError> {
    let caller = caller.map_or(Caller::Anonymous, |Extension(c)| c);
    let access = caller.access().cloned().map_err(HttpError)?;
    access.require(Role::Viewer)?;
    Ok(access)
}

/// `GET /api/v1/traces/{id}` query: a page of the spans.
#[derive(Debug, Default, Deserialize)]
pub struct SpanPageQuery {
    /// The span to open: the page that holds it.
    pub span: Option<String>,
    /// The first span of the page (500 a page).
    pub spans_from: Option<i64>,
}

/// `GET /api/v1/traces/{id}`: one trace with a page of its spans. Unknown → 404.
pub async fn trace(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    Query(q): Query<SpanPageQuery>,
) -> Result<Json<TraceDetail>, HttpError> {
    let access = viewer(caller)?;
    let page = explorer::SpanPage {
        offset: q.spans_from.unwrap_or(0),
        focus: if q.spans_from.is_none() { q.span } else { None },
    };
    Ok(Json(
        explorer::detail(&state.services, access.workspace, &id, &page).await?,
    ))
}

/// `GET /api/v1/sessions/{id}`: one session's traces in order, with its totals.
pub async fn session(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>, HttpError> {
    let access = viewer(caller)?;
    Ok(Json(
        explorer::sessions::detail(&state.services, access.workspace, &id).await?,
    ))
}

/// `GET /api/v1/agents/{id}`: one agent of the registry.
pub async fn agent(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<Json<AgentInfo>, HttpError> {
    let access = viewer(caller)?;
    Ok(Json(
        explorer::agents::get(&state.services, access.workspace, &id).await?,
    ))
}

/// The paths of the `POST` server functions (registered by the app at start).
fn post_functions() -> &'static HashSet<String> {
    static PATHS: OnceLock<HashSet<String>> = OnceLock::new();
    PATHS.get_or_init(|| {
        leptos::server_fn::axum::server_fn_paths()
            .filter(|(_, method)| *method == Method::POST)
            .map(|(path, _)| path.to_owned())
            .collect()
    })
}

/// Middleware: a `POST` server function sent a JSON object gets it as the form it reads (the
/// same fields; a list as `key[0]`, an object as `key[field]`), so scripts post JSON and
/// pages post forms to the same function. Older paths get `Deprecation` and a `Link` to their
/// successor.
pub async fn adapt(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim_start().to_ascii_lowercase();
            v.starts_with("application/json") || v.starts_with("application/merge-patch+json")
        });
    let req = if req.method() == Method::POST && is_json && post_functions().contains(&path) {
        match json_to_form(req).await {
            Ok(req) => req,
            Err(e) => return axum::response::IntoResponse::into_response(e),
        }
    } else {
        req
    };
    let mut res = next.run(req).await;
    if let Some((_, successor)) = DEPRECATED.iter().find(|(old, _)| *old == path) {
        let headers = res.headers_mut();
        headers.insert("deprecation", HeaderValue::from_static("true"));
        if let Ok(link) =
            HeaderValue::from_str(&format!("<{successor}>; rel=\"successor-version\""))
        {
            headers.insert(header::LINK, link);
        }
    }
    res
}

async fn json_to_form(req: Request) -> Result<Request, HttpError> {
    let (mut parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_JSON_BODY)
        .await
        .map_err(|_| {
            HttpError::new(
                ErrorCode::PayloadTooLarge,
                format!("a JSON body is at most {MAX_JSON_BODY} bytes"),
            )
        })?;
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            HttpError::new(
                ErrorCode::InvalidFormat,
                format!("the body is not JSON: {e}"),
            )
            .with_details(json!({ "line": e.line(), "column": e.column() }))
        })?
    };
    let Value::Object(fields) = value else {
        return Err(HttpError::new(
            ErrorCode::InvalidFormat,
            "the body must be a JSON object of the function's fields",
        ));
    };
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in &fields {
        flatten(&mut form, key, value, 0)?;
    }
    let form = form.finish();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Ok(Request::from_parts(parts, Body::from(form)))
}

/// Writes one JSON value as form fields (`null` is absent).
fn flatten(
    form: &mut url::form_urlencoded::Serializer<'_, String>,
    key: &str,
    value: &Value,
    depth: usize,
) -> Result<(), HttpError> {
    if depth > 8 {
        return Err(HttpError::new(
            ErrorCode::InvalidFormat,
            "the body nests too deeply",
        ));
    }
    match value {
        Value::Null => {}
        Value::Bool(b) => {
            form.append_pair(key, if *b { "true" } else { "false" });
        }
        Value::Number(n) => {
            form.append_pair(key, &n.to_string());
        }
        Value::String(s) => {
            form.append_pair(key, s);
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(form, &format!("{key}[{i}]"), item, depth + 1)?;
            }
        }
        Value::Object(fields) => {
            for (k, v) in fields {
                flatten(form, &format!("{key}[{k}]"), v, depth + 1)?;
            }
        }
    }
    Ok(())
}
