//! The members of a workspace: add an existing user by email, change a role, remove. A
//! workspace always keeps at least one owner.

use argus_types::{Member, Role};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::identity::UserId;
use crate::tenancy::{self, parse_role, WorkspaceId};
use crate::workspaces::forget_memberships;
use crate::{Error, Result, Services};

type MemberRow = (Uuid, String, String, String, DateTime<Utc>);

fn member_of(row: MemberRow) -> Result<Member> {
    let (user_id, email, name, role, joined_at) = row;
    Ok(Member {
        user_id,
        email,
        name,
        role: parse_role(&role)?,
        joined_at,
    })
}

const SELECT_MEMBER: &str = "SELECT u.id, u.email, u.name, m.role::text, m.created_at \
     FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1";

/// The members of `workspace`, owners first, then by email.
pub async fn list(services: &Services, workspace: WorkspaceId) -> Result<Vec<Member>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<MemberRow> =
        sqlx::query_as(&format!("{SELECT_MEMBER} ORDER BY m.role, lower(u.email)"))
            .bind(workspace)
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    rows.into_iter().map(member_of).collect()
}

/// Adds the user with `email` (who must have an account) with `role`.
pub async fn add(
    services: &Services,
    workspace: WorkspaceId,
    email: &str,
    role: Role,
) -> Result<Member> {
    let email = crate::identity::Email::parse(email)?;
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let user: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let Some(user) = user else {
        return Err(Error::invalid_input(
            "email",
            "no Argus account has this email; ask them to sign up first",
        ));
    };
    let inserted = sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3::workspace_role) \
         ON CONFLICT DO NOTHING",
    )
    .bind(workspace)
    .bind(user)
    .bind(role.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(Error::AlreadyExists {
            what: "a member with this email".into(),
        });
    }
    let member = fetch_member(&mut tx, workspace, UserId(user)).await?;
    tx.commit().await?;
    forget_memberships(services, workspace, Some(UserId(user))).await;
    Ok(member)
}

/// One member, read inside the transaction that just changed it.
async fn fetch_member(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    user: UserId,
) -> Result<Member> {
    let row: MemberRow = sqlx::query_as(&format!("{SELECT_MEMBER} AND m.user_id = $2"))
        .bind(workspace)
        .bind(user)
        .fetch_one(&mut *conn)
        .await?;
    member_of(row)
}

/// Locks the workspace's owners (so two concurrent demotions cannot both pass) and refuses a
/// change that would leave the workspace without an owner.
async fn lock_and_check(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    user: UserId,
    new_role: Option<Role>,
) -> Result<()> {
    let owners: Vec<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM memberships WHERE workspace_id = $1 AND role = 'owner' FOR UPDATE",
    )
    .bind(workspace)
    .fetch_all(&mut *conn)
    .await?;
    let current: Option<String> = sqlx::query_scalar(
        "SELECT role::text FROM memberships WHERE workspace_id = $1 AND user_id = $2 FOR UPDATE",
    )
    .bind(workspace)
    .bind(user)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(current) = current else {
        return Err(Error::not_found("member"));
    };
    let leaves_owners = parse_role(&current)? == Role::Owner && new_role != Some(Role::Owner);
    if leaves_owners && owners.len() <= 1 {
        return Err(Error::Conflict(
            "a workspace needs at least one owner: make someone else owner first".into(),
        ));
    }
    Ok(())
}

/// Changes a member's role.
pub async fn set_role(
    services: &Services,
    workspace: WorkspaceId,
    user: UserId,
    role: Role,
) -> Result<Member> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    lock_and_check(&mut tx, workspace, user, Some(role)).await?;
    sqlx::query(
        "UPDATE memberships SET role = $3::workspace_role WHERE workspace_id = $1 AND user_id = $2",
    )
    .bind(workspace)
    .bind(user)
    .bind(role.as_str())
    .execute(&mut *tx)
    .await?;
    let member = fetch_member(&mut tx, workspace, user).await?;
    tx.commit().await?;
    forget_memberships(services, workspace, Some(user)).await;
    Ok(member)
}

/// Removes a member.
pub async fn remove(services: &Services, workspace: WorkspaceId, user: UserId) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    lock_and_check(&mut tx, workspace, user, None).await?;
    sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    forget_memberships(services, workspace, Some(user)).await;
    Ok(())
}
