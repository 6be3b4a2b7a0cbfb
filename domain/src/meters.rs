//! Argus's own metrics, for Prometheus: HTTP requests by route and status, what ingest stored
//! and rejected, backpressure, caches, the connection pool, background work waiting, the alert
//! cycle, the build. The server scrapes them at `/metrics` (`server::metrics`).
//!
//! Names and labels follow Prometheus's conventions: an `argus_` prefix, base units (seconds,
//! bytes) in the name, `_total` on counters, and label values from small fixed sets (a route is
//! its pattern, never the path asked for). Counters and histograms live here and are bumped where
//! things happen; what is a state (pool, slots, caches, queues) is read when scraped
//! ([`Meters::render`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::{Result, Services};

/// The answer's content type in Prometheus's text format (version 0.0.4).
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The answer's content type in the OpenMetrics text format, when the scraper asks for it.
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets of HTTP requests and alert cycles, in seconds: 1 ms to 30 s.
const SECONDS_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IngestedLabels {
    signal: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectedLabels {
    signal: &'static str,
    reason: &'static str,
}

/// What ingest counts: spans, the native batch's traces, metric points, scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Spans,
    /// Items of the native batch (`POST /api/v1/traces`): a trace each.
    Traces,
    MetricPoints,
    Scores,
}

impl Signal {
    fn label(self) -> &'static str {
        match self {
            Signal::Spans => "spans",
            Signal::Traces => "traces",
            Signal::MetricPoints => "metric_points",
            Signal::Scores => "scores",
        }
    }
}

/// Why ingest refused an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// It failed validation (missing ids, bad values, over a limit).
    Invalid,
    /// Its time is outside what the workspace stores (future, before retention, no partition).
    TimeRange,
    /// The exporter said it dropped it (OTLP's `dropped_*` counts), or the server dropped it.
    Dropped,
}

impl Rejected {
    fn label(self) -> &'static str {
        match self {
            Rejected::Invalid => "invalid",
            Rejected::TimeRange => "time_range",
            Rejected::Dropped => "dropped",
        }
    }
}

/// The process's metrics.
pub struct Meters {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: Family<RouteLabels, Histogram>,
    ingested: Family<IngestedLabels, Counter>,
    rejected: Family<RejectedLabels, Counter>,
    alert_cycle_seconds: Histogram,
    alert_cycles_failed: Counter,
    state: Arc<Scraped>,
    /// One scrape at a time (each reads the database once).
    scraping: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Meters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meters").finish_non_exhaustive()
    }
}

impl Meters {
    pub fn new(version: &str) -> Meters {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "argus_http_requests",
            "HTTP requests answered, by method, route pattern and status",
            http_requests.clone(),
        );
        let http_seconds = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(SECONDS_BUCKETS)) as fn() -> Histogram,
        );
        registry.register(
            "argus_http_request_duration_seconds",
            "Time from a request's arrival to its answer's headers, by method and route pattern",
            http_seconds.clone(),
        );
        let ingested = Family::<IngestedLabels, Counter>::default();
        registry.register(
            "argus_ingested",
            "Items ingest received and kept: stored now, or already stored (a re-sent duplicate)",
            ingested.clone(),
        );
        let rejected = Family::<RejectedLabels, Counter>::default();
        registry.register(
            "argus_ingest_rejected",
            "Items ingest refused, by reason (the rest of their request was stored)",
            rejected.clone(),
        );
        let alert_cycle_seconds = Histogram::new(SECONDS_BUCKETS);
        registry.register(
            "argus_alert_cycle_duration_seconds",
            "How long one evaluation of every alert rule took",
            alert_cycle_seconds.clone(),
        );
        let alert_cycles_failed = Counter::default();
        registry.register(
            "argus_alert_cycles_failed",
            "Alert evaluation cycles that ended in an error",
            alert_cycles_failed.clone(),
        );
        registry.register(
            "argus_build",
            "The running build",
            Info::new(vec![("version", version.to_owned())]),
        );
        let state = Arc::new(Scraped::default());
        registry.register_collector(Box::new(state.clone()));
        Meters {
            registry,
            http_requests,
            http_seconds,
            ingested,
            rejected,
            alert_cycle_seconds,
            alert_cycles_failed,
            state,
            scraping: tokio::sync::Mutex::new(()),
        }
    }

    /// One HTTP request answered. `route` is the matched route's pattern (`None`: no route).
    pub fn http_served(&self, method: &str, route: Option<&str>, status: u16, took: Duration) {
        let method = method_label(method);
        let route = route.unwrap_or("unmatched").to_owned();
        self.http_requests
            .get_or_create(&HttpLabels {
                method,
                route: route.clone(),
                status,
            })
            .inc();
        self.http_seconds
            .get_or_create(&RouteLabels { method, route })
            .observe(took.as_secs_f64());
    }

    /// Items of `signal` stored now (`fresh`) and already stored (`duplicates`).
    pub fn ingested(&self, signal: Signal, fresh: usize, duplicates: usize) {
        for (outcome, n) in [("stored", fresh), ("duplicate", duplicates)] {
            if n > 0 {
                self.ingested
                    .get_or_create(&IngestedLabels {
                        signal: signal.label(),
                        outcome,
                    })
                    .inc_by(n as u64);
            }
        }
    }

    /// Items of `signal` refused for `reason`.
    pub fn rejected(&self, signal: Signal, reason: Rejected, n: usize) {
        if n > 0 {
            self.rejected
                .get_or_create(&RejectedLabels {
                    signal: signal.label(),
                    reason: reason.label(),
                })
                .inc_by(n as u64);
        }
    }

    /// One alert cycle, and whether it failed.
    pub fn alert_cycle(&self, took: Duration, failed: bool) {
        self.alert_cycle_seconds.observe(took.as_secs_f64());
        if failed {
            self.alert_cycles_failed.inc();
        }
    }

    /// Every metric, read now, in Prometheus's text format (OpenMetrics' when `openmetrics`).
    pub async fn render(&self, services: &Services, openmetrics: bool) -> Result<String> {
        let _one = self.scraping.lock().await;
        let backlogs: Vec<(String, i64, Option<f64>)> = sqlx::query_as(
            "SELECT queue, waiting, extract(epoch FROM now() - oldest)::float8 FROM argus_backlogs()",
        )
        .fetch_all(&services.pool)
        .await?;
        let (bytes_held, slots_held) = services.ingest_gate.held();
        let snapshot = Snapshot {
            pool_open: services.pool.size() as i64,
            pool_idle: services.pool.num_idle() as i64,
            pool_max: i64::from(services.pool.options().get_max_connections()),
            pool_waiting: crate::db::pool_waiters(),
            slots_held: slots_held as i64,
            slots_max: services.ingest_gate.max_slots() as i64,
            bytes_held: bytes_held as i64,
            cache: services
                .cache
                .domain_stats()
                .into_iter()
                .map(|d| (d.domain, d.hits, d.misses))
                .collect(),
            cache_errors: services.cache.error_count(),
            backlogs,
        };
        *self.state.0.lock().expect("meters lock") = snapshot;
        let mut out = String::new();
        let encoded = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        };
        encoded.map_err(|e| crate::Error::Internal(format!("encoding the metrics: {e}")))?;
        Ok(out)
    }
}

/// A method's label: the standard ones by name, anything else `other` (bounded values).
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

/// What a scrape read of the process's state.
#[derive(Debug, Default)]
struct Snapshot {
    pool_open: i64,
    pool_idle: i64,
    pool_max: i64,
    pool_waiting: i64,
    slots_held: i64,
    slots_max: i64,
    bytes_held: i64,
    /// Per cache domain: hits and misses.
    cache: Vec<(String, u64, u64)>,
    cache_errors: u64,
    /// Per queue: items waiting and the oldest's age in seconds.
    backlogs: Vec<(String, i64, Option<f64>)>,
}

/// The state read at the scrape, encoded as metrics.
#[derive(Debug, Default)]
struct Scraped(Mutex<Snapshot>);

type Labels = Vec<(&'static str, String)>;

fn label(name: &'static str, value: &str) -> Labels {
    vec![(name, value.to_owned())]
}

fn encode(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric: &impl EncodeMetric,
) -> std::fmt::Result {
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for Scraped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let s = self.0.lock().expect("meters lock");
        let gauge = |v: i64| {
            let g = Gauge::<i64>::default();
            g.set(v);
            g
        };

        let pool = Family::<Labels, Gauge>::default();
        pool.get_or_create(&label("state", "idle")).set(s.pool_idle);
        pool.get_or_create(&label("state", "in_use"))
            .set((s.pool_open - s.pool_idle).max(0));
        encode(
            &mut encoder,
            "argus_db_pool_connections",
            "PostgreSQL connections of this process's pool, idle or in use.",
            &pool,
        )?;
        encode(
            &mut encoder,
            "argus_db_pool_max_connections",
            "The most connections the pool opens; requests wait for one beyond that.",
            &gauge(s.pool_max),
        )?;
        encode(
            &mut encoder,
            "argus_db_pool_waiting",
            "Transactions waiting for a pool connection to begin (above zero: the pool is short).",
            &gauge(s.pool_waiting),
        )?;
        encode(
            &mut encoder,
            "argus_ingest_slots_in_use",
            "Ingest writes running now (beyond the maximum, exports are answered 503).",
            &gauge(s.slots_held),
        )?;
        encode(
            &mut encoder,
            "argus_ingest_slots_max",
            "Ingest writes allowed at once.",
            &gauge(s.slots_max),
        )?;
        encode(
            &mut encoder,
            "argus_ingest_held_bytes",
            "Request bytes ingest holds now (bodies read and being decoded or written).",
            &gauge(s.bytes_held),
        )?;

        let cache = Family::<Labels, Counter>::default();
        for (domain, hits, misses) in &s.cache {
            for (result, n) in [("hit", *hits), ("miss", *misses)] {
                cache
                    .get_or_create(&vec![
                        ("domain", domain.clone()),
                        ("result", result.to_owned()),
                    ])
                    .inc_by(n);
            }
        }
        encode(
            &mut encoder,
            "argus_cache_requests",
            "Cache reads by key domain and result (a miss reads the database).",
            &cache,
        )?;
        let errors = Counter::<u64>::default();
        errors.inc_by(s.cache_errors);
        encode(
            &mut encoder,
            "argus_cache_errors",
            "Cache operations that failed (served from the database instead).",
            &errors,
        )?;

        let waiting = Family::<Labels, Gauge>::default();
        let age = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        for (queue, n, oldest) in &s.backlogs {
            waiting.get_or_create(&label("queue", queue)).set(*n);
            age.get_or_create(&label("queue", queue))
                .set(oldest.unwrap_or(0.0).max(0.0));
        }
        encode(
            &mut encoder,
            "argus_backlog_items",
            "Background work waiting or in progress, across workspaces, by queue.",
            &waiting,
        )?;
        encode(
            &mut encoder,
            "argus_backlog_oldest_age_seconds",
            "Age of the oldest item waiting or in progress, by queue (0 when none).",
            &age,
        )?;
        Ok(())
    }
}
