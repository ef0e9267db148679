//! The `tessera` command.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool prints its results"
)]

/// `println!` that stops quietly when stdout is closed (`tessera runs | head`) instead of
/// panicking on the broken pipe.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

mod config;
mod dev;
mod engine_cmd;
mod inspect_cmd;
mod plugin_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tessera: a partition-aware data-asset orchestrator with WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `tessera=debug`.
    #[arg(
        long,
        global = true,
        env = "TESSERA_LOG",
        default_value = "warn,tessera::plugin=error"
    )]
    log: String,
    /// The configuration file (default: `tessera.toml` in the working directory, if any).
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
    /// The current time for partition arithmetic (RFC 3339), instead of the clock.
    #[arg(long, global = true, value_name = "RFC3339")]
    now: Option<chrono::DateTime<chrono::Utc>>,
    /// With `--now`: the clock starts there and runs this many times as fast (a simulation;
    /// `60` makes a minutely schedule tick every second).
    #[arg(long, global = true, value_name = "RATE", requires = "now")]
    clock_rate: Option<f64>,
    /// With `--clock-rate`: the real time at which the clock read `--now` (default: when the
    /// command started), so that several hosts share one simulated clock.
    #[arg(long, global = true, value_name = "RFC3339", requires = "clock_rate")]
    clock_since: Option<chrono::DateTime<chrono::Utc>>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect, call and watch plugins without any state.
    #[command(subcommand)]
    Plugin(plugin_cmd::PluginCommand),
    /// The daemon: load and watch plugins, evaluate sensors and schedules, run the queue;
    /// and serve the API and web UI (http://127.0.0.1:3000/ unless told otherwise).
    Dev {
        /// Print events as JSON lines.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: dev::ServerArgs,
        /// Do not serve the API and UI.
        #[arg(long)]
        no_server: bool,
    },
    /// The API and web UI over the state, without running sensors, schedules or the queue
    /// (a second window on the state of a `tessera dev`, which executes what is queued here).
    Serve {
        /// Print events as JSON lines.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: dev::ServerArgs,
    },
    /// The assets of every loaded plugin, their partitions and inputs.
    Assets {
        #[arg(long)]
        json: bool,
    },
    /// An asset's partitions: counts and a health bar; `--status` lists every recorded one;
    /// `--keys` pages through the definition's keys (computed, never all at once); `--ranges`
    /// gives every partition's state as ranges of consecutive partitions.
    Partitions {
        asset: String,
        #[arg(long, conflicts_with_all = ["keys", "ranges"])]
        status: bool,
        #[arg(long, conflicts_with = "ranges")]
        keys: bool,
        #[arg(long)]
        ranges: bool,
        /// With --keys: the page's first key.
        #[arg(long, requires = "keys")]
        from: Option<String>,
        /// With --keys: the page's size.
        #[arg(long, requires = "keys", default_value_t = 100)]
        limit: u64,
        #[arg(long)]
        json: bool,
    },
    /// One partition in full: state, run, code and data version, metadata, timings,
    /// staleness reasons, a preview of the stored value, its materialization history.
    Show {
        asset: String,
        /// The partition key (none for an unpartitioned asset).
        key: Option<String>,
        /// Materializations of the history to list, newest first.
        #[arg(long, default_value_t = 10)]
        history: u32,
        #[arg(long)]
        json: bool,
    },
    /// Plugins and versions, load errors, asset health, the queue, recent failures.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Materialize assets now (one run per partition).
    Materialize {
        #[arg(required = true)]
        assets: Vec<String>,
        /// A partition key (repeatable).
        #[arg(long)]
        partition: Vec<String>,
        /// An inclusive key range START...END.
        #[arg(long, conflicts_with = "partition")]
        range: Option<String>,
        /// Every partition that exists now.
        #[arg(long, conflicts_with_all = ["partition", "range"])]
        all: bool,
        /// One run (and one call) per contiguous range instead of one per partition (refused
        /// for an asset whose backfill policy is single_partition).
        #[arg(long)]
        single_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Backfill assets over a partition selection, in dependency order:
    /// `tessera backfill ASSET... [--from A --to B] [--missing|--failed|--stale]`, or
    /// `tessera backfill list | status ID | cancel ID | resume ID`.
    Backfill {
        #[arg(
            required = true,
            value_name = "ASSET... | list | status ID | cancel ID | resume ID"
        )]
        args: Vec<String>,
        #[arg(long, requires = "to")]
        from: Option<String>,
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// Only partitions never materialized.
        #[arg(long, group = "filter")]
        missing: bool,
        /// Only partitions whose latest attempt failed.
        #[arg(long, group = "filter")]
        failed: bool,
        /// Only stale partitions (upstream data versions changed, or the code version).
        #[arg(long, group = "filter")]
        stale: bool,
        /// Runs of at most N contiguous partitions, one call each (default: the asset's
        /// backfill policy, else one partition per run).
        #[arg(long, value_name = "N", conflicts_with = "single_run")]
        max_per_run: Option<u64>,
        /// One run (and one call) per contiguous range.
        #[arg(long)]
        single_run: bool,
        /// Queue the runs and return (a running `tessera dev` executes them).
        #[arg(long)]
        no_wait: bool,
        #[arg(long)]
        json: bool,
    },
    /// Dynamic partitions: `add NAME KEY...`, `remove NAME KEY...`, `list NAME`.
    Dynamic {
        #[arg(value_parser = ["add", "remove", "list"])]
        action: String,
        name: String,
        keys: Vec<String>,
        /// Read keys from a file, one per line.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Refuse to add to a set no loaded definition uses (default: a warning).
        #[arg(long)]
        strict: bool,
        #[arg(long)]
        json: bool,
    },
    /// Sensors: `list`, `tick NAME` to evaluate one now, `disable NAME` (the daemon skips
    /// it) and `enable NAME`.
    Sensor {
        #[arg(value_parser = ["list", "tick", "enable", "disable"])]
        action: String,
        name: Option<String>,
        /// After the tick, execute the runs it queued.
        #[arg(long)]
        run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Recent runs, newest first, filtered.
    Runs {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Runs of this asset.
        #[arg(long)]
        asset: Option<String>,
        /// Runs that cover this partition key.
        #[arg(long)]
        partition: Option<String>,
        /// queued, running, success, failed, canceled or waiting_for_upstream.
        #[arg(long)]
        status: Option<tessera_engine::RunStatus>,
        /// Runs of this backfill.
        #[arg(long)]
        backfill: Option<String>,
        /// Created since an RFC 3339 time, or a span before now (30m, 6h, 7d).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Schedules: `list`, or `tick NAME` to take the ticks due now.
    Schedule {
        #[arg(value_parser = ["list", "tick"])]
        action: String,
        name: Option<String>,
        /// After the tick, execute the runs it queued.
        #[arg(long)]
        run: bool,
        #[arg(long)]
        json: bool,
    },
    /// One run's events and logs.
    Logs {
        run: String,
        #[arg(long)]
        json: bool,
    },
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

fn run_engine_command(
    config: &config::Config,
    command: Command,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ExitCode> {
    use tessera_engine::{Filter, RunPolicy};
    match command {
        Command::Plugin(_) => unreachable_command(),
        Command::Dev {
            json,
            server,
            no_server,
        } => dev::run(config, json, (!no_server).then_some(&server)),
        Command::Serve { json, server } => dev::serve(config, json, &server),
        Command::Assets { json } => engine_cmd::assets(config, json, now),
        Command::Partitions {
            asset,
            keys: true,
            from,
            limit,
            json,
            ..
        } => inspect_cmd::keys(config, &asset, from.as_deref(), limit, json, now),
        Command::Partitions {
            asset,
            ranges: true,
            json,
            ..
        } => inspect_cmd::ranges(config, &asset, json, now),
        Command::Partitions {
            asset,
            status,
            json,
            ..
        } => engine_cmd::partitions(config, &asset, status, json, now),
        Command::Show {
            asset,
            key,
            history,
            json,
        } => inspect_cmd::show(config, &asset, key.as_deref(), history, json, now),
        Command::Status { json } => engine_cmd::status(config, json, now),
        Command::Materialize {
            assets,
            partition,
            range,
            all,
            single_run,
            json,
        } => {
            let selection = engine_cmd::selection(&partition, range.as_deref(), None, None)?;
            let policy = if single_run {
                RunPolicy::SingleRun
            } else {
                RunPolicy::PerPartition
            };
            let explicit = all || range.is_some() || !partition.is_empty();
            engine_cmd::materialize_now(config, &assets, &selection, explicit, policy, json, now)
        }
        Command::Backfill {
            args,
            from,
            to,
            missing,
            failed,
            stale,
            max_per_run,
            single_run,
            no_wait,
            json,
        } => {
            let id = || {
                args.get(1)
                    .map(String::as_str)
                    .ok_or_else(|| anyhow::anyhow!("give the backfill id"))
            };
            match args.first().map(String::as_str) {
                Some("list") => engine_cmd::backfill_list(config, json),
                Some("status") => engine_cmd::backfill_status(config, id()?, json),
                Some("cancel") => engine_cmd::backfill_cancel(config, id()?, json),
                Some("resume") => engine_cmd::backfill_resume(config, id()?, json),
                _ => {
                    let filter = if missing {
                        Filter::Missing
                    } else if failed {
                        Filter::Failed
                    } else if stale {
                        Filter::Stale
                    } else {
                        Filter::Any
                    };
                    let policy = match (single_run, max_per_run) {
                        (true, _) => RunPolicy::SingleRun,
                        (false, Some(n)) if n > 1 => RunPolicy::MaxPerRun(n),
                        _ => RunPolicy::PerPartition,
                    };
                    let selection =
                        engine_cmd::selection(&[], None, from.as_deref(), to.as_deref())?;
                    engine_cmd::materialize(
                        config, &args, &selection, filter, policy, true, !no_wait, json, now,
                    )
                }
            }
        }
        Command::Dynamic {
            action,
            name,
            keys,
            file,
            strict,
            json,
        } => engine_cmd::dynamic(config, &action, &name, &keys, file.as_deref(), strict, json),
        Command::Sensor {
            action,
            name,
            run,
            json,
        } => match (action.as_str(), name) {
            ("list", _) => engine_cmd::sensor_list(config, json),
            (on @ ("enable" | "disable"), Some(name)) => {
                engine_cmd::sensor_enable(config, &name, on == "enable", json)
            }
            (_, Some(name)) => engine_cmd::sensor_tick(config, &name, run, json, now),
            (action, None) => {
                anyhow::bail!("give the sensor's name: `tessera sensor {action} NAME`")
            }
        },
        Command::Runs {
            limit,
            asset,
            partition,
            status,
            backfill,
            since,
            json,
        } => inspect_cmd::runs(
            config,
            limit,
            asset,
            partition,
            status,
            backfill,
            since.as_deref(),
            json,
            now,
        ),
        Command::Schedule {
            action,
            name,
            run,
            json,
        } => match (action.as_str(), name) {
            ("list", _) => inspect_cmd::schedule_list(config, json, now),
            (_, Some(name)) => inspect_cmd::schedule_tick(config, &name, run, json, now),
            (_, None) => anyhow::bail!("give the schedule's name: `tessera schedule tick NAME`"),
        },
        Command::Logs { run, json } => engine_cmd::logs(config, &run, json),
    }
}

fn unreachable_command() -> anyhow::Result<ExitCode> {
    anyhow::bail!("internal: plugin commands are dispatched before the config loads")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: not in a log file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let now = cli.now.unwrap_or_else(chrono::Utc::now);
    let result = match cli.command {
        Command::Plugin(cmd) => plugin_cmd::run(cmd),
        other => config::Config::load(cli.config.as_deref()).and_then(|mut config| {
            if let Some(t) = cli.now {
                config.engine.clock = match cli.clock_rate {
                    Some(rate) if rate.is_finite() && rate > 0.0 => tessera_engine::Clock::Scaled {
                        at: t,
                        since: cli.clock_since.unwrap_or_else(chrono::Utc::now),
                        rate,
                    },
                    Some(rate) => anyhow::bail!("--clock-rate {rate}: a positive number, please"),
                    None => tessera_engine::Clock::Fixed(t),
                };
            }
            run_engine_command(&config, other, now)
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
