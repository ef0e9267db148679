//! The daemon: ticking sensors and schedules and executing the queue. One per SQLite state
//! directory; any number on one PostgreSQL database, sharing the work by leases.

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
    /// The SQLite state's one-daemon lock; none on a shared database, where leases decide
    /// which host ticks what.
    lock: Option<DaemonLock>,
    storage: PathBuf,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("storage", &self.storage)
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
    /// The daemon of the engine's state, whose lock the caller took first on a SQLite state
    /// (before loading plugins, so that a second daemon fails at once); checks that every
    /// schedule targets a partitioned asset of the graph.
    pub fn new(
        engine: Arc<Engine>,
        lock: Option<DaemonLock>,
        schedules: Vec<ScheduleSpec>,
    ) -> Result<Daemon, EngineError> {
        let graph = engine.graph()?;
        for s in &schedules {
            s.check_target(&graph)?;
        }
        let storage = lock
            .as_ref()
            .map_or_else(|| engine.io().root().to_path_buf(), |l| l.storage.clone());
        Ok(Daemon {
            engine,
            schedules,
            lock,
            storage,
        })
    }

    /// The lease names of this daemon's ticking work: its sensors, schedules and eager
    /// automation.
    fn shard_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .engine
            .graph()
            .map(|g| g.sensors().keys().map(|n| format!("sensor:{n}")).collect())
            .unwrap_or_default();
        names.extend(
            self.schedules
                .iter()
                .map(|s| format!("schedule:{}", s.name)),
        );
        names.push(super::cluster::EAGER_LEASE.to_string());
        names
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
        // The machine's name (Linux's, else the environment's) and the process: for people.
        let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "host".into());
        let label = format!("{machine} pid {}", std::process::id());
        let started_at = crate::state::now_ms();
        if self.lock.is_some() {
            // The one daemon of this state: a predecessor killed a moment ago keeps nothing.
            if let Err(e) = engine.sole_host() {
                tracing::warn!(error = %report(&e), "could not take over the leases");
            }
        }
        // In the hosts table before agreeing on versions (others see it is alive).
        engine.take_shards(&[], &label, started_at);
        if let Err(e) = engine.agree_plugin_versions(false) {
            tracing::warn!(error = %report(&e), "could not record plugin versions");
        }
        events(&DaemonEvent::Started {
            plugins: engine.registry().dir().to_path_buf(),
            storage: self.storage.clone(),
        });
        std::thread::scope(|s| {
            let executor = std::thread::Builder::new()
                .name("tessera-executor".into())
                .spawn_scoped(s, || self.execute(&**events))
                .map_err(|e| EngineError::Invalid(format!("cannot start the executor: {e}")))?;
            let mut sensors = SensorThreads::default();
            let mut held: BTreeSet<String> = BTreeSet::new();
            let mut renewed: Option<Instant> = None;
            while !engine.is_stopping() {
                while let Ok(detail) = registry_events.try_recv() {
                    if matches!(detail, RegistryEvent::Loaded { .. })
                        && let Err(e) = engine.agree_plugin_versions(true)
                    {
                        tracing::warn!(error = %report(&e), "could not record plugin versions");
                    }
                    events(&DaemonEvent::Registry { detail });
                }
                // Leases are renewed three times a lease; a lost one stops its ticks here.
                if renewed.is_none_or(|t| t.elapsed() >= engine.config.lease / 3) {
                    let now_held = engine.take_shards(&self.shard_names(), &label, started_at);
                    if renewed.is_some() {
                        // Taken over from another host: its last tick may be recent, so
                        // the first here waits one interval.
                        sensors.taken_over(now_held.difference(&held));
                    }
                    held = now_held;
                    renewed = Some(Instant::now());
                }
                let now = engine.config.clock.now();
                sensors.tick_due(engine, events, now, &held);
                self.tick_schedules(&**events, now, &held);
                if held.contains(super::cluster::EAGER_LEASE) {
                    if let Err(e) = engine.queue_eager(now) {
                        tracing::warn!(error = %e, "eager policies");
                    }
                    if let Err(e) = engine.queue_due_rollups(now) {
                        tracing::warn!(error = %e, "roll-up deadlines");
                    }
                }
                engine.sleep_unless_stopped(TICK);
            }
            events(&DaemonEvent::Stopping);
            let _ = executor.join();
            engine.leave_cluster();
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

    fn tick_schedules(&self, events: &EventSink, now: DateTime<Utc>, held: &BTreeSet<String>) {
        for s in &self.schedules {
            if !held.contains(&format!("schedule:{}", s.name)) {
                continue;
            }
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

    /// Sensors this host just took over: their next tick is one interval from now.
    fn taken_over<'a>(&mut self, leases: impl Iterator<Item = &'a String>) {
        for lease in leases {
            if let Some(name) = lease.strip_prefix("sensor:") {
                self.last_started.insert(name.to_string(), Instant::now());
            }
        }
    }

    /// Starts every sensor whose lease this host holds, whose minimum interval has passed
    /// and that is not evaluating.
    fn tick_due(
        &mut self,
        engine: &Arc<Engine>,
        events: &Arc<EventSink>,
        now: DateTime<Utc>,
        held: &BTreeSet<String>,
    ) {
        let Ok(graph) = engine.graph() else { return };
        for (name, sensor) in graph.sensors() {
            if !held.contains(&format!("sensor:{name}")) {
                continue;
            }
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
                        // Another host (or a tick by hand) recorded this interval first.
                        Err(EngineError::TickSuperseded { .. }) => {}
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
