//! Datasets and experiments over HTTP: make a dataset from traces or a JSONL upload, link the
//! traces of a run to its items, compare two runs.

#[cfg(feature = "ssr")]
use argus_types::Role;
use argus_types::{
    Dataset, DatasetItemPage, ExperimentRun, Filters, ItemsAdded, RunComparison, TraceFilters,
};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use uuid::Uuid;

use crate::error::AppError;

/// A page number and size from the query (`page` from 1; `limit` 1–200, default 50).
#[cfg(feature = "ssr")]
fn paging(page: Option<String>, limit: Option<String>) -> Result<(u32, u32), AppError> {
    use argus_domain::Error;
    let number = |field: &str, v: Option<String>, default: u32| -> Result<u32, AppError> {
        match v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    Error::invalid_input(field, format!("{s:?} is not a whole number from 1"))
                        .into()
                }),
        }
    };
    Ok((number("page", page, 1)?, number("limit", limit, 50)?))
}

/// The caller, allowed to write evaluation data: a key with `score` (or `admin`), or a member.
#[cfg(feature = "ssr")]
fn scorer() -> Result<argus_domain::access::Access, AppError> {
    let access = super::context::access()?;
    access.require_score()?;
    Ok(access)
}

/// `GET /api/v1/evaluate/datasets`: the datasets, newest first, with item and run counts.
#[server(prefix = "/api/v1", endpoint = "evaluate/datasets", input = GetUrl)]
pub async fn list_datasets() -> Result<Vec<Dataset>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::evals::datasets::list(&services(), access.workspace).await?)
}

/// `GET /api/v1/evaluate/datasets/get?id=…`: one dataset.
#[server(prefix = "/api/v1", endpoint = "evaluate/datasets/get", input = GetUrl)]
pub async fn get_dataset(id: Uuid) -> Result<Dataset, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::evals::datasets::get(&services(), access.workspace, id).await?)
}

/// `POST /api/v1/evaluate/datasets/create` (a member, or a key with `score`): `name`,
/// `description`.
#[server(prefix = "/api/v1", endpoint = "evaluate/datasets/create")]
pub async fn create_dataset(
    name: String,
    description: Option<String>,
) -> Result<Dataset, AppError> {
    let access = scorer()?;
    Ok(argus_domain::evals::datasets::create(
        &super::context::services(),
        access.workspace,
        access.user(),
        &name,
        description.as_deref(),
    )
    .await?)
}

/// `POST /api/v1/evaluate/datasets/delete` (admin): `id`; its items and runs go with it (the
/// traces and scores stay).
#[server(prefix = "/api/v1", endpoint = "evaluate/datasets/delete")]
pub async fn delete_dataset(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::evals::datasets::delete(&services(), access.workspace, id).await?)
}

/// `GET /api/v1/evaluate/datasets/items?id=…&page=1&limit=50`: a page of a dataset's items,
/// newest first.
#[server(prefix = "/api/v1", endpoint = "evaluate/datasets/items", input = GetUrl)]
pub async fn dataset_items(
    id: Uuid,
    page: Option<String>,
    limit: Option<String>,
) -> Result<DatasetItemPage, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let (page, limit) = paging(page, limit)?;
    Ok(
        argus_domain::evals::datasets::items(&services(), access.workspace, id, page, limit)
            .await?,
    )
}

/// `POST /api/v1/evaluate/datasets/upload` (a member, or a key with `score`): `id` and `jsonl`,
/// one item per line: `{"input": …, "expected_output": …, "metadata": {…}, "id": "uuid"}`
/// (`input` required; strings as they are, other JSON as text). Lines with errors are
/// reported by number and left out; an `id` already in the dataset counts as a duplicate.
#[server(prefix = "/api/v1", endpoint = "evaluate/datasets/upload")]
pub async fn upload_dataset_items(id: Uuid, jsonl: String) -> Result<ItemsAdded, AppError> {
    let access = scorer()?;
    Ok(argus_domain::evals::datasets::upload(
        &super::context::services(),
        access.workspace,
        id,
        &jsonl,
    )
    .await?)
}

/// `POST /api/v1/evaluate/datasets/add-traces` (a member, or a key with `score`): `id`, and
/// either `trace_id` (one trace) or the trace list's filters with `max` (the newest matching
/// traces, 100 by default, at most 1,000). Each trace becomes an item: its first input, its
/// last output as the expected output, its agent, environment and version as metadata.
#[server(prefix = "/api/v1", endpoint = "evaluate/datasets/add-traces")]
pub async fn add_traces_to_dataset(
    id: Uuid,
    trace_id: Option<String>,
    max: Option<String>,
    #[server(flatten)] filters: Filters,
    #[server(flatten)] extra: TraceFilters,
) -> Result<ItemsAdded, AppError> {
    use argus_domain::evals::{configs as cfg, datasets};
    use argus_domain::explorer;

    use super::context::services;
    let access = scorer()?;
    let services = services();
    if let Some(trace) = trace_id
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
    {
        return Ok(datasets::add_traces(&services, access.workspace, id, &[trace]).await?);
    }
    let extra = TraceFilters {
        limit: None,
        cursor: None,
        sort: None,
        ..extra
    };
    let query = explorer::parse(&filters, &extra, &services.cursors, chrono::Utc::now())?;
    let max = cfg::number_field("max", max.as_deref())?.map(|m| m as i64);
    Ok(datasets::add_matching(&services, access.workspace, id, &query, max).await?)
}

/// `POST /api/v1/evaluate/datasets/items/delete` (a member): `dataset_id`, `item_id`.
#[server(prefix = "/api/v1", endpoint = "evaluate/datasets/items/delete")]
pub async fn delete_dataset_item(dataset_id: Uuid, item_id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Member)?;
    Ok(argus_domain::evals::datasets::delete_item(
        &services(),
        access.workspace,
        dataset_id,
        item_id,
    )
    .await?)
}

/// `GET /api/v1/evaluate/experiments?dataset=…`: the dataset's runs, newest first: traces
/// linked and arrived, errors, mean latency, cost and each score's mean.
#[server(prefix = "/api/v1", endpoint = "evaluate/experiments", input = GetUrl)]
pub async fn list_runs(dataset: Uuid) -> Result<Vec<ExperimentRun>, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::evals::experiments::runs(&services(), access.workspace, dataset).await?)
}

/// `POST /api/v1/evaluate/experiments/link` (a member, or a key with `score`): `item_id`,
/// `run` (the run's name; created when new), `trace_id`. The same is done at ingest for spans
/// with a `dataset.item_id` attribute (and `dataset.run_name`, else `agent@version`).
#[server(prefix = "/api/v1", endpoint = "evaluate/experiments/link")]
pub async fn link_run_trace(
    item_id: Uuid,
    run: String,
    trace_id: String,
) -> Result<ExperimentRun, AppError> {
    let access = scorer()?;
    Ok(argus_domain::evals::experiments::link(
        &super::context::services(),
        access.workspace,
        item_id,
        &run,
        &trace_id,
    )
    .await?)
}

/// `GET /api/v1/evaluate/experiments/compare?a=RUN&b=RUN&page=1&limit=50`: two runs of a
/// dataset score by score (Welch's t, two-proportion z), paired item by item (B better, worse,
/// same), and a page of items with each run's trace and scores.
#[server(prefix = "/api/v1", endpoint = "evaluate/experiments/compare", input = GetUrl)]
pub async fn compare_runs(
    a: Uuid,
    b: Uuid,
    page: Option<String>,
    limit: Option<String>,
) -> Result<RunComparison, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    let (page, limit) = paging(page, limit)?;
    Ok(
        argus_domain::evals::experiments::compare(&services(), access.workspace, a, b, page, limit)
            .await?,
    )
}

/// `POST /api/v1/evaluate/experiments/delete` (admin): `id`; the traces and scores stay.
#[server(prefix = "/api/v1", endpoint = "evaluate/experiments/delete")]
pub async fn delete_run(id: Uuid) -> Result<(), AppError> {
    use super::context::{require, services};
    let access = require(Role::Admin)?;
    Ok(argus_domain::evals::experiments::delete_run(&services(), access.workspace, id).await?)
}
