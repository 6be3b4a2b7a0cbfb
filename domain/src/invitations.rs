//! Invitations: adding a member makes an invitation, and the invitee joins by accepting it.
//!
//! - Inviting answers the same whether or not the address has an account (the members form
//!   tells nobody which addresses exist): an invitation and a link with a secret, shown once.
//! - An account that existed before the invitation sees it after signing in and accepts or
//!   declines it. A newer account (anyone could sign up with someone else's address: Argus
//!   sends no email) must hold the link.
//! - The link also creates the account, joined to the workspace, in every sign-up mode: an
//!   invitation is an admin's decision.
//! - Admins invite up to admin; only an owner may invite an owner.

use argus_types::{Invitation, InvitationCreated, Role, WorkspaceSummary};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::access::Access;
use crate::identity::{self, Email, Password, UserId};
use crate::session::{self, Started};
use crate::tenancy::{self, parse_role, WorkspaceId};
use crate::user_sessions::Origin;
use crate::workspaces::forget_memberships;
use crate::{Error, Result, Services};

/// How long an invitation may be accepted.
pub const TTL: Duration = Duration::days(7);

/// A fresh secret for a link, and the SHA-256 that is stored.
pub(crate) fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    (token, hash)
}

pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

type Row = (
    Uuid,
    Uuid,
    String,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
);

const SELECT: &str = "SELECT i.id, i.workspace_id, i.workspace_name, i.email, i.role::text, \
     u.name, i.created_at, i.expires_at, i.status \
     FROM invitations i LEFT JOIN users u ON u.id = i.invited_by";

fn invitation_of(row: Row) -> Result<Invitation> {
    let (id, workspace_id, workspace_name, email, role, invited_by, created_at, expires_at, status) =
        row;
    Ok(Invitation {
        id,
        workspace_id,
        workspace_name,
        email,
        role: parse_role(&role)?,
        invited_by,
        created_at,
        expires_at,
        status,
    })
}

/// Invites `email` into the caller's workspace with `role`. A pending invitation of the same
/// address is replaced (its link stops working).
pub async fn invite(
    services: &Services,
    access: &Access,
    email: &str,
    role: Role,
) -> Result<InvitationCreated> {
    access.require(Role::Admin)?;
    if role == Role::Owner {
        access
            .require(Role::Owner)
            .map_err(|_| Error::Forbidden("only an owner may make an owner".into()))?;
    }
    let email = Email::parse(email)?;
    let workspace = access.workspace;
    let (token, hash) = new_token();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let member: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.workspace_id = $1 AND lower(u.email) = lower($2))",
    )
    .bind(workspace)
    .bind(email.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if member {
        return Err(Error::AlreadyExists {
            what: "a member with this email".into(),
        });
    }
    sqlx::query(
        "UPDATE invitations SET status = 'revoked', responded_at = now() \
         WHERE workspace_id = $1 AND lower(email) = lower($2) AND status = 'pending'",
    )
    .bind(workspace)
    .bind(email.as_str())
    .execute(&mut *tx)
    .await?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO invitations (workspace_id, email, role, workspace_name, token_sha256, \
         invited_by, expires_at) \
         SELECT $1, $2, $3::workspace_role, w.name, $4, $5, now() + make_interval(days => $6) \
         FROM workspaces w WHERE w.id = $1 RETURNING id",
    )
    .bind(workspace)
    .bind(email.as_str())
    .bind(role.as_str())
    .bind(&hash)
    .bind(access.user())
    .bind(TTL.num_days() as i32)
    .fetch_one(&mut *tx)
    .await?;
    let row: Row = sqlx::query_as(&format!("{SELECT} WHERE i.workspace_id = $1 AND i.id = $2"))
        .bind(workspace)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(InvitationCreated {
        invitation: invitation_of(row)?,
        link: format!("/invite/{token}"),
    })
}

/// The workspace's pending invitations, newest first.
pub async fn list_for_workspace(
    services: &Services,
    workspace: WorkspaceId,
) -> Result<Vec<Invitation>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE i.workspace_id = $1 AND i.status = 'pending' AND i.expires_at > now() \
         ORDER BY i.created_at DESC LIMIT 200"
    ))
    .bind(workspace)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.into_iter().map(invitation_of).collect()
}

/// Ends a pending invitation with `status` (`accepted`, `declined`, `revoked`) inside `conn`'s
/// transaction, bound to its workspace; a gone one (answered, withdrawn) is not found.
async fn close(
    conn: &mut PgConnection,
    workspace: Uuid,
    id: Uuid,
    status: &'static str,
) -> Result<()> {
    let updated = sqlx::query(
        "UPDATE invitations SET status = $3, responded_at = now() \
         WHERE workspace_id = $1 AND id = $2 AND status = 'pending'",
    )
    .bind(workspace)
    .bind(id)
    .bind(status)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(gone());
    }
    Ok(())
}

/// Withdraws a pending invitation of the workspace (its link stops working).
pub async fn revoke(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    close(&mut tx, workspace.0, id, "revoked").await?;
    tx.commit().await?;
    Ok(())
}

/// Pending invitations the signed-in `user` may answer: addressed to their email, made after
/// their account was.
pub async fn list_for_user(services: &Services, user: UserId) -> Result<Vec<Invitation>> {
    let mut tx = tenancy::begin_for_user(&services.pool, user).await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} JOIN users me ON me.id = $1 AND lower(me.email) = lower(i.email) \
         WHERE i.status = 'pending' AND i.expires_at > now() AND i.created_at >= me.created_at \
         ORDER BY i.created_at DESC LIMIT 100"
    ))
    .bind(user)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.into_iter().map(invitation_of).collect()
}

/// Joins `user` to the invitation's workspace and marks it accepted, inside `conn`'s
/// transaction (bound to that workspace).
async fn join(
    conn: &mut PgConnection,
    invitation: &Invitation,
    user: UserId,
) -> Result<WorkspaceSummary> {
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3::workspace_role) \
         ON CONFLICT DO NOTHING",
    )
    .bind(invitation.workspace_id)
    .bind(user)
    .bind(invitation.role.as_str())
    .execute(&mut *conn)
    .await?;
    close(conn, invitation.workspace_id, invitation.id, "accepted").await?;
    let (name, slug, role): (String, String, String) = sqlx::query_as(
        "SELECT w.name, w.slug, m.role::text FROM workspaces w \
         JOIN memberships m ON m.workspace_id = w.id AND m.user_id = $2 WHERE w.id = $1",
    )
    .bind(invitation.workspace_id)
    .bind(user)
    .fetch_one(&mut *conn)
    .await?;
    Ok(WorkspaceSummary {
        id: invitation.workspace_id,
        name,
        slug,
        role: parse_role(&role)?,
    })
}

fn gone() -> Error {
    Error::not_found("pending invitation (it may have expired or been withdrawn)")
}

/// Accepts (then the session continues in the workspace) or declines an invitation of the
/// signed-in caller's.
pub async fn respond(
    services: &Services,
    access: &Access,
    id: Uuid,
    accept: bool,
) -> Result<Option<Started>> {
    let user = access
        .user()
        .ok_or_else(|| Error::Forbidden("this needs a signed-in user, not an API key".into()))?;
    let invitation = list_for_user(services, user)
        .await?
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(gone)?;
    let workspace = WorkspaceId(invitation.workspace_id);
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    if !accept {
        close(&mut tx, workspace.0, id, "declined").await?;
        tx.commit().await?;
        return Ok(None);
    }
    let joined = join(&mut tx, &invitation, user).await?;
    tx.commit().await?;
    forget_memberships(services, workspace, Some(user)).await;
    Ok(Some(session::enter(services, access, joined).await?))
}

/// What an invitation link shows before anyone signs in.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkInfo {
    pub workspace_name: String,
    pub email: String,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

type TokenRow = (Uuid, Uuid, String, String, String, DateTime<Utc>, String);

async fn by_token(services: &Services, token: &str) -> Result<Invitation> {
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT workspace_id, id, email, role::text, status, expires_at, workspace_name \
         FROM argus_invitation_by_token($1)",
    )
    .bind(token_hash(token))
    .fetch_optional(&services.pool)
    .await?;
    let Some((workspace_id, id, email, role, status, expires_at, workspace_name)) = row else {
        return Err(gone());
    };
    if status != "pending" || expires_at <= Utc::now() {
        return Err(gone());
    }
    Ok(Invitation {
        id,
        workspace_id,
        workspace_name,
        email,
        role: parse_role(&role)?,
        invited_by: None,
        created_at: expires_at - TTL,
        expires_at,
        status,
    })
}

/// The invitation behind a link, for its page.
pub async fn link_info(services: &Services, token: &str) -> Result<LinkInfo> {
    let i = by_token(services, token).await?;
    Ok(LinkInfo {
        workspace_name: i.workspace_name,
        email: i.email,
        role: i.role,
        expires_at: i.expires_at,
    })
}

/// Creates the invitee's account from the link, joins it to the workspace, and signs in.
pub async fn sign_up_with_link(
    services: &Services,
    token: &str,
    name: &str,
    password: &str,
    origin: &Origin,
) -> Result<Started> {
    let invitation = by_token(services, token).await?;
    let name = crate::workspaces::valid_name("name", name)?;
    let password = Password::parse(password)?;
    let email = Email::parse(&invitation.email)?;
    let hash = {
        let _permit = services.hashing.permit().await?;
        identity::hash_password(&password).await?
    };
    let workspace = WorkspaceId(invitation.workspace_id);
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let user = identity::insert_user(&mut tx, &email, name, &hash)
        .await?
        .ok_or_else(|| {
            Error::Conflict(
                "an account with this email exists: sign in, then accept the invitation".into(),
            )
        })?;
    let joined = join(&mut tx, &invitation, user).await?;
    tx.commit().await?;
    forget_memberships(services, workspace, Some(user)).await;
    session::start(services, user, joined, origin).await
}
