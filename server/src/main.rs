//! `argus`: the Argus server.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::config::Config;
use server::StartupError;

/// The command line: every setting is read from the environment (or a `.env` file in the
/// working directory), and flags override it.
#[derive(Parser)]
#[command(
    name = "argus",
    version,
    about = "Argus: self-hosted observability for AI agents",
    after_help = "Every option can be set by the environment variable shown, or in a .env file \
                  in the working directory. Flags override both."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if needed, migrate it and serve (the default).
    Serve,
    /// Create the database if needed and apply the migrations, then exit.
    Migrate,
}

fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is worth saying.
    if let Err(e) = dotenvy::dotenv() {
        if !e.not_found() {
            eprintln!("warning: ignoring .env: {e}");
        }
    }
    // cargo-leptos bakes the bundle name in at build time; a plain `cargo build` does not.
    if option_env!("LEPTOS_OUTPUT_NAME").is_none()
        && std::env::var_os("LEPTOS_OUTPUT_NAME").is_none()
    {
        // Still single-threaded here, so changing the environment is sound.
        std::env::set_var("LEPTOS_OUTPUT_NAME", "argus");
    }
    let cli = Cli::parse();
    server::telemetry::init(cli.config.log_format, &cli.config.log_filter);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => server::serve(&cli.config).await,
            Command::Migrate => server::migrate(&cli.config).await.map_err(Into::into),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<StartupError>() {
                Some(startup) => eprintln!("error: {startup}"),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
