//! The dashboard benchmark: a generated workspace of `--traces` traces over 90 days (10 M by
//! default), its hourly and daily rollups built from those very rows; then the home KPIs for
//! 24 h, 7 d, 30 d and 90 d — uncached (p50/p95), computed on the raw traces in the same run
//! (the ratio), cached in-process and through Redis (p95) — and, when a server is given, the
//! server-rendered home page at `--clients` concurrent clients with a warm cache.
//!
//! The data is generated in SQL (`generate_series`), not ingested: ingest has its own
//! benchmark, and 10 M traces through it would take the better part of an hour here. It is
//! kept between runs (the workspace is regenerated only when its trace count differs).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use argus_domain::analytics::{self, Resolved};
use argus_domain::cache::{Cache, CacheConfig};
use argus_domain::db::{self, DbConfig};
use argus_domain::tenancy::WorkspaceId;
use argus_domain::Services;
use argus_types::Filters;
use chrono::Utc;
use secrecy::SecretString;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

use crate::ingest::{percentile, write_section};

#[derive(clap::Args)]
pub struct Args {
    /// The database (as a superuser: the benchmark writes the generated rows).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// The workspace to fill (its traces and rollups are replaced).
    #[arg(long, env = "ARGUS_BENCH_WORKSPACE")]
    workspace: Uuid,
    /// Traces to generate over 90 days.
    #[arg(long, default_value_t = 10_000_000)]
    traces: i64,
    /// Measured calls per range (uncached and cached).
    #[arg(long, default_value_t = 30)]
    iterations: usize,
    /// Measured raw computations per range (they are slow).
    #[arg(long, default_value_t = 3)]
    raw_iterations: usize,
    /// A running server on the same database, for the SSR figure.
    #[arg(long)]
    url: Option<String>,
    /// The SSR figure's load (and the hit-rate run's log-in).
    #[command(flatten)]
    load: crate::ssr::Load,
    /// An ingest API key of the workspace (for the hit-rate run's ongoing ingest).
    #[arg(long, env = "ARGUS_BENCH_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Calls per endpoint and case in the over-HTTP run of every dashboard endpoint (uncached
    /// and cached); 0 skips it.
    #[arg(long, default_value_t = 10)]
    endpoint_iterations: usize,
    /// Users in the hit-rate run.
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Seconds between a user's refetches in the hit-rate run (the pages' default).
    #[arg(long, default_value_t = 30)]
    refresh: u64,
    /// Seconds of the hit-rate run.
    #[arg(long, default_value_t = 120)]
    hit_seconds: u64,
    /// Write the results into this Markdown file, between `<!-- dashboard:begin -->` and
    /// `<!-- dashboard:end -->`.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

const AGENTS: i64 = 40;
const CHUNK: i64 = 1_000_000;

/// Fills the workspace with `n` generated traces unless it already has exactly that many
/// (traces ingested by the hit-rate run come on top).
pub(crate) async fn generate(pool: &PgPool, ws: Uuid, n: i64) -> anyhow::Result<bool> {
    let have: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM traces WHERE workspace_id = $1 AND trace_id LIKE 'bench-%'",
    )
    .bind(ws)
    .fetch_one(pool)
    .await?;
    if have == n {
        return Ok(false);
    }
    for table in [
        "traces",
        "rollup_hourly",
        "rollup_daily",
        "rollup_agent_hourly",
        "rollup_agent_daily",
        "rollup_agent_weekly",
        "rollup_total_hourly",
        "rollup_total_daily",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE workspace_id = $1"))
            .bind(ws)
            .execute(pool)
            .await?;
    }
    let now = Utc::now();
    let started = Instant::now();
    let mut from = 1;
    while from <= n {
        let to = (from + CHUNK - 1).min(n);
        // Latencies log-normal around 300 ms, 5 % errors, 40 agents in 8 departments, three
        // environments, two versions, six models. Start times spread evenly over the 90 days
        // and stored in time order, as a workspace's traces arrive (its pages hold neighbouring
        // hours, not a random sample of the 90 days).
        sqlx::query(
            "INSERT INTO traces (workspace_id, trace_id, start_time, end_time, root_span_id, \
               name, latency_us, agent, department, environment, version, span_count, \
               error_count, input_tokens, output_tokens, cache_read_tokens, \
               cache_creation_tokens, reasoning_tokens, cost_usd, unpriced_spans, models) \
             SELECT $1, 'bench-' || g, t, t + lat * interval '1 microsecond', 'root-' || g, \
               'run', lat, 'agent-' || a, 'dept-' || (a % 8), \
               (ARRAY['production', 'staging', 'development'])[1 + (g % 3)::int], \
               (ARRAY['1.0.0', '2.0.0'])[1 + (g / 7 % 2)::int], 4, \
               (random() < 0.05)::int, it, ot, 0, 0, 0, (it * 2.5 + ot * 10) / 1e6, 0, \
               ARRAY['model-' || (a % 6)] \
             FROM (SELECT g, $2 - ($7 - g + random()) / $7 * interval '90 days' AS t, g % $4 AS a, \
                     greatest(1, exp(ln(300000) + (random() + random() + random() - 1.5) * 1.2))::bigint AS lat, \
                     (200 + random() * 1800)::bigint AS it, (50 + random() * 500)::bigint AS ot \
                   FROM generate_series($5::bigint, $6::bigint) g) x",
        )
        .bind(ws)
        .bind(now)
        .bind(0_i64)
        .bind(AGENTS)
        .bind(from)
        .bind(to)
        .bind(n as f64)
        .execute(pool)
        .await
        .with_context(|| format!("generating traces {from}..{to}"))?;
        eprintln!(
            "[bench] {to} of {n} traces generated ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
        from = to + 1;
    }
    for (table, unit) in [("rollup_hourly", "hour"), ("rollup_daily", "day")] {
        // The trace rows (model ''), with the same log-bucket histogram as the ingest path
        // (argus_domain::histogram), and the model rows with tokens and cost.
        sqlx::query(&format!(
            "INSERT INTO {table} (workspace_id, bucket, department, agent, environment, version, \
               model, traces, trace_errors, trace_latency_sum_us, trace_latency_min_us, \
               trace_latency_max_us, trace_latency_hist) \
             SELECT $1, s.bucket, s.department, s.agent, s.environment, s.version, '', s.n, \
               s.e, s.total, s.lo, s.hi, h.hist \
             FROM (SELECT date_trunc('{unit}', start_time) AS bucket, department, agent, \
                     environment, version, count(*) AS n, \
                     count(*) FILTER (WHERE error_count > 0) AS e, sum(latency_us) AS total, \
                     min(latency_us) AS lo, max(latency_us) AS hi \
                   FROM traces WHERE workspace_id = $1 GROUP BY 1, 2, 3, 4, 5) s \
             JOIN (SELECT bucket, department, agent, environment, version, \
                     argus_hist_to_bin(jsonb_object_agg(idx::text, c)) AS hist \
                   FROM (SELECT date_trunc('{unit}', start_time) AS bucket, department, agent, \
                           environment, version, \
                           ceil(ln(latency_us::float8) / ln(1.01::float8 / 0.99))::int + 1 AS idx, \
                           count(*) AS c \
                         FROM traces WHERE workspace_id = $1 GROUP BY 1, 2, 3, 4, 5, 6) i \
                   GROUP BY 1, 2, 3, 4, 5) h USING (bucket, department, agent, environment, version) \
             ORDER BY s.bucket"
        ))
        .bind(ws)
        .execute(pool)
        .await
        .with_context(|| format!("building {table} (traces)"))?;
        // Two model calls a trace, each 40 % of its latency: their histogram as ingest keeps
        // it for a model's row (a row's span histogram is what the slowest models read).
        sqlx::query(&format!(
            "INSERT INTO {table} (workspace_id, bucket, department, agent, environment, version, \
               model, spans, span_errors, input_tokens, output_tokens, cost_usd, \
               span_latency_sum_us, span_latency_hist) \
             SELECT $1, s.bucket, s.department, s.agent, s.environment, s.version, s.model, \
               s.n, s.e, s.it, s.ot, s.cost, s.total, h.hist \
             FROM (SELECT date_trunc('{unit}', start_time) AS bucket, department, agent, \
                     environment, version, models[1] AS model, count(*) * 2 AS n, \
                     sum(error_count) AS e, sum(input_tokens) AS it, sum(output_tokens) AS ot, \
                     sum(cost_usd) AS cost, sum(latency_us) * 4 / 5 AS total \
                   FROM traces WHERE workspace_id = $1 GROUP BY 1, 2, 3, 4, 5, 6) s \
             JOIN (SELECT bucket, department, agent, environment, version, model, \
                     argus_hist_to_bin(jsonb_object_agg(idx::text, c)) AS hist \
                   FROM (SELECT date_trunc('{unit}', start_time) AS bucket, department, agent, \
                           environment, version, models[1] AS model, \
                           ceil(ln(greatest(1, latency_us * 2 / 5)::float8) \
                             / ln(1.01::float8 / 0.99))::int + 1 AS idx, \
                           count(*) * 2 AS c \
                         FROM traces WHERE workspace_id = $1 GROUP BY 1, 2, 3, 4, 5, 6, 7) i \
                   GROUP BY 1, 2, 3, 4, 5, 6) h \
               USING (bucket, department, agent, environment, version, model) \
             ORDER BY s.bucket"
        ))
        .bind(ws)
        .execute(pool)
        .await
        .with_context(|| format!("building {table} (models)"))?;
        eprintln!(
            "[bench] {table} built ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    // The workspace totals and the agent and scope rollups, summed from those rows.
    argus_domain::ingest::rollup::rebuild_all_totals(pool)
        .await
        .map_err(|e| anyhow::anyhow!("building the workspace totals: {e}"))?;
    // Rebuilt by GROUP BY, their rows lie in hash order; ingest writes them hour by hour, so
    // a real table holds a bucket's rows together: put them in key order (bucket first).
    sqlx::query(
        "DO $$ DECLARE t text; k text; BEGIN \
           FOREACH t IN ARRAY ARRAY['rollup_agent_hourly', 'rollup_agent_daily', \
             'rollup_agent_weekly', \
             'rollup_scope_hourly', 'rollup_scope_daily', \
             'rollup_total_hourly', 'rollup_total_daily'] LOOP \
             SELECT conname INTO k FROM pg_constraint \
               WHERE conrelid = t::regclass AND contype = 'p'; \
             EXECUTE format('CLUSTER %I USING %I', t, k); \
           END LOOP; END $$",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "ANALYZE traces, rollup_hourly, rollup_daily, rollup_agent_hourly, rollup_agent_daily, \
         rollup_agent_weekly, \
         rollup_agent_hours, rollup_agent_env_hours, rollup_agent_days, rollup_scope_hourly, \
         rollup_scope_daily, \
         rollup_total_hourly, rollup_total_daily",
    )
    .execute(pool)
    .await?;
    Ok(true)
}

/// Requests, errors, average and p95 latency, tokens, cost, active agents.
type RawKpis = (
    i64,
    i64,
    Option<f64>,
    Option<i64>,
    Option<i64>,
    Option<f64>,
    i64,
);

/// The home KPIs computed on the raw traces, the way a dashboard without rollups would: the
/// current and the previous period, requests, errors, average and p95 latency, tokens, cost,
/// active agents.
async fn raw_kpis(pool: &PgPool, ws: Uuid, q: &Resolved) -> anyhow::Result<i64> {
    let mut requests = 0;
    for (from, to) in [(q.from, q.to), (q.previous_from, q.from)] {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE error_count > 0), avg(latency_us)::float8, \
               percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_us), \
               sum(input_tokens + output_tokens)::bigint, sum(cost_usd)::float8, \
               count(DISTINCT agent) \
             FROM traces WHERE workspace_id = $1 AND start_time >= $2 AND start_time < $3 \
               AND root_span_id IS NOT NULL",
        )
        .bind(ws)
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await
        .map(|r: RawKpis| (r.0,))?;
        if from == q.from {
            requests = n;
        }
    }
    Ok(requests)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn time_n<F, Fut>(n: usize, mut f: F) -> anyhow::Result<Vec<f64>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await?;
        out.push(ms(t.elapsed()));
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

/// A pool as the server's: connections run as the app role, under row-level security.
pub(crate) async fn app_pool(
    url: &str,
    max_connections: u32,
    statement_timeout_secs: u64,
) -> anyhow::Result<PgPool> {
    db::connect(&DbConfig {
        url: SecretString::from(url.to_owned()),
        min_connections: 1,
        max_connections,
        statement_timeout: Duration::from_secs(statement_timeout_secs),
        acquire_timeout: Duration::from_secs(10),
        app_role: Some(db::APP_ROLE.into()),
        pooled: false,
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
}

pub(crate) fn services(pool: PgPool, cache: Cache) -> Services {
    Services::new(
        pool,
        cache,
        Arc::new(argus_domain::system::SystemInfo {
            version: "bench",
            environment: "bench".into(),
            started_at: Utc::now(),
            database_url_masked: String::new(),
        }),
        Arc::new(argus_domain::token::TokenKeys::new(
            &SecretString::from("bench-secret-0123456789-abcdef-0123456789".to_owned()),
            &[],
            Duration::from_secs(3600),
        )),
    )
}

struct RangeFigures {
    range: &'static str,
    rows: i64,
    uncached: Vec<f64>,
    with_top: Vec<f64>,
    raw: Vec<f64>,
    memory: Vec<f64>,
    redis: Option<Vec<f64>>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(&args.database_url)
        .await
        .context("connecting to the database")?;
    let ws = args.workspace;
    let generated = generate(&admin, ws, args.traces).await?;
    let app = crate::dashboard::app_pool(&args.database_url, 8, 120).await?;
    let cfg = |redis: Option<&String>| CacheConfig {
        redis_url: redis.map(|u| SecretString::from(u.clone())),
        redis_pool_size: 8,
        redis_timeout: Duration::from_secs(2),
        memory_capacity_bytes: 16 << 20,
    };
    let memory = services(app.clone(), Cache::memory(&cfg(None), None));
    let redis = match &args.redis_url {
        Some(url) => {
            let cache = Cache::connect(&cfg(Some(url))).await;
            cache
                .backend_name()
                .starts_with("redis")
                .then(|| services(app.clone(), cache))
        }
        None => None,
    };

    let now = Utc::now();
    let mut figures = Vec::new();
    for range in ["24h", "7d", "30d", "90d"] {
        let filters = Filters::from_query(&format!("range={range}"));
        let q = analytics::resolve(&filters, now)?;
        let workspace = WorkspaceId(ws);
        // The rows the KPIs read: the window's and the previous period's buckets, the
        // previous period's whole days as daily rows (on hourly windows).
        let (days_from, days_to) = q.previous_whole_days();
        let rows: i64 = sqlx::query_scalar(&format!(
            "SELECT (SELECT count(*) FROM {} WHERE workspace_id = $1 AND bucket >= $2 \
                       AND bucket < $3 AND NOT (bucket >= $4 AND bucket < $5)) \
                  + (SELECT count(*) FROM rollup_total_daily WHERE workspace_id = $1 \
                       AND bucket >= $4 AND bucket < $5)",
            if q.daily {
                "rollup_total_daily"
            } else {
                "rollup_total_hourly"
            }
        ))
        .bind(ws)
        .bind(q.previous_from)
        .bind(q.to)
        .bind(days_from)
        .bind(days_to)
        .fetch_one(&admin)
        .await?;
        // Warm PostgreSQL's buffers for both sides, then measure.
        let served = analytics::kpis_uncached(&app, workspace, &q).await?;
        let raw_requests = raw_kpis(&admin, ws, &q).await?;
        let served_requests = served[0].value.unwrap_or(0.0) as i64;
        if served_requests != raw_requests {
            bail!("{range}: the rollups say {served_requests} requests, the raw traces {raw_requests}");
        }
        let uncached = time_n(args.iterations, || async {
            analytics::kpis_uncached(&app, workspace, &q).await?;
            Ok(())
        })
        .await?;
        let with_top = time_n(args.iterations, || async {
            <argus_types::HomeKpis as argus_domain::analytics::Report>::read(
                &app,
                workspace,
                &q,
                &(),
            )
            .await?;
            Ok(())
        })
        .await?;
        let raw = time_n(args.raw_iterations, || async {
            raw_kpis(&admin, ws, &q).await?;
            Ok(())
        })
        .await?;
        analytics::cached::<argus_types::HomeKpis>(&memory, workspace, &q, &()).await?;
        let memory_t = time_n(args.iterations * 10, || async {
            analytics::cached::<argus_types::HomeKpis>(&memory, workspace, &q, &()).await?;
            Ok(())
        })
        .await?;
        let redis_t = match &redis {
            Some(s) => {
                analytics::cached::<argus_types::HomeKpis>(s, workspace, &q, &()).await?;
                Some(
                    time_n(args.iterations * 10, || async {
                        analytics::cached::<argus_types::HomeKpis>(s, workspace, &q, &()).await?;
                        Ok(())
                    })
                    .await?,
                )
            }
            None => None,
        };
        eprintln!(
            "[bench] {range}: {rows} rollup rows; uncached p95 {:.2} ms; raw p50 {:.0} ms; cached p95 {:.3} ms",
            percentile(&uncached, 95.0),
            percentile(&raw, 50.0),
            percentile(&memory_t, 95.0)
        );
        figures.push(RangeFigures {
            range,
            rows,
            uncached,
            with_top,
            raw,
            memory: memory_t,
            redis: redis_t,
        });
    }

    let ssr = match &args.url {
        Some(url) => Some(
            crate::ssr::run(
                url,
                &args.load.email,
                &args.load.password,
                args.load.clients,
                args.load.seconds,
            )
            .await?,
        ),
        None => None,
    };
    let endpoints = match (&args.url, &args.redis_url) {
        (Some(url), Some(redis)) if args.endpoint_iterations > 0 => Some(
            crate::endpoints::run(
                url,
                redis,
                &args.load.email,
                &args.load.password,
                args.endpoint_iterations,
            )
            .await?,
        ),
        _ => None,
    };
    let hits = match (&args.url, &args.api_key) {
        (Some(url), Some(key)) => {
            eprintln!(
                "[bench] hit rate: {} users refetching every {} s for {} s while ingesting",
                args.users, args.refresh, args.hit_seconds
            );
            Some(
                crate::hitrate::run(
                    url,
                    &args.load.email,
                    &args.load.password,
                    key,
                    args.users,
                    Duration::from_secs(args.refresh),
                    Duration::from_secs(args.hit_seconds),
                )
                .await?,
            )
        }
        _ => None,
    };
    let mut report = markdown(&args, generated, &figures, ssr.as_ref(), hits.as_ref());
    if let Some(e) = &endpoints {
        report.push('\n');
        report.push_str(&crate::endpoints::markdown(e, args.endpoint_iterations));
    }
    println!("{report}");
    if let Some(path) = &args.markdown {
        write_section(path, "dashboard", &report)?;
    }
    Ok(())
}

fn markdown(
    args: &Args,
    generated: bool,
    figures: &[RangeFigures],
    ssr: Option<&crate::ssr::Figures>,
    hits: Option<&crate::hitrate::Figures>,
) -> String {
    let mut out = format!(
        "{} traces over 90 days ({}).\n\n\
         | range | rows read | KPIs uncached p50 / p95 | + top agents p95 | raw traces p50 | raw ÷ uncached (p50) | cached p95 in-process | cached p95 Redis |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
        args.traces,
        if generated { "generated in this run" } else { "generated by an earlier run" },
    );
    for f in figures {
        let p = |v: &[f64], q: f64| percentile(v, q);
        out.push_str(&format!(
            "| {} | {} | {:.2} / {:.2} ms | {:.1} ms | {:.0} ms | {:.0}× | {:.3} ms | {} |\n",
            f.range,
            f.rows,
            p(&f.uncached, 50.0),
            p(&f.uncached, 95.0),
            p(&f.with_top, 95.0),
            p(&f.raw, 50.0),
            p(&f.raw, 50.0) / p(&f.uncached, 50.0).max(1e-9),
            p(&f.memory, 95.0),
            f.redis
                .as_ref()
                .map_or("–".to_owned(), |r| format!("{:.3} ms", p(r, 95.0))),
        ));
    }
    out.push_str(&format!(
        "\nKPIs: the seven cards (values, previous period, sparklines) from the workspace totals; the top agents (a separate widget, read concurrently) sum the agent rollup (`rollup_agent_*`: no environment or version dimension) per agent, whole days from its daily table, or on 30 and 90 days the agents' days (`rollup_agent_days`: a month of an agent's days a row). Rows read: workspace-total rows, window and previous period (its whole days as daily rows).\n\nTargets: uncached p95 ≤ 10 ms for every range, ≥ 50× faster than raw for 30 d, cached p95 ≤ 1 ms in-process and ≤ 2 ms through Redis. {} uncached and {} raw computations per range; the previous period is part of both.\n",
        args.iterations, args.raw_iterations
    ));
    if let Some(s) = ssr {
        out.push_str(&format!(
            "\nSSR home page (`GET /`, signed in, warm cache): **{:.0} requests/s**, p50 / p95 {:.1} / {:.1} ms at {} concurrent clients over {} s ({} requests, {} failed). Target ≥ 1,000 requests/s.\n",
            s.per_second, s.p50_ms, s.p95_ms, args.load.clients, args.load.seconds, s.requests, s.failed
        ));
    }
    if let Some(h) = hits {
        out.push_str(&format!(
            "\nCache hit rate, {} users each refetching one view every {} s for {} s (45 % the default home page, 15 % home over 7 days, 10 % home for one department, 10 % usage, 10 % cost over 30 days, 10 % performance) while an agent ingests a batch every 0.5 s ({} batches): **{:.0} %** ({} hits, {} misses over {} requests; server `ARGUS_CACHE_INVALIDATION_MS` = {}). Target ≥ 70 %.\n",
            args.users, args.refresh, args.hit_seconds, h.batches, h.rate(), h.hits, h.misses, h.requests,
            std::env::var("ARGUS_CACHE_INVALIDATION_MS").unwrap_or_else(|_| "default".into()),
        ));
    }
    out
}
