//! Users, passwords and the first workspace: sign-up and password checks.
//!
//! Passwords are hashed with argon2id on the blocking pool (hashing takes tens of milliseconds of
//! CPU, far over the async budget). An unknown email and a wrong password are one error, and both
//! cost one hash verification, so neither the answer nor its timing tells them apart.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use uuid::Uuid;

pub use crate::tenancy::UserId;
use crate::tenancy::WorkspaceId;
use crate::{Error, Result};

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A password that meets the policy. Never printed.
#[derive(Clone)]
pub struct Password(SecretString);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

impl Password {
    pub fn parse(raw: &str) -> Result<Password> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(Error::invalid_input(
                "password",
                format!("must be at least {MIN_PASSWORD_CHARS} characters"),
            ));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(Error::invalid_input(
                "password",
                format!("must be at most {MAX_PASSWORD_CHARS} characters"),
            ));
        }
        Ok(Password(SecretString::from(raw.to_owned())))
    }
}

/// An email address, trimmed; compared case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email> {
        let email = raw.trim();
        let valid = email.len() <= 320
            && !email.chars().any(char::is_whitespace)
            && matches!(email.split_once('@'), Some((local, domain))
                if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                    && !domain.ends_with('.') && !domain.contains('@'));
        if valid {
            Ok(Email(email.to_owned()))
        } else {
            Err(Error::invalid_input(
                "email",
                "is not a valid email address",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hash_blocking(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Verified against when the email is unknown, so that path costs what a real check costs.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("argus-dummy-password").expect("hashing a constant"));

/// Hashes a password with argon2id (PHC string) on the blocking pool.
pub async fn hash_password(password: &Password) -> Result<String> {
    let pw = password.0.clone();
    tokio::task::spawn_blocking(move || hash_blocking(pw.expose_secret()))
        .await
        .map_err(|e| Error::Internal(format!("password hashing task: {e}")))?
}

async fn verify_password(password: &str, hash: String) -> Result<bool> {
    let pw = SecretString::from(password.to_owned());
    tokio::task::spawn_blocking(move || verify_blocking(pw.expose_secret(), &hash))
        .await
        .map_err(|e| Error::Internal(format!("password verification task: {e}")))
}

/// What sign-up created.
#[derive(Clone, Debug)]
pub struct SignedUp {
    pub user: UserId,
    pub workspace: WorkspaceId,
    pub workspace_slug: String,
    pub workspace_name: String,
}

/// Password hashes running at once, and how many of them sign-ups may hold: a flood of
/// sign-ups (each an argon2 hash on the blocking pool) can never take every permit, so
/// log-ins keep their share.
#[derive(Debug)]
pub struct Hashing {
    all: tokio::sync::Semaphore,
    signups: tokio::sync::Semaphore,
}

/// How long a log-in waits for a hashing permit before it is answered 503.
const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Hashing {
    /// `permits` hashes at once (at least 2), half of them at most for sign-ups.
    pub fn new(permits: usize) -> Hashing {
        let permits = permits.max(2);
        Hashing {
            all: tokio::sync::Semaphore::new(permits),
            signups: tokio::sync::Semaphore::new(permits / 2),
        }
    }

    fn busy() -> Error {
        Error::Overloaded {
            retry_after_secs: 1,
        }
    }

    /// A permit to check or set a password (log-in, password change), waiting a little.
    pub async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        tokio::time::timeout(HASH_WAIT, self.all.acquire())
            .await
            .map_err(|_| Hashing::busy())?
            .map_err(|_| Hashing::busy())
    }

    /// A permit for a sign-up: refused at once when sign-ups hold their share already.
    pub async fn signup_permit(
        &self,
    ) -> Result<(
        tokio::sync::SemaphorePermit<'_>,
        tokio::sync::SemaphorePermit<'_>,
    )> {
        let signup = self.signups.try_acquire().map_err(|_| Hashing::busy())?;
        Ok((signup, self.permit().await?))
    }
}

impl Default for Hashing {
    fn default() -> Self {
        Hashing::new(4)
    }
}

/// Inserts a user; `None` when the email has an account already (nothing changes then).
pub(crate) async fn insert_user(
    conn: &mut sqlx::PgConnection,
    email: &Email,
    name: &str,
    hash: &str,
) -> Result<Option<UserId>> {
    let user: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (lower(email)) DO NOTHING RETURNING id",
    )
    .bind(email.as_str())
    .bind(name)
    .bind(hash)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(user.map(UserId))
}

/// Creates a user and a first workspace they own, in one transaction. `None` when the email
/// has an account already: the password is hashed all the same, so that case takes as long.
#[tracing::instrument(skip_all)]
pub async fn sign_up(
    pool: &PgPool,
    email: &Email,
    name: &str,
    password: &Password,
    workspace_name: &str,
) -> Result<Option<SignedUp>> {
    let name = crate::workspaces::valid_name("name", name)?;
    let workspace_name = crate::workspaces::valid_name("workspace_name", workspace_name)?;
    let hash = hash_password(password).await?;
    let workspace = WorkspaceId(Uuid::new_v4());
    let mut tx = crate::tenancy::begin(pool, workspace).await?;
    let Some(user) = insert_user(&mut tx, email, name, &hash).await? else {
        return Ok(None);
    };
    let created = crate::workspaces::insert(&mut tx, workspace, user, workspace_name).await?;
    tx.commit().await?;
    Ok(Some(SignedUp {
        user,
        workspace,
        workspace_slug: created.slug,
        workspace_name: created.name,
    }))
}

/// Sets `user`'s password (hashing it on the blocking pool).
pub async fn set_password(pool: &PgPool, user: UserId, password: &Password) -> Result<()> {
    let hash = hash_password(password).await?;
    let updated = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user)
        .bind(hash)
        .execute(pool)
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(Error::not_found("user"));
    }
    Ok(())
}

/// Whether `password` is `user`'s password.
pub async fn check_password(pool: &PgPool, user: UserId, password: &str) -> Result<bool> {
    let hash: Option<String> = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user)
        .fetch_optional(pool)
        .await?;
    match hash {
        Some(hash) => verify_password(password, hash).await,
        None => Ok(false),
    }
}

/// A user's profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
}

/// The user `id`, if they exist.
pub async fn user(pool: &PgPool, id: UserId) -> Result<Option<User>> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT email, name FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(email, name)| User { id, email, name }))
}

/// The user with `email` (compared case-insensitively), if any.
pub async fn user_by_email(pool: &PgPool, email: &Email) -> Result<Option<UserId>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
            .bind(email.as_str())
            .fetch_optional(pool)
            .await?
            .map(UserId),
    )
}

/// Checks an email and password. Unknown email and wrong password are the same error.
#[tracing::instrument(skip_all)]
pub async fn authenticate(pool: &PgPool, email: &str, password: &str) -> Result<UserId> {
    let found: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE lower(email) = lower($1)")
            .bind(email.trim())
            .fetch_optional(pool)
            .await?;
    let (id, hash) = match found {
        Some((id, hash)) => (Some(id), hash),
        None => (None, DUMMY_HASH.clone()),
    };
    match (id, verify_password(password, hash).await?) {
        (Some(id), true) => Ok(UserId(id)),
        _ => Err(Error::InvalidCredentials),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sign_ups_never_hold_every_hashing_permit() {
        let hashing = Hashing::new(4);
        let a = hashing.signup_permit().await.unwrap();
        let b = hashing.signup_permit().await.unwrap();
        // Sign-ups hold their half: the next is refused at once (503 with Retry-After)…
        let refused = hashing.signup_permit().await.unwrap_err();
        assert_eq!(refused.code(), argus_types::ErrorCode::ServiceUnavailable);
        // …and log-ins still get theirs.
        let l1 = hashing.permit().await.unwrap();
        let l2 = hashing.permit().await.unwrap();
        drop((a, b, l1, l2));
        assert!(hashing.signup_permit().await.is_ok());
    }

    #[test]
    fn password_policy() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("exactly10!").is_ok());
        assert!(Password::parse(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
        assert!(!format!("{:?}", Password::parse("hunter2hunter2").unwrap()).contains("hunter2"));
    }

    #[test]
    fn email_shape() {
        assert_eq!(
            Email::parse("  Ann@Example.com ").unwrap().as_str(),
            "Ann@Example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_blocking("correct horse battery").unwrap();
        let b = hash_blocking("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify_blocking("correct horse battery", &a));
        assert!(!verify_blocking("wrong horse battery", &a));
        assert!(!verify_blocking("anything", "not a hash"));
    }
}
