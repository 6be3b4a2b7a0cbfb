//! Sign-up and password checks against the real PostgreSQL, as the server's role (under RLS).

mod common;

use argus_domain::identity::{self, Email, Password};
use argus_domain::Error;
use common::app_pool;
use sqlx::PgPool;

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

fn password(s: &str) -> Password {
    Password::parse(s).unwrap()
}

async fn sign_up_ann(pool: &PgPool) -> argus_domain::Result<identity::SignedUp> {
    identity::sign_up(
        pool,
        &email("ann@example.com"),
        "Ann",
        &password("a long passphrase"),
        "A",
    )
    .await
    .map(|made| made.expect("a new account"))
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn sign_up_creates_the_user_and_a_workspace_they_own(owner: PgPool) {
    let pool = app_pool(&owner).await;
    let made = identity::sign_up(
        &pool,
        &email("ann@example.com"),
        "Ann",
        &password("a long passphrase"),
        "Acme Support",
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        made.workspace_slug.starts_with("acme-support-"),
        "{}",
        made.workspace_slug
    );

    let (role, slug): (String, String) = sqlx::query_as(
        "SELECT m.role::text, w.slug FROM memberships m JOIN workspaces w ON w.id = m.workspace_id \
         WHERE m.user_id = $1",
    )
    .bind(made.user)
    .fetch_one(&owner)
    .await
    .unwrap();
    assert_eq!((role.as_str(), slug), ("owner", made.workspace_slug));
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(made.user)
        .fetch_one(&owner)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains("a long passphrase"));
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn the_same_email_in_another_case_cannot_sign_up_twice(owner: PgPool) {
    let pool = app_pool(&owner).await;
    sign_up_ann(&pool).await.unwrap();
    let again = identity::sign_up(
        &pool,
        &email("ANN@Example.com"),
        "Ann 2",
        &password("another passphrase"),
        "B",
    )
    .await
    .unwrap();
    assert!(again.is_none(), "nothing is created for a known address");
    assert!(
        identity::authenticate(&pool, "ann@example.com", "a long passphrase")
            .await
            .is_ok(),
        "the account keeps its password"
    );
    // Nothing of the failed attempt remains.
    let workspaces: i64 = sqlx::query_scalar("SELECT count(*) FROM workspaces")
        .fetch_one(&owner)
        .await
        .unwrap();
    assert_eq!(workspaces, 1);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn authenticate_accepts_the_right_password_in_any_email_case(owner: PgPool) {
    let pool = app_pool(&owner).await;
    let made = identity::sign_up(
        &pool,
        &email("Ann@Example.com"),
        "Ann",
        &password("a long passphrase"),
        "A",
    )
    .await
    .unwrap()
    .unwrap();
    let user = identity::authenticate(&pool, " ann@example.COM ", "a long passphrase")
        .await
        .unwrap();
    assert_eq!(user, made.user);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn unknown_email_and_wrong_password_are_the_same_error(owner: PgPool) {
    let pool = app_pool(&owner).await;
    sign_up_ann(&pool).await.unwrap();
    let wrong = identity::authenticate(&pool, "ann@example.com", "not the passphrase")
        .await
        .unwrap_err();
    let unknown = identity::authenticate(&pool, "bob@example.com", "a long passphrase")
        .await
        .unwrap_err();
    assert!(matches!(wrong, Error::InvalidCredentials));
    assert!(matches!(unknown, Error::InvalidCredentials));
    assert_eq!(
        wrong.to_envelope().error.message,
        unknown.to_envelope().error.message
    );
    assert_eq!(wrong.to_envelope().status(), 401);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn sign_up_validates_its_input(owner: PgPool) {
    let pool = app_pool(&owner).await;
    let err = identity::sign_up(
        &pool,
        &email("ann@example.com"),
        "  ",
        &password("a long passphrase"),
        "A",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "name"),
        "{err:?}"
    );
    let err = identity::sign_up(
        &pool,
        &email("ann@example.com"),
        "Ann",
        &password("a long passphrase"),
        "",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "workspace_name"),
        "{err:?}"
    );
}
