//! Pricing a span, workspace prices, and re-pricing the past when a price changes.
//!
//! Precedence for a span: the cost it sent (`gen_ai.usage.cost`) → the workspace's own price
//! for its model (admins set them) → the catalog (`cost::Catalog`). Both price lists match a
//! model by its exact name, then by the catalog's normalised names (`cost::candidates`), so a
//! workspace price for `gpt-4o` also prices `gpt-4o-2024-08-06` and `openrouter/openai/gpt-4o`.
//!
//! Setting or removing a workspace price ([`set`], [`remove`]) queues a re-pricing job: see
//! [`jobs`] (lookup here, the job queue and the re-pricing there).

mod jobs;

pub use jobs::{resume, run, spawn, BATCH};

use std::collections::HashMap;
use std::sync::LazyLock;

use argus_types::{JobStatus, PriceJob, Prices, UnpricedModel, WorkspacePrice};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::cache::{CacheKey, Ttl};
use crate::cost::{candidates, Catalog, Price};
use crate::identity::UserId;
use crate::ingest::model::Usage;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// The highest price accepted, USD per million tokens.
pub const MAX_PRICE: f64 = 10_000.0;
/// A workspace's prices by lowercased model name.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    prices: HashMap<String, Price>,
}

impl Overrides {
    pub fn new(list: &[WorkspacePrice]) -> Overrides {
        Overrides {
            prices: list
                .iter()
                .map(|p| {
                    (
                        p.model.to_lowercase(),
                        Price {
                            effective_from: chrono::NaiveDate::MIN,
                            input: p.input,
                            output: p.output,
                            cached_input: p.cached_input,
                            cache_write: p.cache_write,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The workspace's price for `model`, by exact then normalised name.
    pub fn find(&self, model: &str) -> Option<&Price> {
        if self.prices.is_empty() {
            return None;
        }
        candidates(model)
            .into_iter()
            .find_map(|name| self.prices.get(&name))
    }
}

/// The prices a workspace's spans are priced with.
#[derive(Clone, Copy, Debug)]
pub struct Pricing<'a> {
    pub overrides: &'a Overrides,
    pub catalog: &'a Catalog,
}

/// No workspace prices.
static NO_OVERRIDES: LazyLock<Overrides> = LazyLock::new(Overrides::default);

impl<'a> Pricing<'a> {
    pub fn new(overrides: &'a Overrides) -> Pricing<'a> {
        Pricing {
            overrides,
            catalog: Catalog::builtin(),
        }
    }

    /// The built-in catalog alone.
    pub fn catalog_only() -> Pricing<'static> {
        Pricing {
            overrides: &NO_OVERRIDES,
            catalog: Catalog::builtin(),
        }
    }

    /// A span's cost and its source (`sent`, `workspace`, `catalog`); `(None, None)` when its
    /// model has no price (or it has no model). The response model is tried before the request
    /// model, in each price list.
    pub fn price(
        &self,
        sent: Option<f64>,
        model: Option<&str>,
        request_model: Option<&str>,
        usage: &Usage,
        at: DateTime<Utc>,
    ) -> (Option<f64>, Option<&'static str>) {
        if let Some(c) = sent {
            return (Some(c), Some("sent"));
        }
        let names = || [model, request_model].into_iter().flatten();
        if let Some(p) = names().find_map(|m| self.overrides.find(m)) {
            return (Some(p.cost(usage)), Some("workspace"));
        }
        names()
            .find_map(|m| self.catalog.find(m, at))
            .map_or((None, None), |p| (Some(p.cost(usage)), Some("catalog")))
    }
}

fn overrides_key(workspace: WorkspaceId) -> CacheKey {
    CacheKey::new("prices", workspace, "workspace")
}

type PriceRow = (String, f64, f64, Option<f64>, Option<f64>, DateTime<Utc>);

/// The workspace's prices, by model.
pub async fn list(pool: &sqlx::PgPool, workspace: WorkspaceId) -> Result<Vec<WorkspacePrice>> {
    let mut tx = tenancy::begin(pool, workspace).await?;
    let rows: Vec<PriceRow> = sqlx::query_as(
        "SELECT model, input::float8, output::float8, cached_input::float8, cache_write::float8, \
         updated_at FROM workspace_prices WHERE workspace_id = $1 ORDER BY model",
    )
    .bind(workspace)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(
            |(model, input, output, cached_input, cache_write, updated_at)| WorkspacePrice {
                model,
                input,
                output,
                cached_input,
                cache_write,
                updated_at,
            },
        )
        .collect())
}

/// [`list`] as [`Overrides`], cached (warm tier; every change drops it).
pub async fn cached_overrides(services: &Services, workspace: WorkspaceId) -> Result<Overrides> {
    let list = services
        .cache
        .get_with_cache(&overrides_key(workspace), Ttl::Warm, || {
            list(&services.pool, workspace)
        })
        .await?;
    Ok(Overrides::new(&list))
}

/// A price an admin entered.
#[derive(Clone, Debug, PartialEq)]
pub struct NewPrice {
    pub model: String,
    pub input: f64,
    pub output: f64,
    pub cached_input: Option<f64>,
    pub cache_write: Option<f64>,
}

fn model_name(model: &str) -> Result<String> {
    let name = model.trim().to_lowercase();
    if name.is_empty() {
        return Err(Error::MissingField {
            field: "model".into(),
        });
    }
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "model",
            "a model name is at most 200 characters, without control characters",
        ));
    }
    Ok(name)
}

fn check_price(field: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && (0.0..=MAX_PRICE).contains(&value)) {
        return Err(Error::invalid_input(
            field,
            format!("a price is between 0 and {MAX_PRICE} USD per million tokens"),
        ));
    }
    Ok(())
}

/// re-pricing of its past spans. Run the job with [`spawn`].
pub async fn set(
    services: &Services,
    workspace: WorkspaceId,
    by: Option<UserId>,
    price: &NewPrice,
) -> Result<PriceJob> {
    let model = model_name(&price.model)?;
    check_price("input", price.input)?;
    check_price("output", price.output)?;
    if let Some(p) = price.cached_input {
        check_price("cached_input", p)?;
    }
    if let Some(p) = price.cache_write {
        check_price("cache_write", p)?;
    }
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    sqlx::query(
        "INSERT INTO workspace_prices (workspace_id, model, input, output, cached_input, \
           cache_write, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (workspace_id, model) DO UPDATE SET input = excluded.input, \
           output = excluded.output, cached_input = excluded.cached_input, \
           cache_write = excluded.cache_write, updated_by = excluded.updated_by, updated_at = now()",
    )
    .bind(workspace)
    .bind(&model)
    .bind(price.input)
    .bind(price.output)
    .bind(price.cached_input)
    .bind(price.cache_write)
    .bind(by.map(|u| u.0))
    .execute(&mut *tx)
    .await?;
    let job = jobs::queue(&mut tx, workspace, &model).await?;
    tx.commit().await?;
    services.cache.invalidate(&overrides_key(workspace)).await;
    Ok(job)
}

/// Removes the workspace's price for a model (its spans go back to the catalog, or to
/// unpriced) and queues the re-pricing.
pub async fn remove(services: &Services, workspace: WorkspaceId, model: &str) -> Result<PriceJob> {
    let model = model_name(model)?;
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let found = sqlx::query("DELETE FROM workspace_prices WHERE workspace_id = $1 AND model = $2")
        .bind(workspace)
        .bind(&model)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if found == 0 {
        return Err(Error::not_found("workspace price"));
    }
    let job = jobs::queue(&mut tx, workspace, &model).await?;
    tx.commit().await?;
    services.cache.invalidate(&overrides_key(workspace)).await;
    Ok(job)
}

/// What the prices page shows: the workspace's prices, the models without one, recent jobs.
pub async fn overview(services: &Services, workspace: WorkspaceId) -> Result<Prices> {
    let workspace_prices = list(&services.pool, workspace).await?;
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let unpriced: Vec<(String, i64, i64, i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT model, sum(unpriced_spans)::bigint, sum(input_tokens)::bigint, \
           sum(output_tokens)::bigint, max(bucket) \
         FROM rollup_daily WHERE workspace_id = $1 AND model <> '' \
         GROUP BY model HAVING sum(unpriced_spans) > 0 \
         ORDER BY sum(unpriced_spans) DESC, model LIMIT 100",
    )
    .bind(workspace)
    .fetch_all(&mut *tx)
    .await?;
    type JobRow = (
        Uuid,
        String,
        String,
        i64,
        Option<String>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
    );
    let jobs: Vec<JobRow> = sqlx::query_as(
        "SELECT id, model, status, spans_updated, error, created_at, finished_at FROM price_jobs \
         WHERE workspace_id = $1 ORDER BY created_at DESC LIMIT 10",
    )
    .bind(workspace)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Prices {
        workspace: workspace_prices,
        unpriced: unpriced
            .into_iter()
            .map(
                |(model, spans, input_tokens, output_tokens, last_seen)| UnpricedModel {
                    model,
                    spans,
                    input_tokens,
                    output_tokens,
                    last_seen,
                },
            )
            .collect(),
        jobs: jobs
            .into_iter()
            .map(
                |(id, model, status, spans_updated, error, created_at, finished_at)| PriceJob {
                    id,
                    model,
                    // The table's CHECK allows only the four; anything else reads as failed.
                    status: JobStatus::try_from(status).unwrap_or(JobStatus::Failed),
                    spans_updated,
                    error,
                    created_at,
                    finished_at,
                },
            )
            .collect(),
        catalog_version: Catalog::builtin().version.clone(),
    })
}
