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

/// Logs in with the form endpoint and returns the session cookie (`name=value`).
pub async fn log_in(
    client: &HttpClient,
    url: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
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
        Some(c) => Ok(c),
        None => bail!("log-in as {email} failed: HTTP {}", response.status()),
    }
}

pub async fn run(
    url: &str,
    email: &str,
    password: &str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Figures> {
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(clients)
        .build_http();
    let cookie = log_in(&client, url, email, password).await?;
    let get = |client: HttpClient, cookie: String, url: String| async move {
        let request = http::Request::get(format!("{url}/"))
            .header("cookie", cookie)
            .body(Full::new(Bytes::new()))?;
        let response = client.request(request).await?;
        let ok = response.status() == http::StatusCode::OK;
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::Ok(ok && body.len() > 1000)
    };
    // Warm the cache and the connections.
    for _ in 0..3 {
        if !get(client.clone(), cookie.clone(), url.to_owned()).await? {
            bail!("GET / did not render the home page");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, cookie, url) = (client.clone(), cookie.clone(), url.to_owned());
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
