//! One-time password links: an admin makes one for a member who lost theirs (Argus sends no
//! email: the admin passes it on), `argus user reset-password` sets one from the shell. Using a
//! link sets the password and ends every session of the account.
//!
//! An admin may reset only someone they outrank everywhere that person belongs: an owner of
//! another workspace (or an equal here) is out of reach, so a reset cannot be a way into a
//! workspace the admin does not run.

use argus_types::{ResetLink, Role};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use uuid::Uuid;

use crate::access::Access;
use crate::identity::{self, Email, Password, UserId};
use crate::invitations::{new_token, token_hash};
use crate::ratelimit::Limit;
use crate::tenancy::{self, parse_role};
use crate::user_sessions;
use crate::{Error, Result, Services};

/// How long a link works.
pub const TTL: Duration = Duration::hours(24);

/// Tries of a reset link per address and minute (the secrets are 256 bits; this keeps the
/// form from being a hashing load).
const TRIES: Limit = Limit {
    max: 10,
    window: std::time::Duration::from_secs(60),
};

/// Every workspace `user` belongs to, with their role there.
async fn roles(services: &Services, user: UserId) -> Result<HashMap<Uuid, Role>> {
    let mut tx = tenancy::begin_for_user(&services.pool, user).await?;
    let rows: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT workspace_id, role::text FROM memberships WHERE user_id = $1")
            .bind(user)
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    rows.into_iter()
        .map(|(w, r)| Ok((w, parse_role(&r)?)))
        .collect()
}

/// Makes a one-time link for `target`, a member of the caller's workspace.
pub async fn create_reset(
    services: &Services,
    access: &Access,
    target: UserId,
) -> Result<ResetLink> {
    access.require(Role::Admin)?;
    let admin = access
        .user()
        .ok_or_else(|| Error::Forbidden("this needs a signed-in user, not an API key".into()))?;
    if admin == target {
        return Err(Error::invalid_input(
            "user_id",
            "change your own password in Settings → Account",
        ));
    }
    let theirs = roles(services, target).await?;
    if !theirs.contains_key(&access.workspace.0) {
        return Err(Error::not_found("member"));
    }
    let mine = roles(services, admin).await?;
    let outranked = theirs.iter().all(|(w, role)| {
        mine.get(w)
            .is_some_and(|my| *my >= Role::Admin && my > role)
    });
    if !outranked {
        return Err(Error::Forbidden(
            "you can reset the password only of someone you outrank in every workspace they \
             belong to; ask an owner of their other workspaces"
                .into(),
        ));
    }
    let (token, hash) = new_token();
    let expires_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO password_resets (token_sha256, user_id, created_by, workspace_id, expires_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(hours => $5)) RETURNING expires_at",
    )
    .bind(hash)
    .bind(target)
    .bind(admin)
    .bind(access.workspace)
    .bind(TTL.num_hours() as i32)
    .fetch_one(&services.pool)
    .await?;
    tracing::info!(target = %target.0, "password reset link made");
    Ok(ResetLink {
        link: format!("/reset-password?token={token}"),
        expires_at,
    })
}

/// Sets a new password with a link's token, once; every session of the account ends.
pub async fn reset(
    services: &Services,
    token: &str,
    password: &str,
    client: Option<std::net::IpAddr>,
) -> Result<()> {
    let ip = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    services
        .limiter
        .take(&format!("ratelimit:reset:ip:{ip}"), TRIES)
        .await?;
    let password = Password::parse(password)?;
    let hash = {
        let _permit = services.hashing.permit().await?;
        identity::hash_password(&password).await?
    };
    // The link is used and the password set together, or neither.
    let mut tx = crate::db::begin(&services.pool, None).await?;
    let user: Option<Uuid> = sqlx::query_scalar(
        "UPDATE password_resets SET used_at = now() \
         WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
    )
    .bind(token_hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user) = user else {
        return Err(Error::invalid_input(
            "token",
            "this link is not valid: it was used, expired or mistyped; ask for a new one",
        ));
    };
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    user_sessions::revoke_all(services, UserId(user), None).await?;
    Ok(())
}

/// `argus user reset-password`: sets `email`'s password and ends all their sessions; returns
/// how many ended.
pub async fn set_from_shell(services: &Services, email: &str, password: &str) -> Result<usize> {
    let email = Email::parse(email)?;
    let password = Password::parse(password)?;
    let user = identity::user_by_email(&services.pool, &email)
        .await?
        .ok_or_else(|| Error::not_found("user with this email"))?;
    identity::set_password(&services.pool, user, &password).await?;
    user_sessions::revoke_all(services, user, None).await
}
