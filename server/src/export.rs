//! `GET /api/v1/traces/export?format=csv|jsonl&…`: the traces list's filters (the same query
//! parameters as `GET /api/v1/traces`; `cursor` and `limit` do not apply), every matching
//! trace, streamed as a download (see `argus_domain::explorer::export` for the fields).

use std::collections::HashMap;

use argus_domain::access::Caller;
use argus_domain::explorer::{self, export};
use argus_types::{Filters, Role, TraceFilters};
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::StreamExt;

use crate::error::HttpError;
use crate::state::AppState;

pub async fn traces(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, HttpError> {
    let caller = caller.map_or(Caller::Anonymous, |Extension(c)| c);
    let access = caller.access().cloned().map_err(HttpError)?;
    access.require(Role::Viewer)?;
    let p: HashMap<String, String> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| p.get(k).cloned();
    let format = export::Format::parse(get("format").as_deref())?;
    let filters = Filters::parse(get);
    // Every page, in the list's order: no cursor, no page size.
    let extra = TraceFilters {
        limit: None,
        cursor: None,
        ..TraceFilters::from_lookup(get)
    };
    let services = state.services.clone();
    let query = explorer::parse(&filters, &extra, &services.cursors, chrono::Utc::now())?;
    let name = format!(
        "attachment; filename=\"argus-traces-{}.{}\"",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        format.extension()
    );
    let body = export::stream(services, access.workspace, query, format).map(|chunk| {
        chunk.map(Bytes::from).map_err(|e| {
            tracing::error!(error = %e, "a trace export failed midway");
            std::io::Error::other("the export failed midway")
        })
    });
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&name).expect("an ASCII file name"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
