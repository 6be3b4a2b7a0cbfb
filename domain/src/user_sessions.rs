//! Sessions the server can end: every session token names a row of `user_sessions` (its `sid`),
//! and a token whose row is revoked or expired is refused at once.
//!
//! Whether a session is live is read through the cache (hot tier) on every request that
//! carries a token; a revocation writes the row, then drops the cached answer. With Redis the
//! answer is shared, so a revocation holds on every replica from the next request; without
//! Redis each process caches its own (single-replica installs).

use argus_types::SessionInfo;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::cache::{CacheKey, Ttl};
use crate::identity::UserId;
use crate::{Result, Services};

fn live_key(sid: Uuid) -> CacheKey {
    // Sessions are not tenant data: the "workspace" part of the key is the session itself.
    CacheKey::new("session", sid, "live")
}

/// Where a session was started from, as shown in the user's list of sessions.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub user_agent: Option<String>,
    pub client_ip: Option<String>,
}

/// Records a new session of `user` lasting `ttl`; returns its id (the token's `sid`).
pub async fn start(
    pool: &PgPool,
    user: UserId,
    ttl: std::time::Duration,
    origin: &Origin,
) -> Result<Uuid> {
    let sid = Uuid::now_v7();
    let user_agent = origin
        .user_agent
        .as_deref()
        .map(|ua| ua.chars().take(300).collect::<String>());
    sqlx::query(
        "INSERT INTO user_sessions (id, user_id, expires_at, user_agent, client_ip) \
         VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5)",
    )
    .bind(sid)
    .bind(user)
    .bind(ttl.as_secs_f64())
    .bind(user_agent)
    .bind(origin.client_ip.as_deref())
    .execute(pool)
    .await?;
    Ok(sid)
}

/// Whether session `sid` of `user` is live (not revoked, not expired).
pub async fn is_live(services: &Services, user: UserId, sid: Uuid) -> Result<bool> {
    let live = services
        .cache
        .get_with_cache(&live_key(sid), Ttl::Hot, || async {
            let live: Option<bool> = sqlx::query_scalar(
                "SELECT revoked_at IS NULL AND expires_at > now() FROM user_sessions \
                 WHERE id = $1 AND user_id = $2",
            )
            .bind(sid)
            .bind(user)
            .fetch_optional(&services.pool)
            .await?;
            Ok(live.unwrap_or(false))
        })
        .await?;
    Ok(live)
}

/// Ends one session of `user` (log-out). Ending an ended or unknown session does nothing.
pub async fn revoke(services: &Services, user: UserId, sid: Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE user_sessions SET revoked_at = now() \
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(sid)
    .bind(user)
    .execute(&services.pool)
    .await?;
    forget(services, vec![sid]).await;
    Ok(())
}

/// Drops the cached answers for `sids` now, and once more a second later: a request that read
/// "live" just before the revocation may write it back to the cache just after.
async fn forget(services: &Services, sids: Vec<Uuid>) {
    for sid in &sids {
        services.cache.invalidate(&live_key(*sid)).await;
    }
    let cache = services.cache.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        for sid in sids {
            cache.invalidate(&live_key(sid)).await;
        }
    });
}

/// Ends every live session of `user` but `keep` (a password change keeps the session that
/// made it); returns how many ended.
pub async fn revoke_all(services: &Services, user: UserId, keep: Option<Uuid>) -> Result<usize> {
    let ended: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE user_sessions SET revoked_at = now() \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() \
           AND id IS DISTINCT FROM $2 \
         RETURNING id",
    )
    .bind(user)
    .bind(keep)
    .fetch_all(&services.pool)
    .await?;
    let n = ended.len();
    forget(services, ended).await;
    Ok(n)
}

type SessionRow = (
    Uuid,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
);

/// The live sessions of `user`, newest first; `current` is marked.
pub async fn list(pool: &PgPool, user: UserId, current: Option<Uuid>) -> Result<Vec<SessionInfo>> {
    let rows: Vec<SessionRow> = sqlx::query_as(
        "SELECT id, created_at, expires_at, user_agent, client_ip FROM user_sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() \
         ORDER BY created_at DESC LIMIT 100",
    )
    .bind(user)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, created_at, expires_at, user_agent, client_ip)| SessionInfo {
                id,
                created_at,
                expires_at,
                user_agent,
                client_ip,
                current: Some(id) == current,
            },
        )
        .collect())
}

/// Deletes sessions that ended more than a day ago (run with retention).
pub async fn purge(pool: &PgPool) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM user_sessions WHERE expires_at < now() - interval '1 day' \
         OR revoked_at < now() - interval '1 day'",
    )
    .execute(pool)
    .await?
    .rows_affected())
}
