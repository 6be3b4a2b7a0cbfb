//! Replicas under load, one killed (issue 20, point 1): OTLP exports through a round-robin
//! TCP proxy in front of several `argus serve` processes sharing one PostgreSQL and one Redis;
//! one replica is killed (SIGKILL) in the middle. Clients retry what failed, as exporters do.
//! Then the database must hold every span exactly once, and the traces and rollups must count
//! each once: nothing lost, nothing counted twice. Exits non-zero otherwise.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sqlx::postgres::PgPoolOptions;
use tokio::net::{TcpListener, TcpStream};

use crate::ingest::HttpClient;
use crate::traffic;

#[derive(clap::Args)]
pub struct Args {
    /// The replicas, `host:port` each, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    upstreams: Vec<SocketAddr>,
    /// The replica to kill in the middle of the load (its process id).
    #[arg(long)]
    kill_pid: u32,
    /// An API key with the ingest scope.
    #[arg(long, env = "ARGUS_BENCH_API_KEY", hide_env_values = true)]
    api_key: String,
    /// The replicas' database, as a superuser (the check reads every workspace's rows).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Requests a client sends.
    #[arg(long, default_value_t = 30)]
    requests: usize,
    /// Traces a request.
    #[arg(long, default_value_t = 40)]
    traces_per_request: usize,
    /// An API key with the read scope: the dashboard is then read through every replica after
    /// the load and must count every trace (run the replicas with a short
    /// `ARGUS_CACHE_INVALIDATION_MS`).
    #[arg(long, env = "ARGUS_BENCH_READ_KEY", hide_env_values = true)]
    read_key: Option<String>,
}

/// The home KPIs' request count over the last 24 hours, read through `front`.
async fn dashboard_requests(
    client: &HttpClient,
    front: SocketAddr,
    key: &str,
) -> anyhow::Result<f64> {
    let request = http::Request::get(format!("http://{front}/api/v1/metrics/home-kpis?range=24h"))
        .header("x-api-key", key)
        .body(Full::new(Bytes::new()))?;
    let response = client.request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    anyhow::ensure!(
        status == 200,
        "the dashboard answered {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    let body: serde_json::Value = serde_json::from_slice(&bytes)?;
    body["kpis"]
        .as_array()
        .and_then(|kpis| kpis.iter().find(|k| k["key"] == "requests"))
        .and_then(|k| k["value"].as_f64())
        .context("no requests KPI on the dashboard")
}

/// A round-robin TCP proxy on a loopback port: each connection goes to the next replica that
/// accepts it (a dead one is skipped, as a load balancer's health check would).
async fn proxy(upstreams: Vec<SocketAddr>) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                continue;
            };
            let (upstreams, next) = (upstreams.clone(), next.clone());
            tokio::spawn(async move {
                for _ in 0..upstreams.len() {
                    let i = next.fetch_add(1, Ordering::Relaxed) % upstreams.len();
                    if let Ok(mut outbound) = TcpStream::connect(upstreams[i]).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// Sends one export until it is answered 200, retrying what an exporter retries (a connection
/// that broke, 429, 502–504) with a short backoff. Returns the retries.
async fn send_retrying(
    client: &HttpClient,
    url: &str,
    key: &str,
    body: Bytes,
) -> anyhow::Result<u32> {
    let mut retries = 0;
    loop {
        let request = http::Request::post(url)
            .header("content-type", "application/x-protobuf")
            .header("authorization", format!("Bearer {key}"))
            .body(Full::new(body.clone()))?;
        // An error is a connection the dying replica broke: the exporter sends it again.
        if let Ok(response) = client.request(request).await {
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await?.to_bytes();
            match status {
                200 => {
                    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
                    if let Some(p) = ExportTraceServiceResponse::decode(bytes)?.partial_success {
                        if p.rejected_spans > 0 {
                            bail!("the server rejected spans: {}", p.error_message);
                        }
                    }
                    return Ok(retries);
                }
                429 | 502..=504 => {}
                code => bail!("HTTP {code}: {}", String::from_utf8_lossy(&bytes)),
            }
        }
        retries += 1;
        if retries > 50 {
            bail!("an export failed 50 times");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let front = proxy(args.upstreams.clone()).await?;
    let url = format!("http://{front}/v1/traces");
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(5))
        .build_http();
    let batches: Vec<Vec<(Bytes, u64)>> = (0..args.clients)
        .map(|n| {
            let agent = traffic::agent(100 + n);
            let mut rng = StdRng::seed_from_u64(0x5eed + n as u64);
            (0..args.requests)
                .map(|_| {
                    let r = traffic::request(&mut rng, &agent, args.traces_per_request);
                    let spans: usize = r
                        .resource_spans
                        .iter()
                        .flat_map(|r| &r.scope_spans)
                        .map(|s| s.spans.len())
                        .sum();
                    (Bytes::from(r.encode_to_vec()), spans as u64)
                })
                .collect()
        })
        .collect();
    let total_requests = (args.clients * args.requests) as u64;
    let spans_sent: u64 = batches.iter().flatten().map(|(_, n)| n).sum();
    let traces_sent = total_requests * args.traces_per_request as u64;

    let done = Arc::new(AtomicU64::new(0));
    let retried = Arc::new(AtomicU64::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for batch in batches {
        let (client, url, key) = (client.clone(), url.clone(), args.api_key.clone());
        let (done, retried, killed) = (done.clone(), retried.clone(), killed.clone());
        let kill_pid = args.kill_pid;
        tasks.push(tokio::spawn(async move {
            for (body, _) in batch {
                // A third of the way in, one replica dies without a word.
                if done.load(Ordering::Relaxed) >= total_requests / 3
                    && !killed.swap(true, Ordering::Relaxed)
                {
                    let status = std::process::Command::new("kill")
                        .args(["-9", &kill_pid.to_string()])
                        .status()?;
                    anyhow::ensure!(status.success(), "could not kill replica {kill_pid}");
                    eprintln!("killed replica {kill_pid}");
                }
                let r = send_retrying(&client, &url, &key, body).await?;
                retried.fetch_add(u64::from(r), Ordering::Relaxed);
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("a client task")??;
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(
        killed.load(Ordering::Relaxed),
        "the replica was never killed"
    );

    let db = PgPoolOptions::new()
        .max_connections(2)
        .connect(&args.database_url)
        .await?;
    let (spans, distinct, traces, trace_spans): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM spans), \
                (SELECT count(DISTINCT (trace_id, span_id)) FROM spans), \
                (SELECT count(*) FROM traces), \
                (SELECT coalesce(sum(span_count), 0)::bigint FROM traces)",
    )
    .fetch_one(&db)
    .await?;
    let (hourly_spans, daily_spans, hourly_traces): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT coalesce(sum(spans), 0)::bigint FROM rollup_hourly), \
                (SELECT coalesce(sum(spans), 0)::bigint FROM rollup_daily), \
                (SELECT coalesce(sum(traces), 0)::bigint FROM rollup_hourly)",
    )
    .fetch_one(&db)
    .await?;
    println!(
        "{} replicas behind a round-robin proxy, one killed a third of the way in: \
         {total_requests} exports ({spans_sent} spans, {traces_sent} traces) from {} clients in \
         {:.1} s, {} retried",
        args.upstreams.len(),
        args.clients,
        elapsed.as_secs_f64(),
        retried.load(Ordering::Relaxed)
    );
    println!(
        "stored: {spans} spans ({distinct} distinct), {traces} traces summing {trace_spans} spans; \
         rollups: {hourly_spans} spans hourly, {daily_spans} daily, {hourly_traces} traces hourly"
    );
    let expected = spans_sent as i64;
    let checks = [
        ("spans stored", spans, expected),
        ("distinct spans", distinct, expected),
        ("traces", traces, traces_sent as i64),
        ("spans counted in traces", trace_spans, expected),
        ("spans in the hourly rollup", hourly_spans, expected),
        ("spans in the daily rollup", daily_spans, expected),
        (
            "traces in the hourly rollup",
            hourly_traces,
            traces_sent as i64,
        ),
    ];
    let wrong: Vec<String> = checks
        .iter()
        .filter(|(_, got, want)| got != want)
        .map(|(what, got, want)| format!("{what}: {got}, expected {want}"))
        .collect();
    if !wrong.is_empty() {
        bail!("lost or counted twice: {}", wrong.join("; "));
    }
    println!("nothing lost, nothing counted twice");
    if let Some(key) = &args.read_key {
        // Past the replicas' invalidation window: every replica's dashboard counts them all.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        for _ in 0..args.upstreams.len() {
            // A connection per read: the proxy sends each to the next replica.
            let fresh: HttpClient = Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build_http();
            let shown = dashboard_requests(&fresh, front, key).await?;
            if shown != traces_sent as f64 {
                bail!("a replica's dashboard shows {shown} requests, not {traces_sent}");
            }
        }
        println!("every replica's dashboard shows the {traces_sent} requests");
    }
    Ok(())
}
