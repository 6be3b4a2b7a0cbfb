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

/// `GET /api/v1/connect`: where agents send traces (the public URL, else this request's
/// address) and the workspace's newest trace — the setup panel polls it until one arrives.
#[server(prefix = "/api/v1", endpoint = "connect", input = GetUrl)]
pub async fn get_connect() -> Result<argus_types::ConnectInfo, AppError> {
    let access = super::context::require(argus_types::Role::Viewer)?;
    let services = super::context::services();
    let base_url = services
        .notifier
        .public_url
        .clone()
        .unwrap_or_else(super::request::base_url);
    let latest_trace = argus_domain::explorer::latest(&services, access.workspace).await?;
    Ok(argus_types::ConnectInfo {
        base_url,
        latest_trace,
    })
}
