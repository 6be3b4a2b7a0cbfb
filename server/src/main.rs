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
    /// Manage users (bootstrap a fresh install without the UI).
    #[command(subcommand)]
    User(UserCommand),
    /// Load 30 days of demo traffic into a demo workspace (user demo@argus.local) through the
    /// ingest path. Idempotent.
    Demo {
        /// Only when the database has no users yet (what scripts/run.sh does on first start).
        #[arg(long)]
        if_empty: bool,
    },
    /// Rebuild a workspace's hourly and daily rollups for whole UTC days from the raw spans.
    Reconcile {
        #[arg(long)]
        workspace: uuid::Uuid,
        /// First day (UTC, YYYY-MM-DD).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Day after the last (exclusive); default: tomorrow.
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
    },
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace owned by an existing user and print its id.
    Create {
        #[arg(long)]
        name: String,
        /// Email of the owner (created with `argus user create` or signed up in the browser).
        #[arg(long)]
        owner: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user and a first workspace they own. Reads the password from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Name of the user's first workspace.
        #[arg(long)]
        workspace: String,
    },
    /// Set a user's password and end every session of theirs. Reads the password from
    /// standard input.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Create an API key and print it (the only time it is shown).
    Create {
        /// Workspace id (printed by `argus user create`).
        #[arg(long)]
        workspace: uuid::Uuid,
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: ingest, read, admin, score, guardrail.
        #[arg(long, value_delimiter = ',', default_value = "ingest")]
        scopes: Vec<String>,
    },
}

/// mimalloc: server-side rendering allocates and frees many small strings and nodes from every
/// worker thread at once, where glibc's allocator contends (measured: the SSR benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
            Command::User(UserCommand::Create {
                email,
                name,
                workspace,
            }) => {
                let mut password = String::new();
                std::io::stdin().read_line(&mut password)?;
                let password = password.trim_end_matches(['\n', '\r']);
                server::bootstrap::create_user(&cli.config, &email, &name, &workspace, password)
                    .await
            }
            Command::User(UserCommand::ResetPassword { email }) => {
                let mut password = String::new();
                std::io::stdin().read_line(&mut password)?;
                let password = password.trim_end_matches(['\n', '\r']);
                server::bootstrap::reset_password(&cli.config, &email, password).await
            }
            Command::Demo { if_empty } => server::bootstrap::demo(&cli.config, if_empty).await,
            Command::Reconcile {
                workspace,
                from,
                to,
            } => server::bootstrap::reconcile(&cli.config, workspace, from, to).await,
            Command::Workspace(WorkspaceCommand::Create { name, owner }) => {
                server::bootstrap::create_workspace(&cli.config, &name, &owner).await
            }
            Command::Apikey(ApikeyCommand::Create {
                workspace,
                name,
                scopes,
            }) => server::bootstrap::create_api_key(&cli.config, workspace, &name, &scopes).await,
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
