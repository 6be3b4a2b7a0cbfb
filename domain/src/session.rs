//! Signing up, logging in (rate-limited), switching workspace, logging out, changing a
//! password: each ends in a session token, or ends sessions.

use std::net::IpAddr;
use std::time::Duration;

use argus_types::{Session, WorkspaceSummary};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::Access;
use crate::identity::{self, Email, Password, UserId};
use crate::policy::SignupMode;
use crate::ratelimit::Limit;
use crate::tenancy::WorkspaceId;
use crate::user_sessions::{self, Origin};
use crate::workspaces;
use crate::{Error, Result, Services};

/// Log-in attempts allowed per minute, per client address and per email; an attempt counts
/// before its password is checked, and a successful one gives its count back.
pub const LOGIN_LIMIT: Limit = Limit {
    max: 5,
    window: Duration::from_secs(60),
};

/// The window of the sign-up limits (`Policy::signups_per_address`, `signups_global`).
pub const SIGNUP_WINDOW: Duration = Duration::from_secs(3600);

/// A session just started: the token to hand out and where it is.
#[derive(Clone, Debug)]
pub struct Started {
    pub token: String,
    pub user: UserId,
    pub session: Uuid,
    pub workspace: WorkspaceSummary,
}

fn token_for(
    services: &Services,
    user: UserId,
    session: Uuid,
    workspace: WorkspaceSummary,
) -> Result<Started> {
    let token = services
        .tokens
        .issue(user.0, workspace.id, workspace.role.as_str(), session)?;
    Ok(Started {
        token,
        user,
        session,
        workspace,
    })
}

/// Starts a new session of `user` in `workspace` (and remembers the workspace for next time).
pub(crate) async fn start(
    services: &Services,
    user: UserId,
    workspace: WorkspaceSummary,
    origin: &Origin,
) -> Result<Started> {
    let session = user_sessions::start(&services.pool, user, services.tokens.ttl(), origin).await?;
    remember_workspace(services, user, WorkspaceId(workspace.id)).await?;
    token_for(services, user, session, workspace)
}

async fn remember_workspace(
    services: &Services,
    user: UserId,
    workspace: WorkspaceId,
) -> Result<()> {
    sqlx::query("UPDATE users SET last_workspace_id = $2 WHERE id = $1")
        .bind(user)
        .bind(workspace)
        .execute(&services.pool)
        .await?;
    Ok(())
}

fn address_key(kind: &str, client: Option<IpAddr>) -> String {
    let ip = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    format!("ratelimit:{kind}:ip:{ip}")
}

/// Whether open sign-up (an account with a workspace of its own) is allowed now: always for
/// the first user of an empty install, else as `ARGUS_SIGNUP` says.
async fn may_sign_up(services: &Services) -> Result<()> {
    let why = match services.policy.signup {
        SignupMode::Open => return Ok(()),
        SignupMode::Invite => {
            "sign-up on this install needs an invitation link: ask a workspace admin"
        }
        SignupMode::Closed => {
            "sign-up is closed on this install: ask an administrator for an account"
        }
    };
    let has_users: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)")
        .fetch_one(&services.pool)
        .await?;
    if has_users {
        return Err(Error::Forbidden(why.into()));
    }
    Ok(())
}

/// Creates an account and its first workspace. The answer is the same whether or not the
/// email already had an account (nothing changes then), so sign-up tells nobody which
/// addresses have accounts; the new user signs in next.
pub async fn sign_up(
    services: &Services,
    email: &str,
    name: &str,
    password: &str,
    workspace_name: &str,
    client: Option<IpAddr>,
) -> Result<()> {
    may_sign_up(services).await?;
    let email = Email::parse(email)?;
    let password = Password::parse(password)?;
    workspaces::valid_name("name", name)?;
    workspaces::valid_name("workspace_name", workspace_name)?;
    let limit = |max| Limit {
        max,
        window: SIGNUP_WINDOW,
    };
    services
        .limiter
        .take(
            &address_key("signup", client),
            limit(services.policy.signups_per_address),
        )
        .await?;
    services
        .limiter
        .take(
            "ratelimit:signup:all",
            limit(services.policy.signups_global),
        )
        .await?;
    let _permits = services.hashing.signup_permit().await?;
    match identity::sign_up(&services.pool, &email, name, &password, workspace_name).await? {
        Some(_) => tracing::info!(client = ?client, "account created"),
        None => tracing::info!(client = ?client, "sign-up for an existing account: nothing done"),
    }
    Ok(())
}

/// Creates an account with its first workspace and starts a session, with no sign-up policy
/// or rate limit: for the shell and for tests, never for an HTTP request (an existing email is
/// an error here).
pub async fn register(
    services: &Services,
    email: &str,
    name: &str,
    password: &str,
    workspace_name: &str,
) -> Result<Started> {
    let email = Email::parse(email)?;
    let password = Password::parse(password)?;
    let made = identity::sign_up(&services.pool, &email, name, &password, workspace_name)
        .await?
        .ok_or_else(|| Error::AlreadyExists {
            what: "an account with this email".into(),
        })?;
    let workspace = WorkspaceSummary {
        id: made.workspace.0,
        name: made.workspace_name,
        slug: made.workspace_slug,
        role: argus_types::Role::Owner,
    };
    start(services, made.user, workspace, &Origin::default()).await
}

fn limit_keys(email: &str, client: Option<IpAddr>) -> [String; 2] {
    // The email is hashed so the counters' keys do not collect addresses.
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    let email_key: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    [
        address_key("login", client),
        format!("ratelimit:login:email:{email_key}"),
    ]
}

/// Checks an email and password — at most [`LOGIN_LIMIT`] attempts a minute per address and
/// per email, counted before the check — and starts a session in `preferred` (when the user
/// belongs to it), else the workspace they used last, else their first.
pub async fn log_in(
    services: &Services,
    email: &str,
    password: &str,
    origin: &Origin,
    client: Option<IpAddr>,
    preferred: Option<Uuid>,
) -> Result<Started> {
    let keys = limit_keys(email, client);
    for key in &keys {
        services.limiter.take(key, LOGIN_LIMIT).await?;
    }
    let checked = {
        let _permit = services.hashing.permit().await?;
        identity::authenticate(&services.pool, email, password).await
    };
    let user = match checked {
        Ok(user) => user,
        Err(Error::InvalidCredentials) => {
            tracing::info!(client = ?client, "failed log-in");
            return Err(Error::InvalidCredentials);
        }
        Err(e) => {
            for key in &keys {
                services.limiter.refund(key).await;
            }
            return Err(e);
        }
    };
    // A success does not count against the address (an office behind one NAT) and clears the
    // email's failures.
    services.limiter.refund(&keys[0]).await;
    services.limiter.reset(&keys[1]).await;
    let workspaces = workspaces::for_user(&services.pool, user).await?;
    let last: Option<Uuid> =
        sqlx::query_scalar("SELECT last_workspace_id FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&services.pool)
            .await?;
    let workspace = preferred
        .or(last)
        .and_then(|id| workspaces.iter().find(|w| w.id == id).cloned())
        .or_else(|| workspaces.into_iter().next())
        .ok_or_else(|| {
            Error::Forbidden(
                "your account belongs to no active workspace; ask a workspace admin for an \
                 invitation link"
                    .into(),
            )
        })?;
    start(services, user, workspace, origin).await
}

/// Ends the caller's session (log-out): its token stops working at once.
pub async fn log_out(services: &Services, access: &Access) -> Result<()> {
    if let (Some(user), Some(sid)) = (access.user(), access.session) {
        user_sessions::revoke(services, user, sid).await?;
    }
    Ok(())
}

/// Ends every session of the caller, this one included ("sign out everywhere").
pub async fn sign_out_everywhere(services: &Services, access: &Access) -> Result<usize> {
    let user = signed_in(access)?;
    user_sessions::revoke_all(services, user, None).await
}

fn signed_in(access: &Access) -> Result<UserId> {
    access
        .user()
        .ok_or_else(|| Error::Forbidden("this needs a signed-in user, not an API key".into()))
}

/// Changes the caller's password after checking the current one; every other session of
/// theirs ends (this one goes on).
pub async fn change_password(
    services: &Services,
    access: &Access,
    current: &str,
    new: &str,
    client: Option<IpAddr>,
) -> Result<usize> {
    let user = signed_in(access)?;
    let new = Password::parse(new)?;
    // Guessing the current password through this form counts like log-in attempts.
    let key = format!("ratelimit:password:user:{}", user.0);
    services.limiter.take(&key, LOGIN_LIMIT).await?;
    let _permit = services.hashing.permit().await?;
    if !identity::check_password(&services.pool, user, current).await? {
        tracing::info!(client = ?client, "password change with a wrong current password");
        return Err(Error::invalid_input(
            "current_password",
            "is not your current password",
        ));
    }
    services.limiter.refund(&key).await;
    identity::set_password(&services.pool, user, &new).await?;
    user_sessions::revoke_all(services, user, access.session).await
}

/// Continues the caller's session in another workspace they belong to (same session, new
/// token).
pub async fn switch(services: &Services, access: &Access, workspace: Uuid) -> Result<Started> {
    let user = signed_in(access)?;
    let target = workspaces::for_user(&services.pool, user)
        .await?
        .into_iter()
        .find(|w| w.id == workspace)
        .ok_or_else(|| Error::not_found("workspace"))?;
    continue_in(services, access, user, target).await
}

async fn continue_in(
    services: &Services,
    access: &Access,
    user: UserId,
    workspace: WorkspaceSummary,
) -> Result<Started> {
    let session = access
        .session
        .ok_or_else(|| Error::Forbidden("this needs a signed-in user, not an API key".into()))?;
    remember_workspace(services, user, WorkspaceId(workspace.id)).await?;
    token_for(services, user, session, workspace)
}

/// Creates a workspace owned by the caller and continues their session in it.
pub async fn create_workspace(services: &Services, access: &Access, name: &str) -> Result<Started> {
    let user = signed_in(access)?;
    let created = workspaces::create(&services.pool, user, name).await?;
    // The user's cached pages elsewhere list their workspaces.
    workspaces::forget_pages_of(services, user).await;
    continue_in(services, access, user, created).await
}

/// Continues the caller's session in `workspace`, which they just joined.
pub(crate) async fn enter(
    services: &Services,
    access: &Access,
    workspace: WorkspaceSummary,
) -> Result<Started> {
    let user = signed_in(access)?;
    continue_in(services, access, user, workspace).await
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
