//! The one router: health endpoints, the Leptos pages and server functions, static files,
//! and envelopes for unknown API routes and wrong methods — all behind the gateway layers.

use app::{shell, App};
use argus_types::ErrorCode;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{generate_route_list, LeptosRoutes};
use serde_json::json;

use crate::error::HttpError;
use crate::health;
use crate::state::AppState;

/// A route the server answers itself (the server functions' routes come from their registry);
/// every one has an entry in the OpenAPI document (a test holds it so).
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub handler: fn() -> MethodRouter<AppState>,
}

/// The server's own routes.
pub const ROUTES: [Route; 13] = [
    Route {
        method: Method::GET,
        path: "/healthz",
        handler: || get(health::healthz),
    },
    Route {
        method: Method::GET,
        path: "/readyz",
        handler: || get(health::readyz),
    },
    Route {
        method: Method::POST,
        path: "/v1/traces",
        handler: || post(crate::otlp::traces),
    },
    Route {
        method: Method::POST,
        path: "/v1/metrics",
        handler: || post(crate::otlp::metrics),
    },
    Route {
        method: Method::POST,
        path: "/v1/logs",
        handler: || post(crate::otlp::logs),
    },
    Route {
        method: Method::POST,
        path: "/api/v1/evaluate/scores",
        handler: || post(crate::otlp::scores),
    },
    Route {
        method: Method::POST,
        path: "/api/v1/guardrails/check",
        handler: || post(crate::guardrails::check),
    },
    Route {
        method: Method::POST,
        path: "/api/v1/traces",
        handler: || post(crate::otlp::native_batch),
    },
    Route {
        method: Method::GET,
        path: "/api/v1/traces/export",
        handler: || get(crate::export::traces),
    },
    Route {
        method: Method::GET,
        path: "/api/v1/traces/{id}",
        handler: || get(crate::rest::trace),
    },
    Route {
        method: Method::GET,
        path: "/api/v1/sessions/{id}",
        handler: || get(crate::rest::session),
    },
    Route {
        method: Method::GET,
        path: "/api/v1/agents/{id}",
        handler: || get(crate::rest::agent),
    },
    Route {
        method: Method::GET,
        path: "/api/v1/openapi.json",
        handler: || get(crate::openapi::serve),
    },
];

/// Paths answered with JSON envelopes rather than HTML pages.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path.starts_with("/v1/")
}

pub fn build(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let services = state.services.clone();
    let options = state.leptos_options.clone();
    let router = ROUTES
        .iter()
        .fold(Router::new(), |router, route| {
            router.route(route.path, (route.handler)())
        })
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_request_context(&services),
            move || shell(options.clone()),
        )
        .route(crate::metrics::PATH, get(crate::metrics::on_main))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        // Inside the gateway: the session is checked before a cached page is served.
        .layer(axum::middleware::from_fn_with_state(
            state.services.clone(),
            crate::page_cache::serve,
        ))
        .layer(axum::middleware::from_fn(crate::rest::adapt))
        .with_state(state.clone());
    crate::gateway::apply(router, state.gateway, state.services)
}

/// What every page and server function finds in its Leptos context: the services and the
/// caller the gateway resolved.
fn provide_request_context(services: &argus_domain::Services) {
    provide_context(services.clone());
    provide_context(app::api::docs::ApiDocument(crate::openapi::document()));
    let caller = use_context::<http::request::Parts>().and_then(|parts| {
        parts
            .extensions
            .get::<argus_domain::access::Caller>()
            .cloned()
    });
    if let Some(caller) = caller {
        provide_context(caller);
    }
    // The page's inline scripts carry this nonce: the gateway names it in the page's CSP.
    if let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(value) = http::HeaderValue::from_str(&nonce) {
            res.insert_header(crate::gateway::NONCE_HEADER, value);
        }
    }
}

async fn fallback(State(state): State<AppState>, uri: Uri, req: Request) -> Response {
    if is_api_path(uri.path()) {
        return HttpError::new(
            ErrorCode::ResourceNotFound,
            format!("no API route {}", uri.path()),
        )
        .with_details(json!({ "path": uri.path() }))
        .into_response();
    }
    // Static files from the site root (their brotli or gzip copy when the browser takes it),
    // else the app's own 404 page.
    let services = state.services.clone();
    let options = state.leptos_options.clone();
    let handler = leptos_axum::file_and_error_handler_with_context::<AppState, _>(
        move || provide_request_context(&services),
        shell,
    );
    let res = handler(uri.clone(), State(state), req).await;
    crate::assets::with_cache_control(uri.path(), &options, res)
}

async fn method_not_allowed(req: Request) -> Response {
    HttpError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
    .with_details(json!({ "method": req.method().as_str(), "path": req.uri().path() }))
    .into_response()
}
