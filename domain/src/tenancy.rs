//! Tenancy: every tenant query runs in a transaction bound to one workspace.
//!
//! The binding sets `app.current_workspace_id` for the transaction only; the row-level security
//! policies of the tenant tables compare each row's `workspace_id` with it. Queries still name
//! `workspace_id` explicitly: RLS is the second lock, not the first.

use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// The id of a workspace (tenant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(transparent)]
pub struct WorkspaceId(pub Uuid);

impl std::fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A user's id (users exist across workspaces).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(transparent)]
pub struct UserId(pub Uuid);

/// Begins a transaction bound to `workspace`: row-level security shows and accepts only its rows
/// until commit or rollback.
pub async fn begin(
    pool: &PgPool,
    workspace: WorkspaceId,
) -> crate::Result<Transaction<'static, Postgres>> {
    begin_bound(pool, &binding("app.current_workspace_id", workspace.0, "")).await
}

/// The settings of a rollup read besides the workspace: no parallel workers, and a plan made
/// for each call's values: the rollup reads' optional filters (`$4 IS NULL OR department =
/// $4`) make PostgreSQL's generic plan — chosen for a prepared statement after five calls on
/// a connection — read whole tables (a week filtered by department and environment: 269 ms
/// generic, 17 ms custom).
const ROLLUP_READ: &str = ", set_config('max_parallel_workers_per_gather', '0', true), \
    set_config('plan_cache_mode', 'force_custom_plan', true)";

/// [`begin`] for a dashboard read of rollup rows (a few thousand at most), with custom plans
/// and PostgreSQL's parallel workers off for the transaction ([`ROLLUP_READ`]): starting
/// two workers took 7 of the 9 ms of the top-agents read at 10 M traces (BENCHMARKS.md, issue
/// 19), more than they save on reads of this size.
pub async fn begin_rollup_read(
    pool: &PgPool,
    workspace: WorkspaceId,
) -> crate::Result<Transaction<'static, Postgres>> {
    begin_bound(
        pool,
        &binding("app.current_workspace_id", workspace.0, ROLLUP_READ),
    )
    .await
}

/// Ends a transaction that only read, without waiting for PostgreSQL: its `ROLLBACK` (for a
/// transaction that wrote nothing, the same as `COMMIT`) is queued on the connection and sent
/// when the pool takes it back, after the caller has its rows — one round trip less on the
/// dashboard reads' path.
pub fn end_read(tx: Transaction<'static, Postgres>) {
    drop(tx);
}

/// `BEGIN` and the transaction's settings (`setting` to `id`, then `more`) as one statement
/// text: sent in one round trip (PostgreSQL's simple protocol runs both), not two. The id is
/// a UUID — hex digits and dashes — so it is written into the text as a literal.
fn binding(setting: &str, id: Uuid, more: &str) -> String {
    format!(
        "BEGIN; SELECT set_config('{setting}', '{}', true){more}",
        id.hyphenated()
    )
}

async fn begin_bound(pool: &PgPool, begin: &str) -> crate::Result<Transaction<'static, Postgres>> {
    crate::db::begin(pool, Some(begin.to_owned())).await
}

/// Deletes the row `id` of a workspace's `table` (keyed by `workspace_id, id`; what it owns
/// goes by cascade); [`crate::Error::NotFound`] naming `what` when there is none.
pub async fn delete_row(
    pool: &PgPool,
    workspace: WorkspaceId,
    table: &'static str,
    id: Uuid,
    what: &str,
) -> crate::Result<()> {
    let mut tx = begin(pool, workspace).await?;
    let done = sqlx::query(&format!(
        "DELETE FROM {table} WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(workspace.0)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(crate::Error::not_found(what));
    }
    Ok(())
}

/// Begins a transaction in which `user` sees their own memberships and the workspaces they
/// belong to (and nothing else of any workspace); writes still need [`begin`].
pub async fn begin_for_user(
    pool: &PgPool,
    user: UserId,
) -> crate::Result<Transaction<'static, Postgres>> {
    begin_bound(pool, &binding("app.current_user_id", user.0, "")).await
}

/// Reads a `workspace_role` column selected as text.
pub(crate) fn parse_role(s: &str) -> crate::Result<argus_types::Role> {
    argus_types::Role::parse(s)
        .ok_or_else(|| crate::Error::Internal(format!("unknown role {s:?} in the database")))
}
