//! API keys: `argus_<prefix>_<secret>`. The prefix is stored to find the key; of the secret only
//! its SHA-256, compared in constant time. The full key is shown once, at creation.

use std::collections::HashMap;
use std::sync::Mutex;

pub use argus_types::ApiKeyInfo;
use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::identity::UserId;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result};

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Write traces and metrics; read nothing.
    Ingest,
    Read,
    Admin,
    /// Write scores (`POST /api/v1/evaluate/scores`); read nothing.
    Score,
    /// Run guardrail checks (`POST /api/v1/guardrails/check`); read nothing.
    Guardrail,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
            Scope::Score => "score",
            Scope::Guardrail => "guardrail",
        }
    }

    pub fn parse(s: &str) -> Result<Scope> {
        match s {
            "ingest" => Ok(Scope::Ingest),
            "read" => Ok(Scope::Read),
            "admin" => Ok(Scope::Admin),
            "score" => Ok(Scope::Score),
            "guardrail" => Ok(Scope::Guardrail),
            _ => Err(Error::invalid_input(
                "scopes",
                format!("unknown scope {s:?}"),
            )),
        }
    }
}

const KEY_PREFIX: &str = "argus_";
const PREFIX_LEN: usize = 12;
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn random_token(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    // 256 is not a multiple of 36; the bias this leaves is far below anything exploitable for
    // a 43-character secret (>220 bits).
    bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

fn sha256(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Splits `argus_<prefix>_<secret>`; `None` when it is not of that shape.
fn split(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (prefix, secret) = rest.split_once('_')?;
    let ok = prefix.len() == PREFIX_LEN
        && prefix.bytes().all(|b| ALPHABET.contains(&b))
        && (32..=128).contains(&secret.len())
        && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some((prefix, secret))
}

/// A key just created: the only time its secret is known.
#[derive(Debug)]
pub struct CreatedKey {
    pub id: Uuid,
    pub prefix: String,
    /// The whole key, `argus_<prefix>_<secret>`, to show once.
    pub key: SecretString,
}

/// Who a verified key speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedKey {
    pub workspace: WorkspaceId,
    pub key_id: Uuid,
    pub scopes: Vec<Scope>,
}

impl VerifiedKey {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// Creates a key in `workspace`.
pub async fn create(
    pool: &PgPool,
    workspace: WorkspaceId,
    created_by: Option<UserId>,
    name: &str,
    scopes: &[Scope],
    expires_at: Option<DateTime<Utc>>,
) -> Result<CreatedKey> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid_input("name", "must be 1 to 200 characters"));
    }
    if scopes.is_empty() {
        return Err(Error::invalid_input("scopes", "give at least one scope"));
    }
    if expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(Error::invalid_input("expires_at", "must be in the future"));
    }
    let mut scope_names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    scope_names.sort_unstable();
    scope_names.dedup();
    let prefix = random_token(PREFIX_LEN);
    let secret = random_token(43);

    let mut tx = tenancy::begin(pool, workspace).await?;
    sqlx::query("INSERT INTO api_key_prefixes (prefix, workspace_id) VALUES ($1, $2)")
        .bind(&prefix)
        .bind(workspace)
        .execute(&mut *tx)
        .await?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO api_keys (workspace_id, name, prefix, secret_sha256, scopes, created_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(workspace)
    .bind(name)
    .bind(&prefix)
    .bind(sha256(&secret))
    .bind(&scope_names)
    .bind(created_by)
    .bind(expires_at)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(CreatedKey {
        id,
        key: SecretString::from(format!("{KEY_PREFIX}{prefix}_{secret}")),
        prefix,
    })
}

/// The keys of `workspace`, newest first.
pub async fn list(pool: &PgPool, workspace: WorkspaceId) -> Result<Vec<ApiKeyInfo>> {
    let mut tx = tenancy::begin(pool, workspace).await?;
    type Row = (
        Uuid,
        String,
        String,
        Vec<String>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at \
         FROM api_keys WHERE workspace_id = $1 ORDER BY created_at DESC, id",
    )
    .bind(workspace)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at)| {
                ApiKeyInfo {
                    id,
                    name,
                    prefix,
                    scopes,
                    created_at,
                    last_used_at,
                    expires_at,
                    revoked_at,
                }
            },
        )
        .collect())
}

/// Revokes a key of `workspace` (a key of another workspace is not found) and returns its
/// prefix. Servers use [`revoke_key`], which also drops the cached verification.
pub async fn revoke(pool: &PgPool, workspace: WorkspaceId, id: Uuid) -> Result<String> {
    let mut tx = tenancy::begin(pool, workspace).await?;
    let prefix: Option<String> = sqlx::query_scalar(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) \
         WHERE workspace_id = $1 AND id = $2 RETURNING prefix",
    )
    .bind(workspace)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    prefix.ok_or_else(|| Error::not_found("API key"))
}

/// [`revoke`], and the key stops working at once on every server (its cached record goes).
pub async fn revoke_key(
    services: &crate::Services,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<()> {
    let prefix = revoke(&services.pool, workspace, id).await?;
    services.cache.invalidate(&record_key(&prefix)).await;
    RECENT.invalidate_all();
    Ok(())
}

/// What verifying a key needs to know about it (cached: see [`verify_cached`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct KeyRecord {
    workspace: Uuid,
    key_id: Uuid,
    secret_sha256: Vec<u8>,
    scopes: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    revoked: bool,
}

fn record_key(prefix: &str) -> crate::cache::CacheKey {
    crate::cache::CacheKey::new("apikey", prefix, "record")
}

/// The stored key with `prefix`: the prefix names the workspace, then the key is read under
/// that workspace's RLS binding.
async fn lookup(pool: &PgPool, prefix: &str) -> Result<Option<KeyRecord>> {
    let workspace: Option<Uuid> =
        sqlx::query_scalar("SELECT workspace_id FROM api_key_prefixes WHERE prefix = $1")
            .bind(prefix)
            .fetch_optional(pool)
            .await?;
    let Some(workspace) = workspace else {
        return Ok(None);
    };
    let mut tx = tenancy::begin(pool, WorkspaceId(workspace)).await?;
    type Row = (
        Uuid,
        Vec<u8>,
        Vec<String>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, secret_sha256, scopes, expires_at, revoked_at FROM api_keys \
         WHERE workspace_id = $1 AND prefix = $2",
    )
    .bind(workspace)
    .bind(prefix)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(
        |(key_id, secret_sha256, scopes, expires_at, revoked_at)| KeyRecord {
            workspace,
            key_id,
            secret_sha256,
            scopes,
            expires_at,
            revoked: revoked_at.is_some(),
        },
    ))
}

/// Checks a presented secret against its stored record, in constant time.
fn check(record: &KeyRecord, secret: &str) -> Result<VerifiedKey> {
    let matches: bool = record.secret_sha256.ct_eq(&sha256(secret)).into();
    let live = !record.revoked && record.expires_at.is_none_or(|t| t > Utc::now());
    if !(matches && live) {
        return Err(Error::InvalidApiKey);
    }
    Ok(VerifiedKey {
        workspace: WorkspaceId(record.workspace),
        key_id: record.key_id,
        scopes: record
            .scopes
            .iter()
            .filter_map(|s| Scope::parse(s).ok())
            .collect(),
    })
}

/// Verifies a presented key against the database. Every failure is [`Error::InvalidApiKey`].
pub async fn verify(pool: &PgPool, presented: &str) -> Result<VerifiedKey> {
    let (prefix, secret) = split(presented.trim()).ok_or(Error::InvalidApiKey)?;
    let record = lookup(pool, prefix).await?;
    // Hash even for an unknown prefix, so both paths do the same work.
    let Some(record) = record else {
        let _ = sha256(secret);
        return Err(Error::InvalidApiKey);
    };
    check(&record, secret)
}

/// [`verify`] with the key's record cached for [`crate::cache::Ttl::Hot`] (what every ingest
/// request does; the record holds the secret's hash, never the secret). Unknown prefixes are
/// not cached. Revoking through [`revoke_key`] drops the record; expiry is checked each time.
pub async fn verify_cached(services: &crate::Services, presented: &str) -> Result<VerifiedKey> {
    let presented = presented.trim();
    // A key verified in the last second, in this process: a busy agent's key costs no cache
    // round trip per request (a revocation clears these at once here, within a second on
    // other replicas).
    let fingerprint = sha256(presented);
    if let Some(verified) = RECENT.get(&fingerprint).await {
        return Ok(verified);
    }
    let verified = verify_shared(services, presented).await?;
    RECENT.insert(fingerprint, verified.clone()).await;
    Ok(verified)
}

/// How long a verified key is reused by one process without asking the shared cache.
pub const RECENT_TTL: std::time::Duration = crate::cache::IN_PROCESS;

static RECENT: std::sync::LazyLock<moka::future::Cache<Vec<u8>, VerifiedKey>> =
    std::sync::LazyLock::new(|| {
        moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(RECENT_TTL)
            .build()
    });

/// [`verify_cached`] through the shared cache (Redis, or the in-process one).
async fn verify_shared(services: &crate::Services, presented: &str) -> Result<VerifiedKey> {
    let (prefix, secret) = split(presented).ok_or(Error::InvalidApiKey)?;
    let record = services
        .cache
        .get_with_cache(&record_key(prefix), crate::cache::Ttl::Hot, || async {
            lookup(&services.pool, prefix)
                .await?
                .ok_or(Error::InvalidApiKey)
        })
        .await;
    match record {
        Ok(record) => check(&record, secret),
        Err(e) => {
            let _ = sha256(secret);
            Err(e)
        }
    }
}

/// When keys were last used, gathered in memory and written in one statement per workspace
/// by [`KeyUsage::flush`] (the server calls it every minute), so a busy key costs no write per
/// request.
#[derive(Debug, Default)]
pub struct KeyUsage {
    pending: Mutex<HashMap<(WorkspaceId, Uuid), DateTime<Utc>>>,
}

impl KeyUsage {
    /// Notes that a key was used now.
    pub fn record(&self, workspace: WorkspaceId, key_id: Uuid) {
        self.pending
            .lock()
            .expect("key usage lock")
            .insert((workspace, key_id), Utc::now());
    }

    /// How many keys wait to be written.
    pub fn pending(&self) -> usize {
        self.pending.lock().expect("key usage lock").len()
    }

    /// Writes the gathered times; returns how many keys were updated. On a database error the
    /// times are kept for the next flush.
    pub async fn flush(&self, pool: &PgPool) -> Result<u64> {
        let taken = std::mem::take(&mut *self.pending.lock().expect("key usage lock"));
        let mut by_workspace: HashMap<WorkspaceId, (Vec<Uuid>, Vec<DateTime<Utc>>)> =
            HashMap::new();
        for ((workspace, id), at) in &taken {
            let entry = by_workspace.entry(*workspace).or_default();
            entry.0.push(*id);
            entry.1.push(*at);
        }
        let mut updated = 0;
        let mut first_error = None;
        for (workspace, (ids, times)) in by_workspace {
            let result = async {
                let mut tx = tenancy::begin(pool, workspace).await?;
                let n = sqlx::query(
                    "UPDATE api_keys k SET last_used_at = greatest(k.last_used_at, u.at) \
                     FROM unnest($2::uuid[], $3::timestamptz[]) AS u(id, at) \
                     WHERE k.workspace_id = $1 AND k.id = u.id",
                )
                .bind(workspace)
                .bind(&ids)
                .bind(&times)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok::<u64, Error>(n)
            }
            .await;
            match result {
                Ok(n) => updated += n,
                Err(e) => {
                    let mut pending = self.pending.lock().expect("key usage lock");
                    for (id, at) in ids.into_iter().zip(times) {
                        pending.entry((workspace, id)).or_insert(at);
                    }
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(updated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape_is_checked_before_any_lookup() {
        let prefix = "a".repeat(PREFIX_LEN);
        let secret = "b".repeat(43);
        assert_eq!(
            split(&format!("argus_{prefix}_{secret}")),
            Some((prefix.as_str(), secret.as_str()))
        );
        for bad in [
            String::new(),
            format!("argus_{prefix}"),
            format!("other_{prefix}_{secret}"),
            format!("argus_{}_{secret}", "A".repeat(PREFIX_LEN)),
            format!("argus_{prefix}_short"),
            format!("argus_{prefix}_{}!", "b".repeat(42)),
        ] {
            assert_eq!(split(&bad), None, "{bad}");
        }
    }

    #[test]
    fn generated_tokens_use_the_alphabet() {
        let t = random_token(43);
        assert_eq!(t.len(), 43);
        assert!(t.bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(t, random_token(43));
    }
}
