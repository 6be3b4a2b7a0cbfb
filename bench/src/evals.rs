//! The evaluations benchmark, against a running server (whose worker runs the evaluators):
//!
//! 1. throughput: a span-level rule evaluator on every span while the ingest load of the ingest
//!    benchmark runs; spans evaluated per second (from the load's start until every span is
//!    scored: at the load's end when ingest scored them all) beside spans ingested per second,
//!    in the same run;
//! 2. latency: single-trace exports one after another; the time from the server's answer until
//!    the evaluator's score is visible in the database (p50 / p95);
//! 3. analytics: `--scores` scores generated in SQL over 90 days (their rollups built from
//!    those rows), then the score summary by version (`evals::analytics::summary`, uncached)
//!    for 24 h … 90 d (p50 / p95).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use argus_domain::cache::{Cache, CacheConfig};
use argus_domain::evals::analytics::{summary, whole_days, Group};
use argus_domain::tenancy::WorkspaceId;
use argus_types::Filters;
use bytes::Bytes;
use chrono::Utc;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

use crate::ingest::{self, percentile, write_section};
use crate::traffic;

#[derive(clap::Args)]
pub struct Args {
    /// The running server.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// An API key with the ingest scope.
    #[arg(long, env = "ARGUS_BENCH_API_KEY", hide_env_values = true)]
    api_key: String,
    /// The server's database (as a superuser).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The API key's workspace.
    #[arg(long, env = "ARGUS_BENCH_WORKSPACE")]
    workspace: Uuid,
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Requests each client sends.
    #[arg(long, default_value_t = 20)]
    requests: usize,
    #[arg(long, default_value_t = 100)]
    traces_per_request: usize,
    /// Single-trace exports timed until their score is visible.
    #[arg(long, default_value_t = 40)]
    latency_samples: usize,
    /// Scores generated for the analytics figures.
    #[arg(long, default_value_t = 10_000_000)]
    scores: i64,
    #[arg(long, default_value_t = 30)]
    iterations: usize,
    /// Write the results between `<!-- evals:begin -->` and `<!-- evals:end -->`.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Only the analytics figures, on the scores already generated (for profiling; prints,
    /// writes nothing).
    #[arg(long)]
    analytics_only: bool,
}

const EVALUATOR: &str = "bench-every-span";
const SCORE: &str = "bench_fast_enough";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn count_scores(pool: &PgPool, ws: Uuid) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM scores WHERE workspace_id = $1 AND name = $2")
            .bind(ws)
            .bind(SCORE)
            .fetch_one(pool)
            .await?,
    )
}

async fn pending(pool: &PgPool, ws: Uuid) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM eval_jobs WHERE workspace_id = $1 AND status IN ('queued', 'running')",
    )
    .bind(ws)
    .fetch_one(pool)
    .await?)
}

/// Generates `n` scores over 90 days (four names: two numbers, a boolean, a label; each agent
/// with two versions in two environments) and their rollups, unless they are there already.
async fn generate(pool: &PgPool, ws: Uuid, n: i64) -> anyhow::Result<bool> {
    let have: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM scores WHERE workspace_id = $1 AND name LIKE 'gen\\_%'",
    )
    .bind(ws)
    .fetch_one(pool)
    .await?;
    if have == n {
        return Ok(false);
    }
    for table in ["score_rollup_hourly", "score_rollup_daily", "scores"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE workspace_id = $1 AND name LIKE 'gen\\_%'"
        ))
        .bind(ws)
        .execute(pool)
        .await?;
    }
    let started = Instant::now();
    let chunk = 1_000_000i64;
    let mut from = 0i64;
    while from < n {
        let to = (from + chunk).min(n) - 1;
        sqlx::query(
            "INSERT INTO scores (workspace_id, id, trace_id, name, data_type, value, string_value, \
               source, agent, department, environment, version, scored_at) \
             SELECT $1, gen_random_uuid(), lpad(to_hex(g), 32, '0'), x.name, x.data_type, \
               x.value, x.label, 'api', 'bench-agent-' || (g % 12), 'dept-' || (g % 4), \
               CASE WHEN g % 3 = 0 THEN 'staging' ELSE 'production' END, \
               (g % 12) || '.' || (g / 7 % 2), \
               now() - make_interval(secs => (g * 7919) % (90 * 86400)) \
             FROM generate_series($2::bigint, $3::bigint) g, LATERAL (SELECT \
               (ARRAY['gen_helpfulness', 'gen_relevance', 'gen_resolved', 'gen_tone'])[1 + g % 4] AS name, \
               (ARRAY['numeric', 'numeric', 'boolean', 'categorical'])[1 + g % 4] AS data_type, \
               CASE g % 4 WHEN 2 THEN (g / 4 % 3 > 0)::int::float8 WHEN 3 THEN (g / 4 % 3) / 2.0 \
                 ELSE (g * 37 % 1000) / 1000.0 END AS value, \
               CASE g % 4 WHEN 2 THEN (g / 4 % 3 > 0)::text \
                 WHEN 3 THEN (ARRAY['rude', 'neutral', 'friendly'])[1 + g / 4 % 3] END AS label) x",
        )
        .bind(ws)
        .bind(from)
        .bind(to)
        .execute(pool)
        .await?;
        from = to + 1;
        eprintln!(
            "[bench] {from} of {n} scores generated ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    // In time order, as ingest writes them (an hour's rows are written in that hour).
    for (table, unit) in [
        ("score_rollup_hourly", "hour"),
        ("score_rollup_daily", "day"),
    ] {
        sqlx::query(&format!(
            "INSERT INTO {table} (workspace_id, bucket, name, label, agent, department, \
               environment, version, n, valued, sum, sum_sq, min, max, hist) \
             SELECT workspace_id, date_trunc('{unit}', scored_at, 'UTC'), name, \
               CASE WHEN data_type IN ('boolean', 'categorical') THEN string_value ELSE '' END, \
               agent, department, environment, version, count(*), count(value), \
               coalesce(sum(value), 0), coalesce(sum(value * value), 0), min(value), max(value), \
               CASE WHEN min(data_type) = 'numeric' THEN argus_score_hist(array_agg(value)) END \
             FROM scores WHERE workspace_id = $1 AND name LIKE 'gen\\_%' \
             GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 2"
        ))
        .bind(ws)
        .execute(pool)
        .await?;
    }
    sqlx::query("ANALYZE scores, score_rollup_hourly, score_rollup_daily")
        .execute(pool)
        .await?;
    Ok(true)
}

/// The score summary by version over generated scores, uncached, for each range: the report's
/// rows, and whether the scores were generated now.
async fn analytics(args: &Args, admin: &PgPool, ws: Uuid) -> anyhow::Result<(bool, Vec<String>)> {
    let generated = generate(admin, ws, args.scores).await?;
    let app = crate::dashboard::app_pool(&args.database_url, 4, 120).await?;
    let services = crate::dashboard::services(
        app,
        Cache::memory(
            &CacheConfig {
                redis_url: None,
                redis_pool_size: 1,
                redis_timeout: Duration::from_secs(1),
                memory_capacity_bytes: 1 << 20,
            },
            None,
        ),
    );
    let mut rows = Vec::new();
    for range in ["24h", "7d", "30d", "90d"] {
        let filters = Filters::from_query(&format!("range={range}"));
        let window = argus_domain::analytics::resolve(&filters, Utc::now())?;
        // One untimed run first: the pool's connections and PostgreSQL's plan caches warm.
        summary(&services, WorkspaceId(ws), &window, Group::Version).await?;
        let mut times = Vec::with_capacity(args.iterations);
        let mut names = 0;
        for _ in 0..args.iterations {
            let t = Instant::now();
            let s = summary(&services, WorkspaceId(ws), &window, Group::Version).await?;
            times.push(ms(t.elapsed()));
            names = s.scores.len();
        }
        times.sort_by(f64::total_cmp);
        // The rows read: whole days from the daily rollup, the partial days' hours.
        let (a, b) = whole_days(&window);
        let cells: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM score_rollup_hourly WHERE workspace_id = $1 \
               AND (bucket >= $2 AND bucket < $4 OR bucket >= $5 AND bucket < $3)) \
             + (SELECT count(*) FROM score_rollup_daily WHERE workspace_id = $1 \
               AND bucket >= $4 AND bucket < $5)",
        )
        .bind(ws)
        .bind(window.from)
        .bind(window.to)
        .bind(a)
        .bind(b)
        .fetch_one(admin)
        .await?;
        rows.push(format!(
            "| score summary by version, {range} ({names} scores, {cells} rollup rows read) | {:.1} / {:.1} ms | p95 ≤ 10 ms (90 d) |",
            percentile(&times, 50.0),
            percentile(&times, 95.0)
        ));
    }

    Ok((generated, rows))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(&args.database_url)
        .await
        .context("connecting to the database")?;
    let ws = args.workspace;
    if args.analytics_only {
        let (_, rows) = analytics(&args, &admin, ws).await?;
        println!("{}", rows.join("\n"));
        return Ok(());
    }
    // One rule evaluator on every span.
    sqlx::query(
        "INSERT INTO evaluators (workspace_id, id, name, target, filter, sampling, rule, score_name) \
         VALUES ($1, gen_random_uuid(), $2, 'span', '{}', 1, \
           '{\"type\": \"latency_below\", \"max_ms\": 5000}', $3) \
         ON CONFLICT (workspace_id, name) DO NOTHING",
    )
    .bind(ws)
    .bind(EVALUATOR)
    .bind(SCORE)
    .execute(&admin)
    .await?;

    // 1. Throughput: the ingest load, then until the queue is empty.
    let url = format!("{}/v1/traces", args.url.trim_end_matches('/'));
    let client: ingest::HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let load_args = ingest::LoadShape {
        clients: args.clients,
        traces_per_request: args.traces_per_request,
        api_key: args.api_key.clone(),
        lean: false,
        split_traces: false,
    };
    let scored_before = count_scores(&admin, ws).await?;
    let started = Instant::now();
    let phase = ingest::load_shaped(&client, &load_args, &url, args.requests, 7_000).await?;
    let ingest_rate = phase.spans as f64 / phase.elapsed.as_secs_f64();
    // Span-level rules run at ingest: their scores are stored when the load is acknowledged.
    let at_ack = count_scores(&admin, ws).await? - scored_before;
    let deadline = Instant::now() + Duration::from_secs(900);
    while pending(&admin, ws).await? > 0 {
        if Instant::now() > deadline {
            bail!("the evaluation queue did not drain in 15 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Everything evaluated by the time the load was answered: the load's time is the
    // evaluation's; else until the queue was seen empty.
    let drained = if at_ack as u64 == phase.spans {
        phase.elapsed
    } else {
        started.elapsed()
    };
    let evaluated = count_scores(&admin, ws).await? - scored_before;
    if evaluated as u64 != phase.spans {
        bail!("{} spans ingested but {evaluated} evaluated", phase.spans);
    }
    let eval_rate = evaluated as f64 / drained.as_secs_f64();

    // 2. Latency: one trace at a time, until its score is visible.
    let agent = traffic::agent(0);
    let mut rng = StdRng::seed_from_u64(99);
    let mut latencies = Vec::with_capacity(args.latency_samples);
    for _ in 0..args.latency_samples {
        let request = traffic::request(&mut rng, &agent, 1);
        let trace = request.resource_spans[0].scope_spans[0].spans[0]
            .trace_id
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let body = Bytes::from(request.encode_to_vec());
        ingest::send(&client, &url, &args.api_key, body).await?;
        let acked = Instant::now();
        loop {
            let seen: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM scores WHERE workspace_id = $1 AND trace_id = $2 AND name = $3",
            )
            .bind(ws)
            .bind(&trace)
            .bind(SCORE)
            .fetch_one(&admin)
            .await?;
            if seen > 0 {
                break;
            }
            if acked.elapsed() > Duration::from_secs(60) {
                bail!("no score for trace {trace} after 60 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        latencies.push(ms(acked.elapsed()));
    }
    latencies.sort_by(f64::total_cmp);

    // 3. Analytics on generated scores.
    let (generated, rows) = analytics(&args, &admin, ws).await?;

    let report = format!(
        "| figure | value | target |\n|---|---:|---:|\n\
         | spans ingested (the load) | {ingest_rate:.0} spans/s | |\n\
         | spans evaluated by a span-level rule evaluator (same run, until all were scored) | {eval_rate:.0} spans/s | ≥ spans ingested |\n\
         | a rule score visible after its span's export was answered, p50 / p95 | {p50:.0} / {p95:.0} ms | p95 ≤ 5,000 ms |\n\
         {analytics}\n\n\
         {clients} clients × {requests} requests × {traces} traces ({spans} spans) ingested in \
         {secs:.1} s; {at_ack} of them scored when the load was answered (span-level rules \
         run at ingest, in the spans' transaction), all {drain:.1} s after the load began; \
         {samples} single-trace \
         exports for the latency; {scores} generated scores over 90 days ({gen}), summaries \
         uncached, {iterations} runs each. Server, worker, PostgreSQL and the load generator \
         share the machine.",
        p50 = percentile(&latencies, 50.0),
        p95 = percentile(&latencies, 95.0),
        analytics = rows.join("\n"),
        clients = args.clients,
        requests = args.requests,
        traces = args.traces_per_request,
        spans = phase.spans,
        secs = phase.elapsed.as_secs_f64(),
        drain = drained.as_secs_f64(),
        at_ack = at_ack,
        samples = args.latency_samples,
        scores = args.scores,
        gen = if generated { "generated in this run" } else { "generated by an earlier run" },
        iterations = args.iterations,
    );
    println!("{report}");
    if let Some(path) = &args.markdown {
        write_section(path, "evals", &report)?;
        println!("\nwritten to {}", path.display());
    }
    Ok(())
}
