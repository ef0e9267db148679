//! `tessera dev`: drives the engine's [`Daemon`] (hot reload, sensors, schedules, eager
//! policies, the queue), serves the API and web UI, and prints what happens. Ctrl-C stops it
//! gracefully: runs in flight finish, queued runs stay queued; a second Ctrl-C exits at once.
//! `tessera serve`: the API and UI alone, watching the plugins but running nothing.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use tessera_engine::{Daemon, DaemonEvent, DaemonLock, Engine, EventSink, ScheduleSpec};
use tessera_runtime::RegistryEvent;
use tessera_server::{AppState, Mode};

use crate::config::{Config, DEFAULT_LISTEN};
use crate::engine_cmd;

/// Where the API and UI listen.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// The address to serve the API and UI on (default `[server] listen`, else
    /// 127.0.0.1:3000). Any address other than loopback needs a token (TESSERA_TOKEN).
    #[arg(long, env = "TESSERA_LISTEN", value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

impl ServerArgs {
    fn addr(&self, config: &Config) -> anyhow::Result<SocketAddr> {
        Ok(match self.listen.or(config.listen) {
            Some(a) => a,
            None => DEFAULT_LISTEN.parse()?,
        })
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tessera-http")
        .enable_all()
        .build()
        .context("cannot start the server's runtime")
}

/// Binds the server's address (before anything else starts: a taken port fails at once).
fn bind(
    rt: &tokio::runtime::Runtime,
    config: &Config,
    args: &ServerArgs,
) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    let addr = args.addr(config)?;
    let listener = rt
        .block_on(tessera_server::bind(addr, config.token.as_deref()))
        .map_err(|e| {
            anyhow::anyhow!(
                "{}{}",
                tessera_engine::report(&e),
                if matches!(e, tessera_server::ServerError::Listen { .. }) {
                    " (choose another with --listen ADDR or `listen` under [server])"
                } else {
                    ""
                }
            )
        })?;
    let local = listener.local_addr().context("the server's address")?;
    Ok((listener, local))
}

/// Says where the UI is.
fn announce(json: bool, addr: SocketAddr) {
    let url = format!("http://{addr}/");
    if json {
        outln!("{}", serde_json::json!({ "event": "serving", "url": url }));
    } else {
        outln!("tessera: UI and API at {url}");
    }
}

/// Ctrl-C once: `first` runs (a graceful stop); twice: exit at once.
fn on_ctrl_c(rt: &tokio::runtime::Runtime, first: impl FnOnce() + Send + 'static) {
    rt.spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        first();
        // A second Ctrl-C does not wait for runs in flight: they are queued again by the
        // next executor, as after a crash.
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("stopping now; runs in flight will be queued again");
        std::process::exit(130);
    });
}

pub(crate) fn run(
    config: &Config,
    json: bool,
    server: Option<&ServerArgs>,
) -> anyhow::Result<ExitCode> {
    // One daemon per SQLite state (a second one would fight it for the file); on a shared
    // database any number, which split sensors and schedules between them by leases.
    let lock = match config.engine.database {
        None => Some(DaemonLock::acquire(&config.storage)?),
        Some(_) => None,
    };
    let rt = runtime()?;
    let listener = server.map(|a| bind(&rt, config, a)).transpose()?;
    let engine = Arc::new(engine_cmd::open(config)?);
    let schedules: Vec<ScheduleSpec> = config.schedules.iter().map(|s| s.spec()).collect();
    let daemon = Daemon::new(Arc::clone(&engine), lock, schedules.clone())?;
    {
        let engine = Arc::clone(&engine);
        on_ctrl_c(&rt, move || engine.stop());
    }
    let app = AppState::new(
        Arc::clone(&engine),
        Mode::Dev,
        config.token.clone(),
        schedules,
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = listener.map(|(listener, addr)| {
        announce(json, addr);
        rt.spawn(tessera_server::serve(
            listener,
            Arc::clone(&app),
            async move {
                let _ = stop_rx.await;
            },
        ))
    });
    let hub = app.hub.clone();
    let sink = Arc::new(move |event: &DaemonEvent| {
        report(json, event);
        hub.observe(event);
    }) as Arc<EventSink>;
    let result = daemon.run(&sink);
    // The daemon stopped: requests in flight finish, event streams end.
    let _ = stop_tx.send(());
    if let Some(task) = served {
        match rt.block_on(task) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("server: {}", tessera_engine::report(&e)),
            Err(e) => eprintln!("server: {e}"),
        }
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn serve(config: &Config, json: bool, args: &ServerArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let (listener, addr) = bind(&rt, config, args)?;
    let engine: Arc<Engine> = Arc::new(engine_cmd::open(config)?);
    let schedules: Vec<ScheduleSpec> = config.schedules.iter().map(|s| s.spec()).collect();
    let app = AppState::new(
        Arc::clone(&engine),
        Mode::Serve,
        config.token.clone(),
        schedules,
    );
    // Plugins are watched here too: the graph the UI shows follows the files.
    let _watch = engine.registry().watch()?;
    let mut registry = engine.registry().subscribe();
    let hub = app.hub.clone();
    rt.spawn(async move {
        while let Ok(detail) = registry.recv().await {
            let event = DaemonEvent::Registry { detail };
            report(json, &event);
            hub.observe(&event);
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    on_ctrl_c(&rt, move || {
        let _ = stop_tx.send(());
    });
    announce(json, addr);
    rt.block_on(tessera_server::serve(listener, app, async move {
        let _ = stop_rx.await;
    }))
    .map_err(|e| anyhow::anyhow!(tessera_engine::report(&e)))?;
    Ok(ExitCode::SUCCESS)
}

/// One line per event: JSON, or text for a person.
fn report(json: bool, event: &DaemonEvent) {
    if json {
        outln!("{}", serde_json::to_value(event).unwrap_or_default());
        return;
    }
    let short = tessera_engine::short_version;
    let text = match event {
        DaemonEvent::PluginExcluded { plugin, error } => {
            format!("plugin {plugin} left out of the asset graph: {error}")
        }
        DaemonEvent::PluginLoaded { plugin, version } => {
            format!("plugin {plugin} serving {}", short(version))
        }
        DaemonEvent::Started { plugins, storage } => format!(
            "tessera dev: plugins in {}, state in {} (Ctrl-C stops)",
            plugins.display(),
            storage.display()
        ),
        DaemonEvent::Registry { detail } => match detail {
            RegistryEvent::Loaded {
                plugin,
                version,
                detected_to_serving_ms,
                functions,
                ..
            } => match functions {
                Some(f) if f.reused > 0 => format!(
                    "plugin {plugin} serving {} ({detected_to_serving_ms:.0} ms; compiled {} of {} functions)",
                    short(version),
                    f.compiled,
                    f.compiled + f.reused
                ),
                _ => format!(
                    "plugin {plugin} serving {} ({detected_to_serving_ms:.0} ms)",
                    short(version)
                ),
            },
            RegistryEvent::Failed { plugin, error, .. } => {
                format!("plugin {plugin} reload failed (old version keeps serving): {error}")
            }
            RegistryEvent::Removed { plugin, .. } => format!("plugin {plugin} removed"),
        },
        DaemonEvent::RunStarted {
            run,
            assets,
            selection,
        } => format!("run {run} started: {} [{selection}]", assets.join(",")),
        DaemonEvent::RunFinished {
            run,
            ok: true,
            partitions,
            ..
        } => format!("run {run} succeeded ({partitions} partitions)"),
        DaemonEvent::RunFinished { run, error, .. } => {
            format!("run {run} failed: {}", error.as_deref().unwrap_or("?"))
        }
        DaemonEvent::SensorTick { tick } => format!(
            "sensor {}: {} runs queued, {} keys seen before",
            tick.sensor,
            tick.runs_queued.len(),
            tick.run_keys_skipped
        ),
        DaemonEvent::SensorError { sensor, error } => format!("sensor {sensor}: {error}"),
        DaemonEvent::ScheduleTick { schedule, runs } => {
            format!("schedule {schedule}: {} runs queued", runs.len())
        }
        DaemonEvent::ScheduleError { schedule, error } => format!("schedule {schedule}: {error}"),
        DaemonEvent::Stopping => {
            "stopping: waiting for runs in flight (Ctrl-C again to stop at once)".to_string()
        }
    };
    outln!("{text}");
}
