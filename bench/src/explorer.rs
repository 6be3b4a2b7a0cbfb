//! The trace explorer benchmark: on the dashboard benchmark's generated workspace (10 M traces
//! over 90 days), the traces list's page latency with the keyset cursor at several depths
//! against OFFSET at the same depths, free-text search, and the export's rows/s and memory.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use argus_domain::cache::{Cache, CacheConfig};
use argus_domain::explorer::{self, cursor, export};
use argus_domain::tenancy::WorkspaceId;
use argus_domain::Services;
use argus_types::{Filters, TraceFilters};
use chrono::Utc;
use clap::Parser;
use futures::StreamExt;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

use crate::ingest::{percentile, write_section};

#[derive(Parser, Debug)]
pub struct Args {
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The workspace (the dashboard benchmark's).
    #[arg(long)]
    workspace: Uuid,
    /// Traces the workspace holds (generated like the dashboard benchmark's when missing).
    #[arg(long, default_value_t = 10_000_000)]
    traces: i64,
    /// Timed calls per measurement.
    #[arg(long, default_value_t = 40)]
    iterations: usize,
    /// Timed OFFSET calls per depth (deep OFFSETs are slow).
    #[arg(long, default_value_t = 8)]
    offset_iterations: usize,
    /// Depths (rows skipped) at which the page is measured.
    #[arg(long, value_delimiter = ',', default_value = "0,10000,500000")]
    depths: Vec<i64>,
    /// Traces to export (the newest of the workspace).
    #[arg(long, default_value_t = 1_000_000)]
    export_rows: i64,
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// Words of the generated traces' text: trace g says "run {WORDS[g % 200]} order {g % 100000}".
const VOCABULARY: usize = 200;

fn services(pool: PgPool) -> Services {
    let cache = Cache::memory(
        &CacheConfig {
            redis_url: None,
            redis_pool_size: 1,
            redis_timeout: Duration::from_secs(1),
            memory_capacity_bytes: 1 << 20,
        },
        None,
    );
    crate::dashboard::services(pool, cache)
}

/// Days of generated traces (the newest) that get search text: rewriting every row of 10 M
/// (nine indexes, one of them GIN) takes ~35 s a day here, so the benchmark gives text to the
/// newest 10 days (~1.1 M traces) and searches the whole 90 days.
const SEARCHABLE_DAYS: i32 = 10;

/// Gives the generated traces their search text once (kept with the database).
async fn searchable(admin: &PgPool, ws: Uuid) -> anyhow::Result<()> {
    // Done when the oldest searchable day has its text (days are written newest first).
    let done: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM traces WHERE workspace_id = $1 AND trace_id LIKE 'bench-%' \
           AND start_time < now() - make_interval(days => $2 - 1) \
           AND start_time >= now() - make_interval(days => $2) AND search <> ''::tsvector)",
    )
    .bind(ws)
    .bind(SEARCHABLE_DAYS)
    .fetch_one(admin)
    .await?;
    if done {
        return Ok(());
    }
    let started = Instant::now();
    for day in 0..SEARCHABLE_DAYS {
        sqlx::query(
            "UPDATE traces SET search = to_tsvector('simple', 'run w' || (g % $2) || ' order ' || (g % 100000)) \
             FROM (SELECT trace_id, substr(trace_id, 7)::bigint AS g FROM traces \
                   WHERE workspace_id = $1 AND trace_id LIKE 'bench-%' \
                     AND start_time >= now() - make_interval(days => $3 + 1) \
                     AND start_time < now() - make_interval(days => $3)) s \
             WHERE traces.workspace_id = $1 AND traces.trace_id = s.trace_id",
        )
        .bind(ws)
        .bind(VOCABULARY as i64)
        .bind(day)
        .execute(admin)
        .await
        .with_context(|| format!("search text for day {day}"))?;
        if day % 2 == 0 {
            eprintln!(
                "[bench] search text: day {day} ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    sqlx::query("VACUUM ANALYZE traces").execute(admin).await?;
    Ok(())
}

async fn time<F, Fut, T>(n: usize, mut f: F) -> anyhow::Result<Vec<f64>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut out = Vec::with_capacity(n);
    f().await?; // warm
    for _ in 0..n {
        let t = Instant::now();
        f().await?;
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

/// The peak resident memory of this process since the last reset (MiB), and a reset.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse::<f64>()
        .ok()
        .map(|kib| kib / 1024.0)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(&args.database_url)
        .await
        .context("connecting to the database")?;
    let ws = args.workspace;
    crate::dashboard::generate(&admin, ws, args.traces).await?;
    searchable(&admin, ws).await?;
    let app = crate::dashboard::app_pool(&args.database_url, 4, 300).await?;
    let s = services(app.clone());
    let workspace = WorkspaceId(ws);
    let now = Utc::now();
    let all = Filters::from_query("range=90d");
    let keys = &s.cursors;

    // Pages at each depth: the cursor of the row just above, as a client would hold it.
    let mut rows = Vec::new();
    for sort in cursor::Sort::ALL {
        let col = match sort {
            cursor::Sort::Time => "(extract(epoch FROM start_time) * 1000000)::bigint",
            cursor::Sort::Latency => "latency_us",
            cursor::Sort::Cost => "cost_nanos",
        };
        let order = match sort {
            cursor::Sort::Time => "start_time",
            cursor::Sort::Latency => "latency_us",
            cursor::Sort::Cost => "cost_nanos",
        };
        for &depth in &args.depths {
            let position = if depth == 0 {
                None
            } else {
                let q = explorer::parse(&all, &TraceFilters::default(), keys, now)?;
                let (key, trace_id): (i64, String) = sqlx::query_as(&format!(
                    "SELECT {col}, trace_id FROM traces WHERE workspace_id = $1 \
                       AND start_time >= $2 AND start_time < $3 \
                     ORDER BY {order} DESC, trace_id DESC OFFSET $4 LIMIT 1"
                ))
                .bind(ws)
                .bind(q.window.from)
                .bind(q.window.to)
                .bind(depth - 1)
                .fetch_one(&admin)
                .await
                .with_context(|| format!("the row at depth {depth}"))?;
                Some(keys.encode(&cursor::Position {
                    sort,
                    direction: cursor::Direction::After,
                    key: key.to_string(),
                    id: trace_id,
                }))
            };
            let extra = TraceFilters {
                sort: Some(sort.as_str().into()),
                cursor: position,
                ..TraceFilters::default()
            };
            let q = explorer::parse(&all, &extra, keys, now)?;
            let page = explorer::list(&s, workspace, &q).await?;
            anyhow::ensure!(page.data.len() == 50, "a full page at depth {depth}");
            let cursor_ms = time(args.iterations, || async {
                explorer::list(&s, workspace, &q).await?;
                Ok(())
            })
            .await?;
            // The same page by OFFSET (time order only: the comparison the issue asks for).
            let offset_ms = if sort == cursor::Sort::Time {
                let q = q.clone();
                Some(
                    time(args.offset_iterations, || {
                        let app = app.clone();
                        let q = q.clone();
                        async move {
                            let mut tx = argus_domain::tenancy::begin(&app, workspace).await?;
                            let n: Vec<(String,)> = sqlx::query_as(
                                "SELECT trace_id FROM traces t WHERE t.workspace_id = $1 \
                                   AND t.start_time >= $2 AND t.start_time < $3 \
                                 ORDER BY t.start_time DESC, t.trace_id DESC LIMIT 51 OFFSET $4",
                            )
                            .bind(ws)
                            .bind(q.window.from)
                            .bind(q.window.to)
                            .bind(depth)
                            .fetch_all(&mut *tx)
                            .await?;
                            tx.commit().await?;
                            anyhow::ensure!(n.len() == 51);
                            Ok(())
                        }
                    })
                    .await?,
                )
            } else {
                None
            };
            eprintln!(
                "[bench] list {} depth {depth}: cursor p95 {:.2} ms{}",
                sort.as_str(),
                percentile(&cursor_ms, 95.0),
                offset_ms.as_ref().map_or(String::new(), |o| format!(
                    ", OFFSET p95 {:.1} ms",
                    percentile(o, 95.0)
                ))
            );
            rows.push((sort, depth, cursor_ms, offset_ms));
        }
    }

    // Search (newest 10 days have text): a word in 1 of every 200 of them, and one in 1 of
    // every 100,000.
    let mut searches = Vec::new();
    for (label, text) in [
        ("common word (0.5 % of the searchable traces)", "w17"),
        ("rare word (0.001 %)", "run 31337"),
    ] {
        let extra = TraceFilters {
            q: Some(text.into()),
            ..TraceFilters::default()
        };
        let q = explorer::parse(&all, &extra, keys, now)?;
        let found = explorer::list(&s, workspace, &q).await?.data.len();
        let ms = time(args.iterations, || async {
            explorer::list(&s, workspace, &q).await?;
            Ok(())
        })
        .await?;
        eprintln!(
            "[bench] search {label}: p95 {:.1} ms ({found} on the page)",
            percentile(&ms, 95.0)
        );
        searches.push((label, found, ms));
    }

    // Export: the newest traces, streamed as CSV.
    let exported_from: chrono::DateTime<Utc> = sqlx::query_scalar(
        "SELECT start_time FROM traces WHERE workspace_id = $1 ORDER BY start_time DESC, trace_id DESC \
         OFFSET $2 LIMIT 1",
    )
    .bind(ws)
    .bind((args.export_rows - 1).max(0))
    .fetch_one(&admin)
    .await?;
    let custom = argus_types::Custom::new(exported_from, Some(now + chrono::Duration::hours(2)))
        .map_err(|n| anyhow::anyhow!("{n}"))?;
    let window = Filters::default().with_custom(custom);
    let q = explorer::parse(&window, &TraceFilters::default(), keys, now)?;
    let expected = explorer::count(&s, workspace, &q).await?;
    let baseline = peak_rss_mib().unwrap_or(0.0);
    reset_peak_rss();
    let started = Instant::now();
    let mut bytes = 0u64;
    let mut lines = 0u64;
    let mut stream = Box::pin(export::stream(s.clone(), workspace, q, export::Format::Csv));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    let peak = peak_rss_mib().unwrap_or(0.0);
    let exported = lines.saturating_sub(1);
    anyhow::ensure!(
        exported as i64 == expected,
        "exported {exported} of {expected}"
    );
    eprintln!("[bench] export: {exported} rows in {secs:.1} s, peak RSS {peak:.0} MiB (before {baseline:.0})");

    let mut report = format!(
        "{} traces over 90 days (the dashboard benchmark's workspace); the list over the last 90 days, 50 a page, read through `explorer::list` (row-level security on, as the server runs it).\n\n\
         | sort | depth | cursor p50 / p95 | OFFSET p50 / p95 |\n|---|---:|---:|---:|\n",
        args.traces
    );
    for (sort, depth, c, o) in &rows {
        report.push_str(&format!(
            "| {} | {} | {:.2} / {:.2} ms | {} |\n",
            sort.as_str(),
            depth,
            percentile(c, 50.0),
            percentile(c, 95.0),
            o.as_ref().map_or("–".to_owned(), |o| format!(
                "{:.1} / {:.1} ms",
                percentile(o, 50.0),
                percentile(o, 95.0)
            )),
        ));
    }
    report.push_str("\n| search (newest first) | on the page | p50 / p95 |\n|---|---:|---:|\n");
    for (label, found, ms) in &searches {
        report.push_str(&format!(
            "| {label} | {found} | {:.1} / {:.1} ms |\n",
            percentile(ms, 50.0),
            percentile(ms, 95.0)
        ));
    }
    report.push_str(&format!(
        "\nExport (CSV, streamed in batches of {}): **{:.0} rows/s** — {} rows, {:.1} MB in {:.1} s; peak resident memory of the benchmark process {:.0} MiB while exporting (it held {:.0} MiB before).\n\n\
         Targets: list p95 ≤ 20 ms at every depth. {} cursor calls per row, {} OFFSET calls.\n",
        export::BATCH,
        exported as f64 / secs.max(1e-9),
        exported,
        bytes as f64 / 1e6,
        secs,
        peak,
        baseline,
        args.iterations,
        args.offset_iterations,
    ));
    println!("{report}");
    if let Some(path) = &args.markdown {
        write_section(path, "explorer", &report)?;
    }
    Ok(())
}
