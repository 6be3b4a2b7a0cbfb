//! Signing up, logging in (rate-limited), switching workspace: each ends in a session token.

use std::net::IpAddr;
use std::time::Duration;

use argus_types::{Session, WorkspaceSummary};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::Access;
use crate::identity::{self, Email, Password, UserId};
use crate::ratelimit::Limit;
use crate::tenancy::WorkspaceId;
use crate::workspaces;
use crate::{Error, Result, Services};

/// Failed log-ins allowed per minute, per client address and per email.
pub const LOGIN_LIMIT: Limit = Limit {
    max: 5,
    window: Duration::from_secs(60),
};

/// A session just started: the token to hand out and where it is.
#[derive(Clone, Debug)]
pub struct Started {
    pub token: String,
    pub user: UserId,
    pub workspace: WorkspaceSummary,
}

fn start(services: &Services, user: UserId, workspace: WorkspaceSummary) -> Result<Started> {
    let token = services
        .tokens
        .issue(user.0, workspace.id, workspace.role.as_str())?;
    Ok(Started {
        token,
        user,
        workspace,
    })
}

/// Creates the account and its first workspace, and starts a session in it.
pub async fn sign_up(
    services: &Services,
    email: &str,
    name: &str,
    password: &str,
    workspace_name: &str,
) -> Result<Started> {
    let email = Email::parse(email)?;
    let password = Password::parse(password)?;
    let created =
        identity::sign_up(&services.pool, &email, name, &password, workspace_name).await?;
    // The owner of the workspace just created: nothing to read back.
    let workspace = WorkspaceSummary {
        id: created.workspace.0,
        name: created.workspace_name,
        slug: created.workspace_slug,
        role: argus_types::Role::Owner,
    };
    start(services, created.user, workspace)
}

fn limit_keys(email: &str, client: Option<IpAddr>) -> [String; 2] {
    // The email is hashed so the counters' keys do not collect addresses.
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    let email_key: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let ip = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    [
        format!("ratelimit:login:ip:{ip}"),
        format!("ratelimit:login:email:{email_key}"),
    ]
}

/// Checks the email and password and starts a session in `preferred` (when the user belongs
/// to it) or their first workspace. After [`LOGIN_LIMIT`] failures in a minute from one
/// address or for one email, every attempt fails with [`Error::RateLimited`] until the window
/// ends — before the password is even checked.
pub async fn log_in(
    services: &Services,
    email: &str,
    password: &str,
    client: Option<IpAddr>,
    preferred: Option<Uuid>,
) -> Result<Started> {
    let keys = limit_keys(email, client);
    for key in &keys {
        services.limiter.check(key, LOGIN_LIMIT).await?;
    }
    let user = match identity::authenticate(&services.pool, email, password).await {
        Ok(user) => user,
        Err(Error::InvalidCredentials) => {
            for key in &keys {
                services.limiter.record(key, LOGIN_LIMIT.window).await;
            }
            tracing::info!(client = ?client, "failed log-in");
            return Err(Error::InvalidCredentials);
        }
        Err(e) => return Err(e),
    };
    let workspaces = workspaces::for_user(&services.pool, user).await?;
    let workspace = preferred
        .and_then(|id| workspaces.iter().find(|w| w.id == id).cloned())
        .or_else(|| workspaces.into_iter().next())
        .ok_or_else(|| {
            Error::Forbidden(
                "your account belongs to no active workspace; ask a workspace owner to add you"
                    .into(),
            )
        })?;
    start(services, user, workspace)
}

/// Starts a session for `user` in another workspace they belong to.
pub async fn switch(services: &Services, user: UserId, workspace: Uuid) -> Result<Started> {
    let target = workspaces::for_user(&services.pool, user)
        .await?
        .into_iter()
        .find(|w| w.id == workspace)
        .ok_or_else(|| Error::not_found("workspace"))?;
    start(services, user, target)
}

/// Creates a workspace owned by the signed-in user and starts a session in it.
pub async fn create_workspace(services: &Services, user: UserId, name: &str) -> Result<Started> {
    let created = workspaces::create(&services.pool, user, name).await?;
    // The user's cached pages elsewhere list their workspaces.
    workspaces::forget_user_pages(services, user).await;
    start(services, user, created)
}

/// Who is signed in and where, with the workspaces they can switch to.
pub async fn describe(services: &Services, access: &Access) -> Result<Session> {
    let user = access
        .user()
        .ok_or_else(|| Error::Forbidden("API keys have no session; sign in as a user".into()))?;
    let profile = identity::user(&services.pool, user)
        .await?
        .ok_or(Error::InvalidCredentials)?;
    let workspaces = workspaces::for_user(&services.pool, user).await?;
    let workspace = workspaces
        .iter()
        .find(|w| WorkspaceId(w.id) == access.workspace)
        .cloned()
        .ok_or(Error::InvalidCredentials)?;
    Ok(Session {
        user_id: user.0,
        email: profile.email,
        name: profile.name,
        workspace,
        workspaces,
    })
}
