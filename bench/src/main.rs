//! `argus-bench`: load generators and benchmarks, run by `scripts/bench.sh`.
//!
//! `argus-bench ingest` sends OTLP/HTTP protobuf batches to a running Argus like a fleet of
//! agents (each client one agent process: 100 traces a request, 4–6 spans a trace), measures the
//! spans stored per second end to end (the last 200 means committed), samples the server's
//! resident memory, and then, in the same run, times a raw `COPY` of the very rows stored into
//! an empty copy of the spans table — the floor any ingest path pays.
#![forbid(unsafe_code)]

mod alerts;
mod dashboard;
mod endpoints;
mod evals;
mod explorer;
mod guardrails;
mod hitrate;
mod ingest;
mod probe;
mod replicas;
mod ssr;
mod traffic;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "argus-bench", about = "Argus benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The ingest benchmark: OTLP protobuf load against a running server, then raw COPY.
    Ingest(ingest::Args),
    /// The dashboard benchmark: home KPIs on a generated 10 M-trace workspace, uncached, raw,
    /// cached, and the server-rendered home page under load.
    Dashboard(dashboard::Args),
    /// Every dashboard endpoint over HTTP against a running server, uncached and cached, for
    /// every range, with and without filters (what the dashboard benchmark's endpoint table
    /// measures): for profiling.
    Endpoints(endpoints::Args),
    /// The trace explorer benchmark: list pages by cursor and by OFFSET at several depths,
    /// search and export, on the dashboard benchmark's workspace.
    Explorer(explorer::Args),
    /// The evaluations benchmark: rule evaluators against the ingest load, the time until a
    /// rule score is visible, and score analytics on generated scores.
    Evals(evals::Args),
    /// The guardrails benchmark, in process: recall and false positives on the labelled
    /// corpus, and a policy with every check on 8 KB texts.
    Guardrails(guardrails::Args),
    /// Alerts: 1,000 rules over the 10 M-trace workspace evaluated in a cycle (its time and
    /// database cost), and the detection delay from an offending span to the webhook.
    Alerts(alerts::Args),
    /// The attack probes of docs/SECURITY.md against a running production-mode server.
    Probe(probe::Args),
    /// Several replicas behind a round-robin proxy, one killed mid-ingest: every span stored
    /// once, traces and rollups counting each once (exits non-zero otherwise).
    Replicas(replicas::Args),
    /// Only the server-rendered home page under load (what the dashboard benchmark's SSR figure
    /// measures), against a running server: for profiling.
    Ssr(ssr::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Ingest(args) => ingest::run(args).await,
            Command::Evals(args) => evals::run(args).await,
            Command::Guardrails(args) => guardrails::run(args).await,
            Command::Alerts(args) => alerts::run(args).await,
            Command::Dashboard(args) => dashboard::run(args).await,
            Command::Ssr(args) => ssr::run_alone(args).await,
            Command::Endpoints(args) => endpoints::run_alone(args).await,
            Command::Explorer(args) => explorer::run(args).await,
            Command::Probe(args) => probe::run(args).await,
            Command::Replicas(args) => replicas::run(args).await,
        }
    })
}
