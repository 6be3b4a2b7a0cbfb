//! The trace explorer's API: the traces list, one trace, sessions and the agents registry.
//! GET server functions (plain query strings, so links and curl share them); reading needs
//! any member or a `read` key, changing an agent needs an admin.
//!
//! The traces list takes the dashboard's filters (`range` or `from`/`to`, `dept`, `env`,
//! `version`, `agent`, `model`) and `status`, `session`, `user`, `min_latency` (ms),
//! `min_cost` (USD), `tags` (comma-separated, all required), `meta` (`key=value`), `q` (free
//! text), `sort` (`time`, `latency`, `cost`), `limit` (50 or 100) and `cursor` (a page's
//! `next_cursor` / `prev_cursor`). A cursor that is not one the server gave is a 400
//! `INVALID_FORMAT`.

#[cfg(feature = "ssr")]
use argus_types::Role;
use argus_types::{
    AgentInfo, AgentPage, Filters, SessionDetail, SessionPage, TraceDetail, TraceFilters, TracePage,
};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;

/// `GET /api/v1/traces`: one page of traces, newest (or slowest, or most expensive) first,
/// as `{data, meta {next_cursor, prev_cursor, has_more, sort, limit}, window, notices}`.
#[server(prefix = "/api/v1", endpoint = "traces", input = GetUrl)]
pub async fn get_traces(
    #[server(flatten)] filters: Filters,
    #[server(flatten)] extra: TraceFilters,
    fallback: Option<bool>,
) -> Result<TracePage, AppError> {
    use argus_domain::explorer;

    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let services = services();
    let keys = &services.cursors;
    let now = chrono::Utc::now();
    let (query, notices) = if fallback.unwrap_or(false) {
        explorer::sanitize(&filters, &extra, keys, now)
    } else {
        (explorer::parse(&filters, &extra, keys, now)?, Vec::new())
    };
    let mut page = explorer::list(&services, access.workspace, &query).await?;
    page.notices = notices;
    Ok(page)
}

/// `GET /api/v1/traces/get?id=…` (deprecated: `GET /api/v1/traces/{id}`): one trace with a page of its spans (500, from `spans_from`,
/// or the page holding `span`). Unknown (or another workspace's) → 404.
#[server(prefix = "/api/v1", endpoint = "traces/get", input = GetUrl)]
pub async fn get_trace(
    id: String,
    span: Option<String>,
    spans_from: Option<i64>,
) -> Result<TraceDetail, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    // A selected span opens the page it is on, unless a page is asked for.
    let page = argus_domain::explorer::SpanPage {
        offset: spans_from.unwrap_or(0),
        focus: if spans_from.is_none() { span } else { None },
    };
    Ok(argus_domain::explorer::detail(&services(), access.workspace, &id, &page).await?)
}

/// `GET /api/v1/sessions`: the sessions active in the window (dashboard filters), newest
/// first, 50 a page (`page` from 1) with `meta {total, page, limit, has_more}`.
#[server(prefix = "/api/v1", endpoint = "sessions", input = GetUrl)]
pub async fn get_sessions(
    #[server(flatten)] filters: Filters,
    page: Option<String>,
    fallback: Option<bool>,
) -> Result<SessionPage, AppError> {
    use argus_domain::analytics;

    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let now = chrono::Utc::now();
    let window = if fallback.unwrap_or(false) {
        analytics::resolve_lenient(&filters, now).0
    } else {
        analytics::resolve(&filters, now)?
    };
    let (page, _) = argus_domain::explorer::agents::paging(page.as_deref(), None)?;
    Ok(
        argus_domain::explorer::sessions::list(&services(), access.workspace, &window, page)
            .await?,
    )
}

/// `GET /api/v1/sessions/get?id=…` (deprecated: `GET /api/v1/sessions/{id}`): one session's traces in order, with its totals.
#[server(prefix = "/api/v1", endpoint = "sessions/get", input = GetUrl)]
pub async fn get_session(id: String) -> Result<SessionDetail, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::explorer::sessions::detail(&services(), access.workspace, &id).await?)
}

/// `GET /api/v1/agents?page=1&limit=25`: the agents registry, most recently seen first, with
/// `meta {total, page, limit, has_more}`.
#[server(prefix = "/api/v1", endpoint = "agents", input = GetUrl)]
pub async fn get_agents(
    page: Option<String>,
    limit: Option<String>,
) -> Result<AgentPage, AppError> {
    use argus_domain::explorer::agents;

    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let (page, limit) = agents::paging(page.as_deref(), limit.as_deref())?;
    Ok(agents::list(
        &services(),
        access.workspace,
        page,
        limit,
        None,
        chrono::Utc::now(),
    )
    .await?)
}

/// `GET /api/v1/agents/get?id=…` (deprecated: `GET /api/v1/agents/{id}`): one agent of the registry.
#[server(prefix = "/api/v1", endpoint = "agents/get", input = GetUrl)]
pub async fn get_agent(id: String) -> Result<AgentInfo, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::explorer::agents::get(&services(), access.workspace, &id).await?)
}

/// `POST /api/v1/agents/update`: sets an agent's department and display name (admin).
#[server(prefix = "/api/v1", endpoint = "agents/update")]
pub async fn update_agent(
    id: String,
    department: String,
    display_name: Option<String>,
) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    argus_domain::explorer::agents::update(
        &services(),
        access.workspace,
        &id,
        &department,
        display_name.as_deref().unwrap_or_default(),
    )
    .await?;
    Ok(())
}

/// `POST /api/v1/traces/delete` (admin): deletes one trace (`trace_id`) or every trace matching
/// the list's filters (the same parameters as `GET /api/v1/traces`; the default range is the
/// last 24 hours) in the background. Answers the job; its progress is in
/// `GET /api/v1/traces/deletions`.
#[server(prefix = "/api/v1", endpoint = "traces/delete")]
pub async fn delete_traces(
    trace_id: Option<String>,
    #[server(flatten)] filters: Filters,
    #[server(flatten)] extra: TraceFilters,
) -> Result<argus_types::TraceDeletion, AppError> {
    use argus_domain::explorer::{self, deletion};

    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let services = services();
    let (filter, target) = match trace_id.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(id) => {
            let id = explorer::trace_id(id)?;
            (format!("trace_id={id}"), deletion::Target::One(id))
        }
        None => {
            // A deletion matches; it does not page.
            let extra = TraceFilters {
                sort: None,
                limit: None,
                cursor: None,
                ..extra
            };
            let query = explorer::parse(&filters, &extra, &services.cursors, chrono::Utc::now())?;
            (
                deletion::describe(&filters, &extra),
                deletion::Target::Matching(Box::new(query)),
            )
        }
    };
    let job =
        deletion::create(&services, access.workspace, access.user(), &filter, &target).await?;
    deletion::spawn(&services, access.workspace, job.id, target);
    Ok(job.into())
}

/// `GET /api/v1/traces/deletions`: the workspace's latest deletions (the audit), with their
/// progress.
#[server(prefix = "/api/v1", endpoint = "traces/deletions", input = GetUrl)]
pub async fn get_deletions() -> Result<Vec<argus_types::TraceDeletion>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(
        argus_domain::explorer::deletion::list(&services(), access.workspace, 20)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arguments travel as one flat query (what the hydrated pages send, what curl sends),
    /// and both flattened structs take only their own keys from it.
    #[test]
    fn filters_travel_whole_as_a_flat_query() {
        let filters = Filters::from_query("range=7d&dept=support%20desk&agent=a%26b");
        let extra = TraceFilters {
            status: Some("error".into()),
            cursor: Some("abc.def".into()),
            ..Default::default()
        };
        let args = GetTraces {
            filters: filters.clone(),
            extra: extra.clone(),
            fallback: Some(true),
        };
        let query = serde_qs::to_string(&args).unwrap();
        let back: GetTraces = serde_qs::from_str(&query).unwrap();
        assert_eq!(back.filters, filters, "{query}");
        assert_eq!(back.extra, extra, "{query}");
        assert_eq!(back.fallback, Some(true));
        // A value the page's parse refused goes as the URL said it, so the server's notice is
        // the page's; an unknown key is no filter.
        let bad: GetTraces =
            serde_qs::from_str("range=2w&colour=red&status=ok&fallback=true").unwrap();
        assert_eq!(bad.filters.notices()[0].field, "range");
        assert_eq!(bad.filters.to_query(), "range=2w");
        assert_eq!(bad.extra.status.as_deref(), Some("ok"));
        let again: GetTraces = serde_qs::from_str(&serde_qs::to_string(&bad).unwrap()).unwrap();
        assert_eq!(again.filters, bad.filters);
    }
}
