//! `tessera dev`: drives the engine's [`Daemon`] (hot reload, sensors, schedules, eager
//! policies, the queue) and prints what it does. Ctrl-C stops it gracefully: runs in flight
//! finish, queued runs stay queued; a second Ctrl-C exits at once.

use std::process::ExitCode;
use std::sync::Arc;

use tessera_engine::{Daemon, DaemonEvent, DaemonLock, EventSink, ScheduleSpec};
use tessera_runtime::RegistryEvent;

use crate::config::Config;
use crate::engine_cmd;

pub(crate) fn run(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    // One daemon per state: a second one would tick every sensor and schedule twice.
    let lock = DaemonLock::acquire(&config.storage)?;
    let engine = Arc::new(engine_cmd::open(config)?);
    let schedules: Vec<ScheduleSpec> = config.schedules.iter().map(|s| s.spec()).collect();
    let daemon = Daemon::new(Arc::clone(&engine), lock, schedules)?;
    {
        let engine = Arc::clone(&engine);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("tessera-signals".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = tokio::signal::ctrl_c().await;
                });
                engine.stop();
                // A second Ctrl-C does not wait for runs in flight: they are queued again by
                // the next executor, as after a crash.
                rt.block_on(async {
                    let _ = tokio::signal::ctrl_c().await;
                });
                eprintln!("stopping now; runs in flight will be queued again");
                std::process::exit(130);
            })?;
    }
    daemon.run(&(Arc::new(move |event: &DaemonEvent| report(json, event)) as Arc<EventSink>))?;
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
                ..
            } => format!(
                "plugin {plugin} serving {} ({detected_to_serving_ms:.0} ms)",
                short(version)
            ),
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
