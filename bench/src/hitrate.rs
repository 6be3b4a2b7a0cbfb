//! The cache hit rate under a realistic mix: `users` signed-in users, each keeping one
//! dashboard view open (most the default home page, some a longer range, a department, the
//! usage, cost or performance page), refetching it every `refresh` seconds as the pages do,
//! while an agent keeps ingesting (a small batch every half second, so the workspace's caches
//! are invalidated as often as the server allows). Hits and misses come from the server's own
//! per-domain counters (`/api/v1/system/status`), over the dashboard's cache domains.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::Rng;

use crate::ssr::{get, log_in, Cookie, HttpClient};

/// The views, one per twentieth of the users.
const VIEWS: [&str; 20] = [
    "/api/v1/metrics/home?fallback=true",
    "/api/v1/metrics/home?fallback=true",
    "/api/v1/metrics/home?fallback=true",
    "/api/v1/metrics/home?fallback=true",
    "/api/v1/metrics/home?fallback=true",
    "/api/v1/metrics/home?fallback=true",
    "/api/v1/metrics/home?fallback=true",
    "/api/v1/metrics/home?fallback=true",
    "/api/v1/metrics/home?fallback=true",
    "/api/v1/metrics/home?range=7d&fallback=true",
    "/api/v1/metrics/home?range=7d&fallback=true",
    "/api/v1/metrics/home?range=7d&fallback=true",
    "/api/v1/metrics/home?dept=dept-1&fallback=true",
    "/api/v1/metrics/home?dept=dept-2&fallback=true",
    "/api/v1/usage/breakdown?by=department&fallback=true",
    "/api/v1/usage/breakdown?by=department&fallback=true",
    "/api/v1/cost/breakdown?range=30d&fallback=true",
    "/api/v1/cost/breakdown?range=30d&fallback=true",
    "/api/v1/performance/latency?fallback=true",
    "/api/v1/performance/latency?fallback=true",
];

pub struct Figures {
    pub requests: u64,
    pub hits: u64,
    pub misses: u64,
    pub batches: u64,
}

impl Figures {
    pub fn rate(&self) -> f64 {
        self.hits as f64 * 100.0 / (self.hits + self.misses).max(1) as f64
    }
}

/// (hits, misses) over the dashboard's cache domains so far.
async fn counters(client: &HttpClient, url: &str, cookie: &Cookie) -> anyhow::Result<(u64, u64)> {
    let body = get(client, &format!("{url}/api/v1/system/status"), cookie).await?;
    let status: argus_types::SystemStatus = serde_json::from_slice(&body)?;
    Ok(status
        .cache
        .domains
        .iter()
        .filter(|d| argus_domain::analytics::CACHE_DOMAINS.contains(&d.domain.as_str()))
        .fold((0, 0), |(h, m), d| (h + d.hits, m + d.misses)))
}

pub async fn run(
    url: &str,
    email: &str,
    password: &str,
    api_key: &str,
    users: usize,
    refresh: Duration,
    duration: Duration,
) -> anyhow::Result<Figures> {
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(users + 2)
        .build_http();
    let cookie = log_in(&client, url, email, password).await?;
    let before = counters(&client, url, &cookie).await?;
    let deadline = Instant::now() + duration;

    let ingest = {
        let (client, url, key) = (client.clone(), url.to_owned(), api_key.to_owned());
        tokio::spawn(async move {
            let mut batches = 0u64;
            while Instant::now() < deadline {
                let traces: Vec<serde_json::Value> = (0..5)
                    .map(|i| {
                        let agent = rand::rng().random_range(0..40);
                        serde_json::json!({
                            "trace_id": format!("hitrate-{}-{batches}-{i}", std::process::id()),
                            "agent_id": format!("agent-{agent}"),
                            "department": format!("dept-{}", agent % 8),
                            "environment": "production", "version": "2.0.0",
                            "model": format!("model-{}", agent % 6),
                            "input_tokens": 800, "output_tokens": 120, "latency_ms": 640,
                        })
                    })
                    .collect();
                let body = serde_json::json!({ "traces": traces }).to_string();
                let request = http::Request::post(format!("{url}/api/v1/traces"))
                    .header("content-type", "application/json")
                    .header("x-api-key", &key)
                    .body(Full::new(Bytes::from(body)))?;
                let response = client.request(request).await?;
                let status = response.status();
                response.into_body().collect().await?;
                anyhow::ensure!(status.is_success(), "ingest: HTTP {status}");
                batches += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            anyhow::Ok(batches)
        })
    };

    let tasks: Vec<_> = (0..users)
        .map(|u| {
            let (client, cookie) = (client.clone(), cookie.clone());
            let view = format!("{url}{}", VIEWS[u % VIEWS.len()]);
            tokio::spawn(async move {
                // Users opened their pages at different moments.
                let phase = rand::rng().random_range(0..refresh.as_millis().max(1) as u64);
                tokio::time::sleep(Duration::from_millis(phase)).await;
                let mut requests = 0u64;
                while Instant::now() < deadline {
                    get(&client, &view, &cookie).await?;
                    requests += 1;
                    tokio::time::sleep(refresh).await;
                }
                anyhow::Ok(requests)
            })
        })
        .collect();
    let mut requests = 0;
    for t in tasks {
        requests += t.await.context("a user task")??;
    }
    let batches = ingest.await.context("the ingest task")??;
    let after = counters(&client, url, &cookie).await?;
    Ok(Figures {
        requests,
        hits: after.0 - before.0,
        misses: after.1 - before.1,
        batches,
    })
}
