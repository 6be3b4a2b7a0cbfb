//! The argus binary's library: configuration, start-up, the HTTP gateway and the router.
#![forbid(unsafe_code)]

pub mod assets;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod error;
pub mod export;
pub mod gateway;
pub mod grpc;
pub mod guardrails;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod otlp;
pub mod page_cache;
pub mod request_id;
pub mod rest;
pub mod router;
pub mod state;
pub mod telemetry;

use std::sync::Arc;

use anyhow::Context;
use argus_domain::system::SystemInfo;
use argus_domain::Services;
use leptos::config::get_configuration;
use secrecy::ExposeSecret;

use crate::config::{Config, SecretSource};
use crate::gateway::GatewayConfig;
use crate::state::AppState;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A start-up failure that deserves one clear line rather than a backtrace.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(pub String);

/// `argus migrate`: create the database if needed and apply the migrations.
pub async fn migrate(config: &Config) -> Result<(), StartupError> {
    let db = config.db();
    let pool = argus_domain::db::prepare_with(&db, &config.direct_db())
        .await
        .map_err(|e| StartupError(e.to_string()))?;
    let status = argus_domain::db::status(&pool, &db.masked_url()).await;
    tracing::info!(
        database = %db.masked_url(),
        migration = status.migration_version,
        "database is migrated"
    );
    pool.close().await;
    Ok(())
}

/// Builds everything the router needs: database (created and migrated), cache, Leptos options.
pub async fn build_state(config: &Config) -> Result<AppState, StartupError> {
    let (jwt_secret, source) = config.validate().map_err(|e| StartupError(e.to_string()))?;
    let previous = config
        .previous_jwt_secrets()
        .map_err(|e| StartupError(format!("ARGUS_JWT_PREVIOUS_SECRETS: {e}")))?;
    let tokens = Arc::new(argus_domain::token::TokenKeys::new(
        &jwt_secret,
        &previous,
        std::time::Duration::from_secs(config.session_ttl_hours * 3600),
    ));
    if source == SecretSource::Generated {
        tracing::warn!(
            "ARGUS_JWT_SECRET is not set: using a random secret for this run only \
             (sessions end when the server restarts); set it in production"
        );
    }
    let db = config.db();
    let pool = argus_domain::db::prepare_with(&db, &config.direct_db())
        .await
        .map_err(|e| StartupError(e.to_string()))?;
    let cache = argus_domain::cache::Cache::connect(&config.cache()).await;
    let mut leptos_options = get_configuration(None)
        .map_err(|e| StartupError(format!("invalid Leptos configuration: {e}")))?
        .leptos_options;
    leptos_options.site_addr = config.listen_addr;
    // Hashed file names when this binary's build made them (release builds).
    leptos_options.hash_files = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(std::path::Path::to_path_buf))
        .is_some_and(|dir| assets::hashed_site(&leptos_options, &dir));
    let mut services = Services::new(
        pool,
        cache,
        Arc::new(SystemInfo {
            version: VERSION,
            environment: config.environment.as_str().to_owned(),
            started_at: chrono::Utc::now(),
            database_url_masked: db.masked_url(),
        }),
        tokens,
    );
    services.invalidator = argus_domain::ingest::invalidate::Invalidator::new(
        std::time::Duration::from_millis(config.cache_invalidation_ms),
    );
    if config.database_direct_url.is_some() {
        // DATABASE_URL is a transaction pooler's: session locks on PostgreSQL itself.
        services.locks = argus_domain::db::connect(&config.direct_db())
            .await
            .map_err(|e| StartupError(format!("ARGUS_DATABASE_DIRECT_URL: {e}")))?;
    }
    if let Some(read_db) = config.read_db() {
        let replica = argus_domain::db::connect(&read_db)
            .await
            .map_err(|e| StartupError(format!("the read replica: {e}")))?;
        tracing::info!(
            replica = %read_db.masked_url(),
            "dashboard, explorer and export reads go to the read replica"
        );
        services.reads = Arc::new(argus_domain::reads::Reads::with_replica(
            services.pool.clone(),
            replica,
        ));
    }
    services.policy = Arc::new(config.policy());
    let sealing_key = match &config.encryption_key {
        Some(key) => {
            if key.expose_secret().len() < config::MIN_JWT_SECRET_BYTES {
                return Err(StartupError(format!(
                    "ARGUS_ENCRYPTION_KEY must be at least {} bytes long",
                    config::MIN_JWT_SECRET_BYTES
                )));
            }
            argus_domain::sealed::key_from(key.expose_secret())
        }
        None => services.tokens.derive("argus sealed secrets"),
    };
    services.judges = Arc::new(argus_domain::evals::judge::Judges::new(
        &sealing_key,
        config.judge_allow_private_networks,
    ));
    let mut notifier = argus_domain::alerts::notify::Notifier::new(
        &sealing_key,
        config.webhook_allow_private_networks,
        config.public_url.clone().filter(|u| !u.trim().is_empty()),
    );
    notifier.mailer = config.mailer().map_err(StartupError)?;
    services.notifier = Arc::new(notifier);
    services.ingest_gate = Arc::new(argus_domain::ingest::gate::IngestGate::new(
        config.ingest_max_inflight_mb << 20,
        config.ingest_max_concurrent as usize,
        config.ingest_workspace_share_percent,
    ));
    Ok(AppState {
        leptos_options,
        services,
        gateway: GatewayConfig {
            request_timeout: config.request_timeout(),
            body_limit_bytes: config.body_limit_bytes,
            body_read_timeout: std::time::Duration::from_secs(config.body_read_timeout_secs),
            production: config.environment == config::Environment::Production,
        },
        metrics_token: config.metrics_token.clone().map(Arc::new),
    })
}

/// Serves until Ctrl-C or SIGTERM, then drains in-flight requests.
pub async fn serve(config: &Config) -> anyhow::Result<()> {
    let state = build_state(config).await?;
    let router = router::build(state.clone());
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .map_err(|e| StartupError(format!("cannot listen on {}: {e}", config.listen_addr)))?;
    let addr = listener.local_addr().context("local address")?;
    tracing::info!(
        site_root = %state.leptos_options.site_root,
        "Argus {VERSION} is serving at http://{addr}"
    );
    println!("Argus is running at http://{addr}");
    if let Some(grpc) = grpc::bind(config.grpc_listen).await.map_err(StartupError)? {
        let at = grpc.local_addr().context("gRPC address")?;
        tracing::info!("OTLP/gRPC at http://{at}");
        println!("OTLP/gRPC (traces, metrics, logs) at {at}");
        grpc::spawn(grpc, state.clone());
    }
    if let Some(at) = config.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(at)
            .await
            .map_err(|e| StartupError(format!("cannot listen for metrics on {at}: {e}")))?;
        tracing::info!("Prometheus metrics at http://{at}{}", metrics::PATH);
        metrics::spawn(metrics, state.services.clone());
    }
    let usage_writer = tokio::spawn(write_key_usage(state.services.clone()));
    let decisions_writer = tokio::spawn(argus_domain::guard::decisions::write_forever(
        state.services.clone(),
    ));
    // Jobs left unfinished (by a previous run, or by a replica that died: its job locks went
    // with its connections) are taken over now and then every 30 s; each runs once across
    // replicas (`jobs::spawn_once`) and resumes idempotently.
    tokio::spawn(resume_jobs_forever(
        state.services.clone(),
        std::time::Duration::from_secs(30),
    ));
    // Guardrails: build the checks' automata now, not on the first check.
    tokio::task::spawn_blocking(|| argus_domain::guard::scan_all("warm up: a@b.co 4111"));
    // Today's and the coming days' span partitions, made before any span needs them.
    argus_domain::ingest::store::spawn_ahead(&state.services, std::time::Duration::from_secs(3600));
    // Online evaluators: the queue ingest fills (shared with other replicas).
    argus_domain::evals::worker::spawn(&state.services);
    if config.alerts {
        argus_domain::alerts::evaluate::spawn(&state.services);
        argus_domain::alerts::notify::spawn(&state.services);
    }
    if config.retention_interval_secs > 0 {
        argus_domain::retention::spawn(
            &state.services,
            std::time::Duration::from_secs(config.retention_interval_secs),
        );
    }
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server error")?;
    usage_writer.abort();
    decisions_writer.abort();
    if let Err(e) = state
        .services
        .guard_decisions
        .flush(&state.services.pool)
        .await
    {
        tracing::warn!(error = ?e, "writing guardrail decisions at shutdown failed");
    }
    if let Err(e) = state.services.key_usage.flush(&state.services.pool).await {
        tracing::warn!(error = ?e, "writing API key usage at shutdown failed");
    }
    state.services.pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resumes unfinished re-pricing jobs, trace deletions and evaluator backfills every `every`.
async fn resume_jobs_forever(services: Services, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    loop {
        tick.tick().await;
        let found = [
            (
                "re-pricing jobs",
                argus_domain::pricing::resume(&services).await,
            ),
            (
                "trace deletions",
                argus_domain::explorer::deletion::resume(&services).await,
            ),
            (
                "evaluator backfills",
                argus_domain::evals::backfill::resume(&services).await,
            ),
        ];
        for (what, outcome) in found {
            match outcome {
                Ok(0) => {}
                Ok(n) if first => tracing::info!(jobs = n, "resuming unfinished {what}"),
                Ok(n) => tracing::debug!(jobs = n, "unfinished {what} (run here or elsewhere)"),
                Err(e) => tracing::warn!(error = ?e, "cannot list unfinished {what}"),
            }
        }
        first = false;
    }
}

/// Writes API keys' last use once a minute (see `KeyUsage`).
async fn write_key_usage(services: Services) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = services.key_usage.flush(&services.pool).await {
            tracing::warn!(error = ?e, "writing API key usage failed; will retry");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
