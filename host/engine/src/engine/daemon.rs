//! The daemon: one per state directory, ticking sensors and schedules and executing the queue.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_runtime::RegistryEvent;

use super::{Engine, Progress, ScheduleSpec, SensorOutcome};
use crate::error::{EngineError, report};

/// Held by the one daemon of a state directory (`tessera dev`) for its lifetime: a second one
/// would tick every sensor and schedule twice. The operating system releases it when the
/// process ends, however it ends.
#[derive(Debug)]
pub struct DaemonLock {
    _file: std::fs::File,
    storage: PathBuf,
}

impl DaemonLock {
    /// Takes the lock of `storage`, or says who holds it.
    pub fn acquire(storage: &Path) -> Result<DaemonLock, EngineError> {
        use std::io::{Read, Seek, Write};
        std::fs::create_dir_all(storage).map_err(|e| EngineError::Io {
            path: storage.to_path_buf(),
            message: e.to_string(),
        })?;
        let path = storage.join("daemon.lock");
        let io = |e: std::io::Error| EngineError::Io {
            path: path.clone(),
            message: e.to_string(),
        };
        let mut file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(EngineError::DaemonRunning {
                    storage: storage.to_path_buf(),
                    holder: if holder.is_empty() {
                        "process unknown".to_string()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| {
                writeln!(
                    file,
                    "pid {}, started {}",
                    std::process::id(),
                    Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
                )
            })
            .map_err(io)?;
        Ok(DaemonLock {
            _file: file,
            storage: storage.to_path_buf(),
        })
    }
}

/// What the daemon did, for whoever drives it (the CLI prints these; the HTTP server streams
/// them). Serialized as `{"event": "<name>", ...}`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DaemonEvent {
    /// A plugin serves but does not fit the asset graph.
    PluginExcluded {
        plugin: String,
        error: String,
    },
    /// A plugin serving when the daemon starts.
    PluginLoaded {
        plugin: String,
        version: String,
    },
    /// The daemon watches `plugins` and executes the queue of `storage`.
    Started {
        plugins: PathBuf,
        storage: PathBuf,
    },
    /// A load, a failed reload or a removal in the plugin directory.
    Registry {
        detail: RegistryEvent,
    },
    RunStarted {
        run: String,
        assets: Vec<String>,
        selection: String,
    },
    RunFinished {
        run: String,
        ok: bool,
        partitions: u64,
        error: Option<String>,
    },
    /// A sensor evaluation that queued runs or changed dynamic partitions.
    SensorTick {
        tick: SensorOutcome,
    },
    SensorError {
        sensor: String,
        error: String,
    },
    ScheduleTick {
        schedule: String,
        runs: Vec<String>,
    },
    ScheduleError {
        schedule: String,
        error: String,
    },
    /// Stop was asked: runs in flight finish, queued runs stay queued.
    Stopping,
}

impl From<&Progress> for DaemonEvent {
    fn from(p: &Progress) -> DaemonEvent {
        match p.clone() {
            Progress::RunStarted {
                run,
                assets,
                selection,
            } => DaemonEvent::RunStarted {
                run,
                assets,
                selection,
            },
            Progress::RunFinished {
                run,
                ok,
                partitions,
                error,
            } => DaemonEvent::RunFinished {
                run,
                ok,
                partitions,
                error,
            },
        }
    }
}

/// Receives the daemon's events; called from its threads.
pub type EventSink = dyn Fn(&DaemonEvent) + Send + Sync;

/// The long-running service over one engine: watches the plugin directory (hot reload),
/// evaluates each sensor at its minimum interval on a thread of its own (a slow sensor delays
/// no other), ticks schedules, queues eager work and executes the queue — including runs
/// other processes queue into the same state. All of it reads the time from the engine's
/// clock, so a fixed clock drives the whole daemon. [`Engine::stop`] ends it: runs in flight
/// finish, queued runs stay queued.
pub struct Daemon {
    engine: Arc<Engine>,
    schedules: Vec<ScheduleSpec>,
    lock: DaemonLock,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("storage", &self.lock.storage)
            .field("schedules", &self.schedules.len())
            .finish_non_exhaustive()
    }
}

/// How often the daemon looks at sensors, schedules and eager policies.
const TICK: Duration = Duration::from_millis(200);
/// How long the executor rests when the queue is empty (other processes may queue).
const IDLE: Duration = Duration::from_millis(250);
/// How long a stopping daemon waits for sensor ticks being recorded.
const SENSOR_GRACE: Duration = Duration::from_secs(1);

impl Daemon {
    /// The daemon of the engine's state, whose lock the caller took first (before loading
    /// plugins, so that a second daemon fails at once); checks that every schedule targets
    /// a partitioned asset of the graph.
    pub fn new(
        engine: Arc<Engine>,
        lock: DaemonLock,
        schedules: Vec<ScheduleSpec>,
    ) -> Result<Daemon, EngineError> {
        let graph = engine.graph()?;
        for s in &schedules {
            s.check_target(&graph)?;
        }
        Ok(Daemon {
            engine,
            schedules,
            lock,
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Asks [`Daemon::run`] to return: the same as [`Engine::stop`].
    pub fn stop(&self) {
        self.engine.stop();
    }

    /// Runs until [`Daemon::stop`] (or [`Engine::stop`]); reports what happens to `events`.
    pub fn run(&self, events: &Arc<EventSink>) -> Result<(), EngineError> {
        let engine = &self.engine;
        for (plugin, error) in engine.excluded_plugins() {
            events(&DaemonEvent::PluginExcluded { plugin, error });
        }
        for p in engine.registry().plugins() {
            events(&DaemonEvent::PluginLoaded {
                plugin: p.name().to_string(),
                version: p.code_version().to_string(),
            });
        }
        let _watch = engine.registry().watch()?;
        let mut registry_events = engine.registry().subscribe();
        events(&DaemonEvent::Started {
            plugins: engine.registry().dir().to_path_buf(),
            storage: self.lock.storage.clone(),
        });
        std::thread::scope(|s| {
            let executor = std::thread::Builder::new()
                .name("tessera-executor".into())
                .spawn_scoped(s, || self.execute(&**events))
                .map_err(|e| EngineError::Invalid(format!("cannot start the executor: {e}")))?;
            let mut sensors = SensorThreads::default();
            while !engine.is_stopping() {
                while let Ok(detail) = registry_events.try_recv() {
                    events(&DaemonEvent::Registry { detail });
                }
                let now = engine.config.clock.now();
                sensors.tick_due(engine, events, now);
                self.tick_schedules(&**events, now);
                if let Err(e) = engine.queue_eager(now) {
                    tracing::warn!(error = %e, "eager policies");
                }
                engine.sleep_unless_stopped(TICK);
            }
            events(&DaemonEvent::Stopping);
            let _ = executor.join();
            // Stopping canceled the evaluations in flight; one recording its tick gets a
            // moment to commit. Past it the process may end: the transaction rolls back and
            // the next start evaluates that sensor again, as after a crash.
            sensors.wait_idle(SENSOR_GRACE);
            Ok(())
        })
    }

    fn execute(&self, events: &EventSink) {
        let progress = |p: &Progress| events(&DaemonEvent::from(p));
        while !self.engine.is_stopping() {
            if let Err(e) = self.engine.run_queue(None, &progress) {
                tracing::error!(error = %e, "executor");
            }
            self.engine.sleep_unless_stopped(IDLE);
        }
    }

    fn tick_schedules(&self, events: &EventSink, now: DateTime<Utc>) {
        for s in &self.schedules {
            match self.engine.tick_schedule(s, now) {
                Ok(runs) if !runs.is_empty() => events(&DaemonEvent::ScheduleTick {
                    schedule: s.name.clone(),
                    runs,
                }),
                Ok(_) => {}
                Err(e) => events(&DaemonEvent::ScheduleError {
                    schedule: s.name.clone(),
                    error: report(&e),
                }),
            }
        }
    }
}

/// Sensors evaluating now (each on its thread) and when each last started.
#[derive(Default)]
struct SensorThreads {
    last_started: BTreeMap<String, Instant>,
    /// Names of the sensors evaluating, and a signal when one ends.
    in_flight: Arc<(Mutex<BTreeSet<String>>, Condvar)>,
}

impl SensorThreads {
    /// Waits until no sensor evaluates, at most `limit`.
    fn wait_idle(&self, limit: Duration) {
        let (set, ended) = &*self.in_flight;
        let guard = set.lock().unwrap_or_else(|p| p.into_inner());
        let _ = ended
            .wait_timeout_while(guard, limit, |s| !s.is_empty())
            .unwrap_or_else(|p| p.into_inner());
    }

    /// Starts every sensor whose minimum interval has passed and that is not evaluating.
    fn tick_due(&mut self, engine: &Arc<Engine>, events: &Arc<EventSink>, now: DateTime<Utc>) {
        let Ok(graph) = engine.graph() else { return };
        for (name, sensor) in graph.sensors() {
            // Turned off: not evaluated (its state is read here, so turning it on again from
            // another process takes effect at the next tick).
            if engine.sensor_state(name).is_ok_and(|s| s.disabled) {
                continue;
            }
            let due = self
                .last_started
                .get(name)
                .is_none_or(|t| t.elapsed() >= sensor.spec.minimum_interval);
            if !due
                || !self
                    .in_flight
                    .0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.clone())
            {
                continue;
            }
            self.last_started.insert(name.clone(), Instant::now());
            let name = name.clone();
            let in_flight = Arc::clone(&self.in_flight);
            let engine = Arc::clone(engine);
            let events = Arc::clone(events);
            // Not scoped: a stopping daemon does not wait for a tick past its grace period.
            let spawned = std::thread::Builder::new()
                .name(format!("tessera-sensor-{name}"))
                .spawn(move || {
                    match engine.tick_sensor(&name, now) {
                        Ok(o) if !o.runs_queued.is_empty() || !o.dynamic_partitions.is_empty() => {
                            events(&DaemonEvent::SensorTick { tick: o });
                        }
                        Ok(_) => {}
                        // Stopping cancels the evaluation in flight: not the sensor's fault.
                        Err(_) if engine.is_stopping() => {}
                        Err(e) => events(&DaemonEvent::SensorError {
                            sensor: name.clone(),
                            error: report(&e),
                        }),
                    }
                    let (set, ended) = &*in_flight;
                    set.lock().unwrap_or_else(|p| p.into_inner()).remove(&name);
                    ended.notify_all();
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a sensor thread");
            }
        }
    }
}
