//! `/healthz` (the process answers) and `/readyz` (it can serve: database reachable and
//! migrated; the cache backend is reported but never fails readiness).

use argus_types::ErrorCode;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::HttpError;
use crate::state::AppState;

pub async fn healthz(State(state): State<AppState>) -> Response {
    Json(json!({ "status": "ok", "version": state.services.info.version })).into_response()
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let s = &state.services;
    let argus_types::SystemStatus {
        database, cache, ..
    } = argus_domain::system::status(&s.pool, &s.cache, &s.info).await;
    let checks = json!({ "database": database, "cache": cache });
    if database.reachable && database.is_migrated() {
        Json(json!({ "status": "ready", "checks": checks })).into_response()
    } else {
        let why = if database.reachable {
            "the database schema is not at the expected migration"
        } else {
            "the database is unreachable"
        };
        HttpError::new(ErrorCode::ServiceUnavailable, why)
            .with_details(json!({ "checks": checks, "retry_after_seconds": 5 }))
            .into_response()
    }
}
