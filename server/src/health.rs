//! `/healthz` (the process answers) and `/readyz` (it can serve: database reachable and
//! migrated). Both are public, so they say no more than that: versions, addresses and the
//! cache backend are on the status page, for admins.

use argus_types::ErrorCode;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::HttpError;
use crate::state::AppState;

pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let s = &state.services;
    let argus_types::SystemStatus { database, .. } =
        argus_domain::system::status(&s.pool, &s.cache, &s.info).await;
    if database.reachable && database.is_migrated() {
        Json(json!({ "status": "ready" })).into_response()
    } else {
        if database.reachable {
            tracing::warn!("not ready: the database schema is not at the expected migration");
        } else {
            tracing::warn!("not ready: the database is unreachable");
        }
        HttpError::new(ErrorCode::ServiceUnavailable, "not ready")
            .with_details(json!({ "retry_after_seconds": 5 }))
            .into_response()
    }
}
