//! Workspace prices: the models' prices this workspace sets itself, the models without a
//! price, and the re-pricing jobs a change starts. Reading needs any member (or a `read` key);
//! changing needs an admin.

#[cfg(feature = "ssr")]
use argus_types::Role;
use argus_types::{PriceJob, Prices};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;

/// `GET /api/v1/prices`: the workspace's prices, the models seen without a price (with their
/// counts), and the latest re-pricing jobs.
#[server(prefix = "/api/v1", endpoint = "prices", input = GetUrl)]
pub async fn get_prices() -> Result<Prices, AppError> {
    use super::context::{require, services};
    let access = require(Role::Viewer)?;
    Ok(argus_domain::pricing::overview(&services(), access.workspace).await?)
}

/// A price field from a form: USD per million tokens, `$` allowed; blank is absent.
#[cfg(feature = "ssr")]
fn price_field(field: &str, value: Option<&str>) -> Result<Option<f64>, argus_domain::Error> {
    let Some(text) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    text.trim_start_matches('$')
        .trim()
        .parse::<f64>()
        .map(Some)
        .map_err(|_| {
            argus_domain::Error::invalid_input(
                field,
                format!("{text:?} is not a price (USD per million tokens, e.g. 2.50)"),
            )
        })
}

/// `POST /api/v1/prices/set`: sets the workspace's price for `model` (USD per million tokens;
/// `cached_input` and `cache_write` default to the input price) and starts re-pricing its past
/// spans in the background. Answers the queued job.
#[server(prefix = "/api/v1", endpoint = "prices/set")]
pub async fn set_price(
    model: String,
    input: String,
    output: String,
    cached_input: Option<String>,
    cache_write: Option<String>,
) -> Result<PriceJob, AppError> {
    use argus_domain::pricing::{self, NewPrice};

    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let required = |field: &str, value: &str| {
        price_field(field, Some(value))?.ok_or_else(|| argus_domain::Error::MissingField {
            field: field.to_owned(),
        })
    };
    let price = NewPrice {
        model,
        input: required("input", &input)?,
        output: required("output", &output)?,
        cached_input: price_field("cached_input", cached_input.as_deref())?,
        cache_write: price_field("cache_write", cache_write.as_deref())?,
    };
    let services = services();
    let job = pricing::set(&services, access.workspace, access.user(), &price).await?;
    pricing::spawn(&services, access.workspace, job.id, job.model.clone());
    Ok(job)
}

/// `POST /api/v1/prices/remove`: removes the workspace's price for `model` (its spans go back
/// to the catalog price, or to unpriced) and starts the re-pricing.
#[server(prefix = "/api/v1", endpoint = "prices/remove")]
pub async fn remove_price(model: String) -> Result<PriceJob, AppError> {
    use argus_domain::pricing;

    use super::context::{require, services};
    let access = require(Role::Admin)?;
    let services = services();
    let job = pricing::remove(&services, access.workspace, &model).await?;
    pricing::spawn(&services, access.workspace, job.id, job.model.clone());
    Ok(job)
}
