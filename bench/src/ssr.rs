//! Server-rendered page load: `clients` concurrent signed-in clients request `GET /` one after
//! the other for `seconds`; requests per second and latency percentiles.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::ingest::percentile;

pub struct Figures {
    pub requests: usize,
    pub failed: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

pub type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// A signed-in session's cookie (`name=value`): its own type, so it cannot be passed where a
/// URL is expected.
#[derive(Clone)]
pub struct Cookie(String);

impl Cookie {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Logs in with the form endpoint and returns the session cookie.
pub async fn log_in(
    client: &HttpClient,
    url: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<Cookie> {
    let body = format!(
        "email={}&password={}",
        argus_types::encode(email),
        argus_types::encode(password)
    );
    let request = http::Request::post(format!("{url}/api/v1/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))?;
    let response = client.request(request).await.context("logging in")?;
    let cookie = response
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .find(|c| !c.ends_with('='));
    match cookie {
        Some(c) => Ok(Cookie(c)),
        None => bail!("log-in as {email} failed: HTTP {}", response.status()),
    }
}

/// `GET url` with the session cookie: the body of a 2xx answer, else an error naming the
/// status and the body.
pub async fn get(client: &HttpClient, url: &str, cookie: &Cookie) -> anyhow::Result<Bytes> {
    let request = http::Request::get(url)
        .header("cookie", cookie.as_str())
        .body(Full::new(Bytes::new()))?;
    let response = client.request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!(
            "GET {url}: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(body)
}

/// Who loads the pages, how many at once, for how long (shared with the dashboard benchmark).
#[derive(clap::Args)]
pub struct Load {
    /// Log-in of a member of the workspace.
    #[arg(long, default_value = "bench@argus.local")]
    pub email: String,
    #[arg(
        long,
        env = "ARGUS_BENCH_PASSWORD",
        default_value = "bench-password-123"
    )]
    pub password: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

#[derive(clap::Args)]
pub struct Args {
    /// The running server.
    #[arg(long)]
    url: String,
    #[command(flatten)]
    load: Load,
    /// The page (or endpoint) to request.
    #[arg(long, default_value = "/")]
    path: String,
}

/// The load on its own, printing its figures: for profiling one page or endpoint.
pub async fn run_alone(args: Args) -> anyhow::Result<()> {
    let f = run_path(
        &args.url,
        &args.path,
        &args.load.email,
        &args.load.password,
        args.load.clients,
        args.load.seconds,
    )
    .await?;
    println!(
        "{} requests ({} failed): {:.0} req/s, p50 {:.1} ms, p95 {:.1} ms",
        f.requests, f.failed, f.per_second, f.p50_ms, f.p95_ms
    );
    Ok(())
}

/// The home page under load.
pub async fn run(
    url: &str,
    email: &str,
    password: &str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Figures> {
    run_path(url, "/", email, password, clients, seconds).await
}

async fn run_path(
    url: &str,
    path: &str,
    email: &str,
    password: &str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Figures> {
    // A page is more than a kilobyte; an endpoint answers anything.
    let min_len = if path == "/" { 1000 } else { 0 };
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(clients)
        .build_http();
    let cookie = log_in(&client, url, email, password).await?;
    let get = move |client: HttpClient, cookie: Cookie, target: String| async move {
        let request = http::Request::get(target)
            .header("cookie", cookie.as_str())
            .body(Full::new(Bytes::new()))?;
        let response = client.request(request).await?;
        let ok = response.status() == http::StatusCode::OK;
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::Ok(ok && body.len() > min_len)
    };
    // Warm the cache and the connections.
    for _ in 0..3 {
        if !get(client.clone(), cookie.clone(), format!("{url}{path}")).await? {
            bail!("GET {path} did not answer 200 with a page");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, cookie, url) = (client.clone(), cookie.clone(), format!("{url}{path}"));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failed = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match get(client.clone(), cookie.clone(), url.clone()).await {
                        Ok(true) => latencies.push(t.elapsed().as_secs_f64() * 1000.0),
                        _ => failed += 1,
                    }
                }
                (latencies, failed)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (l, f) = t.await?;
        all.extend(l);
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    Ok(Figures {
        requests: all.len(),
        failed,
        per_second: all.len() as f64 / elapsed,
        p50_ms: percentile(&all, 50.0),
        p95_ms: percentile(&all, 95.0),
    })
}
