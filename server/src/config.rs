//! The one typed configuration, read once at start from the environment (and `.env`).
//! `argus --help` lists every variable with its default; the README has the same table.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use argus_domain::cache::CacheConfig;
use argus_domain::db::DbConfig;
use clap::{Args, ValueEnum};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn parse_signup(s: &str) -> Result<argus_domain::policy::SignupMode, String> {
    s.parse()
}

/// `ARGUS_TRUSTED_PROXIES`, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proxies(pub Vec<argus_domain::policy::Cidr>);

fn parse_proxies(s: &str) -> Result<Proxies, String> {
    argus_domain::policy::parse_cidrs(s).map(Proxies)
}

fn secret(s: &str) -> Result<SecretString, Infallible> {
    Ok(SecretString::from(s.to_owned()))
}

/// Settings of the argus binary. Secrets are [`SecretString`]s: `Debug` prints `[REDACTED]`.
#[derive(Clone, Debug, Args)]
pub struct Config {
    /// `development` or `production`. Production requires ARGUS_JWT_SECRET.
    #[arg(
        long = "env",
        env = "ARGUS_ENV",
        value_enum,
        default_value = "development"
    )]
    pub environment: Environment,

    /// Address the HTTP server listens on.
    #[arg(
        long = "listen",
        env = "ARGUS_LISTEN_ADDR",
        default_value = "127.0.0.1:3000"
    )]
    pub listen_addr: SocketAddr,

    /// PostgreSQL URL. The database is created if missing and migrated at start.
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/argus",
        value_parser = secret,
        hide_env_values = true
    )]
    pub database_url: SecretString,

    /// PostgreSQL itself, when DATABASE_URL goes through a transaction pooler (PgBouncer,
    /// `pool_mode = transaction`): the database is created and migrated over it, and the
    /// background duties take their session advisory locks on it; DATABASE_URL's connections
    /// then carry no session state (no `SET ROLE`: log in as the app role; no startup
    /// statement_timeout: `ALTER ROLE argus_app SET statement_timeout = '10s'`).
    #[arg(long = "database-direct-url", env = "ARGUS_DATABASE_DIRECT_URL", value_parser = secret, hide_env_values = true)]
    pub database_direct_url: Option<SecretString>,

    /// A streaming read replica of DATABASE_URL's database: dashboard, explorer and export reads
    /// go there (to the primary while the replica has not replayed a workspace's last change,
    /// or does not answer). Unset: every read goes to the primary.
    #[arg(long = "database-read-url", env = "ARGUS_DATABASE_READ_URL", value_parser = secret, hide_env_values = true)]
    pub database_read_url: Option<SecretString>,

    /// Redis URL for the shared cache. Unset: an in-process cache serves instead.
    #[arg(long = "redis-url", env = "REDIS_URL", value_parser = secret, hide_env_values = true)]
    pub redis_url: Option<SecretString>,

    /// Secret that signs session tokens (at least 32 bytes). Required in production; in
    /// development a random one is generated at each start (sessions end on restart).
    #[arg(long = "jwt-secret", env = "ARGUS_JWT_SECRET", value_parser = secret, hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,

    /// Key that seals secrets kept at rest (judge models' API keys), at least 32 bytes. Unset:
    /// derived from ARGUS_JWT_SECRET — set this before rotating that secret, or keys stored
    /// under the old one must be entered again.
    #[arg(long = "encryption-key", env = "ARGUS_ENCRYPTION_KEY", value_parser = secret, hide_env_values = true)]
    pub encryption_key: Option<SecretString>,

    /// Lets workspaces' judge models live on loopback and private networks (a local model
    /// server). Off: such endpoints are refused, so a workspace's settings cannot reach internal
    /// services.
    #[arg(long, env = "ARGUS_JUDGE_ALLOW_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set)]
    pub judge_allow_private_networks: bool,

    /// Lets alert webhooks (and Slack-compatible URLs) point at loopback and private networks
    /// (an internal relay). Off: such URLs are refused.
    #[arg(long, env = "ARGUS_WEBHOOK_ALLOW_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private_networks: bool,

    /// The URL users open Argus at (`https://argus.example.com`): notifications link to it.
    /// Unset: their links are paths.
    #[arg(long, env = "ARGUS_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// The SMTP relay alert e-mails go through: `smtps://user:password@smtp.example.com`
    /// (TLS, port 465), `smtp://user:password@smtp.example.com:587?tls=required` (STARTTLS) or
    /// `smtp://relay.internal:25` (plain, a relay on a trusted network). Unset: no e-mail
    /// channels.
    #[arg(long, env = "ARGUS_SMTP_URL", value_parser = secret, hide_env_values = true)]
    pub smtp_url: Option<SecretString>,

    /// The sender of alert e-mails (`Argus <alerts@example.com>`); needed with ARGUS_SMTP_URL.
    #[arg(long, env = "ARGUS_SMTP_FROM")]
    pub smtp_from: Option<String>,

    /// Evaluate alert rules and budgets (every 30 s, one replica at a time) and deliver their
    /// notifications.
    #[arg(long, env = "ARGUS_ALERTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub alerts: bool,

    /// Role the server's queries run as (`SET ROLE`; created by the migrations), bound by
    /// row-level security. Empty: keep the login role of DATABASE_URL.
    #[arg(long, env = "ARGUS_DB_APP_ROLE", default_value = argus_domain::db::APP_ROLE)]
    pub db_app_role: String,

    /// Earlier signing secrets, comma-separated: tokens they signed still verify until they are
    /// removed from this list (secret rotation).
    #[arg(long, env = "ARGUS_JWT_PREVIOUS_SECRETS", value_parser = secret, hide_env_values = true)]
    pub jwt_previous_secrets: Option<SecretString>,

    /// Hours a session token stays valid.
    #[arg(long, env = "ARGUS_SESSION_TTL_HOURS", default_value_t = 12,
          value_parser = clap::value_parser!(u64).range(1..=24 * 30))]
    pub session_ttl_hours: u64,

    /// PostgreSQL connections kept open at least.
    #[arg(long, env = "ARGUS_DB_MIN_CONNECTIONS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub db_min_connections: u32,

    /// PostgreSQL connections open at most.
    #[arg(long, env = "ARGUS_DB_MAX_CONNECTIONS", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,

    /// Redis connections open at most.
    #[arg(long, env = "ARGUS_REDIS_POOL_SIZE", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub redis_pool_size: u32,

    /// Seconds a request may take before it is answered 504.
    #[arg(long, env = "ARGUS_REQUEST_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// Seconds one SQL statement may run (PostgreSQL `statement_timeout`).
    #[arg(long, env = "ARGUS_DB_STATEMENT_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub db_statement_timeout_secs: u64,

    /// Seconds one Redis operation may take before it counts as a miss.
    #[arg(long, env = "ARGUS_REDIS_TIMEOUT_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub redis_timeout_secs: u64,

    /// Largest accepted request body, in bytes (20 MiB).
    #[arg(long, env = "ARGUS_BODY_LIMIT_BYTES", default_value_t = 20 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=1024 * 1024 * 1024))]
    pub body_limit_bytes: u64,

    /// Request bodies ingestion may hold at once, in MiB; beyond it exports get 503 + Retry-After.
    #[arg(long, env = "ARGUS_INGEST_MAX_INFLIGHT_MB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub ingest_max_inflight_mb: u64,

    /// Exports decoded and written at once; more get 503 + Retry-After.
    /// Share of the in-flight bytes and of the concurrent exports one workspace may hold, in
    /// percent: a workspace over it gets 429 with `Retry-After` while others keep the rest.
    #[arg(long, env = "ARGUS_INGEST_WORKSPACE_SHARE_PERCENT", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(1..=100))]
    pub ingest_workspace_share_percent: u64,

    /// Seconds an ingest request's body may take to arrive; slower is answered 408.
    #[arg(long, env = "ARGUS_BODY_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_read_timeout_secs: u64,

    #[arg(long, env = "ARGUS_INGEST_MAX_CONCURRENT", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub ingest_max_concurrent: u64,

    /// Milliseconds between two drops of a workspace's dashboard caches while its data keeps
    /// changing (the first change after a quiet spell drops them at once): how far behind
    /// ingest the dashboard's numbers may be, traded against its cache hit rate.
    #[arg(long, env = "ARGUS_CACHE_INVALIDATION_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub cache_invalidation_ms: u64,

    /// Seconds between two retention passes (each workspace keeps its `retention_days`; one
    /// replica at a time runs a pass). 0 turns retention off on this replica.
    #[arg(long, env = "ARGUS_RETENTION_INTERVAL_SECS", default_value_t = 3_600,
          value_parser = clap::value_parser!(u64).range(0..=604_800))]
    pub retention_interval_secs: u64,

    /// Log format: `text` for people, `json` for log pipelines.
    /// Who may sign up: `open` (anyone), `invite` (addresses with a pending invitation) or
    /// `closed` (nobody but the first user of an empty install). Default: open in
    /// development, closed in production.
    #[arg(long, env = "ARGUS_SIGNUP", value_parser = parse_signup)]
    pub signup: Option<argus_domain::policy::SignupMode>,

    /// Sign-ups an hour from one client address.
    #[arg(long, env = "ARGUS_SIGNUP_LIMIT_PER_HOUR",
          default_value_t = argus_domain::policy::DEFAULT_SIGNUPS_PER_ADDRESS,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub signup_limit_per_hour: u64,

    /// Sign-ups an hour on the whole install.
    #[arg(long, env = "ARGUS_SIGNUP_GLOBAL_LIMIT_PER_HOUR",
          default_value_t = argus_domain::policy::DEFAULT_SIGNUPS_GLOBAL,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub signup_global_limit_per_hour: u64,

    /// The longest retention a workspace may set, in days.
    #[arg(long, env = "ARGUS_MAX_RETENTION_DAYS",
          default_value_t = argus_domain::policy::DEFAULT_MAX_RETENTION_DAYS,
          value_parser = clap::value_parser!(i32).range(1..=3650))]
    pub max_retention_days: i32,

    /// OTLP/gRPC (traces, metrics, logs): `default` is 127.0.0.1:4317 (skipped with a warning
    /// when that port is taken), an address serves there (or fails to start), `off` disables it.
    #[arg(long, env = "ARGUS_GRPC_LISTEN", default_value = "default")]
    pub grpc_listen: crate::grpc::Listen,

    /// Serve the Prometheus metrics at `/metrics` on this address of its own, without
    /// credentials (bind it where only the scraper reaches, e.g. `127.0.0.1:9464`).
    #[arg(long, env = "ARGUS_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Serve the Prometheus metrics at `/metrics` on the main address too, to requests with
    /// `Authorization: Bearer <this token>` (at least 16 characters).
    #[arg(long, env = "ARGUS_METRICS_TOKEN", value_parser = secret, hide_env_values = true)]
    pub metrics_token: Option<SecretString>,

    /// Reverse proxies (comma-separated CIDRs) whose `X-Forwarded-For` names the client; from
    /// any other peer the header is ignored.
    #[arg(long, env = "ARGUS_TRUSTED_PROXIES", value_parser = parse_proxies, default_value = "")]
    pub trusted_proxies: Proxies,

    #[arg(long, env = "ARGUS_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Log filter, in tracing's `EnvFilter` syntax.
    #[arg(long, env = "ARGUS_LOG", default_value = "info,sqlx=warn")]
    pub log_filter: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("ARGUS_JWT_SECRET is required when ARGUS_ENV=production")]
    MissingJwtSecret,
    #[error("ARGUS_JWT_SECRET must be at least {min} bytes long")]
    WeakJwtSecret { min: usize },
    #[error("ARGUS_DB_MIN_CONNECTIONS ({min}) is larger than ARGUS_DB_MAX_CONNECTIONS ({max})")]
    PoolBounds { min: u32, max: u32 },
    #[error("ARGUS_METRICS_TOKEN must be at least {min} characters long")]
    WeakMetricsToken { min: usize },
}

/// Where the signing secret came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Configured,
    /// Random, generated at this start (development only).
    Generated,
}

pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// The shortest metrics token accepted.
pub const MIN_METRICS_TOKEN_CHARS: usize = 16;

/// The in-process cache's size limit (see [`Config::cache`]).
pub const MEMORY_CACHE_BYTES: u64 = 64 << 20;

impl Config {
    /// Checks the settings that depend on each other and resolves the signing secret.
    pub fn validate(&self) -> Result<(SecretString, SecretSource), ConfigError> {
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.expose_secret().len() < MIN_METRICS_TOKEN_CHARS)
        {
            return Err(ConfigError::WeakMetricsToken {
                min: MIN_METRICS_TOKEN_CHARS,
            });
        }
        if self.db_min_connections > self.db_max_connections {
            return Err(ConfigError::PoolBounds {
                min: self.db_min_connections,
                max: self.db_max_connections,
            });
        }
        match (&self.jwt_secret, self.environment) {
            (Some(s), _) if s.expose_secret().len() < MIN_JWT_SECRET_BYTES => {
                Err(ConfigError::WeakJwtSecret {
                    min: MIN_JWT_SECRET_BYTES,
                })
            }
            (Some(s), _) => Ok((s.clone(), SecretSource::Configured)),
            (None, Environment::Production) => Err(ConfigError::MissingJwtSecret),
            (None, Environment::Development) => {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                Ok((SecretString::from(hex), SecretSource::Generated))
            }
        }
    }

    /// The previous signing secrets, each at least as long as a current one must be.
    pub fn previous_jwt_secrets(&self) -> Result<Vec<SecretString>, ConfigError> {
        let Some(list) = &self.jwt_previous_secrets else {
            return Ok(Vec::new());
        };
        list.expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.len() < MIN_JWT_SECRET_BYTES {
                    Err(ConfigError::WeakJwtSecret {
                        min: MIN_JWT_SECRET_BYTES,
                    })
                } else {
                    Ok(SecretString::from(s.to_owned()))
                }
            })
            .collect()
    }

    pub fn db(&self) -> DbConfig {
        DbConfig {
            url: self.database_url.clone(),
            min_connections: self.db_min_connections,
            max_connections: self.db_max_connections,
            statement_timeout: Duration::from_secs(self.db_statement_timeout_secs),
            acquire_timeout: Duration::from_secs(5),
            app_role: (!self.db_app_role.is_empty()).then(|| self.db_app_role.clone()),
            pooled: self.database_direct_url.is_some(),
        }
    }

    /// PostgreSQL itself: ARGUS_DATABASE_DIRECT_URL, else DATABASE_URL. A few connections (for
    /// migrations and advisory locks), switching to the app role as the serving pool does.
    pub fn direct_db(&self) -> DbConfig {
        let serving = self.db();
        DbConfig {
            url: self
                .database_direct_url
                .clone()
                .unwrap_or_else(|| self.database_url.clone()),
            min_connections: 0,
            max_connections: 4,
            app_role: (!self.db_app_role.is_empty()).then(|| self.db_app_role.clone()),
            pooled: false,
            ..serving
        }
    }

    /// The read replica's pool settings, when one is named: the primary's, on its URL.
    pub fn read_db(&self) -> Option<DbConfig> {
        let url = self.database_read_url.clone()?;
        Some(DbConfig { url, ..self.db() })
    }

    /// What the in-process cache (no Redis) may hold: 64 MiB of keys and values — about two
    /// thousand cached pages, or ten thousand dashboard answers.
    pub fn cache(&self) -> CacheConfig {
        CacheConfig {
            redis_url: self.redis_url.clone(),
            redis_pool_size: self.redis_pool_size as usize,
            redis_timeout: Duration::from_secs(self.redis_timeout_secs),
            memory_capacity_bytes: MEMORY_CACHE_BYTES,
        }
    }

    /// The SMTP relay for alert e-mail: none without `ARGUS_SMTP_URL`; an error naming the
    /// setting when the URL cannot be used or the sender is missing.
    pub fn mailer(&self) -> Result<Option<argus_domain::alerts::email::Mailer>, String> {
        let Some(url) = self
            .smtp_url
            .as_ref()
            .filter(|u| !u.expose_secret().trim().is_empty())
        else {
            return Ok(None);
        };
        let from = self.smtp_from.as_deref().unwrap_or("").trim();
        if from.is_empty() {
            return Err(
                "ARGUS_SMTP_URL is set but ARGUS_SMTP_FROM is not: set the sender of \
                        alert e-mails, e.g. 'Argus <alerts@example.com>'"
                    .into(),
            );
        }
        argus_domain::alerts::email::Mailer::new(url.expose_secret(), from).map(Some)
    }

    /// The install's policy: production or not, sign-up, retention ceiling, trusted proxies.
    pub fn policy(&self) -> argus_domain::policy::Policy {
        use argus_domain::policy::SignupMode;
        let production = self.environment == Environment::Production;
        argus_domain::policy::Policy {
            production,
            signup: self.signup.unwrap_or(if production {
                SignupMode::Closed
            } else {
                SignupMode::Open
            }),
            max_retention_days: self.max_retention_days,
            trusted_proxies: self.trusted_proxies.0.clone(),
            signups_per_address: self.signup_limit_per_hour,
            signups_global: self.signup_global_limit_per_hour,
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct TestCli {
        #[command(flatten)]
        config: Config,
    }

    fn parse(args: &[&str]) -> Config {
        let mut all = vec!["argus"];
        all.extend_from_slice(args);
        TestCli::try_parse_from(all).unwrap().config
    }

    #[test]
    fn smtp_needs_a_usable_url_and_a_sender() {
        let db = ["--database-url", "postgres://postgres@127.0.0.1:5432/argus"];
        assert!(parse(&db).mailer().unwrap().is_none());
        let no_from = parse(&[db[0], db[1], "--smtp-url", "smtp://127.0.0.1:2525"]);
        assert!(no_from.mailer().unwrap_err().contains("ARGUS_SMTP_FROM"));
        let bad = parse(&[
            db[0],
            db[1],
            "--smtp-url",
            "mailto:x",
            "--smtp-from",
            "a@b.org",
        ]);
        assert!(bad.mailer().unwrap_err().contains("ARGUS_SMTP_URL"));
        let ok = parse(&[
            db[0],
            db[1],
            "--smtp-url",
            "smtps://user:p%40ss@smtp.example.com",
            "--smtp-from",
            "Argus <alerts@example.com>",
        ]);
        let mailer = ok.mailer().unwrap().unwrap();
        // The relay's password is never printed.
        assert!(!format!("{mailer:?}").contains("p%40ss"));
    }

    #[test]
    fn defaults_match_the_documented_table() {
        // Flags only: the test must not depend on the environment of whoever runs it.
        let c = parse(&["--database-url", "postgres://postgres@127.0.0.1:5432/argus"]);
        assert_eq!(c.db_min_connections, 10);
        assert_eq!(c.db_max_connections, 50);
        assert_eq!(c.redis_pool_size, 100);
        assert_eq!(c.request_timeout_secs, 30);
        assert_eq!(c.db_statement_timeout_secs, 10);
        assert_eq!(c.redis_timeout_secs, 5);
        assert_eq!(c.body_limit_bytes, 20 * 1024 * 1024);
    }

    #[test]
    fn production_requires_a_jwt_secret() {
        let c = parse(&["--env", "production"]);
        let c = Config {
            jwt_secret: None,
            ..c
        };
        assert_eq!(c.validate().unwrap_err(), ConfigError::MissingJwtSecret);
    }

    #[test]
    fn sign_up_is_closed_in_production_unless_set_and_proxies_parse() {
        use argus_domain::policy::SignupMode;
        assert_eq!(parse(&[]).policy().signup, SignupMode::Open);
        assert_eq!(
            parse(&["--env", "production"]).policy().signup,
            SignupMode::Closed
        );
        let p = parse(&["--env", "production", "--signup", "invite"]).policy();
        assert_eq!(p.signup, SignupMode::Invite);
        assert!(p.production);
        let p = parse(&["--trusted-proxies", "10.0.0.0/8,::1"]).policy();
        assert_eq!(p.trusted_proxies.len(), 2);
        let cli = |args: &[&str]| {
            let mut all = vec!["argus"];
            all.extend_from_slice(args);
            TestCli::try_parse_from(all).map(|_| ())
        };
        assert!(cli(&["--trusted-proxies", "10.0.0.0/99"]).is_err());
        assert!(cli(&["--signup", "sometimes"]).is_err());
        assert!(cli(&["--max-retention-days", "0"]).is_err());
    }

    #[test]
    fn short_secret_is_rejected() {
        let c = parse(&["--jwt-secret", "short"]);
        assert!(matches!(
            c.validate(),
            Err(ConfigError::WeakJwtSecret { .. })
        ));
    }

    #[test]
    fn development_generates_a_fresh_random_secret() {
        let c = Config {
            jwt_secret: None,
            ..parse(&["--env", "development"])
        };
        let (a, src) = c.validate().unwrap();
        let (b, _) = c.validate().unwrap();
        assert_eq!(src, SecretSource::Generated);
        assert_eq!(a.expose_secret().len(), 64);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn pool_bounds_are_checked() {
        let c = parse(&["--db-min-connections", "20", "--db-max-connections", "5"]);
        assert!(matches!(c.validate(), Err(ConfigError::PoolBounds { .. })));
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let c = parse(&[
            "--database-url",
            "postgres://u:db-password-123@h/argus",
            "--redis-url",
            "redis://:redis-password-456@h",
            "--jwt-secret",
            "jwt-secret-0123456789-0123456789-abcdef",
        ]);
        let dbg = format!("{c:?}");
        for secret in [
            "db-password-123",
            "redis-password-456",
            "jwt-secret-0123456789",
        ] {
            assert!(!dbg.contains(secret), "{secret} leaked into {dbg}");
        }
    }
}
