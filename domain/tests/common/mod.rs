#![allow(dead_code)]

use std::time::Duration;

use argus_domain::db::{self, DbConfig};
use secrecy::SecretString;
use sqlx::PgPool;

/// The server's database settings for the test's database: connections run as the app role.
pub fn config_for(owner: &PgPool) -> DbConfig {
    DbConfig::app_role_like(owner)
}

/// A pool on the test's database whose connections run as the app role, like the server's.
pub async fn app_pool(owner: &PgPool) -> PgPool {
    db::connect(&config_for(owner)).await.unwrap()
}

/// The SQLSTATE of a database error, if it is one.
pub fn sqlstate(err: &sqlx::Error) -> Option<String> {
    err.as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned())
}

/// The server's services on the test's database (as the app role) with an in-process cache.
pub async fn services(owner: &PgPool) -> argus_domain::Services {
    use argus_domain::cache::{Cache, CacheConfig};
    let cache = Cache::memory(
        &CacheConfig {
            redis_url: None,
            redis_pool_size: 2,
            redis_timeout: Duration::from_secs(1),
            memory_capacity: 1_000,
        },
        None,
    );
    argus_domain::Services::new(
        app_pool(owner).await,
        cache,
        std::sync::Arc::new(argus_domain::system::SystemInfo {
            version: "test",
            environment: "development".into(),
            started_at: chrono::Utc::now(),
            database_url_masked: String::new(),
        }),
        std::sync::Arc::new(argus_domain::token::TokenKeys::new(
            &SecretString::from("domain-test-secret-0123456789-abcdef".to_owned()),
            &[],
            Duration::from_secs(3600),
        )),
    )
}

/// Signs up `email` with a workspace named `workspace`; returns (user, workspace).
pub async fn sign_up(
    services: &argus_domain::Services,
    email: &str,
    workspace: &str,
) -> (
    argus_domain::identity::UserId,
    argus_domain::tenancy::WorkspaceId,
) {
    let started = argus_domain::session::sign_up(services, email, "Test User", PASSWORD, workspace)
        .await
        .unwrap();
    (
        started.user,
        argus_domain::tenancy::WorkspaceId(started.workspace.id),
    )
}

pub const PASSWORD: &str = "a long passphrase";
