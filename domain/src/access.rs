//! Who is calling, for which workspace, and what they may do.
//!
//! A request carries a session token (cookie or `Authorization: Bearer`) or an API key
//! (`Authorization: Bearer argus_…` or `X-API-Key`). Either resolves to an [`Access`]: the
//! workspace, the principal and its role. A token's role is not trusted: the membership is
//! re-read (cached for [`crate::cache::Ttl::Hot`], dropped on every change), so removing a member or
//! deactivating a workspace takes effect at once.

use argus_types::Role;
use uuid::Uuid;

use crate::apikeys::{self, Scope};
use crate::identity::UserId;
use crate::tenancy::WorkspaceId;
use crate::workspaces;
use crate::{Error, Result, Services};

/// Who makes the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    User(UserId),
    ApiKey { key_id: Uuid, scopes: Vec<Scope> },
}

/// The resolved caller: one workspace, one principal, one role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub workspace: WorkspaceId,
    pub principal: Principal,
    /// The user's role; for an API key, Admin with the `admin` scope, else Viewer.
    pub role: Role,
    /// The session a user's token belongs to (`None` for an API key).
    pub session: Option<Uuid>,
}

impl Access {
    pub fn user(&self) -> Option<UserId> {
        match self.principal {
            Principal::User(user) => Some(user),
            Principal::ApiKey { .. } => None,
        }
    }

    pub fn key_id(&self) -> Option<Uuid> {
        match self.principal {
            Principal::ApiKey { key_id, .. } => Some(key_id),
            Principal::User(_) => None,
        }
    }

    /// Allows the call when the caller's role is at least `min`.
    ///
    /// API keys: reading (`Viewer`) needs the `read` or `admin` scope; writing up to `Admin`
    /// needs `admin`; what only an owner may do, no key may. An `ingest`-only key reads nothing.
    pub fn require(&self, min: Role) -> Result<()> {
        let allowed = match &self.principal {
            Principal::User(_) => self.role >= min,
            Principal::ApiKey { scopes, .. } => match min {
                Role::Viewer => scopes.contains(&Scope::Read) || scopes.contains(&Scope::Admin),
                Role::Member | Role::Admin => scopes.contains(&Scope::Admin),
                Role::Owner => false,
            },
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::Forbidden(match &self.principal {
                Principal::User(_) => format!(
                    "this needs the {} role or higher; you are {} in this workspace",
                    min.as_str(),
                    self.role.as_str()
                ),
                Principal::ApiKey { .. } => format!(
                    "this API key's scopes do not allow it (needs {})",
                    match min {
                        Role::Viewer => "read or admin",
                        Role::Member | Role::Admin => "admin",
                        Role::Owner => "a signed-in owner",
                    }
                ),
            }))
        }
    }

    /// Allows writing traces and metrics: a key with the `ingest` (or `admin`) scope, or a
    /// member or higher.
    pub fn require_ingest(&self) -> Result<()> {
        match &self.principal {
            Principal::ApiKey { scopes, .. }
                if scopes.contains(&Scope::Ingest) || scopes.contains(&Scope::Admin) =>
            {
                Ok(())
            }
            Principal::ApiKey { .. } => Err(Error::Forbidden(
                "this API key's scopes do not allow ingestion (needs ingest)".into(),
            )),
            Principal::User(_) => self.require(Role::Member),
        }
    }
}

impl Access {
    /// Allows writing scores: a key with the `score` (or `admin`) scope, or a member or
    /// higher.
    pub fn require_score(&self) -> Result<()> {
        match &self.principal {
            Principal::ApiKey { scopes, .. }
                if scopes.contains(&Scope::Score) || scopes.contains(&Scope::Admin) =>
            {
                Ok(())
            }
            Principal::ApiKey { .. } => Err(Error::Forbidden(
                "this API key's scopes do not allow writing scores (needs score)".into(),
            )),
            Principal::User(_) => self.require(Role::Member),
        }
    }
}

impl Access {
    /// Allows running guardrail checks: a key with the `guardrail` (or `admin`) scope, or a
    /// member or higher.
    pub fn require_guardrail(&self) -> Result<()> {
        match &self.principal {
            Principal::ApiKey { scopes, .. }
                if scopes.contains(&Scope::Guardrail) || scopes.contains(&Scope::Admin) =>
            {
                Ok(())
            }
            Principal::ApiKey { .. } => Err(Error::Forbidden(
                "this API key's scopes do not allow guardrail checks (needs guardrail)".into(),
            )),
            Principal::User(_) => self.require(Role::Member),
        }
    }
}

/// Resolves a session token. A token whose user is no longer a member of its workspace, or
/// whose workspace is inactive, is [`Error::InvalidCredentials`].
pub async fn from_session(services: &Services, token: &str) -> Result<Access> {
    let claims = services.tokens.verify(token)?;
    let workspace = WorkspaceId(claims.workspace_id);
    let user = UserId(claims.sub);
    // A session ended by log-out, a password change or "sign out everywhere"; and the
    // membership. Both are looked up at once (two cache reads, or on a miss two queries, that
    // overlap instead of following each other); either failing refuses the token alike.
    let (live, role) = tokio::try_join!(
        crate::user_sessions::is_live(services, user, claims.sid),
        workspaces::cached_role_of(services, workspace, user),
    )?;
    if !live {
        return Err(Error::InvalidCredentials);
    }
    let role = role.ok_or(Error::InvalidCredentials)?;
    Ok(Access {
        workspace,
        principal: Principal::User(user),
        role,
        session: Some(claims.sid),
    })
}

/// Resolves an API key and notes its use (written coalesced, see [`apikeys::KeyUsage`]).
pub async fn from_api_key(services: &Services, key: &str) -> Result<Access> {
    let verified = apikeys::verify_cached(services, key).await?;
    if !workspaces::cached_is_active(services, verified.workspace).await? {
        return Err(Error::InvalidApiKey);
    }
    services
        .key_usage
        .record(verified.workspace, verified.key_id);
    let role = if verified.has(Scope::Admin) {
        Role::Admin
    } else {
        Role::Viewer
    };
    Ok(Access {
        workspace: verified.workspace,
        principal: Principal::ApiKey {
            key_id: verified.key_id,
            scopes: verified.scopes,
        },
        role,
        session: None,
    })
}

/// What the gateway made of a request's credentials (in the request's extensions).
#[derive(Clone, Debug)]
pub enum Caller {
    /// No credentials were sent.
    Anonymous,
    Authenticated(Access),
    /// Credentials were sent and refused: the error to answer with when they are needed.
    Rejected(argus_types::ErrorEnvelope),
}

impl Caller {
    /// The access, or the error for a request that needs one.
    pub fn access(&self) -> std::result::Result<&Access, argus_types::ErrorEnvelope> {
        match self {
            Caller::Authenticated(access) => Ok(access),
            Caller::Rejected(envelope) => Err(envelope.clone()),
            Caller::Anonymous => Err(argus_types::ErrorEnvelope::new(
                argus_types::ErrorCode::InvalidCredentials,
                "sign in, or send a session token or an API key",
            )),
        }
    }
}

/// Whether a bearer credential is an API key rather than a session token.
pub fn is_api_key(credential: &str) -> bool {
    credential.starts_with("argus_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(scopes: &[Scope]) -> Access {
        Access {
            workspace: WorkspaceId(Uuid::nil()),
            principal: Principal::ApiKey {
                key_id: Uuid::nil(),
                scopes: scopes.to_vec(),
            },
            role: Role::Viewer,
            session: None,
        }
    }

    fn user(role: Role) -> Access {
        Access {
            workspace: WorkspaceId(Uuid::nil()),
            principal: Principal::User(UserId(Uuid::nil())),
            role,
            session: None,
        }
    }

    #[test]
    fn roles_include_the_ones_below() {
        for (role, allowed) in [
            (Role::Viewer, 1),
            (Role::Member, 2),
            (Role::Admin, 3),
            (Role::Owner, 4),
        ] {
            let ok = Role::ALL
                .iter()
                .filter(|min| user(role).require(**min).is_ok())
                .count();
            assert_eq!(ok, allowed, "{role}");
        }
        let err = user(Role::Viewer).require(Role::Member).unwrap_err();
        assert_eq!(err.code(), argus_types::ErrorCode::InsufficientPermissions);
        assert!(user(Role::Viewer).require_ingest().is_err());
        assert!(user(Role::Member).require_ingest().is_ok());
    }

    #[test]
    fn key_scopes() {
        let ingest = key(&[Scope::Ingest]);
        assert!(ingest.require_ingest().is_ok());
        assert!(
            ingest.require(Role::Viewer).is_err(),
            "ingest-only reads nothing"
        );
        let read = key(&[Scope::Read]);
        assert!(read.require(Role::Viewer).is_ok());
        assert!(read.require(Role::Member).is_err());
        assert!(read.require_ingest().is_err());
        let admin = key(&[Scope::Admin]);
        assert!(admin.require(Role::Admin).is_ok());
        assert!(admin.require(Role::Owner).is_err(), "no key acts as owner");
    }
}
