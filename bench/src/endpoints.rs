//! Every dashboard endpoint as the pages call it: over HTTP, signed in, for 24 h / 7 d / 30 d /
//! 90 d, unfiltered and with one and two filters — uncached (Redis emptied before each call,
//! so the server reads the rollups) and cached (the same call again).

use std::time::Instant;

use anyhow::{bail, Context};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ingest::percentile;
use crate::ssr::{get, log_in, HttpClient};

/// The endpoints the dashboard pages call (the home page calls `metrics/home`; the others are
/// the usage, cost, performance pages and the home page's widgets).
pub const ENDPOINTS: [&str; 7] = [
    "/api/v1/metrics/home",
    "/api/v1/metrics/home-kpis",
    "/api/v1/metrics/timeseries",
    "/api/v1/usage/breakdown",
    "/api/v1/cost/breakdown",
    "/api/v1/performance/latency",
    "/api/v1/activity",
];

const RANGES: [&str; 4] = ["24h", "7d", "30d", "90d"];

/// One endpoint's timings over every case.
pub struct Figures {
    pub endpoint: &'static str,
    /// Per case (range and filters): the sorted uncached and cached timings.
    pub cases: Vec<(String, Vec<f64>, Vec<f64>)>,
}

impl Figures {
    /// The case whose uncached p95 is highest, with that p95.
    pub fn worst(&self) -> (&str, f64) {
        self.cases
            .iter()
            .map(|(c, u, _)| (c.as_str(), percentile(u, 95.0)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or(("", 0.0))
    }

    fn p95(&self, filtered: Option<bool>, cached: bool) -> f64 {
        self.cases
            .iter()
            .filter(|(c, _, _)| filtered.is_none_or(|f| c.contains('&') == f))
            .map(|(_, u, h)| percentile(if cached { h } else { u }, 95.0))
            .fold(0.0, f64::max)
    }
}

/// Empties the Redis database the server caches in (`FLUSHDB`, spoken directly: one command).
async fn flush(redis: &str) -> anyhow::Result<()> {
    let addr = redis
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379");
    let mut conn = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to Redis at {addr}"))?;
    conn.write_all(b"*1\r\n$7\r\nFLUSHDB\r\n").await?;
    let mut reply = [0u8; 5];
    conn.read_exact(&mut reply).await?;
    if &reply != b"+OK\r\n" {
        bail!("FLUSHDB answered {:?}", String::from_utf8_lossy(&reply));
    }
    Ok(())
}

/// Times every endpoint for every range, unfiltered, by one department, and by that
/// department and one environment: `iterations` uncached and `iterations` cached calls each.
pub async fn run(
    url: &str,
    redis: &str,
    email: &str,
    password: &str,
    iterations: usize,
) -> anyhow::Result<Vec<Figures>> {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let cookie = log_in(&client, url, email, password).await?;
    let options: argus_types::FilterOptions = serde_json::from_slice(
        &get(
            &client,
            &format!("{url}/api/v1/metrics/filter-options"),
            &cookie,
        )
        .await?,
    )
    .context("reading the filter options")?;
    let (Some(dept), Some(env)) = (options.departments.first(), options.environments.first())
    else {
        bail!("the workspace has no departments or environments to filter by");
    };
    let mut filters = vec![String::new()];
    filters.push(format!("&dept={}", argus_types::encode(dept)));
    filters.push(format!(
        "&dept={}&env={}",
        argus_types::encode(dept),
        argus_types::encode(env)
    ));
    let mut out = Vec::new();
    for endpoint in ENDPOINTS {
        let mut cases = Vec::new();
        for range in RANGES {
            for f in &filters {
                let query = format!("range={range}{f}");
                let target = format!("{url}{endpoint}?{query}");
                let mut uncached = Vec::with_capacity(iterations);
                let mut cached = Vec::with_capacity(iterations);
                // One call first: connections and PostgreSQL's buffers warm.
                get(&client, &target, &cookie).await?;
                for _ in 0..iterations {
                    flush(redis).await?;
                    let t = Instant::now();
                    get(&client, &target, &cookie).await?;
                    uncached.push(t.elapsed().as_secs_f64() * 1000.0);
                    let t = Instant::now();
                    get(&client, &target, &cookie).await?;
                    cached.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                uncached.sort_by(f64::total_cmp);
                cached.sort_by(f64::total_cmp);
                cases.push((query, uncached, cached));
            }
        }
        let figures = Figures { endpoint, cases };
        let (case, p95) = figures.worst();
        eprintln!("[bench] {endpoint}: worst uncached p95 {p95:.1} ms ({case})");
        out.push(figures);
    }
    Ok(out)
}

/// The Markdown table: per endpoint, the highest uncached p95 over the ranges unfiltered and
/// filtered, the case it was, and the highest cached p95.
pub fn markdown(figures: &[Figures], iterations: usize) -> String {
    let mut out = String::from(
        "Every dashboard endpoint over HTTP (signed in), for 24 h, 7 d, 30 d and 90 d, each unfiltered, by one department, and by a department and an environment: the highest p95 over those 12 cases.\n\n\
         | endpoint | uncached p95, no filter | uncached p95, 1–2 filters | slowest case | cached p95 |\n\
         |---|---:|---:|---|---:|\n",
    );
    for f in figures {
        let (case, _) = f.worst();
        out.push_str(&format!(
            "| `{}` | {:.1} ms | {:.1} ms | `{}` | {:.2} ms |\n",
            f.endpoint,
            f.p95(Some(false), false),
            f.p95(Some(true), false),
            case,
            f.p95(None, true),
        ));
    }
    out.push_str(&format!(
        "\nUncached: Redis emptied (`FLUSHDB`) before each call; {iterations} calls a case. Target (issue 19): uncached p95 ≤ 10 ms for every endpoint and case.\n"
    ));
    out
}

#[derive(clap::Args)]
pub struct Args {
    /// The running server.
    #[arg(long)]
    url: String,
    /// The Redis the server caches in (emptied before each uncached call).
    #[arg(long, env = "REDIS_URL")]
    redis_url: String,
    #[command(flatten)]
    load: crate::ssr::Load,
    /// Calls per endpoint and case.
    #[arg(long, default_value_t = 10)]
    iterations: usize,
}

/// The endpoints alone, printing the table: for profiling.
pub async fn run_alone(args: Args) -> anyhow::Result<()> {
    let figures = run(
        &args.url,
        &args.redis_url,
        &args.load.email,
        &args.load.password,
        args.iterations,
    )
    .await?;
    println!("{}", markdown(&figures, args.iterations));
    for f in &figures {
        for (case, u, h) in &f.cases {
            println!(
                "{} ?{case}: uncached p50 {:.1} p95 {:.1} ms, cached p95 {:.2} ms",
                f.endpoint,
                percentile(u, 50.0),
                percentile(u, 95.0),
                percentile(h, 95.0)
            );
        }
    }
    Ok(())
}
