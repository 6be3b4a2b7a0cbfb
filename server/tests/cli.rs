//! The argus binary as an operator meets it: `--help` and start-up failures.

use std::net::TcpListener;
use std::process::Command;

fn argus() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_argus"));
    // Start from a clean slate: no inherited settings, no .env from the repo.
    for (key, _) in std::env::vars() {
        if key.starts_with("ARGUS_") || key == "DATABASE_URL" || key == "REDIS_URL" {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(std::env::temp_dir());
    cmd
}

#[test]
fn help_documents_every_setting_with_its_default() {
    let out = argus().arg("--help").output().unwrap();
    assert!(out.status.success());
    // Undo clap's line wrapping before matching.
    let help = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for (var, default) in [
        ("ARGUS_ENV", Some("development")),
        ("ARGUS_LISTEN_ADDR", Some("127.0.0.1:3000")),
        (
            "DATABASE_URL",
            Some("postgres://postgres@127.0.0.1:5432/argus"),
        ),
        ("REDIS_URL", None),
        ("ARGUS_JWT_SECRET", None),
        ("ARGUS_JWT_PREVIOUS_SECRETS", None),
        ("ARGUS_SESSION_TTL_HOURS", Some("12")),
        ("ARGUS_DB_APP_ROLE", Some("argus_app")),
        ("ARGUS_DB_MIN_CONNECTIONS", Some("10")),
        ("ARGUS_DB_MAX_CONNECTIONS", Some("50")),
        ("ARGUS_REDIS_POOL_SIZE", Some("100")),
        ("ARGUS_REQUEST_TIMEOUT_SECS", Some("30")),
        ("ARGUS_DB_STATEMENT_TIMEOUT_SECS", Some("10")),
        ("ARGUS_REDIS_TIMEOUT_SECS", Some("5")),
        ("ARGUS_BODY_LIMIT_BYTES", Some("20971520")),
        ("ARGUS_INGEST_MAX_INFLIGHT_MB", Some("256")),
        ("ARGUS_INGEST_MAX_CONCURRENT", Some("16")),
        ("ARGUS_CACHE_INVALIDATION_MS", Some("30000")),
        ("ARGUS_BODY_READ_TIMEOUT_SECS", Some("10")),
        ("ARGUS_INGEST_WORKSPACE_SHARE_PERCENT", Some("50")),
        ("ARGUS_SIGNUP", None),
        ("ARGUS_SIGNUP_LIMIT_PER_HOUR", Some("5")),
        ("ARGUS_SIGNUP_GLOBAL_LIMIT_PER_HOUR", Some("100")),
        ("ARGUS_MAX_RETENTION_DAYS", Some("365")),
        ("ARGUS_TRUSTED_PROXIES", None),
        ("ARGUS_LOG_FORMAT", Some("text")),
        ("ARGUS_LOG", Some("info,sqlx=warn")),
    ] {
        assert!(help.contains(var), "--help names {var}");
        if let Some(default) = default {
            assert!(
                help.contains(&format!("[default: {default}]")),
                "{var} default {default}"
            );
        }
    }
}

#[test]
fn unreachable_postgres_exits_with_one_clear_line() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = argus()
        .arg("migrate")
        .env(
            "DATABASE_URL",
            format!("postgres://argus:hunter2@127.0.0.1:{port}/argus"),
        )
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one line: {stderr}");
    let line = lines[0];
    assert!(
        line.starts_with("error: cannot reach PostgreSQL at "),
        "{line}"
    );
    assert!(
        line.contains(&format!("postgres://argus:***@127.0.0.1:{port}/argus")),
        "{line}"
    );
    assert!(line.contains("pg_ctlcluster"), "{line}");
    assert!(
        !stderr.contains("hunter2") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn production_without_a_jwt_secret_refuses_to_start() {
    let out = argus()
        .arg("serve")
        .env("ARGUS_ENV", "production")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("ARGUS_JWT_SECRET is required"), "{stderr}");
}

#[test]
fn invalid_setting_is_a_usage_error_naming_it() {
    let out = argus()
        .env("ARGUS_DB_MAX_CONNECTIONS", "zero")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("db-max-connections"), "{stderr}");
}

#[test]
fn json_log_format_writes_one_json_object_per_line() {
    let base = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("argus_cli_{}", uuid::Uuid::new_v4().simple());
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(&format!("/{name}"));

    let out = argus()
        .arg("migrate")
        .env("DATABASE_URL", url.as_str())
        .env("ARGUS_LOG_FORMAT", "json")
        .env("ARGUS_DB_MIN_CONNECTIONS", "0")
        .output()
        .unwrap();
    let stdout = succeeded(out);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "database is migrated"),
        "{stdout}"
    );
    assert!(lines
        .iter()
        .all(|l| l["level"].is_string() && l["timestamp"].is_string()));

    // Clean up the database `migrate` created.
    let mut admin = url.clone();
    admin.set_path("/postgres");
    let status = Command::new("psql")
        .args([
            admin.as_str(),
            "-qc",
            &format!("DROP DATABASE \"{name}\" WITH (FORCE)"),
        ])
        .status();
    let _ = status;
}

/// A fresh database URL for one test, and its cleanup.
struct FreshDb {
    url: url::Url,
    name: String,
}

impl FreshDb {
    fn new() -> FreshDb {
        let base = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("argus_cli_{}", uuid::Uuid::new_v4().simple());
        let mut url = url::Url::parse(&base).unwrap();
        url.set_path(&format!("/{name}"));
        FreshDb { url, name }
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        let mut admin = self.url.clone();
        admin.set_path("/postgres");
        let _ = Command::new("psql")
            .args([
                admin.as_str(),
                "-qc",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
            ])
            .status();
    }
}

/// The standard output of a command that must have succeeded (else its output is shown).
fn succeeded(out: std::process::Output) -> String {
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `argus <args>` against `db`, quietly.
fn argus_on(db: &FreshDb, args: &[&str]) -> std::process::Output {
    argus()
        .args(args)
        .env("DATABASE_URL", db.url.as_str())
        .env("ARGUS_DB_MIN_CONNECTIONS", "0")
        .env("ARGUS_LOG", "warn")
        .output()
        .unwrap()
}

/// `argus user create` for ops@example.com (workspace "Platform") on `db`; the workspace id.
fn create_user(db: &FreshDb) -> String {
    let mut cmd = argus();
    cmd.args([
        "user",
        "create",
        "--email",
        "ops@example.com",
        "--name",
        "Ops",
        "--workspace",
        "Platform",
    ])
    .env("DATABASE_URL", db.url.as_str())
    .env("ARGUS_DB_MIN_CONNECTIONS", "0")
    .env("ARGUS_LOG", "warn");
    let stdout = succeeded(run_with_stdin(cmd, "a long passphrase\n"));
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("workspace_id="))
        .expect("prints the workspace id")
        .to_owned()
}

fn run_with_stdin(mut cmd: Command, stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_password_is_reset_from_the_shell_and_demo_data_is_refused_in_production() {
    let db = FreshDb::new();
    create_user(&db);
    let mut cmd = argus();
    cmd.args(["user", "reset-password", "--email", "OPS@example.com"])
        .env("DATABASE_URL", db.url.as_str())
        .env("ARGUS_DB_MIN_CONNECTIONS", "0")
        .env("ARGUS_LOG", "warn");
    let stdout = succeeded(run_with_stdin(cmd, "a brand new passphrase\n"));
    assert!(
        stdout.contains("password set; 0 session(s) ended"),
        "{stdout}"
    );
    let mut cmd = argus();
    cmd.args(["user", "reset-password", "--email", "nobody@example.com"])
        .env("DATABASE_URL", db.url.as_str())
        .env("ARGUS_DB_MIN_CONNECTIONS", "0")
        .env("ARGUS_LOG", "warn");
    let out = run_with_stdin(cmd, "a brand new passphrase\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));

    let out = argus()
        .args(["demo", "--if-empty"])
        .env("DATABASE_URL", db.url.as_str())
        .env("ARGUS_ENV", "production")
        .env(
            "ARGUS_JWT_SECRET",
            "cli-test-secret-0123456789-0123456789-abcdef",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("never loaded in production"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bootstrap_a_fresh_install_from_the_command_line() {
    let db = FreshDb::new();
    let workspace = create_user(&db);

    let out = argus_on(
        &db,
        &[
            "apikey",
            "create",
            "--workspace",
            &workspace,
            "--name",
            "collector",
            "--scopes",
            "ingest,read",
        ],
    );
    let key = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        key.trim().starts_with("argus_") && key.trim().split('_').count() == 3,
        "{key}"
    );

    // A second workspace for the same owner, by email.
    let out = argus_on(
        &db,
        &[
            "workspace",
            "create",
            "--name",
            "Data Science",
            "--owner",
            "OPS@example.com",
        ],
    );
    let stdout = succeeded(out);
    assert!(stdout.contains("workspace_slug=data-science-"), "{stdout}");
    let second = stdout
        .lines()
        .find_map(|l| l.strip_prefix("workspace_id="))
        .expect("prints the workspace id");
    assert_ne!(second, workspace);
    let out = argus_on(
        &db,
        &[
            "workspace",
            "create",
            "--name",
            "W",
            "--owner",
            "nobody@example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: no user with email nobody@example.com"
    );

    // Reconcile a range of the (empty) workspace, and refuse a backwards one.
    let out = argus_on(
        &db,
        &[
            "reconcile",
            "--workspace",
            &workspace,
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-03",
        ],
    );
    let stdout = succeeded(out);
    assert!(stdout.contains("0 spans read"), "{stdout}");
    let out = argus_on(
        &db,
        &[
            "reconcile",
            "--workspace",
            &workspace,
            "--from",
            "2026-11-03",
            "--to",
            "2026-11-01",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be after"));

    // A weak password and an unknown workspace are one clear line each.
    let mut cmd = argus();
    cmd.args([
        "user",
        "create",
        "--email",
        "x@example.com",
        "--name",
        "X",
        "--workspace",
        "W",
    ])
    .env("DATABASE_URL", db.url.as_str())
    .env("ARGUS_DB_MIN_CONNECTIONS", "0");
    let out = run_with_stdin(cmd, "short\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"));

    let out = argus_on(
        &db,
        &[
            "apikey",
            "create",
            "--workspace",
            &uuid::Uuid::new_v4().to_string(),
            "--name",
            "k",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One OTLP protobuf request of `traces` traces of five spans each.
fn otlp_body(traces: usize) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let kv = |key: &str, value: &str| KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    };
    let mut spans = Vec::new();
    for t in 0..traces {
        let trace_id = (t as u128 + 1).to_be_bytes().to_vec();
        for s in 0..5u64 {
            spans.push(Span {
                trace_id: trace_id.clone(),
                span_id: (s + 1).to_be_bytes().to_vec(),
                parent_span_id: if s == 0 {
                    vec![]
                } else {
                    1u64.to_be_bytes().to_vec()
                },
                name: format!("chat {s}"),
                start_time_unix_nano: now - 2_000_000_000,
                end_time_unix_nano: now - 1_000_000_000,
                attributes: vec![
                    kv("gen_ai.request.model", "gpt-4o"),
                    kv("gen_ai.operation.name", "chat"),
                ],
                ..Default::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "shutdown-bot")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[test]
fn a_stopping_server_finishes_the_exports_in_flight() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;

    let db = FreshDb::new();
    let workspace = create_user(&db);
    let key = succeeded(argus_on(
        &db,
        &["apikey", "create", "--workspace", &workspace, "--name", "k"],
    ))
    .trim()
    .to_owned();

    let mut server = argus()
        .args(["serve"])
        .env("DATABASE_URL", db.url.as_str())
        .env("ARGUS_LISTEN_ADDR", "127.0.0.1:0")
        .env("ARGUS_DB_MIN_CONNECTIONS", "0")
        .env("ARGUS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let addr = lines
        .find_map(|l| {
            l.unwrap()
                .strip_prefix("Argus is running at http://")
                .map(str::to_owned)
        })
        .expect("the server prints its address");

    // A large export: 2,000 traces, 10,000 spans.
    let body = otlp_body(2_000);
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-protobuf\r\n\
         X-API-Key: {key}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    conn.write_all(&body).unwrap();
    // Stop the server while it stores them.
    std::thread::sleep(std::time::Duration::from_millis(30));
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "the export in flight is answered: {response}"
    );
    let status = server.wait().unwrap();
    assert!(status.success(), "a clean exit: {status}");

    // And what was acknowledged is stored.
    let count = Command::new("psql")
        .args([db.url.as_str(), "-tAc", "SELECT count(*) FROM spans"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&count.stdout).trim(), "10000");
}
