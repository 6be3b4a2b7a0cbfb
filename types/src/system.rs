use serde::{Deserialize, Serialize};

/// What the system status page and `/api/v1/system/status` show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SystemStatus {
    pub version: String,
    /// `development` or `production`.
    pub environment: String,
    pub started_at: String,
    pub uptime_seconds: u64,
    pub database: DatabaseStatus,
    pub cache: CacheStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DatabaseStatus {
    pub reachable: bool,
    /// The database URL with any password masked.
    pub url: String,
    pub server_version: Option<String>,
    /// The newest applied migration, if any.
    pub migration_version: Option<i64>,
    pub migration_description: Option<String>,
    /// The newest migration this build knows.
    pub latest_known_migration: i64,
    pub pool_size: u32,
    pub pool_idle: u32,
    pub latency_ms: Option<f64>,
}

impl DatabaseStatus {
    pub fn is_migrated(&self) -> bool {
        self.migration_version == Some(self.latest_known_migration)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CacheStatus {
    /// `redis` or `memory`.
    pub backend: String,
    /// Whether the backend answered a ping just now.
    pub healthy: bool,
    /// Why the in-process fallback serves, when it does.
    pub fallback_reason: Option<String>,
    pub errors: u64,
    pub domains: Vec<DomainCacheStats>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DomainCacheStats {
    pub domain: String,
    pub hits: u64,
    pub misses: u64,
}

/// One operation of the public API, as the reference page lists it (read from the OpenAPI
/// document at `/api/v1/openapi.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ApiOperation {
    /// `GET`, `POST`.
    pub method: String,
    pub path: String,
    pub tag: String,
    pub summary: String,
    /// Who may call it, and anything else worth knowing.
    pub description: String,
    pub deprecated: bool,
    /// Query and path parameters: `name` or `name*` when required.
    pub parameters: Vec<String>,
    /// The body's fields (form or JSON): `name` or `name*` when required.
    pub body: Vec<String>,
}

/// What the "connect an agent" panel needs: where to send traces, and the newest trace (none:
/// the workspace has not received one yet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConnectInfo {
    /// `https://argus.example.com`: `ARGUS_PUBLIC_URL`, else the address the request came to.
    pub base_url: String,
    pub latest_trace: Option<LatestTrace>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LatestTrace {
    pub trace_id: String,
    pub agent: String,
    pub name: String,
    pub start_time: chrono::DateTime<chrono::Utc>,
}
