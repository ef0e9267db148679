//! `tessera dev`: the daemon. Loads and watches the plugin directory (hot reload), evaluates
//! sensors at their minimum interval and schedules at their ticks, and executes the queue —
//! including runs that other `tessera` processes queue into the same database. Ctrl-C stops
//! it gracefully: runs in flight finish, queued runs stay queued.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use tessera_engine::{Progress, ScheduleSpec};
use tessera_runtime::RegistryEvent;

use crate::config::Config;
use crate::engine_cmd;

fn emit(json: bool, value: &serde_json::Value, text: &str) {
    if json {
        outln!("{value}");
    } else {
        outln!("{text}");
    }
}

pub(crate) fn run(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    // One daemon per state: a second one would tick every sensor and schedule twice.
    let _daemon = tessera_engine::DaemonLock::acquire(&config.storage)?;
    let engine = Arc::new(engine_cmd::open(config)?);
    for (plugin, error) in engine.excluded_plugins() {
        emit(
            json,
            &serde_json::json!({"event": "plugin_excluded", "plugin": plugin, "error": error}),
            &format!("plugin {plugin} left out of the asset graph: {error}"),
        );
    }
    let schedules: Vec<ScheduleSpec> = config.schedules.iter().map(|s| s.spec()).collect();
    let graph = engine.graph()?;
    for s in &schedules {
        s.check_target(&graph)?;
    }
    for p in engine.registry().plugins() {
        emit(
            json,
            &serde_json::json!({"event": "plugin_loaded", "plugin": p.name(), "version": p.code_version()}),
            &format!(
                "plugin {} serving {}",
                p.name(),
                &p.code_version()[..12.min(p.code_version().len())]
            ),
        );
    }
    let _watch = engine.registry().watch()?;
    let mut events = engine.registry().subscribe();

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
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
                stop.store(true, Ordering::SeqCst);
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
    emit(
        json,
        &serde_json::json!({"event": "started", "plugins": config.plugins, "storage": config.storage}),
        &format!(
            "tessera dev: plugins in {}, state in {} (Ctrl-C stops)",
            config.plugins.display(),
            config.storage.display()
        ),
    );

    // Executes the queue on its own thread so sensors keep ticking during long runs.
    let executor = {
        let engine = Arc::clone(&engine);
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("tessera-executor".into())
            .spawn(move || {
                let progress = move |p: &Progress| match p {
                    Progress::RunStarted { run, assets, selection } => emit(
                        json,
                        &serde_json::json!({"event": "run_started", "run": run, "assets": assets, "selection": selection}),
                        &format!("run {run} started: {} [{selection}]", assets.join(","))),
                    Progress::RunFinished { run, ok, partitions, error } => emit(
                        json,
                        &serde_json::json!({"event": "run_finished", "run": run, "ok": ok, "partitions": partitions, "error": error}),
                        &if *ok {
                            format!("run {run} succeeded ({partitions} partitions)")
                        } else {
                            format!("run {run} failed: {}", error.as_deref().unwrap_or("?"))
                        }),
                };
                while !stop.load(Ordering::SeqCst) {
                    if let Err(e) = engine.run_queue(None, &progress) {
                        tracing::error!(error = %e, "executor");
                    }
                    // The queue is empty: look again shortly (other processes may queue).
                    std::thread::sleep(Duration::from_millis(250));
                }
            })?
    };

    let mut last_sensor_tick: std::collections::BTreeMap<String, std::time::Instant> =
        std::collections::BTreeMap::new();
    while !stop.load(Ordering::SeqCst) {
        while let Ok(event) = events.try_recv() {
            report_registry_event(json, &event);
        }
        let now = Utc::now();
        if let Ok(graph) = engine.graph() {
            for (name, sensor) in graph.sensors() {
                let due = last_sensor_tick
                    .get(name)
                    .is_none_or(|t| t.elapsed() >= sensor.spec.minimum_interval);
                if !due {
                    continue;
                }
                last_sensor_tick.insert(name.clone(), std::time::Instant::now());
                match engine.tick_sensor(name, now) {
                    Ok(o) if !o.runs_queued.is_empty() || !o.dynamic_partitions.is_empty() => emit(
                        json,
                        &serde_json::json!({"event": "sensor_tick", "tick": o}),
                        &format!(
                            "sensor {name}: {} runs queued, {} keys seen before",
                            o.runs_queued.len(),
                            o.run_keys_skipped
                        ),
                    ),
                    Ok(_) => {}
                    // Stopping cancels the evaluation in flight: not an error of the sensor.
                    Err(_) if stop.load(Ordering::SeqCst) => break,
                    Err(e) => emit(
                        json,
                        &serde_json::json!({"event": "sensor_error", "sensor": name, "error": e.to_string()}),
                        &format!("sensor {name}: {e}"),
                    ),
                }
            }
        }
        for s in &schedules {
            match engine.tick_schedule(s, now) {
                Ok(runs) if !runs.is_empty() => emit(
                    json,
                    &serde_json::json!({"event": "schedule_tick", "schedule": s.name, "runs": runs}),
                    &format!("schedule {}: {} runs queued", s.name, runs.len()),
                ),
                Ok(_) => {}
                Err(e) => emit(
                    json,
                    &serde_json::json!({"event": "schedule_error", "schedule": s.name, "error": e.to_string()}),
                    &format!("schedule {}: {e}", s.name),
                ),
            }
        }
        if let Err(e) = engine.queue_eager(now) {
            tracing::warn!(error = %e, "eager policies");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    emit(
        json,
        &serde_json::json!({"event": "stopping"}),
        "stopping: waiting for runs in flight (Ctrl-C again to stop at once)",
    );
    let _ = executor.join();
    Ok(ExitCode::SUCCESS)
}

fn report_registry_event(json: bool, event: &RegistryEvent) {
    let value = serde_json::to_value(event).unwrap_or_default();
    let text = match event {
        RegistryEvent::Loaded {
            plugin,
            version,
            detected_to_serving_ms,
            ..
        } => format!(
            "plugin {plugin} serving {} ({detected_to_serving_ms:.0} ms)",
            &version[..12.min(version.len())]
        ),
        RegistryEvent::Failed { plugin, error, .. } => {
            format!("plugin {plugin} reload failed (old version keeps serving): {error}")
        }
        RegistryEvent::Removed { plugin, .. } => format!("plugin {plugin} removed"),
    };
    emit(
        json,
        &serde_json::json!({"event": "registry", "detail": value}),
        &text,
    );
}
