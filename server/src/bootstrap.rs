//! `argus user create`, `argus workspace create` and `argus apikey create`: set up a fresh install without the UI.

use argus_domain::apikeys::{self, Scope};
use argus_domain::identity::{self, Email, Password};
use argus_domain::tenancy::WorkspaceId;
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::config::Config;
use crate::StartupError;

async fn pool(config: &Config) -> anyhow::Result<sqlx::PgPool> {
    argus_domain::db::prepare(&config.db())
        .await
        .map_err(|e| StartupError(e.to_string()).into())
}

fn domain_error(e: argus_domain::Error) -> anyhow::Error {
    StartupError(e.to_envelope().error.message).into()
}

pub async fn create_user(
    config: &Config,
    email: &str,
    name: &str,
    workspace: &str,
    password: &str,
) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(domain_error)?;
    let password = Password::parse(password).map_err(domain_error)?;
    let pool = pool(config).await?;
    let made = identity::sign_up(&pool, &email, name, &password, workspace)
        .await
        .map_err(domain_error)?;
    println!("user_id={}", made.user.0);
    println!("workspace_id={}", made.workspace);
    println!("workspace_slug={}", made.workspace_slug);
    pool.close().await;
    Ok(())
}

pub async fn create_workspace(config: &Config, name: &str, owner: &str) -> anyhow::Result<()> {
    let email = Email::parse(owner).map_err(domain_error)?;
    let pool = pool(config).await?;
    let owner_id = identity::user_by_email(&pool, &email)
        .await
        .map_err(domain_error)?
        .ok_or_else(|| StartupError(format!("no user with email {}", email.as_str())))?;
    let made = argus_domain::workspaces::create(&pool, owner_id, name)
        .await
        .map_err(domain_error)?;
    println!("workspace_id={}", made.id);
    println!("workspace_slug={}", made.slug);
    pool.close().await;
    Ok(())
}

pub async fn create_api_key(
    config: &Config,
    workspace: Uuid,
    name: &str,
    scopes: &[String],
) -> anyhow::Result<()> {
    let scopes = scopes
        .iter()
        .map(|s| Scope::parse(s.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(domain_error)?;
    let pool = pool(config).await?;
    let created = apikeys::create(&pool, WorkspaceId(workspace), None, name, &scopes, None)
        .await
        .map_err(|e| match &e {
            // The foreign key to workspaces: no such workspace.
            argus_domain::Error::Database(sqlx::Error::Database(db))
                if db.code().as_deref() == Some("23503") =>
            {
                StartupError(format!("workspace {workspace} not found")).into()
            }
            _ => domain_error(e),
        })?;
    println!("{}", created.key.expose_secret());
    pool.close().await;
    Ok(())
}
