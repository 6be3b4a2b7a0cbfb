use argus_types::SystemStatus;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;

/// `GET /api/v1/system/status`: version, uptime, database and cache state (admins only: it
/// names versions and addresses).
#[server(prefix = "/api/v1", endpoint = "system/status", input = GetUrl)]
pub async fn get_system_status() -> Result<SystemStatus, AppError> {
    super::context::require(argus_types::Role::Admin)?;
    let services = expect_context::<argus_domain::Services>();
    Ok(argus_domain::system::status(&services.pool, &services.cache, &services.info).await)
}
