//! Row-level security, the second lock: the server's role sees and writes only the rows of the
//! workspace its transaction is bound to, and nothing at all when a query forgets the binding.

mod common;

use argus_domain::db;
use argus_domain::tenancy::{self, WorkspaceId};
use common::app_pool;
use sqlx::PgPool;
use uuid::Uuid;

/// Two workspaces with one member each, written by the owner (a superuser, outside RLS).
async fn seed(owner: &PgPool) -> (WorkspaceId, WorkspaceId) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    for (ws, slug) in [(a, "alpha"), (b, "beta")] {
        let user = Uuid::new_v4();
        sqlx::query("INSERT INTO workspaces (id, name, slug) VALUES ($1, $2, $2)")
            .bind(ws)
            .bind(slug)
            .execute(owner)
            .await
            .unwrap();
        sqlx::query("INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'U', 'x')")
            .bind(user)
            .bind(format!("{slug}@example.com"))
            .execute(owner)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, 'owner')",
        )
        .bind(ws)
        .bind(user)
        .execute(owner)
        .await
        .unwrap();
    }
    (WorkspaceId(a), WorkspaceId(b))
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_app_role_owns_nothing_and_cannot_bypass_rls(owner: PgPool) {
    let pool = app_pool(&owner).await;
    let (user, superuser, bypass): (String, bool, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(user, "argus_app");
    assert!(!superuser && !bypass);
    let owned: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tableowner = 'argus_app'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(owned, 0);
    // Turning RLS off makes a filtered query fail rather than return other tenants' rows.
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET row_security = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let err = sqlx::query("SELECT count(*) FROM memberships")
        .execute(&mut *conn)
        .await
        .unwrap_err();
    let code = common::sqlstate(&err);
    assert_eq!(code.as_deref(), Some("42501"), "{err}");
    conn.detach();
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_query_that_forgets_the_workspace_sees_nothing(owner: PgPool) {
    seed(&owner).await;
    let pool = app_pool(&owner).await;
    for table in ["workspaces", "memberships", "api_keys"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} without a workspace binding");
    }
    let owner_sees: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships")
        .fetch_one(&owner)
        .await
        .unwrap();
    assert_eq!(owner_sees, 2, "the rows are there");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_bound_transaction_sees_only_its_workspace(owner: PgPool) {
    let (a, b) = seed(&owner).await;
    let pool = app_pool(&owner).await;

    let mut tx = tenancy::begin(&pool, a).await.unwrap();
    let seen: Vec<Uuid> = sqlx::query_scalar("SELECT workspace_id FROM memberships")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, vec![a.0]);
    // Even naming the other workspace explicitly finds nothing of it.
    let other: i64 = sqlx::query_scalar("SELECT count(*) FROM workspaces WHERE id = $1")
        .bind(b)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(other, 0);
    tx.commit().await.unwrap();

    // The binding ends with the transaction.
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(after, 0);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn writing_into_another_workspace_is_refused(owner: PgPool) {
    let (a, b) = seed(&owner).await;
    let pool = app_pool(&owner).await;
    let user: Uuid = sqlx::query_scalar("SELECT user_id FROM memberships WHERE workspace_id = $1")
        .bind(a)
        .fetch_one(&owner)
        .await
        .unwrap();

    let mut tx = tenancy::begin(&pool, a).await.unwrap();
    let err = sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, 'viewer')",
    )
    .bind(b)
    .bind(user)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    let code = common::sqlstate(&err);
    assert_eq!(
        code.as_deref(),
        Some("42501"),
        "RLS WITH CHECK violation: {err}"
    );
    tx.rollback().await.unwrap();

    // Updates and deletes aimed at the other workspace touch nothing.
    let mut tx = tenancy::begin(&pool, a).await.unwrap();
    let updated = sqlx::query("UPDATE workspaces SET name = 'pwned' WHERE id = $1")
        .bind(b)
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    let deleted = sqlx::query("DELETE FROM memberships WHERE workspace_id = $1")
        .bind(b)
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    tx.commit().await.unwrap();
    assert_eq!((updated, deleted), (0, 0));
    let name: String = sqlx::query_scalar("SELECT name FROM workspaces WHERE id = $1")
        .bind(b)
        .fetch_one(&owner)
        .await
        .unwrap();
    assert_eq!(name, "beta");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_app_role_reads_what_the_status_page_needs(owner: PgPool) {
    let pool = app_pool(&owner).await;
    let status = db::status(&pool, "postgres://x").await;
    assert!(status.reachable);
    assert!(status.is_migrated(), "{status:?}");
}
