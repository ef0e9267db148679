//! The engine: the asset graph of the loaded plugins over the state store and the IO store.
//! Everything a CLI command or the daemon does goes through here.

mod automation;
mod cluster;
mod daemon;
mod execute;
mod inspect;
mod plan;
mod schedule;
mod select;
mod sensor;
mod staleness;
mod status;

pub use cluster::HostView;
pub use daemon::{Daemon, DaemonEvent, DaemonLock, EventSink};
pub use execute::{MAX_CONCURRENCY, Progress, QueueSummary};
pub use inspect::{KeyPage, Materialization, PartitionDetail, Preview, ScheduleView};
pub use plan::{AssetPreview, PlanPreview, Submitted};
pub use schedule::ScheduleSpec;
pub use select::{Filter, PartitionSelection};
pub use sensor::SensorOutcome;
pub use staleness::StaleReason;
pub use status::{
    AssetStatus, PartitionStatus, PartitionView, StatusBins, StatusCounts, StatusQuery,
    StatusRange, StatusRanges, StatusView,
};

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_partitions::{Context, MemoryDynamicStore, PartitionsDefinition};
use tessera_runtime::{DynamicKeys, Registry, RegistryEvent, Runtime, RuntimeConfig};

use crate::error::EngineError;
use crate::graph::{AssetGraph, AssetNode};
use crate::io::IoStore;
use crate::state::{State, Store};

/// How work is split into runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPolicy {
    /// One run per partition.
    PerPartition,
    /// Up to N partitions per run, one call each (non-contiguous selections too).
    MaxPerRun(u64),
    /// One run and one call per contiguous range.
    SingleRun,
}

/// Where the engine's "now" comes from: partition existence and time windows of runs
/// depend on it, so tests, benchmarks and `--now` fix it.
#[derive(Debug, Clone, Copy, Default)]
pub enum Clock {
    #[default]
    System,
    Fixed(DateTime<Utc>),
    /// Time that was `at` when the system clock read `since`, running `rate` times as fast:
    /// simulations (a minutely schedule ticking every second) that several processes agree
    /// on, since each derives it from the same two instants.
    Scaled {
        at: DateTime<Utc>,
        since: DateTime<Utc>,
        rate: f64,
    },
}

impl Clock {
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => t,
            Clock::Scaled { at, since, rate } => {
                let real = (Utc::now() - since).num_microseconds().unwrap_or(i64::MAX);
                let scaled = (real as f64 * rate).clamp(i64::MIN as f64, i64::MAX as f64);
                at + chrono::TimeDelta::microseconds(scaled as i64)
            }
        }
    }
}

/// Engine settings (`[execution]` in `tessera.toml`).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The time runs execute at (their partitions must exist then).
    pub clock: Clock,
    /// Runs executing at once.
    pub concurrency: usize,
    /// Runs executing at once per pool (an asset joins a pool with metadata `pool`).
    pub pools: BTreeMap<String, usize>,
    /// Attempts per run before it fails for good.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt.
    pub retry_backoff: Duration,
    /// Per-asset call timeouts, overriding the asset's metadata `timeout_ms` and the
    /// plugin's limit.
    pub timeouts: BTreeMap<String, Duration>,
    /// How long a claimed run stays this engine's without a heartbeat (renewed every third
    /// of it while the engine executes): after a crash, its runs wait this long to be queued
    /// again.
    pub lease: Duration,
    /// The state in PostgreSQL at this URL, shared by every host pointing at it; `None`
    /// keeps it in SQLite under the storage directory. Either way the IO store is the storage
    /// directory's `data/` (hosts sharing a database share that directory too).
    pub database: Option<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            clock: Clock::System,
            concurrency: 2,
            pools: BTreeMap::new(),
            max_attempts: 3,
            retry_backoff: Duration::from_millis(500),
            timeouts: BTreeMap::new(),
            lease: crate::state::DEFAULT_LEASE,
            database: None,
        }
    }
}

/// Reads dynamic partition keys from the state store (for plugins, through the runtime).
#[derive(Debug, Clone)]
pub struct StateDynamicKeys(pub Arc<dyn Store>);

impl DynamicKeys for StateDynamicKeys {
    fn keys(&self, name: &str) -> Vec<String> {
        self.0.dynamic_keys(name).unwrap_or_default()
    }
}

pub struct Engine {
    state: Arc<dyn Store>,
    io: IoStore,
    registry: Registry,
    config: EngineConfig,
    owner: String,
    /// Signalled whenever a run of this process ends (wakes idle workers).
    wake: (Mutex<u64>, Condvar),
    /// Plugin log lines per run, until the run's end records them.
    logs: Arc<Mutex<RunLogs>>,
    /// The asset graph, the plugins left out of it, and the registry generation they were
    /// built for.
    graph_cache: Mutex<Option<GraphCache>>,
    /// The newest materialization the eager policies have looked at.
    eager_seen: Mutex<i64>,
    /// Each asset's status spans, for as long as nothing changes (see `status::StatusCache`).
    status_cache: Mutex<status::StatusCache>,
    /// Set by [`Engine::stop`]: workers finish their run and claim no more.
    stopping: std::sync::atomic::AtomicBool,
    /// Fired by [`Engine::stop`]: a sensor evaluation in flight ends at once (its tick is
    /// simply not recorded; the next start evaluates it again).
    sensor_cancel: tessera_runtime::CancelToken,
    /// Set by a daemon sharing the database with others: claims then follow the plugin
    /// versions recorded as current (see [`RunStore::claim_batch`]).
    versions_agreed: std::sync::atomic::AtomicBool,
    /// The claims this engine's workers hold (run id → claim number): what its heartbeat
    /// renews.
    claims: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("state", &self.state.location())
            .field("io", &self.io.root())
            .finish_non_exhaustive()
    }
}

/// The first 12 characters of a version for people (a declared code version may be any
/// text: cut at a character boundary).
pub fn short_version(v: &str) -> &str {
    v.char_indices().nth(12).map_or(v, |(i, _)| &v[..i])
}

pub(crate) fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = Utc::now().timestamp_micros();
    // Time-ordered, unique per process; the pid separates processes.
    format!("{prefix}{:x}{:04x}{:x}", t, std::process::id() & 0xffff, n)
}

impl Engine {
    /// The state: the PostgreSQL database at `database`, else SQLite's `state.db` under
    /// `storage`.
    pub fn open_state(
        storage: &Path,
        database: Option<&str>,
    ) -> Result<Arc<dyn Store>, EngineError> {
        Ok(match database {
            Some(url) => Arc::new(crate::state::PgState::open(url)?),
            None => Arc::new(State::open(&storage.join("state.db"))?),
        })
    }

    /// Opens the state under `storage`, starts a runtime that reads dynamic keys from it,
    /// loads every plugin of `plugins` and builds the engine. Returns the load events too: a
    /// plugin that fails to load is reported there, not as an error.
    pub fn open(
        storage: &Path,
        plugins: &Path,
        runtime: RuntimeConfig,
        config: EngineConfig,
    ) -> Result<(Engine, Vec<RegistryEvent>), EngineError> {
        let state = Engine::open_state(storage, config.database.as_deref())?;
        let runtime =
            Runtime::with_dynamic_keys(runtime, Arc::new(StateDynamicKeys(Arc::clone(&state))))?;
        let registry = Registry::new(runtime, plugins);
        // Commands and the daemon serve the same plugin set: a file broken since the last
        // good version served is reported, and that version serves.
        registry.keep_last_good(&storage.join("last-good"));
        // Loaded before the engine installs its graph check: one at a time, a plugin would be
        // refused for reading an asset of a plugin not loaded yet.
        let events = registry.load_all()?;
        Ok((Engine::new(state, storage, registry, config), events))
    }

    /// An engine over an open state, the storage's IO store and a plugin registry (whose
    /// runtime should read dynamic keys through [`StateDynamicKeys`]). The registry's plugins
    /// should be loaded already (see [`Engine::open`]).
    pub fn new(
        state: Arc<dyn Store>,
        storage: &Path,
        registry: Registry,
        config: EngineConfig,
    ) -> Engine {
        // Unique per engine: its claims are its own, renewed by its heartbeat.
        let owner = new_id("o");
        let engine = Engine {
            state,
            io: IoStore::new(&storage.join("data")),
            registry,
            config,
            owner,
            wake: (Mutex::new(0), Condvar::new()),
            stopping: std::sync::atomic::AtomicBool::new(false),
            sensor_cancel: tessera_runtime::CancelToken::new(),
            eager_seen: Mutex::new(-1),
            status_cache: Mutex::default(),
            graph_cache: Mutex::new(None),
            logs: Arc::new(Mutex::new(HashMap::new())),
            versions_agreed: std::sync::atomic::AtomicBool::new(false),
            claims: Mutex::new(HashMap::new()),
        };
        let logs = Arc::clone(&engine.logs);
        // A run keeps at most what one call may log: a run of many calls (a range, retries)
        // cannot fill memory, nor the database when it ends.
        let limits = engine.registry.runtime().config().limits;
        engine
            .registry
            .runtime()
            .set_log_sink(Arc::new(move |rec: tessera_runtime::LogRecord| {
                let Some(run) = rec.run else { return };
                let mut message = rec.message;
                for (k, v) in &rec.fields {
                    message.push_str(&format!(" {k}={v}"));
                }
                let mut logs = logs.lock().unwrap_or_else(|p| p.into_inner());
                let log = logs.entry(run).or_default();
                if log.truncated {
                    return;
                }
                if log.lines.len() as u64 >= limits.max_log_lines
                    || (log.bytes + message.len()) as u64 > limits.max_log_bytes
                {
                    log.truncated = true;
                    log.lines.push((
                        "warn".to_string(),
                        format!(
                            "log truncated: this run wrote more than {} lines or {} bytes (max_log_lines, max_log_bytes in [runtime.limits]); the rest was dropped",
                            limits.max_log_lines, limits.max_log_bytes
                        ),
                    ));
                    return;
                }
                log.bytes += message.len();
                log.lines.push((rec.level.to_string(), message));
            }));
        engine
            .registry
            .set_validator(Arc::new(|plugins| AssetGraph::build(plugins).map(|_| ())));
        engine
    }

    /// Asks running [`Engine::run_queue`] calls to return once their current runs end.
    pub fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.sensor_cancel.cancel();
        self.notify();
    }

    /// Waits `d`, or less if [`Engine::stop`] is called meanwhile.
    pub(crate) fn sleep_unless_stopped(&self, d: Duration) {
        let guard = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .wake
            .1
            .wait_timeout_while(guard, d, |_| !self.is_stopping())
            .unwrap_or_else(|p| p.into_inner());
    }

    /// The engine's "now" (its configured clock).
    pub fn now(&self) -> DateTime<Utc> {
        self.config.clock.now()
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The shared state store.
    pub fn state_arc(&self) -> Arc<dyn Store> {
        Arc::clone(&self.state)
    }

    /// The state store (SQLite by default), through its storage traits.
    pub fn state(&self) -> &dyn Store {
        &*self.state
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn io(&self) -> &IoStore {
        &self.io
    }

    /// The graph of the plugins serving now (rebuilt only when the plugin set changed). A
    /// plugin that does not fit the others (see [`AssetGraph::build_excluding`]) is left out
    /// of it, and [`Engine::excluded_plugins`] says why.
    pub fn graph(&self) -> Result<Arc<AssetGraph>, EngineError> {
        Ok(self.graph_and_exclusions().0)
    }

    /// Plugins serving but left out of the asset graph, with the reason: in `status` beside
    /// the plugins that failed to load.
    pub fn excluded_plugins(&self) -> BTreeMap<String, String> {
        self.graph_and_exclusions().1
    }

    fn graph_and_exclusions(&self) -> (Arc<AssetGraph>, BTreeMap<String, String>) {
        let generation = self.registry.generation();
        let mut cache = self.graph_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, graph, excluded)) = cache.as_ref()
            && *g == generation
        {
            return (Arc::clone(graph), excluded.clone());
        }
        let plugins: BTreeMap<String, Arc<tessera_runtime::Plugin>> = self
            .registry
            .plugins()
            .into_iter()
            .map(|p| (p.name().to_string(), p))
            .collect();
        let (graph, excluded) = AssetGraph::build_excluding(&plugins);
        for (plugin, why) in &excluded {
            tracing::warn!(plugin, error = why, "plugin left out of the asset graph");
        }
        let graph = Arc::new(graph);
        *cache = Some((generation, Arc::clone(&graph), excluded.clone()));
        (graph, excluded)
    }

    /// Reads a stored output: from the database (small outputs) or the IO store.
    pub fn read_blob(&self, blob: &str) -> Result<Vec<u8>, EngineError> {
        match blob.strip_prefix("db:") {
            Some(name) => self.state.blob(name)?.ok_or_else(|| EngineError::Io {
                path: std::path::PathBuf::from(self.state.location()),
                message: format!("blob {name:?} is missing"),
            }),
            None => self.io.read(blob),
        }
    }

    /// The bytes of several blobs, each with its label: those in the database in one read.
    pub(crate) fn read_blobs(
        &self,
        wanted: Vec<(String, &str)>,
    ) -> Result<Vec<(String, Vec<u8>)>, EngineError> {
        let in_db: Vec<&str> = wanted
            .iter()
            .filter_map(|(_, blob)| blob.strip_prefix("db:"))
            .collect();
        let mut from_db = self.state.blobs(&in_db)?.into_iter();
        let mut out = Vec::with_capacity(wanted.len());
        for (label, blob) in wanted {
            let data = if let Some(name) = blob.strip_prefix("db:") {
                // One answer per name asked, in order.
                from_db.next().flatten().ok_or_else(|| EngineError::Io {
                    path: std::path::PathBuf::from(self.state.location()),
                    message: format!("blob {name:?} is missing"),
                })?
            } else {
                self.io.read(blob)?
            };
            out.push((label, data));
        }
        Ok(out)
    }

    /// The dynamic sets `node`'s partitions or its inputs' read (a snapshot of all of them),
    /// or none when nothing it touches is dynamic: the arithmetic of most assets reads no set.
    fn dynamic_for(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
    ) -> Result<MemoryDynamicStore, EngineError> {
        if involves_dynamic(graph, node) {
            self.dynamic_snapshot()
        } else {
            Ok(MemoryDynamicStore::new())
        }
    }

    /// Every dynamic partition set, for partition arithmetic.
    pub fn dynamic_snapshot(&self) -> Result<MemoryDynamicStore, EngineError> {
        let mut store = MemoryDynamicStore::new();
        for (name, _) in self.state.dynamic_names()? {
            let keys = self.state.dynamic_keys(&name)?;
            store.add(&name, keys);
        }
        Ok(store)
    }

    fn node<'g>(&self, graph: &'g AssetGraph, asset: &str) -> Result<&'g AssetNode, EngineError> {
        graph
            .asset(asset)
            .ok_or_else(|| match graph.unavailable().get(asset) {
                Some(reason) => EngineError::Unavailable {
                    asset: asset.to_string(),
                    reason: reason.clone(),
                },
                None => EngineError::UnknownAsset(asset.to_string()),
            })
    }

    /// Adds keys to a dynamic set. Keys of a set that holds a sparse definition's
    /// combinations must be combinations of existing dimension keys.
    pub fn dynamic_add(&self, name: &str, keys: &[String]) -> Result<u64, EngineError> {
        let graph = self.graph()?;
        let store = if graph.combination_sets(name).is_empty() {
            MemoryDynamicStore::new()
        } else {
            self.dynamic_snapshot()?
        };
        // Dimension keys do not depend on time, but a context needs a time.
        let cx = Context::new(DateTime::<Utc>::UNIX_EPOCH).with_dynamic(&store);
        graph.check_dynamic_keys(&cx, name, keys)?;
        self.state.dynamic_add(name, keys)
    }

    pub fn dynamic_remove(&self, name: &str, keys: &[String]) -> Result<u64, EngineError> {
        self.state.dynamic_remove(name, keys)
    }

    pub fn dynamic_keys(&self, name: &str) -> Result<Vec<String>, EngineError> {
        self.state.dynamic_keys(name)
    }
}

/// Log lines (level, message) by run id.
type RunLogs = HashMap<String, RunLog>;

/// One run's log lines (level, message), until the run's end records them.
#[derive(Debug, Default)]
struct RunLog {
    lines: Vec<(String, String)>,
    bytes: usize,
    truncated: bool,
}

/// The registry generation, the asset graph built for it, and the plugins left out of it.
type GraphCache = (u64, Arc<AssetGraph>, BTreeMap<String, String>);

/// Whether running `node` needs the dynamic partition sets (its own or an input's).
fn involves_dynamic(graph: &AssetGraph, node: &AssetNode) -> bool {
    fn dynamic(def: Option<&PartitionsDefinition>) -> bool {
        def.is_some_and(|d| !d.dynamic_sets().is_empty())
    }
    dynamic(node.partitions.as_ref())
        || node
            .inputs
            .iter()
            .any(|e| dynamic(graph.asset(&e.upstream).and_then(|u| u.partitions.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::short_version;

    #[test]
    fn versions_are_shortened_at_a_character() {
        assert_eq!(short_version("1"), "1");
        assert_eq!(short_version("0123456789abcdef"), "0123456789ab");
        // A declared code version is any text: never cut inside a character.
        assert_eq!(short_version("ünïcödé-vérsïön"), "ünïcödé-vérs");
    }
}
