//! `argus-bench probe`: the attacks of issue 13 against a running release build on loopback,
//! each asserting its defended outcome, with a table of what was seen (`scripts/probe.sh`
//! writes it into `docs/SECURITY.md`). Exits non-zero when any probe fails.
//!
//! The server is expected in production mode (`ARGUS_ENV=production`, open sign-up, a short
//! body read timeout): `scripts/probe.sh` starts it so.

mod attacks;
mod client;

use std::path::PathBuf;

use anyhow::bail;

pub use client::Http;

#[derive(clap::Args)]
pub struct Args {
    /// The running server.
    #[arg(long, default_value = "http://127.0.0.1:3198")]
    url: String,
    /// The server's database as its owner (to count what was stored).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The server's OTLP/gRPC address (`host:port`), for the slow-stream probe.
    #[arg(long)]
    grpc_addr: Option<String>,
    /// The server's process id (to read its resident memory).
    #[arg(long)]
    server_pid: u32,
    /// The bound the memory probe holds the server's peak resident memory to, in MiB.
    #[arg(long, default_value_t = 512)]
    rss_bound_mib: u64,
    /// Restart PostgreSQL in the middle of an ingest load (needs `pg_ctlcluster` as root).
    #[arg(long)]
    restart_postgres: bool,
    /// Write the table into this Markdown file, between `<!-- probes:begin -->` and
    /// `<!-- probes:end -->`.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// One probe's outcome: a row of the table.
pub struct Row {
    pub probe: &'static str,
    pub attack: String,
    pub expected: String,
    pub observed: String,
    pub pass: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let http = Http::new(&args.url);
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&args.database_url)
        .await?;
    let world = attacks::World::set_up(&http).await?;
    let mut rows = Vec::new();
    rows.push(attacks::memory(&http, &world, args.server_pid, args.rss_bound_mib).await?);
    rows.push(attacks::large_legit_batch(&http, &world).await?);
    rows.push(attacks::slow_uploads(&http, &world, false).await?);
    rows.push(attacks::slow_uploads(&http, &world, true).await?);
    if let Some(grpc) = &args.grpc_addr {
        rows.push(attacks::slow_grpc_streams(&http, &world, grpc).await?);
    }
    rows.push(attacks::revoked_token(&http, &world).await?);
    rows.push(attacks::enumeration(&http, &world).await?);
    rows.push(attacks::headers(&http, &world).await?);
    rows.push(attacks::anonymous_health(&http).await?);
    rows.push(attacks::partitions(&http, &world, &db).await?);
    // Last of A's log-ins: it locks A's email for a minute.
    rows.push(attacks::login_flood(&http, &world).await?);
    rows.push(attacks::signup_flood(&http).await?);
    if args.restart_postgres {
        rows.push(attacks::postgres_restart(&http, &world, &db).await?);
    }

    let mut table =
        String::from("| probe | attack | defended outcome | observed | |\n|---|---|---|---|---|\n");
    for r in &rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.probe,
            r.attack,
            r.expected,
            r.observed,
            if r.pass { "pass" } else { "**FAIL**" }
        ));
    }
    println!("{table}");
    if let Some(path) = &args.markdown {
        crate::ingest::write_section(path, "probes", &table)?;
        println!("written to {}", path.display());
    }
    let failed: Vec<&str> = rows.iter().filter(|r| !r.pass).map(|r| r.probe).collect();
    if !failed.is_empty() {
        bail!("probes failed: {}", failed.join(", "));
    }
    Ok(())
}
