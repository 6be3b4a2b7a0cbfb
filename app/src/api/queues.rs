//! Annotation queues over HTTP: define one from the trace list's filters, work it item by item,
//! see progress and how reviewers agree.

use std::collections::HashMap;

#[cfg(feature = "ssr")]
use argus_types::Role;
use argus_types::{AnnotationQueue, Filters, QueueItem, TraceFilters};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use uuid::Uuid;

use crate::error::AppError;

/// `GET /api/v1/evaluate/queues`: the annotation queues, newest first, with progress (the
/// caller's own part too) and the reviewers' agreement per score.
#[server(prefix = "/api/v1", endpoint = "evaluate/queues", input = GetUrl)]
pub async fn list_queues() -> Result<Vec<AnnotationQueue>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let me = access
        .user()
        .unwrap_or(argus_domain::identity::UserId(Uuid::nil()));
    Ok(argus_domain::evals::queues::list(&services(), access.workspace, me).await?)
}

/// `POST /api/v1/evaluate/queues/create` (admin): `name`, `description`, `configs` (score
/// config names, comma-separated), `sampling` (0 < s ≤ 1), and the trace list's filters (the
/// same parameters as `GET /api/v1/traces`): the newest matching traces, sampled, at most
/// 1,000, become its items.
#[server(prefix = "/api/v1", endpoint = "evaluate/queues/create")]
pub async fn create_queue(
    name: String,
    description: Option<String>,
    configs: String,
    sampling: Option<String>,
    #[server(flatten)] filters: Filters,
    #[server(flatten)] extra: TraceFilters,
) -> Result<AnnotationQueue, AppError> {
    use argus_domain::evals::{configs as cfg, queues};
    use argus_domain::explorer::{self, deletion};

    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let services = services();
    let extra = TraceFilters {
        limit: None,
        cursor: None,
        sort: None,
        ..extra
    };
    let query = explorer::parse(&filters, &extra, &services.cursors, chrono::Utc::now())?;
    let new = queues::NewQueue {
        name,
        description,
        configs,
        sampling: cfg::number_field("sampling", sampling.as_deref())?,
        filter: deletion::describe(&filters, &extra),
    };
    Ok(queues::create(&services, access.workspace, access.user(), &new, &query).await?)
}

/// `POST /api/v1/evaluate/queues/delete` (admin): `id`; the scores given through it stay.
#[server(prefix = "/api/v1", endpoint = "evaluate/queues/delete")]
pub async fn delete_queue(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::evals::queues::delete(&services(), access.workspace, id).await?)
}

/// `GET /api/v1/evaluate/queues/next?id=…` (a signed-in member; scoring needs the member role): the next item for them —
/// the trace's input and output and the configs to fill — or `null` when they are through.
#[server(prefix = "/api/v1", endpoint = "evaluate/queues/next", input = GetUrl)]
pub async fn next_queue_item(id: Uuid) -> Result<Option<QueueItem>, AppError> {
    use super::context::{require_user, services};
    let (access, user) = require_user(Role::Viewer)?;
    Ok(argus_domain::evals::queues::next(&services(), access.workspace, user, id).await?)
}

/// `POST /api/v1/evaluate/queues/submit` (a signed-in member): `id`, `trace_id`,
/// `values[CONFIG]=…` for the configs they filled, `comment`; the item is done for them.
#[server(prefix = "/api/v1", endpoint = "evaluate/queues/submit")]
pub async fn submit_queue_item(
    id: Uuid,
    trace_id: String,
    #[server(default)] values: HashMap<String, String>,
    comment: Option<String>,
) -> Result<usize, AppError> {
    use super::context::{require_user, services};
    let (access, user) = require_user(Role::Member)?;
    Ok(argus_domain::evals::queues::submit(
        &services(),
        access.workspace,
        user,
        id,
        &trace_id,
        &values,
        comment,
    )
    .await?)
}

/// `POST /api/v1/evaluate/queues/skip` (a signed-in member): `id`, `trace_id`; the item stays
/// for the others.
#[server(prefix = "/api/v1", endpoint = "evaluate/queues/skip")]
pub async fn skip_queue_item(id: Uuid, trace_id: String) -> Result<(), AppError> {
    use super::context::{require_user, services};
    let (access, user) = require_user(Role::Member)?;
    Ok(
        argus_domain::evals::queues::skip(&services(), access.workspace, user, id, &trace_id)
            .await?,
    )
}
