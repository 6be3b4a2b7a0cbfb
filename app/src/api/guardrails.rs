//! Guardrails under `/api/v1/guardrails/`: policies (list, create, update, delete, attach to
//! ingestion), "try it" on a draft, the page's summary and the recorded decisions. The check
//! itself is `POST /api/v1/guardrails/check`, an axum route of the server (JSON in, JSON out).
//!
//! Reading needs any member or a `read` key; trying a draft, a member; changing policies, an
//! admin. A policy's definition travels as JSON text (`definition`), as the editor holds it.

#[cfg(feature = "ssr")]
use argus_types::Role;
use argus_types::{Filters, GuardCheckResponse, GuardDecision, GuardPolicy, GuardSummary};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use uuid::Uuid;

use crate::error::AppError;

#[cfg(feature = "ssr")]
fn parsed(definition: &str) -> Result<argus_types::PolicyDefinition, AppError> {
    serde_json::from_str(definition).map_err(|e| {
        AppError::from(argus_domain::Error::invalid_input(
            "definition",
            format!(
                "not a policy definition (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        ))
    })
}

#[cfg(feature = "ssr")]
fn new_policy(
    name: String,
    description: Option<String>,
    definition: &str,
) -> Result<argus_domain::guard::policies::NewPolicy, AppError> {
    Ok(argus_domain::guard::policies::NewPolicy {
        name,
        description: description.unwrap_or_default(),
        definition: parsed(definition)?,
    })
}

/// `GET /api/v1/guardrails/policies`: the policies by name, each with its last 24 hours of
/// decisions.
#[server(prefix = "/api/v1", endpoint = "guardrails/policies", input = GetUrl)]
pub async fn list_policies() -> Result<Vec<GuardPolicy>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::guard::policies::list(&services(), access.workspace).await?)
}

/// `POST /api/v1/guardrails/policies/create` (admin): `name` (letters, digits, `.`, `_`,
/// `-`), `description`, `definition` (JSON: `rules` [{check, action, stages, kinds,
/// min_score}], `banned_terms`, `banned_patterns`, `max_tokens`, `require_json`,
/// `json_schema`, `agents`, `environments`, `shadow`).
#[server(prefix = "/api/v1", endpoint = "guardrails/policies/create")]
pub async fn create_policy(
    name: String,
    description: Option<String>,
    definition: String,
) -> Result<GuardPolicy, AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let new = new_policy(name, description, &definition)?;
    Ok(
        argus_domain::guard::policies::create(&services(), access.workspace, access.user(), &new)
            .await?,
    )
}

/// `POST /api/v1/guardrails/policies/update` (admin): `id` and the fields of `create`; a
/// changed definition is a new version (decisions name the version that made them).
#[server(prefix = "/api/v1", endpoint = "guardrails/policies/update")]
pub async fn update_policy(
    id: Uuid,
    name: String,
    description: Option<String>,
    definition: String,
) -> Result<GuardPolicy, AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let new = new_policy(name, description, &definition)?;
    Ok(argus_domain::guard::policies::update(
        &services(),
        access.workspace,
        id,
        access.user(),
        &new,
    )
    .await?)
}

/// `POST /api/v1/guardrails/policies/delete` (admin): `id`; its decisions stay.
#[server(prefix = "/api/v1", endpoint = "guardrails/policies/delete")]
pub async fn delete_policy(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::guard::policies::delete(&services(), access.workspace, id).await?)
}

/// `POST /api/v1/guardrails/policies/ingest` (admin): `id` of a policy with a `redact` rule:
/// ingestion redacts span inputs, outputs and string attributes with it before storing them;
/// no `id`: ingestion stores what it gets.
#[server(prefix = "/api/v1", endpoint = "guardrails/policies/ingest")]
pub async fn set_ingest_policy(id: Option<String>) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let id = match id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<Uuid>().map_err(|_| {
            AppError::from(argus_domain::Error::invalid_input("id", "not a policy id"))
        })?),
    };
    Ok(argus_domain::guard::policies::set_ingest(&services(), access.workspace, id).await?)
}

/// `POST /api/v1/guardrails/try` (member): runs a draft `definition` on `text` at `stage`
/// (`input`, `output`, `tool_call`) as a check would; nothing is recorded.
#[server(prefix = "/api/v1", endpoint = "guardrails/try")]
pub async fn try_policy(
    definition: String,
    stage: Option<String>,
    text: String,
) -> Result<GuardCheckResponse, AppError> {
    use super::context::require;
    require(Role::Member)?;
    let stage = match stage.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => argus_types::GuardStage::Input,
        Some(s) => argus_types::GuardStage::parse(s).ok_or_else(|| {
            AppError::from(argus_domain::Error::invalid_input(
                "stage",
                "input, output or tool_call",
            ))
        })?,
    };
    let definition = parsed(&definition)?;
    Ok(argus_domain::guard::check::try_definition(
        &definition,
        stage,
        &text,
    )?)
}

/// `GET /api/v1/guardrails/summary`: the window's decisions over time by action, violations by
/// check, top agents, shadow policies' "would" counts (the dashboard's filters: `range` or
/// `from`/`to`, `dept`, `agent`, `env`; `fallback=true`: bad values are dropped, as pages do).
#[server(prefix = "/api/v1", endpoint = "guardrails/summary", input = GetUrl)]
pub async fn get_guard_summary(
    #[server(flatten)] filters: Filters,
    fallback: Option<bool>,
) -> Result<GuardSummary, AppError> {
    use argus_domain::analytics;

    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let now = chrono::Utc::now();
    let window = if fallback.unwrap_or(false) {
        analytics::resolve_lenient(&filters, now).0
    } else {
        analytics::resolve(&filters, now)?
    };
    Ok(argus_domain::guard::decisions::summary(&services(), access.workspace, &window).await?)
}

/// `GET /api/v1/guardrails/decisions`: recorded decisions newest first (`policy`, `agent`,
/// `acted`: only those that did or would act; `before`: an RFC 3339 time, the next page;
/// `limit` ≤ 200).
#[server(prefix = "/api/v1", endpoint = "guardrails/decisions", input = GetUrl)]
pub async fn list_guard_decisions(
    policy: Option<String>,
    agent: Option<String>,
    acted: Option<bool>,
    before: Option<String>,
    limit: Option<i64>,
) -> Result<Vec<GuardDecision>, AppError> {
    use argus_domain::guard::decisions::{recent, ListFilter};

    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let some = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let before = match some(before) {
        None => None,
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(&t)
                .map_err(|_| {
                    AppError::from(argus_domain::Error::invalid_input(
                        "before",
                        "an RFC 3339 time",
                    ))
                })?
                .with_timezone(&chrono::Utc),
        ),
    };
    let filter = ListFilter {
        policy: some(policy),
        agent: some(agent),
        acted: acted.unwrap_or(false),
        before,
        limit: limit.unwrap_or(50),
    };
    Ok(recent(&services(), access.workspace, &filter).await?)
}

/// `GET /api/v1/guardrails/trace`: the decisions that name trace `id`, in time order.
#[server(prefix = "/api/v1", endpoint = "guardrails/trace", input = GetUrl)]
pub async fn trace_decisions(id: String) -> Result<Vec<GuardDecision>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let id = argus_domain::explorer::trace_id(&id)?;
    Ok(argus_domain::guard::decisions::for_trace(&services(), access.workspace, &id).await?)
}
