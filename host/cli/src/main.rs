//! The `tessera` command.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool prints its results"
)]

mod plugin_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tessera: a partition-aware data-asset orchestrator with WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `tessera=debug`.
    #[arg(long, global = true, env = "TESSERA_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect, call and watch plugins without any state.
    #[command(subcommand)]
    Plugin(plugin_cmd::PluginCommand),
}

/// Options shared by the commands that load plugins.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RuntimeArgs {
    /// Where compiled plugins are cached (default: the user's cache directory).
    #[arg(long, env = "TESSERA_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every time; use no artifact cache.
    #[arg(long)]
    no_cache: bool,
    /// Grant read-only access to a host directory: HOST=GUEST (repeatable).
    #[arg(long = "grant-dir", value_name = "HOST=GUEST")]
    grant_dirs: Vec<String>,
    /// Pass a host environment variable through (repeatable).
    #[arg(long = "grant-env", value_name = "NAME")]
    grant_env: Vec<String>,
    /// Wall-clock limit of one call, in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    timeout_ms: u64,
    /// Memory limit of one call, in MiB.
    #[arg(long, default_value_t = 256)]
    memory_mib: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Plugin(cmd) => plugin_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
