//! Workspaces, members, sessions, log-in limits and key usage against the real PostgreSQL, as
//! the server's role (under RLS).

mod common;

use argus_domain::access::{self, Principal};
use argus_domain::apikeys::{self, Scope};
use argus_domain::tenancy::{self, WorkspaceId};
use argus_domain::user_sessions::Origin;
use argus_domain::{members, session, workspaces, Error};
use argus_types::{ErrorCode, Role};
use common::{services, sign_up, PASSWORD};
use sqlx::PgPool;
use uuid::Uuid;

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn a_user_sees_only_their_own_workspaces(owner: PgPool) {
    let s = services(&owner).await;
    let (ann, ann_ws) = sign_up(&s, "ann@example.com", "Ann's").await;
    let (bob, bob_ws) = sign_up(&s, "bob@example.com", "Bob's").await;
    let second = workspaces::create(&s.pool, ann, "Zeta").await.unwrap();

    let listed = workspaces::for_user(&s.pool, ann).await.unwrap();
    let ids: Vec<Uuid> = listed.iter().map(|w| w.id).collect();
    assert_eq!(ids, vec![ann_ws.0, second.id], "by name");
    assert!(listed.iter().all(|w| w.role == Role::Owner));
    assert_eq!(
        workspaces::for_user(&s.pool, bob).await.unwrap()[0].id,
        bob_ws.0
    );

    // The user binding reads only the user's rows, and writes nothing.
    let mut tx = tenancy::begin_for_user(&s.pool, ann).await.unwrap();
    let visible: i64 = sqlx::query_scalar("SELECT count(*) FROM workspaces")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(visible, 2, "not Bob's");
    let memberships: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(memberships, 2);
    let renamed = sqlx::query("UPDATE workspaces SET name = 'x'")
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(renamed, 0, "writes need the workspace binding");
    let err = sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, 'owner')",
    )
    .bind(bob_ws)
    .bind(ann)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert_eq!(
        common::sqlstate(&err).as_deref(),
        Some("42501"),
        "RLS refuses"
    );
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn members_are_added_changed_and_removed_and_one_owner_always_stays(owner: PgPool) {
    let s = services(&owner).await;
    let (ann, ws) = sign_up(&s, "ann@example.com", "Acme").await;
    let (bob, _) = sign_up(&s, "Bob@Example.com", "Bob's").await;

    let added = members::add(&s, ws, "bob@example.com", Role::Viewer)
        .await
        .unwrap();
    assert_eq!((added.user_id, added.role), (bob.0, Role::Viewer));
    let again = members::add(&s, ws, "BOB@example.com", Role::Admin).await;
    assert!(matches!(again, Err(Error::AlreadyExists { .. })));
    let nobody = members::add(&s, ws, "nobody@example.com", Role::Viewer).await;
    assert!(matches!(nobody, Err(Error::InvalidInput { ref field, .. }) if field == "email"));

    // Roles are re-read (and the cache dropped) on every change.
    assert_eq!(
        workspaces::cached_role_of(&s, ws, bob).await.unwrap(),
        Some(Role::Viewer)
    );
    members::set_role(&s, ws, bob, Role::Admin).await.unwrap();
    assert_eq!(
        workspaces::cached_role_of(&s, ws, bob).await.unwrap(),
        Some(Role::Admin)
    );

    // The last owner can be neither demoted nor removed…
    let demote = members::set_role(&s, ws, ann, Role::Admin)
        .await
        .unwrap_err();
    assert_eq!(demote.code(), ErrorCode::ResourceConflict);
    let remove = members::remove(&s, ws, ann).await.unwrap_err();
    assert_eq!(remove.code(), ErrorCode::ResourceConflict);
    // …until there is another.
    members::set_role(&s, ws, bob, Role::Owner).await.unwrap();
    members::set_role(&s, ws, ann, Role::Member).await.unwrap();
    let listed = members::list(&s, ws).await.unwrap();
    assert_eq!(
        listed.iter().map(|m| m.role).collect::<Vec<_>>(),
        vec![Role::Owner, Role::Member],
        "owners first"
    );
    members::remove(&s, ws, ann).await.unwrap();
    assert_eq!(workspaces::cached_role_of(&s, ws, ann).await.unwrap(), None);
    let gone = members::remove(&s, ws, ann).await.unwrap_err();
    assert_eq!(gone.code(), ErrorCode::ResourceNotFound);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn members_of_another_workspace_are_not_found(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws_a) = sign_up(&s, "ann@example.com", "A").await;
    let (bob, _) = sign_up(&s, "bob@example.com", "B").await;
    let err = members::set_role(&s, ws_a, bob, Role::Viewer)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ResourceNotFound);
    let err = members::remove(&s, ws_a, bob).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ResourceNotFound);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn workspace_settings_are_validated(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "Acme").await;
    let updated = workspaces::update(&s, ws, " Acme AI ", 30).await.unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.retention_days),
        ("Acme AI", 30)
    );
    for (name, days, field) in [
        ("", 30, "name"),
        ("ok", 0, "retention_days"),
        ("ok", 4000, "retention_days"),
        // Over the install's ceiling (ARGUS_MAX_RETENTION_DAYS, 365 by default).
        ("ok", 366, "retention_days"),
    ] {
        let err = workspaces::update(&s, ws, name, days).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { field: ref f, .. } if f == field),
            "{err:?}"
        );
    }
    assert_eq!(
        workspaces::cached_retention_days(&s, ws).await.unwrap(),
        30,
        "the refused updates changed nothing"
    );
    workspaces::update(&s, ws, "Acme AI", 365).await.unwrap();
    assert_eq!(
        workspaces::cached_retention_days(&s, ws).await.unwrap(),
        365,
        "an update drops the cached retention"
    );
    let err = workspaces::settings(&s.pool, WorkspaceId(Uuid::new_v4()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ResourceNotFound);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn log_in_is_limited_to_five_failures_a_minute_per_address_and_per_email(owner: PgPool) {
    let s = services(&owner).await;
    sign_up(&s, "ann@example.com", "A").await;
    let ip = Some("203.0.113.7".parse().unwrap());
    for _ in 0..5 {
        let err = session::log_in(
            &s,
            "ann@example.com",
            "wrong password!",
            &Origin::default(),
            ip,
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidCredentials);
    }
    // Now even the right password is refused, from this address…
    let err = session::log_in(
        &s,
        "ann@example.com",
        PASSWORD,
        &Origin::default(),
        ip,
        None,
    )
    .await
    .unwrap_err();
    let Error::RateLimited { retry_after_secs } = err else {
        panic!("{err:?}")
    };
    assert!((1..=60).contains(&retry_after_secs));
    // …and for this email from anywhere.
    let elsewhere = Some("198.51.100.1".parse().unwrap());
    let err = session::log_in(
        &s,
        "ANN@example.com",
        PASSWORD,
        &Origin::default(),
        elsewhere,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::RateLimitExceeded);
    // Another account from another address is not affected.
    sign_up(&s, "bob@example.com", "B").await;
    session::log_in(
        &s,
        "bob@example.com",
        PASSWORD,
        &Origin::default(),
        elsewhere,
        None,
    )
    .await
    .unwrap();
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn sessions_resolve_to_the_current_membership(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    let (bob, bob_ws) = sign_up(&s, "bob@example.com", "B").await;
    members::add(&s, ws, "bob@example.com", Role::Viewer)
        .await
        .unwrap();

    let started = session::log_in(
        &s,
        "bob@example.com",
        PASSWORD,
        &Origin::default(),
        None,
        Some(ws.0),
    )
    .await
    .unwrap();
    assert_eq!(started.workspace.id, ws.0, "the preferred workspace");
    let access = access::from_session(&s, &started.token).await.unwrap();
    assert_eq!(access.principal, Principal::User(bob));
    assert_eq!(access.role, Role::Viewer);

    // The token said viewer; the membership now says admin: the membership wins.
    members::set_role(&s, ws, bob, Role::Admin).await.unwrap();
    let access = access::from_session(&s, &started.token).await.unwrap();
    assert_eq!(access.role, Role::Admin);

    // Removed: the token no longer opens the workspace.
    members::remove(&s, ws, bob).await.unwrap();
    let err = access::from_session(&s, &started.token).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidCredentials);

    // Switching: only to a workspace the user belongs to.
    let home = session::log_in(
        &s,
        "bob@example.com",
        PASSWORD,
        &Origin::default(),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(home.workspace.id, bob_ws.0, "the one left");
    let bob_access = access::from_session(&s, &home.token).await.unwrap();
    let err = session::switch(&s, &bob_access, ws.0).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ResourceNotFound);
    let back = session::switch(&s, &bob_access, bob_ws.0).await.unwrap();
    assert_eq!(back.session, home.session, "switching keeps the session");
    assert_eq!(back.workspace.id, bob_ws.0);
    let described = session::describe(&s, &access::from_session(&s, &back.token).await.unwrap())
        .await
        .unwrap();
    assert_eq!(described.email, "bob@example.com");
    assert_eq!(described.workspaces.len(), 1);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn an_inactive_workspace_opens_for_nobody(owner: PgPool) {
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    let token = session::log_in(
        &s,
        "ann@example.com",
        PASSWORD,
        &Origin::default(),
        None,
        None,
    )
    .await
    .unwrap()
    .token;
    let key = apikeys::create(&s.pool, ws, None, "k", &[Scope::Read], None)
        .await
        .unwrap();
    sqlx::query("UPDATE workspaces SET is_active = false WHERE id = $1")
        .bind(ws)
        .execute(&owner)
        .await
        .unwrap();
    workspaces::forget_memberships(&s, ws, None).await;
    use secrecy::ExposeSecret;
    assert!(access::from_session(&s, &token).await.is_err());
    assert!(access::from_api_key(&s, key.key.expose_secret())
        .await
        .is_err());
    let err = session::log_in(
        &s,
        "ann@example.com",
        PASSWORD,
        &Origin::default(),
        None,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InsufficientPermissions);
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn key_use_is_written_once_per_flush_not_per_request(owner: PgPool) {
    use secrecy::ExposeSecret;
    let s = services(&owner).await;
    let (_, ws) = sign_up(&s, "ann@example.com", "A").await;
    let key = apikeys::create(&s.pool, ws, None, "k", &[Scope::Ingest], None)
        .await
        .unwrap();
    for _ in 0..20 {
        let access = access::from_api_key(&s, key.key.expose_secret())
            .await
            .unwrap();
        assert_eq!(access.key_id(), Some(key.id));
    }
    let listed = apikeys::list(&s.pool, ws).await.unwrap();
    assert_eq!(listed[0].last_used_at, None, "nothing written yet");
    assert_eq!(s.key_usage.pending(), 1, "twenty uses, one pending write");
    assert_eq!(s.key_usage.flush(&s.pool).await.unwrap(), 1);
    assert_eq!(s.key_usage.pending(), 0);
    let listed = apikeys::list(&s.pool, ws).await.unwrap();
    assert!(listed[0].last_used_at.is_some());
    assert_eq!(s.key_usage.flush(&s.pool).await.unwrap(), 0);
}
