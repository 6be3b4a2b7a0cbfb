//! PostgreSQL: connecting, creating the database, migrations and health.

use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use argus_types::DatabaseStatus;
use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

/// The migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// How to reach PostgreSQL. The URL is a secret: it may hold a password.
#[derive(Clone, Debug)]
pub struct DbConfig {
    pub url: SecretString,
    pub min_connections: u32,
    pub max_connections: u32,
    /// Server-side `statement_timeout` of every pooled connection.
    pub statement_timeout: Duration,
    /// How long a request waits for a pooled connection.
    pub acquire_timeout: Duration,
    /// The role every pooled connection switches to (`SET ROLE`) after migrating, so queries run
    /// bound by row-level security. `None` keeps the login role (its own RLS duties then).
    pub app_role: Option<String>,
    /// The URL is a transaction pooler's (PgBouncer, `pool_mode = transaction`): consecutive
    /// transactions may run on different server connections, so no session state is set — no
    /// `SET ROLE` (the login role must be the app role itself) and no startup
    /// `statement_timeout` (give that role one with `ALTER ROLE … SET statement_timeout`).
    pub pooled: bool,
}

/// The role the migrations create for the server's queries.
pub const APP_ROLE: &str = "argus_app";

impl DbConfig {
    /// The URL with its password masked, for logs and messages.
    pub fn masked_url(&self) -> String {
        mask_url(self.url.expose_secret())
    }

    fn connect_options(&self) -> Result<PgConnectOptions, StartupError> {
        let opts = PgConnectOptions::from_str(self.url.expose_secret()).map_err(|e| {
            StartupError::InvalidUrl {
                url: self.masked_url(),
                reason: e.to_string(),
            }
        })?;
        let opts = opts
            .application_name("argus")
            .log_statements(tracing::log::LevelFilter::Trace);
        Ok(if self.pooled {
            opts
        } else {
            // Keepalives: a replica whose host vanishes without closing its connections (a
            // lost VM, a network partition) is found out within ~30 s instead of the
            // kernel's two hours, and the session advisory locks it held for background
            // duties go to another replica. (A transaction pooler takes no startup options.)
            opts.options([
                (
                    "statement_timeout",
                    self.statement_timeout.as_millis().to_string(),
                ),
                ("tcp_keepalives_idle", "15".to_owned()),
                ("tcp_keepalives_interval", "5".to_owned()),
                ("tcp_keepalives_count", "3".to_owned()),
            ])
        })
    }
}

/// Why the server could not get a usable database at start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("DATABASE_URL {url} is not a valid PostgreSQL URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "cannot reach PostgreSQL at {url} ({reason}); start it with `scripts/services.sh` \
         (or `pg_ctlcluster 15 main start`), or point DATABASE_URL at a running server"
    )]
    Unreachable { url: String, reason: String },
    #[error("PostgreSQL at {url} refused the connection: {reason}")]
    Rejected { url: String, reason: String },
    #[error("could not create database {database} at {url}: {reason}")]
    CreateDatabase {
        database: String,
        url: String,
        reason: String,
    },
    #[error("migrations failed on {url}: {reason}")]
    Migrate { url: String, reason: String },
}

/// Replaces the password of a URL, if any, with `***`.
pub fn mask_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        // Not a URL we can parse: show nothing that might be a secret.
        Err(_) => "<unparseable url>".to_owned(),
    }
}

fn classify(url: &str, err: sqlx::Error) -> StartupError {
    let reason = match &err {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    };
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => {
            StartupError::Unreachable {
                url: url.to_owned(),
                reason,
            }
        }
        _ => StartupError::Rejected {
            url: url.to_owned(),
            reason,
        },
    }
}

fn is_missing_database(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000"))
}

/// Creates the configured database when it does not exist yet.
pub async fn ensure_database(cfg: &DbConfig) -> Result<(), StartupError> {
    let url = cfg.masked_url();
    let opts = cfg.connect_options()?;
    let first = tokio::time::timeout(cfg.acquire_timeout, PgConnection::connect_with(&opts)).await;
    match first {
        Err(_) => Err(StartupError::Unreachable {
            url,
            reason: "timed out".into(),
        }),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) if is_missing_database(&e) => {
            let database = opts.get_database().unwrap_or("postgres").to_owned();
            let admin = opts.clone().database("postgres");
            let mut conn = PgConnection::connect_with(&admin)
                .await
                .map_err(|e| classify(&url, e))?;
            // Identifiers cannot be bound as parameters; quote it as PostgreSQL does.
            let quoted = format!("\"{}\"", database.replace('"', "\"\""));
            match sqlx::query(&format!("CREATE DATABASE {quoted}"))
                .execute(&mut conn)
                .await
            {
                Ok(_) => {
                    tracing::info!(database, "created database");
                    Ok(())
                }
                // Another replica created it between our two connections.
                Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => Ok(()),
                Err(e) => Err(StartupError::CreateDatabase {
                    database,
                    url,
                    reason: e.to_string(),
                }),
            }
        }
        Ok(Err(e)) => Err(classify(&url, e)),
    }
}

/// Opens the connection pool (PostgreSQL must be reachable). Every connection switches to
/// [`DbConfig::app_role`] when one is set.
impl DbConfig {
    /// The server's settings for the database that `owner` is connected to: connections run as
    /// the app role. For tests (a passwordless, loopback login, as `scripts/services.sh` sets
    /// up); the password, if any, is not carried over.
    pub fn app_role_like(owner: &PgPool) -> DbConfig {
        let opts = owner.connect_options();
        let url = format!(
            "postgres://{}@{}:{}/{}",
            opts.get_username(),
            opts.get_host(),
            opts.get_port(),
            opts.get_database().unwrap_or("postgres"),
        );
        DbConfig {
            url: SecretString::from(url),
            min_connections: 0,
            max_connections: 4,
            // Generous: tests run in parallel on a loaded CI machine, where a 5 s wait for a
            // connection turned a page into an error once (not a bug under test).
            statement_timeout: Duration::from_secs(30),
            acquire_timeout: Duration::from_secs(30),
            app_role: Some(APP_ROLE.into()),
            pooled: false,
        }
    }
}

pub async fn connect(cfg: &DbConfig) -> Result<PgPool, StartupError> {
    let opts = cfg.connect_options()?;
    let set_role = cfg.app_role.as_ref().filter(|_| !cfg.pooled).map(|role| {
        // Identifiers cannot be bound as parameters; quote it as PostgreSQL does.
        format!("SET ROLE \"{}\"", role.replace('"', "\"\""))
    });
    PgPoolOptions::new()
        .min_connections(cfg.min_connections)
        .max_connections(cfg.max_connections)
        .acquire_timeout(cfg.acquire_timeout)
        .after_connect(move |conn, _meta| {
            let set_role = set_role.clone();
            Box::pin(async move {
                if let Some(sql) = set_role {
                    sqlx::query(&sql).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect_with(opts)
        .await
        .map_err(|e| classify(&cfg.masked_url(), e))
}

/// Applies every pending migration. Safe on several replicas at once (advisory lock).
pub async fn migrate(pool: &PgPool) -> crate::Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Creates the database if needed and migrates it as the login role, then opens the serving
/// pool, whose connections run as the app role: what the server does at start.
pub async fn prepare(cfg: &DbConfig) -> Result<PgPool, StartupError> {
    prepare_with(cfg, cfg).await
}

/// [`prepare`] with the database created and migrated over `direct` — PostgreSQL itself, when
/// `cfg` is a transaction pooler's ([`DbConfig::pooled`]) — and the serving pool on `cfg`.
/// Behind a pooler the login role must be bound by row-level security (neither a superuser
/// nor `BYPASSRLS`): no `SET ROLE` can make it so there.
pub async fn prepare_with(cfg: &DbConfig, direct: &DbConfig) -> Result<PgPool, StartupError> {
    ensure_database(direct).await?;
    // Migrations may rewrite large tables (a backfill over months of rollups): no statement
    // timeout for them; the serving pool keeps its own.
    let owner = connect(&DbConfig {
        min_connections: 0,
        max_connections: 1,
        app_role: None,
        statement_timeout: Duration::ZERO,
        pooled: false,
        ..direct.clone()
    })
    .await?;
    let migrated = migrate(&owner).await.map_err(|e| StartupError::Migrate {
        url: direct.masked_url(),
        reason: match e {
            crate::Error::Migrate(m) => m.to_string(),
            other => other.to_string(),
        },
    });
    owner.close().await;
    migrated?;
    let pool = connect(cfg).await?;
    if cfg.pooled {
        let (role, unbound): (String, bool) = sqlx::query_as(
            "SELECT rolname::text, rolsuper OR rolbypassrls FROM pg_roles \
             WHERE rolname = current_user",
        )
        .fetch_one(&pool)
        .await
        .map_err(|e| classify(&cfg.masked_url(), e))?;
        if unbound {
            return Err(StartupError::Rejected {
                url: cfg.masked_url(),
                reason: format!(
                    "behind a transaction pooler the login role must be the app role \
                     ({APP_ROLE}): {role} is a superuser or bypasses row-level security"
                ),
            });
        }
    }
    Ok(pool)
}

/// The newest migration this build knows.
pub fn latest_known_migration() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Probes the database: reachability, latency, server version and migration level.
pub async fn status(pool: &PgPool, masked_url: &str) -> DatabaseStatus {
    let started = Instant::now();
    let probe: Result<(String, Option<(i64, String)>), sqlx::Error> = async {
        let mut conn = pool.acquire().await?;
        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut *conn)
            .await?;
        let has_table: bool =
            sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
                .fetch_one(&mut *conn)
                .await?;
        let applied = if has_table {
            sqlx::query_as::<_, (i64, String)>(
                "SELECT version, description FROM _sqlx_migrations \
                 WHERE success ORDER BY version DESC LIMIT 1",
            )
            .fetch_optional(&mut *conn)
            .await?
        } else {
            None
        };
        Ok((version, applied))
    }
    .await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (reachable, server_version, applied) = match probe {
        Ok((v, applied)) => (true, Some(v), applied),
        Err(e) => {
            tracing::warn!(error = %e, "database status probe failed");
            (false, None, None)
        }
    };
    DatabaseStatus {
        reachable,
        url: masked_url.to_owned(),
        server_version,
        migration_version: applied.as_ref().map(|a| a.0),
        migration_description: applied.map(|a| a.1),
        latest_known_migration: latest_known_migration(),
        pool_size: pool.size(),
        pool_idle: pool.num_idle() as u32,
        latency_ms: reachable.then_some((latency_ms * 100.0).round() / 100.0),
    }
}

/// Begins a transaction on a connection of `pool` with `statement` (plain `BEGIN` if `None`)
/// and finishes beginning it even when the caller stops waiting. sqlx 0.8 counts a transaction
/// as open only once its `BEGIN` has answered: a caller dropped in between (a client gone, a
/// timeout) hands the connection back to the pool inside a transaction nobody ends. The next
/// user's `BEGIN` then only warns ("there is already a transaction in progress") and a query
/// sent outside a transaction runs inside the stale one — with its workspace binding and its
/// locks, never committed. Begun in a task of its own, a transaction nobody awaits any more is
/// dropped whole, which rolls it back before the connection goes back to the pool.
pub async fn begin(
    pool: &PgPool,
    statement: Option<String>,
) -> crate::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let pool = pool.clone();
    let begun = tokio::spawn(async move {
        let conn = {
            let _waiting = Waiting::enter();
            pool.acquire().await?
        };
        // What `Pool::begin_with` does, with the wait for the connection counted apart.
        sqlx::Transaction::begin(conn, statement.map(Into::into)).await
    })
    .await
    .map_err(|e| crate::Error::Internal(format!("beginning a transaction: {e}")))?;
    Ok(begun?)
}

/// Transactions of this process waiting for a pool connection to begin (most queries begin
/// one): above zero, the pool is the bottleneck.
static WAITING: AtomicI64 = AtomicI64::new(0);

/// How many transactions wait for a pool connection now (`argus_db_pool_waiting`).
pub fn pool_waiters() -> i64 {
    WAITING.load(Ordering::Relaxed)
}

/// Counts one waiter while it lives.
struct Waiting;

impl Waiting {
    fn enter() -> Waiting {
        WAITING.fetch_add(1, Ordering::Relaxed);
        Waiting
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs `f` while this process holds the advisory lock `key` (on a connection of its own, so
/// the lock goes when the process dies); `None`, running nothing, when another session holds
/// it. How background duties run once across replicas.
///
/// The lock belongs to the connection's session, not to a transaction: a connection handed back
/// to the pool still holding it (the duty panicked or was cancelled before the unlock) would
/// keep it from every other replica for as long as the connection lives. Until the unlock has
/// answered, the connection is closed on drop instead, and the server lets go of the lock.
pub async fn with_advisory_lock<T, F, Fut>(
    pool: &PgPool,
    key: i64,
    f: F,
) -> crate::Result<Option<T>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = crate::Result<T>>,
{
    let mut lock = LockConnection(Some(pool.acquire().await?));
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(lock.conn())
        .await?;
    if !got {
        lock.release();
        return Ok(None);
    }
    let outcome = f().await;
    if sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(lock.conn())
        .await
        .is_ok()
    {
        lock.release();
    }
    outcome.map(Some)
}

/// A pooled connection that may hold a session-level advisory lock: closed when dropped, unless
/// [`LockConnection::release`]d (it holds none).
struct LockConnection(Option<sqlx::pool::PoolConnection<sqlx::Postgres>>);

impl LockConnection {
    fn conn(&mut self) -> &mut PgConnection {
        self.0.as_mut().expect("a lock connection until released")
    }

    /// Back to the pool: it holds no lock.
    fn release(mut self) {
        drop(self.0.take());
    }
}

impl Drop for LockConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.0.as_mut() {
            conn.close_on_drop();
        }
    }
}

/// One column of `rows` for an `unnest($n::type[])` bind: the value `f` takes from each row.
pub fn column<I: IntoIterator, U>(rows: I, f: impl FnMut(I::Item) -> U) -> Vec<U> {
    rows.into_iter().map(f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_password_and_keeps_the_rest() {
        assert_eq!(
            mask_url("postgres://argus:s3cret@db.example:5432/argus"),
            "postgres://argus:***@db.example:5432/argus"
        );
        assert_eq!(
            mask_url("postgres://postgres@127.0.0.1:5432/argus"),
            "postgres://postgres@127.0.0.1:5432/argus"
        );
        assert_eq!(mask_url("not a url s3cret"), "<unparseable url>");
    }

    #[test]
    fn debug_of_config_hides_the_url() {
        let cfg = DbConfig {
            url: SecretString::from("postgres://u:hunter2@h/db"),
            min_connections: 1,
            max_connections: 2,
            statement_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(5),
            app_role: Some(APP_ROLE.into()),
            pooled: false,
        };
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(cfg.masked_url().contains("***"));
    }

    #[test]
    fn migrations_are_embedded() {
        assert!(latest_known_migration() >= 1);
    }
}
