//! The ingest benchmark (see the crate documentation and `BENCHMARKS.md`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
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

use crate::traffic;

#[derive(clap::Args)]
pub struct Args {
    /// The running server.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// An API key with the ingest scope.
    #[arg(long, env = "ARGUS_BENCH_API_KEY", hide_env_values = true)]
    api_key: String,
    /// The server's database (as a superuser: the benchmark counts rows and runs the COPY).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The server's process id, to sample its resident memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Concurrent clients (agent processes).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Requests each client sends in the measured phase.
    #[arg(long, default_value_t = 60)]
    requests: usize,
    /// Traces per request.
    #[arg(long, default_value_t = 100)]
    traces_per_request: usize,
    /// Write the results into this Markdown file, between `<!-- ingest:begin -->` and
    /// `<!-- ingest:end -->`.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Only the lean shape, its figures printed and not recorded (for profiling).
    #[arg(long, conflicts_with = "markdown")]
    lean_only: bool,
    /// Each trace's root sent in the client's next request, after its children (as an
    /// OpenTelemetry batch exporter sends a trace that spans an export): every trace is then
    /// written by two requests.
    #[arg(long, conflicts_with = "markdown")]
    split_traces: bool,
}

pub(crate) type HttpClient =
    Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// Sends one request, waiting out 429/503 (`Retry-After`) as an exporter would. Returns the
/// number of times it was pushed back.
pub(crate) async fn send(
    client: &HttpClient,
    url: &str,
    key: &str,
    body: Bytes,
) -> anyhow::Result<u32> {
    let mut pushed_back = 0;
    loop {
        let request = http::Request::post(url)
            .header("content-type", "application/x-protobuf")
            .header("authorization", format!("Bearer {key}"))
            .body(Full::new(body.clone()))?;
        let response = client
            .request(request)
            .await
            .context("sending to the server")?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let bytes = response.into_body().collect().await?.to_bytes();
        match status.as_u16() {
            200 => {
                use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
                let answer = ExportTraceServiceResponse::decode(bytes)?;
                if let Some(partial) = answer.partial_success {
                    if partial.rejected_spans > 0 {
                        bail!("the server rejected spans: {}", partial.error_message);
                    }
                }
                return Ok(pushed_back);
            }
            429 | 503 => {
                pushed_back += 1;
                tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1))).await;
            }
            code => bail!("HTTP {code}: {}", String::from_utf8_lossy(&bytes)),
        }
    }
}

/// Resident and peak resident memory of a process, in MiB (Linux `/proc`).
pub(crate) fn memory_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<f64>()
            .ok()
            .map(|kib| kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(crate) struct Phase {
    pub(crate) spans: u64,
    pub(crate) elapsed: Duration,
    bytes: u64,
    latencies_ms: Vec<f64>,
    pushed_back: u64,
}

/// Who sends what: the clients, the traces a request, the key.
pub(crate) struct LoadShape {
    pub(crate) clients: usize,
    pub(crate) traces_per_request: usize,
    pub(crate) api_key: String,
    /// Lean spans (no messages), from agents of their own (`bench-agent-100` …).
    pub(crate) lean: bool,
    /// Roots one request late (see `Args::split_traces`).
    pub(crate) split_traces: bool,
}

impl Args {
    fn shape(&self) -> LoadShape {
        LoadShape {
            clients: self.clients,
            traces_per_request: self.traces_per_request,
            api_key: self.api_key.clone(),
            lean: false,
            split_traces: self.split_traces,
        }
    }
}

/// Times the `COPY` reference runs (its median is reported).
const COPY_RUNS: usize = 3;

/// Where the lean shape's agents are numbered from.
const LEAN_AGENTS: usize = 100;

/// The bodies each client sends, encoded before the clock starts (the benchmark measures the
/// server, not the generator), with their span counts.
fn bodies(args: &LoadShape, requests: usize, seed: u64) -> Vec<Vec<(Bytes, u64)>> {
    (0..args.clients)
        .map(|n| {
            let mut agent = traffic::agent(n + if args.lean { LEAN_AGENTS } else { 0 });
            agent.lean = args.lean;
            let mut rng = StdRng::seed_from_u64(seed + n as u64);
            let mut batches: Vec<_> = (0..requests)
                .map(|_| traffic::request(&mut rng, &agent, args.traces_per_request))
                .collect();
            if args.split_traces {
                traffic::roots_one_request_late(&mut batches);
            }
            batches
                .into_iter()
                .map(|request| {
                    let spans: usize = request
                        .resource_spans
                        .iter()
                        .flat_map(|r| &r.scope_spans)
                        .map(|s| s.spans.len())
                        .sum();
                    (Bytes::from(request.encode_to_vec()), spans as u64)
                })
                .collect()
        })
        .collect()
}

/// Every client sends its requests one after the other; all clients at once.
pub(crate) async fn load_shaped(
    client: &HttpClient,
    args: &LoadShape,
    url: &str,
    requests: usize,
    seed: u64,
) -> anyhow::Result<Phase> {
    let work = bodies(args, requests, seed);
    let spans = work.iter().flatten().map(|(_, n)| n).sum();
    let bytes = work.iter().flatten().map(|(b, _)| b.len() as u64).sum();
    let started = Instant::now();
    let tasks = work.into_iter().map(|bodies| {
        let client = client.clone();
        let url = url.to_owned();
        let key = args.api_key.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(bodies.len());
            let mut pushed_back = 0u64;
            for (body, _) in bodies {
                let sent = Instant::now();
                pushed_back += u64::from(send(&client, &url, &key, body).await?);
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok((latencies, pushed_back))
        })
    });
    let mut latencies_ms = Vec::new();
    let mut pushed_back = 0;
    for result in futures::future::join_all(tasks).await {
        let (l, p) = result??;
        latencies_ms.extend(l);
        pushed_back += p;
    }
    latencies_ms.sort_by(f64::total_cmp);
    Ok(Phase {
        spans,
        elapsed: started.elapsed(),
        bytes,
        latencies_ms,
        pushed_back,
    })
}

/// One shape's figures: the load, its spans stored, the server's memory, and the raw COPY
/// of the same rows.
struct Measured {
    phase: Phase,
    peak_rss: f64,
    copied: u64,
    copy_elapsed: Duration,
    /// The same COPY into the stored `spans` table (see [`copy_into_spans`]).
    table_copy_elapsed: Duration,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.phase.spans as f64 / self.phase.elapsed.as_secs_f64()
    }

    fn copy_rate(&self) -> f64 {
        self.copied as f64 / self.copy_elapsed.as_secs_f64()
    }

    fn table_copy_rate(&self) -> f64 {
        self.copied as f64 / self.table_copy_elapsed.as_secs_f64()
    }
}

/// The output of a `COPY … TO STDOUT`.
async fn copy_out(conn: &mut sqlx::PgConnection, sql: &str) -> anyhow::Result<Vec<u8>> {
    use futures::TryStreamExt;
    let mut data = Vec::new();
    let mut out = conn.copy_out_raw(sql).await?;
    while let Some(chunk) = out.try_next().await? {
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

/// Runs a `COPY … FROM STDIN` of `data`: the rows written and how long it took.
async fn copy_in(
    conn: &mut sqlx::PgConnection,
    sql: &str,
    data: &[u8],
) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let mut copy = conn.copy_in_raw(sql).await?;
    // In pieces: one `send` of the whole ~100 MB once hung here (the server waiting for data,
    // the client for nothing).
    for piece in data.chunks(1 << 20) {
        copy.send(piece).await?;
    }
    let copied = copy.finish().await?;
    Ok((copied, started.elapsed()))
}

/// Times a binary `COPY` of the same rows, under new trace ids, into `spans` itself — the
/// table the server writes: partitioned by day, its indexes already holding this run's rows.
/// (The rows are left there: the database is thrown away after the run.)
async fn copy_into_spans(
    conn: &mut sqlx::PgConnection,
    agents: &str,
    expected: u64,
) -> anyhow::Result<Duration> {
    sqlx::query(&format!(
        "CREATE TEMP TABLE bench_rows AS SELECT * FROM spans WHERE agent IN ({agents})"
    ))
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE bench_rows SET trace_id = md5(trace_id)")
        .execute(&mut *conn)
        .await?;
    let data = copy_out(conn, "COPY bench_rows TO STDOUT WITH (FORMAT binary)").await?;
    let (copied, elapsed) =
        copy_in(conn, "COPY spans FROM STDIN WITH (FORMAT binary)", &data).await?;
    sqlx::query("DROP TABLE bench_rows")
        .execute(&mut *conn)
        .await?;
    if copied != expected {
        bail!("COPY into spans wrote {copied} rows, expected {expected}");
    }
    Ok(elapsed)
}

/// Sends `shape`'s load (after a warm-up), checks every span was stored, and times a binary
/// `COPY` of the rows its agents stored into an empty copy of the spans table.
async fn measure(
    client: &HttpClient,
    pool: &sqlx::PgPool,
    args: &Args,
    shape: &LoadShape,
    url: &str,
    seed: u64,
) -> anyhow::Result<Measured> {
    let first = if shape.lean { LEAN_AGENTS } else { 0 };
    let agents = (first..first + shape.clients)
        .map(|n| format!("'{}'", traffic::agent(n).name))
        .collect::<Vec<_>>()
        .join(", ");
    let count = || async {
        sqlx::query_scalar::<_, i64>(&format!(
            "SELECT count(*) FROM spans WHERE agent IN ({agents})"
        ))
        .fetch_one(pool)
        .await
    };
    // Warm-up: connections, partitions, caches, the agents' registry rows.
    load_shaped(client, shape, url, 2, seed)
        .await
        .context("warm-up")?;
    let before = count().await?;
    // Peak resident memory of the server while the load runs.
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = args.server_pid.map(|pid| {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                if let Some((rss, _)) = memory_mib(pid) {
                    peak.fetch_max((rss * 1024.0) as u64, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    });
    let phase = load_shaped(client, shape, url, args.requests, seed + 1_000).await?;
    if let Some(s) = sampler {
        s.abort();
    }
    let stored = count().await?;
    if (stored - before) as u64 != phase.spans {
        bail!(
            "sent {} spans but {} were stored",
            phase.spans,
            stored - before
        );
    }

    // The same rows, COPYed raw into an empty copy of the table (with its indexes): three
    // times, the median kept (one COPY's time moves by a quarter between runs here).
    let mut conn = pool.acquire().await?;
    let data = copy_out(
        &mut conn,
        &format!(
            "COPY (SELECT * FROM spans WHERE agent IN ({agents})) TO STDOUT WITH (FORMAT binary)"
        ),
    )
    .await?;
    let mut times = Vec::new();
    let mut copied = 0;
    for _ in 0..COPY_RUNS {
        sqlx::query("DROP TABLE IF EXISTS bench_copy")
            .execute(&mut *conn)
            .await?;
        sqlx::query("CREATE TABLE bench_copy (LIKE spans INCLUDING ALL)")
            .execute(&mut *conn)
            .await?;
        let (n, elapsed) = copy_in(
            &mut conn,
            "COPY bench_copy FROM STDIN WITH (FORMAT binary)",
            &data,
        )
        .await?;
        copied = n;
        times.push(elapsed);
    }
    sqlx::query("DROP TABLE bench_copy")
        .execute(&mut *conn)
        .await?;
    times.sort();
    let copy_elapsed = times[times.len() / 2];
    if copied != stored as u64 {
        bail!("COPY wrote {copied} rows, expected {stored}");
    }
    let table_copy_elapsed = copy_into_spans(&mut conn, &agents, stored as u64).await?;
    // The next shape must not pay for this one's writes (a checkpoint falling in its load).
    sqlx::query("CHECKPOINT").execute(&mut *conn).await?;
    Ok(Measured {
        phase,
        peak_rss: peak.load(Ordering::Relaxed) as f64 / 1024.0,
        copied,
        copy_elapsed,
        table_copy_elapsed,
    })
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let url = format!("{}/v1/traces", args.url.trim_end_matches('/'));
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&args.database_url)
        .await
        .context("connecting to the database")?;
    let lean_shape = LoadShape {
        lean: true,
        ..args.shape()
    };
    if args.lean_only {
        let lean = measure(&client, &pool, &args, &lean_shape, &url, 2).await?;
        println!(
            "lean: {:.0} spans/s end to end, COPY {:.0} rows/s: {:.2}× (COPY into spans {:.0} \
             rows/s: {:.2}×)",
            lean.rate(),
            lean.copy_rate(),
            lean.rate() / lean.copy_rate(),
            lean.table_copy_rate(),
            lean.rate() / lean.table_copy_rate()
        );
        return Ok(());
    }
    let rich = measure(&client, &pool, &args, &args.shape(), &url, 1).await?;
    let lean = measure(&client, &pool, &args, &lean_shape, &url, 2).await?;
    let hwm = args
        .server_pid
        .and_then(memory_mib)
        .map(|(_, hwm)| hwm)
        .unwrap_or(0.0);

    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let row = |label: &str, f: &dyn Fn(&Measured) -> String| {
        format!("| {label} | {} | {} |\n", f(&rich), f(&lean))
    };
    let p = |m: &Measured, q: f64| percentile(&m.phase.latencies_ms, q);
    let mut report = String::from(
        "| figure | rich spans (with messages) | lean spans (no messages) |\n|---|---:|---:|\n",
    );
    report += &row("spans stored end to end", &|m| {
        format!("{:.0} spans/s", m.rate())
    });
    report += &row("per core", &|m| {
        format!("{:.0} spans/s", m.rate() / cpus.max(1) as f64)
    });
    report += &row("raw `COPY` of the same rows", &|m| {
        format!("{:.0} rows/s", m.copy_rate())
    });
    report += &row("**end to end ÷ raw `COPY`**", &|m| {
        format!("**{:.2}×**", m.rate() / m.copy_rate())
    });
    report += "| target (issue 19) | ≥ 0.8× | ≥ 0.5× |\n";
    report += &row(
        "`COPY` into the `spans` table itself (partitioned, holding the run)",
        &|m| format!("{:.0} rows/s", m.table_copy_rate()),
    );
    report += &row("end to end ÷ that `COPY`", &|m| {
        format!("{:.2}×", m.rate() / m.table_copy_rate())
    });
    report += &row("request latency p50 / p95 / p99", &|m| {
        format!(
            "{:.0} / {:.0} / {:.0} ms",
            p(m, 50.0),
            p(m, 95.0),
            p(m, 99.0)
        )
    });
    report += &row("protobuf a request (average)", &|m| {
        format!(
            "{:.2} MB",
            m.phase.bytes as f64 / 1e6 / (args.clients * args.requests).max(1) as f64
        )
    });
    report += &row("server memory, peak RSS under load (≤ 300 MB)", &|m| {
        format!("{:.0} MiB", m.peak_rss)
    });
    report += &row("pushed back (429/503)", &|m| {
        m.phase.pushed_back.to_string()
    });
    report += &format!(
        "\nEach shape: {clients} clients × {requests} requests × {traces} traces ({} rich and {} \
         lean spans) in {:.1} s and {:.1} s; COPY (binary, median of three) of {} and {} rows in {:.2} s and \
         {:.2} s into an empty copy of `spans` (its indexes, no partitions), {:.2} s and {:.2} s \
         into `spans`. Server high-water mark {hwm:.0} MiB. {cpus} CPUs; server, PostgreSQL and the \
         load generator on the same machine.",
        rich.phase.spans,
        lean.phase.spans,
        rich.phase.elapsed.as_secs_f64(),
        lean.phase.elapsed.as_secs_f64(),
        rich.copied,
        lean.copied,
        rich.copy_elapsed.as_secs_f64(),
        lean.copy_elapsed.as_secs_f64(),
        rich.table_copy_elapsed.as_secs_f64(),
        lean.table_copy_elapsed.as_secs_f64(),
        clients = args.clients,
        requests = args.requests,
        traces = args.traces_per_request,
    );
    println!("{report}");
    if let Some(path) = &args.markdown {
        write_section(path, "ingest", &report)?;
        println!("\nwritten to {}", path.display());
    }
    Ok(())
}

/// Replaces the text between `<!-- {name}:begin -->` and `<!-- {name}:end -->` in `path`.
pub fn write_section(path: &std::path::Path, name: &str, body: &str) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) else {
        bail!("{} has no {begin} … {end} section", path.display());
    };
    let dated = format!(
        "{begin}\nLast run: {} UTC.\n\n{body}\n{end}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M")
    );
    let updated = format!("{}{dated}{}", &text[..b], &text[e + end.len()..]);
    std::fs::write(path, updated).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
