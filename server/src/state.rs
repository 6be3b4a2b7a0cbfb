use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::gateway::GatewayConfig;

/// Everything a request handler may need, built once in `main`.
#[derive(Clone, Debug, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: argus_domain::Services,
    pub gateway: GatewayConfig,
    /// `ARGUS_METRICS_TOKEN`: `/metrics` on the main address for requests bearing it.
    pub metrics_token: Option<std::sync::Arc<secrecy::SecretString>>,
}
