//! Database start-up against the real PostgreSQL: creating, migrating, probing, and the one
//! clear error when nothing answers.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use argus_domain::db::{self, DbConfig, StartupError};
use secrecy::SecretString;
use sqlx::PgPool;

fn base_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn config(url: String) -> DbConfig {
    DbConfig {
        url: SecretString::from(url),
        min_connections: 0,
        max_connections: 2,
        statement_timeout: Duration::from_secs(10),
        acquire_timeout: Duration::from_secs(3),
        app_role: Some(db::APP_ROLE.into()),
        pooled: false,
    }
}

fn with_database(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_path(&format!("/{name}"));
    u.to_string()
}

#[tokio::test]
async fn prepare_creates_a_missing_database_and_migrates_it() {
    let name = format!("argus_create_{}", uuid::Uuid::new_v4().simple());
    let cfg = config(with_database(&base_url(), &name));

    let pool = db::prepare(&cfg)
        .await
        .expect("database created and migrated");
    let status = db::status(&pool, &cfg.masked_url()).await;
    assert!(status.reachable);
    assert!(status.is_migrated(), "{status:?}");
    assert_eq!(status.migration_version, Some(db::latest_known_migration()));

    // Running it again is a no-op.
    let again = db::prepare(&cfg).await.expect("idempotent");
    again.close().await;
    pool.close().await;

    let admin = PgPool::connect(&with_database(&base_url(), "postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn unreachable_postgres_is_one_clear_error_with_the_masked_url() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = config(format!("postgres://argus:hunter2@127.0.0.1:{port}/argus"));
    let err = db::prepare(&cfg).await.unwrap_err();
    assert!(matches!(err, StartupError::Unreachable { .. }), "{err:?}");
    let line = err.to_string();
    assert!(!line.contains("hunter2"), "{line}");
    assert!(
        line.contains(&format!("postgres://argus:***@127.0.0.1:{port}/argus")),
        "{line}"
    );
    assert!(
        line.contains("pg_ctlcluster"),
        "says how to start it: {line}"
    );
    assert!(!line.contains('\n'), "one line: {line}");
}

#[tokio::test]
async fn malformed_url_is_reported_without_its_secret() {
    let cfg = config("postgres://u:hunter2@[bad-host/db".into());
    let err = db::prepare(&cfg).await.unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn status_reports_the_migration_level_and_the_instance_exists(pool: PgPool) {
    let status = db::status(&pool, "postgres://x").await;
    assert!(status.reachable);
    assert_eq!(status.migration_version, Some(db::latest_known_migration()));
    assert!(status.migration_description.is_some());
    assert!(status.server_version.is_some());
    let instances: i64 = sqlx::query_scalar("SELECT count(*) FROM instance")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(instances, 1);
}

#[sqlx::test(migrations = false)]
async fn status_of_an_empty_database_has_no_migration(pool: PgPool) {
    let status = db::status(&pool, "postgres://x").await;
    assert!(status.reachable);
    assert_eq!(status.migration_version, None);
    assert!(!status.is_migrated());
}

#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn statements_are_bounded_by_the_configured_timeout(pool: PgPool) {
    // The pool given by sqlx::test has no statement timeout; build one like the server does.
    let mut cfg = common::config_for(&pool);
    cfg.statement_timeout = Duration::from_millis(200);
    let bounded = db::connect(&cfg).await.unwrap();
    let err = sqlx::query("SELECT pg_sleep(2)")
        .execute(&bounded)
        .await
        .unwrap_err();
    let code = common::sqlstate(&err);
    assert_eq!(code.as_deref(), Some("57014"), "query_canceled: {err}");
}

/// Connections to PostgreSQL itself probe their peer: a replica whose host vanishes is found
/// out (and its duties' advisory locks freed) within ~30 s, not the kernel's two hours.
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn connections_keep_alive_so_a_vanished_replica_loses_its_locks(pool: PgPool) {
    let pool = db::connect(&common::config_for(&pool)).await.unwrap();
    let (idle, interval, count, tcp): (String, String, String, bool) = sqlx::query_as(
        "SELECT current_setting('tcp_keepalives_idle'), \
         current_setting('tcp_keepalives_interval'), current_setting('tcp_keepalives_count'), \
         inet_client_addr() IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        tcp,
        "the test connects over TCP (DATABASE_URL names a host)"
    );
    assert_eq!(
        (idle.as_str(), interval.as_str(), count.as_str()),
        ("15", "5", "3")
    );
}

/// Whether the connection's session is inside a transaction block begun by an earlier statement.
async fn in_stale_transaction(pool: &PgPool) -> bool {
    sqlx::query_scalar(
        // The transaction began well before this statement (the test's `BEGIN` sleeps 1 s): an
        // earlier statement opened it.
        "SELECT clock_timestamp() - now() > interval '0.5 s'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A caller that stops waiting while its `BEGIN` is on the wire (a client gone, a timeout) must
/// not leave the pool's connection inside a transaction for its next user.
#[tokio::test]
async fn a_begin_abandoned_midway_leaves_no_transaction_behind() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&base_url())
        .await
        .unwrap();
    let slow = || Some("BEGIN; SELECT pg_sleep(1)".to_owned());

    // The premise: sqlx alone hands the connection back still in the transaction.
    let raw = pool.begin_with(slow().unwrap());
    assert!(tokio::time::timeout(Duration::from_millis(300), raw)
        .await
        .is_err());
    assert!(
        in_stale_transaction(&pool).await,
        "sqlx now ends an abandoned BEGIN itself: db::begin's task may go"
    );
    sqlx::query("ROLLBACK").execute(&pool).await.unwrap();
    assert!(!in_stale_transaction(&pool).await);

    // Through `db::begin`, the abandoned transaction is rolled back before the connection returns.
    let ours = db::begin(&pool, slow());
    assert!(tokio::time::timeout(Duration::from_millis(300), ours)
        .await
        .is_err());
    assert!(!in_stale_transaction(&pool).await);
    let tx = db::begin(&pool, None).await.expect("a new transaction");
    drop(tx);
    assert!(!in_stale_transaction(&pool).await);
    pool.close().await;
}

/// Whether a session other than `pool`'s can take the advisory lock `key` within two seconds.
async fn lock_is_free(key: i64) -> bool {
    use sqlx::Connection;
    let mut other = sqlx::PgConnection::connect(&base_url()).await.unwrap();
    for _ in 0..40 {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut other)
            .await
            .unwrap();
        if got {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A background duty that stops in the middle (cancelled, or its task panicked) must not leave
/// its advisory lock on a pooled connection, where it would keep every other replica out.
#[tokio::test]
async fn a_duty_stopped_midway_leaves_its_advisory_lock_behind_for_nobody() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&base_url())
        .await
        .unwrap();
    let key = i64::from(rand::random::<u32>());

    // Cancelled.
    let duty = db::with_advisory_lock(&pool, key, || async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    });
    assert!(tokio::time::timeout(Duration::from_millis(200), duty)
        .await
        .is_err());
    assert!(lock_is_free(key).await, "the lock went with the connection");

    // Panicked.
    let p = pool.clone();
    let failed = tokio::spawn(async move {
        db::with_advisory_lock(&p, key + 1, || async {
            if key >= 0 {
                panic!("a duty that fails");
            }
            Ok(())
        })
        .await
    })
    .await;
    assert!(failed.is_err());
    assert!(
        lock_is_free(key + 1).await,
        "the lock went with the connection"
    );

    // A duty that ends unlocks, and the connection goes back to the pool.
    let ran = db::with_advisory_lock(&pool, key + 2, || async { Ok(7) })
        .await
        .unwrap();
    assert_eq!(ran, Some(7));
    assert!(lock_is_free(key + 2).await);
    pool.close().await;
}

/// Behind a transaction pooler no `SET ROLE` can bind the login role by row-level security: a
/// login role that bypasses it is refused at start, with the reason; the app role is accepted,
/// and its connections carry no session state (no role switch, no startup timeout).
#[sqlx::test(migrator = "argus_domain::db::MIGRATOR")]
async fn behind_a_transaction_pooler_the_login_role_must_be_bound_by_rls(owner: PgPool) {
    let opts = owner.connect_options();
    let database = opts.get_database().unwrap().to_owned();
    let at = |user: &str| {
        format!(
            "postgres://{user}@{}:{}/{database}",
            opts.get_host(),
            opts.get_port()
        )
    };
    let direct = config(at("postgres"));
    let pooled_as = |user: &str| DbConfig {
        pooled: true,
        statement_timeout: Duration::from_millis(3_210),
        ..config(at(user))
    };
    let err = db::prepare_with(&pooled_as("postgres"), &direct)
        .await
        .unwrap_err();
    assert!(matches!(err, StartupError::Rejected { .. }), "{err:?}");
    assert!(
        err.to_string().contains("bypasses row-level security"),
        "{err}"
    );

    // The app role may log in (as a pooler's users do); it is the role the queries run as.
    sqlx::query("ALTER ROLE argus_app LOGIN")
        .execute(&owner)
        .await
        .unwrap();
    let pool = db::prepare_with(&pooled_as(db::APP_ROLE), &direct)
        .await
        .expect("the app role is accepted");
    let (user, timeout): (String, String) =
        sqlx::query_as("SELECT current_user::text, current_setting('statement_timeout')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(user, db::APP_ROLE);
    assert_ne!(
        timeout, "3210ms",
        "no startup statement_timeout through a pooler (the role's own applies)"
    );
}

/// A transaction waiting for a pool connection is counted while it waits (the
/// `argus_db_pool_waiting` gauge), and no longer once it has one.
#[tokio::test]
async fn transactions_waiting_for_a_pool_connection_are_counted() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&base_url())
        .await
        .unwrap();
    let held = db::begin(&pool, None).await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { db::begin(&pool, None).await.map(|_| ()) }
    });
    let mut seen = false;
    for _ in 0..100 {
        // Other tests of this binary may wait too: at least this one.
        if db::pool_waiters() >= 1 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen, "the waiting transaction is counted");
    drop(held);
    waiter
        .await
        .unwrap()
        .expect("it begins once the connection is back");
}
