//! `argus user create`, `argus workspace create`, `argus apikey create`, `argus demo` and
//! `argus reconcile`: set up a fresh install without the UI.

use argus_domain::apikeys::{self, Scope};
use argus_domain::identity::{self, Email, Password};
use argus_domain::tenancy::WorkspaceId;
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::config::Config;
use crate::StartupError;

async fn pool(config: &Config) -> anyhow::Result<sqlx::PgPool> {
    argus_domain::db::prepare_with(&config.db(), &config.direct_db())
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
        .map_err(domain_error)?
        .ok_or_else(|| StartupError(format!("a user with email {} exists", email.as_str())))?;
    println!("user_id={}", made.user.0);
    println!("workspace_id={}", made.workspace);
    println!("workspace_slug={}", made.workspace_slug);
    pool.close().await;
    Ok(())
}

/// `argus user reset-password`: sets a user's password and ends every session of theirs.
pub async fn reset_password(config: &Config, email: &str, password: &str) -> anyhow::Result<()> {
    let state = crate::build_state(config).await?;
    let ended = argus_domain::passwords::set_from_shell(&state.services, email, password)
        .await
        .map_err(domain_error)?;
    println!("password set; {ended} session(s) ended");
    state.services.pool.close().await;
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

/// `argus demo`: 30 days of demo traffic through the ingest path, with a progress bar.
pub async fn demo(config: &Config, if_empty: bool) -> anyhow::Result<()> {
    use std::io::Write;

    if config.environment == crate::config::Environment::Production {
        return Err(StartupError(
            "demo data is never loaded in production (ARGUS_ENV=production)".into(),
        )
        .into());
    }
    let state = crate::build_state(config).await?;
    let services = &state.services;
    if if_empty {
        let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&services.pool)
            .await
            .map_err(|e| domain_error(e.into()))?;
        if users > 0 {
            eprintln!("demo: the database has users already; not loading demo data");
            return Ok(());
        }
    }
    let started = std::time::Instant::now();
    // The 30 days that end now, so every range up to 30 days ending now has traffic.
    let loaded = argus_domain::demo::load(
        services,
        chrono::Utc::now(),
        argus_domain::demo::DAYS,
        state.gateway.body_limit_bytes,
        |done, total| {
            let width = 30;
            let filled = (done * width / total) as usize;
            eprint!(
                "\rdemo: [{}{}] day {done}/{total}",
                "#".repeat(filled),
                " ".repeat(width as usize - filled)
            );
            let _ = std::io::stderr().flush();
        },
    )
    .await
    .map_err(domain_error)?;
    eprintln!();
    println!(
        "demo: {} days, {} spans sent, {} new, in {:.1} s; log in as {} / {}",
        loaded.days,
        loaded.spans_sent,
        loaded.spans_stored,
        started.elapsed().as_secs_f64(),
        argus_domain::demo::DEMO_EMAIL,
        argus_domain::demo::DEMO_PASSWORD
    );
    services
        .key_usage
        .flush(&services.pool)
        .await
        .map_err(domain_error)?;
    services.pool.close().await;
    Ok(())
}

/// `argus reconcile`: rebuild the rollups of whole days from raw.
pub async fn reconcile(
    config: &Config,
    workspace: Uuid,
    from: chrono::NaiveDate,
    to: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    let to = to.unwrap_or_else(|| chrono::Utc::now().date_naive() + chrono::Duration::days(1));
    if to <= from {
        return Err(StartupError(format!("--to ({to}) must be after --from ({from})")).into());
    }
    let pool = pool(config).await?;
    let read = argus_domain::ingest::rollup::rebuild(&pool, WorkspaceId(workspace), from, to)
        .await
        .map_err(domain_error)?;
    println!("reconciled {from} .. {to} (exclusive) of workspace {workspace}: {read} spans read");
    pool.close().await;
    Ok(())
}
