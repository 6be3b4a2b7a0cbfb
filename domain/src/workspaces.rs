//! Workspaces: creating one, the ones a user belongs to, a user's role in one, and settings.

use argus_types::{Role, WorkspaceSettings, WorkspaceSummary};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::cache::{pages, CacheKey, Ttl};
use crate::tenancy::UserId;
use crate::tenancy::{self, parse_role, WorkspaceId};
use crate::{Error, Result, Services};

pub const MIN_RETENTION_DAYS: i32 = 1;
pub const MAX_RETENTION_DAYS: i32 = 3650;

/// A URL-safe slug from a name: lowercase ASCII letters and digits joined by single dashes.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug: String = slug.chars().take(40).collect();
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "workspace".to_owned()
    } else {
        slug
    }
}

/// A workspace or user name: trimmed, 1 to 200 characters.
pub(crate) fn valid_name<'a>(field: &str, raw: &'a str) -> Result<&'a str> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid_input(field, "must be 1 to 200 characters"));
    }
    Ok(name)
}

/// Inserts a workspace and `owner`'s owner membership inside `conn`'s transaction, which must be
/// bound to `workspace` (see [`tenancy::begin`]).
pub(crate) async fn insert(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    owner: UserId,
    name: &str,
) -> Result<WorkspaceSummary> {
    // A short random suffix keeps slugs unique without a retry loop.
    let suffix = &Uuid::new_v4().simple().to_string()[..6];
    let slug = format!("{}-{suffix}", slugify(name));
    sqlx::query("INSERT INTO workspaces (id, name, slug) VALUES ($1, $2, $3)")
        .bind(workspace)
        .bind(name)
        .bind(&slug)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, 'owner')")
        .bind(workspace)
        .bind(owner)
        .execute(&mut *conn)
        .await?;
    Ok(WorkspaceSummary {
        id: workspace.0,
        name: name.to_owned(),
        slug,
        role: Role::Owner,
    })
}

/// Creates a workspace owned by `owner`.
#[tracing::instrument(skip(pool))]
pub async fn create(pool: &PgPool, owner: UserId, name: &str) -> Result<WorkspaceSummary> {
    let name = valid_name("name", name)?;
    let workspace = WorkspaceId(Uuid::new_v4());
    let mut tx = tenancy::begin(pool, workspace).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
        .bind(owner)
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        return Err(Error::not_found("user"));
    }
    let created = insert(&mut tx, workspace, owner, name).await?;
    tx.commit().await?;
    Ok(created)
}

/// The active workspaces `user` belongs to, by name.
pub async fn for_user(pool: &PgPool, user: UserId) -> Result<Vec<WorkspaceSummary>> {
    let mut tx = tenancy::begin_for_user(pool, user).await?;
    let rows: Vec<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT w.id, w.name, w.slug, m.role::text FROM memberships m \
         JOIN workspaces w ON w.id = m.workspace_id \
         WHERE m.user_id = $1 AND w.is_active ORDER BY lower(w.name), w.id",
    )
    .bind(user)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.into_iter()
        .map(|(id, name, slug, role)| {
            Ok(WorkspaceSummary {
                id,
                name,
                slug,
                role: parse_role(&role)?,
            })
        })
        .collect()
}

/// `user`'s role in `workspace`; `None` when they are not a member or it is not active.
pub async fn role_of(pool: &PgPool, workspace: WorkspaceId, user: UserId) -> Result<Option<Role>> {
    let mut tx = tenancy::begin(pool, workspace).await?;
    let role: Option<String> = sqlx::query_scalar(
        "SELECT m.role::text FROM memberships m JOIN workspaces w ON w.id = m.workspace_id \
         WHERE m.workspace_id = $1 AND m.user_id = $2 AND w.is_active",
    )
    .bind(workspace)
    .bind(user)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    role.as_deref().map(parse_role).transpose()
}

fn membership_key(workspace: WorkspaceId, user: UserId) -> CacheKey {
    CacheKey::new("membership", workspace, user.0.to_string())
}

/// [`role_of`], cached for [`Ttl::Hot`]; every change to a membership or a workspace's state
/// calls [`forget_memberships`].
pub async fn cached_role_of(
    services: &Services,
    workspace: WorkspaceId,
    user: UserId,
) -> Result<Option<Role>> {
    services
        .cache
        .get_with_cache(&membership_key(workspace, user), Ttl::Hot, || {
            role_of(&services.pool, workspace, user)
        })
        .await
}

/// Drops the cached roles of `workspace`: one user's, or everyone's (and its cached pages,
/// which show members and roles; and the user's pages elsewhere, whose workspace switcher
/// lists this workspace or not).
pub async fn forget_memberships(services: &Services, workspace: WorkspaceId, user: Option<UserId>) {
    pages::forget_workspace(&services.cache, workspace).await;
    RECENTLY_ACTIVE.invalidate(&workspace).await;
    if let Some(user) = user {
        forget_pages_of(services, user).await;
    }
    match user {
        Some(user) => {
            services
                .cache
                .invalidate(&membership_key(workspace, user))
                .await
        }
        None => {
            services
                .cache
                .invalidate_domain("membership", workspace)
                .await;
        }
    }
}

/// Drops the cached pages of every workspace `user` belongs to: each page's header lists them.
/// (Other members' pages there go too; this is rare — a workspace made, joined or left.)
pub async fn forget_pages_of(services: &Services, user: UserId) {
    match for_user(&services.pool, user).await {
        Ok(workspaces) => {
            for workspace in workspaces {
                pages::forget_workspace(&services.cache, WorkspaceId(workspace.id)).await;
            }
        }
        Err(e) => tracing::warn!(
            error = %e,
            "a user's workspaces could not be listed: their cached pages expire on their own"
        ),
    }
}

/// Whether `workspace` exists and is active (cached for [`Ttl::Hot`]).
pub async fn cached_is_active(services: &Services, workspace: WorkspaceId) -> Result<bool> {
    // Answered in the last second by this process: no shared-cache round trip per request.
    if let Some(active) = RECENTLY_ACTIVE.get(&workspace).await {
        return Ok(active);
    }
    let active = shared_is_active(services, workspace).await?;
    RECENTLY_ACTIVE.insert(workspace, active).await;
    Ok(active)
}

static RECENTLY_ACTIVE: std::sync::LazyLock<moka::future::Cache<WorkspaceId, bool>> =
    std::sync::LazyLock::new(|| {
        moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(crate::cache::IN_PROCESS)
            .build()
    });

async fn shared_is_active(services: &Services, workspace: WorkspaceId) -> Result<bool> {
    let key = CacheKey::new("membership", workspace, "active");
    services
        .cache
        .get_with_cache(&key, Ttl::Hot, || async {
            let mut tx = tenancy::begin(&services.pool, workspace).await?;
            let active: Option<bool> =
                sqlx::query_scalar("SELECT is_active FROM workspaces WHERE id = $1")
                    .bind(workspace)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok(active == Some(true))
        })
        .await
}

type SettingsRow = (Uuid, String, String, i32, DateTime<Utc>);

fn settings_of(row: SettingsRow) -> WorkspaceSettings {
    let (id, name, slug, retention_days, created_at) = row;
    WorkspaceSettings {
        id,
        name,
        slug,
        retention_days,
        created_at,
    }
}

/// The settings of `workspace`.
pub async fn settings(pool: &PgPool, workspace: WorkspaceId) -> Result<WorkspaceSettings> {
    let mut tx = tenancy::begin(pool, workspace).await?;
    let row: Option<SettingsRow> = sqlx::query_as(
        "SELECT id, name, slug, retention_days, created_at FROM workspaces WHERE id = $1",
    )
    .bind(workspace)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.map(settings_of)
        .ok_or_else(|| Error::not_found("workspace"))
}

fn retention_key(workspace: WorkspaceId) -> CacheKey {
    CacheKey::new("workspace", workspace, "retention")
}

/// How many days `workspace` keeps its data (cached: read on every ingest request).
pub async fn cached_retention_days(services: &Services, workspace: WorkspaceId) -> Result<i32> {
    services
        .cache
        .get_with_cache(&retention_key(workspace), Ttl::Warm, || async {
            Ok(settings(&services.pool, workspace).await?.retention_days)
        })
        .await
}

/// Renames `workspace` and sets how many days of data it keeps: at most the install's
/// ceiling (`ARGUS_MAX_RETENTION_DAYS`).
pub async fn update(
    services: &Services,
    workspace: WorkspaceId,
    name: &str,
    retention_days: i32,
) -> Result<WorkspaceSettings> {
    let name = valid_name("name", name)?;
    let max = services.policy.max_retention_days.min(MAX_RETENTION_DAYS);
    if !(MIN_RETENTION_DAYS..=max).contains(&retention_days) {
        return Err(Error::invalid_input(
            "retention_days",
            format!("must be {MIN_RETENTION_DAYS} to {max} (this install's maximum)"),
        ));
    }
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let row: Option<SettingsRow> = sqlx::query_as(
        "UPDATE workspaces SET name = $2, retention_days = $3 WHERE id = $1 \
         RETURNING id, name, slug, retention_days, created_at",
    )
    .bind(workspace)
    .bind(name)
    .bind(retention_days)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    services.cache.invalidate(&retention_key(workspace)).await;
    row.map(settings_of)
        .ok_or_else(|| Error::not_found("workspace"))
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Acme Support  Team!"), "acme-support-team");
        assert_eq!(slugify("---"), "workspace");
        assert_eq!(slugify("Équipe"), "quipe");
        assert!(slugify(&"a".repeat(100)).len() <= 40);
    }
}
