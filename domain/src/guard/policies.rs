//! A workspace's guardrail policies: define (checked by compiling), change (a new version, the
//! old one kept), list with their last day's decisions, delete, attach one to ingestion; and the
//! compiled policy a check runs, found by name in a process cache (a change is seen at once by
//! this process and within [`LOOKUP_TTL`] by the others).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use argus_types::{GuardPolicy, PolicyDefinition};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::engine::Engine;
use crate::identity::UserId;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// Policies a workspace may have.
pub const MAX_POLICIES: i64 = 100;
/// How long another replica may run a policy's previous version after a change.
pub const LOOKUP_TTL: Duration = Duration::from_secs(5);

/// A policy as an admin defines it.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
pub struct NewPolicy {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub definition: PolicyDefinition,
}

/// A policy ready to run: the version its decisions name.
pub struct Loaded {
    pub id: Uuid,
    pub name: String,
    pub version: i32,
    pub engine: Arc<Engine>,
}

/// (workspace, name) → the current version, compiled; `None` remembered too (briefly), so an
/// unknown name costs no query per call.
type Lookup = moka::future::Cache<(WorkspaceId, String), Option<Arc<Loaded>>>;

static BY_NAME: LazyLock<Lookup> = LazyLock::new(|| {
    moka::future::Cache::builder()
        .max_capacity(10_000)
        .time_to_live(LOOKUP_TTL)
        .build()
});

/// The workspace's ingest policy (`None`: ingestion redacts nothing).
static INGEST: LazyLock<moka::future::Cache<WorkspaceId, Option<Arc<Loaded>>>> =
    LazyLock::new(|| {
        moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(LOOKUP_TTL)
            .build()
    });

fn clean_name(name: &str) -> Result<String> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(Error::invalid_input(
            "name",
            "1–100 letters, digits, '.', '_' or '-', starting with a letter or digit",
        ))
    }
}

fn checked(new: &NewPolicy) -> Result<(String, String)> {
    let name = clean_name(&new.name)?;
    let description = new.description.trim().to_owned();
    if description.chars().count() > 1000 {
        return Err(Error::invalid_input(
            "description",
            "at most 1,000 characters",
        ));
    }
    Engine::compile(&new.definition)?;
    Ok((name, description))
}

type Row = (
    Uuid,
    String,
    String,
    i32,
    sqlx::types::Json<PolicyDefinition>,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
);

const COLUMNS: &str = "id, name, description, version, definition, ingest, created_at, updated_at";

fn from_row(row: Row) -> GuardPolicy {
    let (id, name, description, version, definition, ingest, created_at, updated_at) = row;
    GuardPolicy {
        id,
        name,
        description,
        version,
        definition: definition.0,
        ingest,
        created_at,
        updated_at,
        decisions_24h: 0,
        blocks_24h: 0,
    }
}

/// Forgets what this process cached about a workspace's policies.
async fn forget(workspace: WorkspaceId, names: &[&str]) {
    for name in names {
        BY_NAME.invalidate(&(workspace, (*name).to_owned())).await;
    }
    INGEST.invalidate(&workspace).await;
}

/// Defines a policy (it answers checks at once).
pub async fn create(
    services: &Services,
    workspace: WorkspaceId,
    by: Option<UserId>,
    new: &NewPolicy,
) -> Result<GuardPolicy> {
    let (name, description) = checked(new)?;
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM guard_policies WHERE workspace_id = $1")
            .bind(workspace.0)
            .fetch_one(&mut *tx)
            .await?;
    if count >= MAX_POLICIES {
        return Err(Error::Conflict(format!(
            "a workspace has at most {MAX_POLICIES} guardrail policies; delete one first"
        )));
    }
    let row: Option<Row> = sqlx::query_as(&format!(
        "INSERT INTO guard_policies (workspace_id, id, name, description, definition, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(workspace.0)
    .bind(Uuid::now_v7())
    .bind(&name)
    .bind(&description)
    .bind(sqlx::types::Json(&new.definition))
    .bind(by.map(|u| u.0))
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.ok_or_else(|| Error::AlreadyExists {
        what: format!("a guardrail policy named {name:?}"),
    })?;
    keep_version(&mut tx, workspace, row.0, 1, &new.definition, by).await?;
    tx.commit().await?;
    forget(workspace, &[&name]).await;
    Ok(from_row(row))
}

async fn keep_version(
    tx: &mut sqlx::PgConnection,
    workspace: WorkspaceId,
    id: Uuid,
    version: i32,
    definition: &PolicyDefinition,
    by: Option<UserId>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO guard_policy_versions (workspace_id, policy_id, version, definition, created_by) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(workspace.0)
    .bind(id)
    .bind(version)
    .bind(sqlx::types::Json(definition))
    .bind(by.map(|u| u.0))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Changes a policy: a new version when the definition changed (the name and description
/// alone keep the version).
pub async fn update(
    services: &Services,
    workspace: WorkspaceId,
    id: Uuid,
    by: Option<UserId>,
    new: &NewPolicy,
) -> Result<GuardPolicy> {
    let (name, description) = checked(new)?;
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let current: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM guard_policies WHERE workspace_id = $1 AND id = $2 FOR UPDATE"
    ))
    .bind(workspace.0)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let current = from_row(current.ok_or_else(|| Error::not_found("guardrail policy"))?);
    let taken: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM guard_policies WHERE workspace_id = $1 AND name = $2 AND id <> $3",
    )
    .bind(workspace.0)
    .bind(&name)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if taken.is_some() {
        return Err(Error::AlreadyExists {
            what: format!("a guardrail policy named {name:?}"),
        });
    }
    let changed = current.definition != new.definition;
    let version = current.version + i32::from(changed);
    let row: Row = sqlx::query_as(&format!(
        "UPDATE guard_policies SET name = $3, description = $4, definition = $5, version = $6, \
         updated_at = now() WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(workspace.0)
    .bind(id)
    .bind(&name)
    .bind(&description)
    .bind(sqlx::types::Json(&new.definition))
    .bind(version)
    .fetch_one(&mut *tx)
    .await?;
    if changed {
        keep_version(&mut tx, workspace, id, version, &new.definition, by).await?;
    }
    tx.commit().await?;
    forget(workspace, &[&current.name, &name]).await;
    Ok(from_row(row))
}

/// Deletes a policy (its decisions stay until retention removes them).
pub async fn delete(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let name: Option<String> = sqlx::query_scalar(
        "DELETE FROM guard_policies WHERE workspace_id = $1 AND id = $2 RETURNING name",
    )
    .bind(workspace.0)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let name = name.ok_or_else(|| Error::not_found("guardrail policy"))?;
    forget(workspace, &[&name]).await;
    Ok(())
}

/// Makes a policy the one ingestion redacts spans with (`None`: no redaction at ingest). The
/// policy needs a `redact` rule: it is applied to what is stored, never to block anything.
pub async fn set_ingest(
    services: &Services,
    workspace: WorkspaceId,
    id: Option<Uuid>,
) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    sqlx::query("UPDATE guard_policies SET ingest = false WHERE workspace_id = $1 AND ingest")
        .bind(workspace.0)
        .execute(&mut *tx)
        .await?;
    if let Some(id) = id {
        let def: Option<sqlx::types::Json<PolicyDefinition>> = sqlx::query_scalar(
            "UPDATE guard_policies SET ingest = true WHERE workspace_id = $1 AND id = $2 \
             RETURNING definition",
        )
        .bind(workspace.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let def = def.ok_or_else(|| Error::not_found("guardrail policy"))?;
        if !def
            .0
            .rules
            .iter()
            .any(|r| r.action == argus_types::GuardAction::Redact)
        {
            return Err(Error::invalid_input(
                "policy",
                "ingestion redacts what it stores: the policy needs a rule whose action is redact",
            ));
        }
    }
    tx.commit().await?;
    INGEST.invalidate(&workspace).await;
    Ok(())
}

/// The workspace's policies by name, each with its last 24 hours of decisions.
pub async fn list(services: &Services, workspace: WorkspaceId) -> Result<Vec<GuardPolicy>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM guard_policies WHERE workspace_id = $1 ORDER BY name"
    ))
    .bind(workspace.0)
    .fetch_all(&mut *tx)
    .await?;
    let counts: Vec<(Uuid, i64, i64)> = sqlx::query_as(
        "SELECT policy_id, sum(n)::bigint, coalesce(sum(n) FILTER (WHERE would = 'block'), 0)::bigint \
         FROM guard_rollup_hourly WHERE workspace_id = $1 AND \"check\" = '' \
         AND bucket >= date_trunc('hour', now() - interval '24 hours') GROUP BY policy_id",
    )
    .bind(workspace.0)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut p = from_row(r);
            if let Some((_, n, blocks)) = counts.iter().find(|c| c.0 == p.id) {
                p.decisions_24h = *n;
                p.blocks_24h = *blocks;
            }
            p
        })
        .collect())
}

/// One policy.
pub async fn get(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<GuardPolicy> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM guard_policies WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(workspace.0)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.map(from_row)
        .ok_or_else(|| Error::not_found("guardrail policy"))
}

fn loaded(row: Row) -> Result<Arc<Loaded>> {
    let p = from_row(row);
    let engine = Engine::compile(&p.definition)
        .map_err(|e| Error::Internal(format!("stored guardrail policy {}: {e}", p.name)))?;
    Ok(Arc::new(Loaded {
        id: p.id,
        name: p.name,
        version: p.version,
        engine: Arc::new(engine),
    }))
}

/// An error a cache load answered to every caller waiting on it.
fn shared(e: Arc<Error>) -> Error {
    match &*e {
        Error::Database(_) => Error::Unavailable(format!("guardrail policies: {e}")),
        _ => Error::Internal(e.to_string()),
    }
}

/// The current version of the policy `name`, compiled (cached for [`LOOKUP_TTL`]).
pub async fn by_name(
    services: &Services,
    workspace: WorkspaceId,
    name: &str,
) -> Result<Arc<Loaded>> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Error::invalid_input("policy", "give the policy's name"));
    }
    let found = BY_NAME
        .try_get_with((workspace, name.to_owned()), async {
            let mut tx = tenancy::begin(&services.pool, workspace).await?;
            let row: Option<Row> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM guard_policies WHERE workspace_id = $1 AND name = $2"
            ))
            .bind(workspace.0)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            row.map(loaded).transpose()
        })
        .await
        .map_err(shared)?;
    found.ok_or_else(|| Error::not_found("guardrail policy (by that name)"))
}

/// The policy ingestion redacts with, if the workspace attached one (cached).
pub async fn for_ingest(
    services: &Services,
    workspace: WorkspaceId,
) -> Result<Option<Arc<Loaded>>> {
    INGEST
        .try_get_with(workspace, async {
            let mut tx = tenancy::begin(&services.pool, workspace).await?;
            let row: Option<Row> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM guard_policies WHERE workspace_id = $1 AND ingest"
            ))
            .bind(workspace.0)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            row.map(loaded).transpose()
        })
        .await
        .map_err(shared)
}
