//! The engine: the asset graph of the loaded plugins over the state store and the IO store.
//! Everything a CLI command or the daemon does goes through here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_partitions::{
    Context, MemoryDynamicStore, PartitionKey, PartitionSubset, PartitionsDefinition,
};
use tessera_runtime::{
    CallError, DynamicKeys, InputData, MaterializeRequest, Registry, RegistryEvent, Runtime,
    RuntimeConfig, Selection,
};

use crate::error::EngineError;
use crate::graph::{AssetGraph, AssetNode};
use crate::io::IoStore;
use crate::state::{
    Completed, NewBlob, NewMaterialization, NewRun, PartitionRecord, PartitionState,
    PartitionSummary, RunRecord, RunScope, RunSelection, State,
};

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
}

impl Clock {
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => t,
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
        }
    }
}

/// Which partitions of the target assets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionSelection {
    All,
    Keys(Vec<String>),
    Range { start: String, end: String },
}

/// Narrows a selection to partitions in some state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    #[default]
    Any,
    Missing,
    Failed,
    Stale,
}

/// Reads dynamic partition keys from the state store (for plugins, through the runtime).
#[derive(Debug, Clone)]
pub struct StateDynamicKeys(pub Arc<State>);

impl DynamicKeys for StateDynamicKeys {
    fn keys(&self, name: &str) -> Vec<String> {
        self.0.dynamic_keys(name).unwrap_or_default()
    }
}

/// A run planned but not stored yet.
#[derive(Debug, Clone)]
struct Unit {
    id: String,
    node_key: String,
    assets: Vec<String>,
    selection: RunSelection,
    indices: Vec<(i64, i64)>,
    keys: Vec<String>,
}

/// The health of one asset's partitions.
#[derive(Debug, Clone, Serialize)]
pub struct AssetStatus {
    pub asset: String,
    pub plugin: String,
    pub partitions_kind: String,
    pub total: u64,
    pub materialized: u64,
    pub failed: u64,
    pub missing: u64,
    pub stale: u64,
    /// One character per bucket of partitions, in key order: `█` all materialized, `▓` some,
    /// `x` any failed, `·` none (missing); at most `width` buckets.
    pub bar: String,
}

/// One partition's state, for listings.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionView {
    pub key: String,
    pub state: &'static str,
    pub run_id: Option<String>,
    pub data_version: Option<String>,
    pub code_version: Option<String>,
    pub error: Option<String>,
}

/// What a call to [`Engine::run_queue`] did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct QueueSummary {
    pub runs_succeeded: u64,
    pub runs_failed: u64,
    pub runs_retried: u64,
    pub partitions: u64,
}

/// Progress reported while the queue runs.
#[derive(Debug, Clone)]
pub enum Progress {
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
}

pub struct Engine {
    state: Arc<State>,
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
    /// Set by [`Engine::stop`]: workers finish their run and claim no more.
    stopping: std::sync::atomic::AtomicBool,
    /// Fired by [`Engine::stop`]: a sensor evaluation in flight ends at once (its tick is
    /// simply not recorded; the next start evaluates it again).
    sensor_cancel: tessera_runtime::CancelToken,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("state", &self.state.path())
            .field("io", &self.io.root())
            .finish_non_exhaustive()
    }
}

/// This process, as a run owner: pid and start time, so a reused pid is not mistaken for it.
fn process_identity(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (start time) counted after the command name, which may hold spaces.
    let after = stat.rsplit_once(')')?.1;
    let start = after.split_whitespace().nth(19)?;
    Some(format!("{pid}:{start}"))
}

fn owner_alive(owner: &str) -> bool {
    let Some(pid) = owner.split(':').next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    match process_identity(pid) {
        Some(id) => id == owner,
        // No such process: dead. Without /proc (not Linux) liveness cannot be told, so every
        // owner counts as alive and nothing is taken from it.
        None => pid == std::process::id() || !Path::new("/proc").exists(),
    }
}

/// Held by the one daemon of a state directory (`tessera dev`) for its lifetime: a second one
/// would tick every sensor and schedule twice. The operating system releases it when the
/// process ends, however it ends.
#[derive(Debug)]
pub struct DaemonLock {
    _file: std::fs::File,
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
        Ok(DaemonLock { _file: file })
    }
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
    /// The state database and IO store under `storage` (`state.db`, `data/`).
    pub fn open_state(storage: &Path) -> Result<Arc<State>, EngineError> {
        Ok(Arc::new(State::open(&storage.join("state.db"))?))
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
        let state = Engine::open_state(storage)?;
        let runtime =
            Runtime::with_dynamic_keys(runtime, Arc::new(StateDynamicKeys(Arc::clone(&state))))?;
        let registry = Registry::new(runtime, plugins);
        // Loaded before the engine installs its graph check: one at a time, a plugin would be
        // refused for reading an asset of a plugin not loaded yet.
        let events = registry.load_all()?;
        Ok((Engine::new(state, storage, registry, config), events))
    }

    /// An engine over an open state, the storage's IO store and a plugin registry (whose
    /// runtime should read dynamic keys through [`StateDynamicKeys`]). The registry's plugins
    /// should be loaded already (see [`Engine::open`]).
    pub fn new(
        state: Arc<State>,
        storage: &Path,
        registry: Registry,
        config: EngineConfig,
    ) -> Engine {
        let owner = process_identity(std::process::id())
            .unwrap_or_else(|| format!("{}:0", std::process::id()));
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
            graph_cache: Mutex::new(None),
            logs: Arc::new(Mutex::new(HashMap::new())),
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

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The shared state store.
    pub fn state_arc(&self) -> Arc<State> {
        Arc::clone(&self.state)
    }

    pub fn state(&self) -> &State {
        &self.state
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
                path: self.state.path().to_path_buf(),
                message: format!("blob {name:?} is missing"),
            }),
            None => self.io.read(blob),
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
            .ok_or_else(|| EngineError::UnknownAsset(asset.to_string()))
    }

    // ---- selections ----------------------------------------------------------------------

    /// The partitions of `asset` a selection and filter name, as a subset of its definition.
    pub fn select(
        &self,
        graph: &AssetGraph,
        asset: &str,
        selection: &PartitionSelection,
        filter: Filter,
        now: DateTime<Utc>,
        dynamic: &MemoryDynamicStore,
    ) -> Result<PartitionSubset, EngineError> {
        let node = self.node(graph, asset)?;
        let bad = |message: String| EngineError::Selection {
            asset: asset.to_string(),
            message,
        };
        let Some(def) = &node.partitions else {
            return Err(bad("the asset is not partitioned".into()));
        };
        let cx = Context::new(now).with_dynamic(dynamic);
        let count = def.count(&cx)?;
        let subset = match selection {
            PartitionSelection::All => def.all(&cx)?,
            PartitionSelection::Keys(keys) => def.subset_of_keys(&cx, keys)?,
            PartitionSelection::Range { start, end } => {
                let s = def.range(&cx, start, end)?;
                if s.is_empty() {
                    return Err(bad(format!(
                        "the range {start}...{end} is empty: {start:?} comes after {end:?}"
                    )));
                }
                let (existing, missing) = s.split_existing(count);
                if !missing.is_empty() {
                    return Err(bad(format!(
                        "the range {start}...{end} reaches {} partitions that do not exist yet as of {now}",
                        missing.len()
                    )));
                }
                existing
            }
        };
        if filter == Filter::Any {
            return Ok(subset);
        }
        let records = self.state.partition_summaries(asset, &node.code_version)?;
        let stale: BTreeSet<String> = if filter == Filter::Stale {
            self.stale_keys(graph, node, &records, &cx)?
        } else {
            BTreeSet::new()
        };
        let mut chosen = PartitionSubset::empty();
        match filter {
            Filter::Missing => {
                let mut done = PartitionSubset::empty();
                for r in &records {
                    if r.materialization.is_some()
                        && let Some(i) = def.index_of(&cx, &r.partition)?
                    {
                        done.insert_index(i);
                    }
                }
                chosen = subset.difference(&done);
            }
            Filter::Failed | Filter::Stale => {
                for r in &records {
                    let hit = match filter {
                        Filter::Failed => r.failed,
                        _ => stale.contains(&r.partition),
                    };
                    if hit && let Some(i) = def.index_of(&cx, &r.partition)? {
                        chosen.insert_index(i);
                    }
                }
                chosen = subset.intersection(&chosen);
            }
            Filter::Any => {}
        }
        Ok(chosen)
    }

    /// Materialized partitions of `node` that are stale: their asset's code version changed,
    /// or an upstream partition they map to was materialized after them.
    fn stale_keys(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        records: &[PartitionSummary],
        cx: &Context<'_>,
    ) -> Result<BTreeSet<String>, EngineError> {
        let (changed, current): (Vec<&PartitionSummary>, Vec<&PartitionSummary>) = records
            .iter()
            .filter(|r| r.materialization.is_some())
            .partition(|r| r.code_changed);
        let mut stale: BTreeSet<String> =
            changed.into_iter().map(|r| r.partition.clone()).collect();
        stale.extend(
            self.upstream_newer(graph, node, current, cx)?
                .into_iter()
                .map(|(key, _)| key),
        );
        Ok(stale)
    }

    /// The upstream keys a set of downstream keys reads through an edge, and the ones it
    /// needs that do not exist.
    fn upstream_keys(
        &self,
        cx: &Context<'_>,
        node: &AssetNode,
        edge: &crate::graph::Edge,
        up_def: Option<&PartitionsDefinition>,
        keys: &[String],
    ) -> Result<(Vec<String>, Vec<String>), EngineError> {
        let Some(up_def) = up_def else {
            // An unpartitioned upstream has one blob.
            return Ok((vec![String::new()], Vec::new()));
        };
        let down_subset = match &node.partitions {
            Some(d) => d.subset_of_keys(cx, keys)?,
            None => PartitionSubset::empty(),
        };
        let up = edge
            .mapping
            .to_upstream(cx, &down_subset, node.partitions.as_ref(), up_def)?;
        let existing: Vec<String> = up_def
            .subset_keys(cx, &up.partitions)?
            .map(PartitionKey::into_string)
            .collect();
        let nonexistent: Vec<String> = up
            .required_but_nonexistent
            .indices()
            .iter()
            .take(5)
            .map(|i| {
                up_def
                    .key_at(cx, i)
                    .ok()
                    .flatten()
                    .map_or_else(|| format!("#{i}"), PartitionKey::into_string)
            })
            .chain(
                up.required_but_nonexistent
                    .unindexed()
                    .iter()
                    .map(|k| k.to_string()),
            )
            .collect();
        Ok((existing, nonexistent))
    }

    // ---- planning ------------------------------------------------------------------------

    /// Plans and stores runs for target assets × a selection, in dependency order: a run
    /// waits for the runs of the same request that produce the upstream partitions it reads.
    /// Returns the backfill id (when `backfill` is set) and the runs.
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        &self,
        assets: &[String],
        selection: &PartitionSelection,
        filter: Filter,
        policy: RunPolicy,
        backfill: bool,
        trigger: &str,
        now: DateTime<Utc>,
    ) -> Result<Submitted, EngineError> {
        let graph = self.graph()?;
        let dynamic = self.dynamic_snapshot()?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        for a in assets {
            self.node(&graph, a)?;
        }
        // A key or range names partitions: an unpartitioned target has none to name.
        if !matches!(selection, PartitionSelection::All)
            && let Some(n) = assets
                .iter()
                .filter_map(|a| graph.asset(a))
                .find(|n| n.partitions.is_none())
        {
            return Err(EngineError::Selection {
                asset: n.key.clone(),
                message: "the asset is not partitioned; materialize it without a partition \
                          key or range"
                    .to_string(),
            });
        }
        let backfill_id = backfill.then(|| new_id("b"));
        // Group targets by computation (siblings of a multi-asset run together), upstream first.
        let mut targets: Vec<&AssetNode> = assets.iter().filter_map(|a| graph.asset(a)).collect();
        targets.sort_by_key(|n| graph.rank(&n.key));
        let mut groups: Vec<(&AssetNode, Vec<String>)> = Vec::new();
        for n in targets {
            if let Some(g) = groups
                .iter_mut()
                .find(|(first, _)| first.plugin == n.plugin && first.computation == n.computation)
            {
                if !g.1.contains(&n.key) {
                    g.1.push(n.key.clone());
                }
            } else {
                groups.push((n, vec![n.key.clone()]));
            }
        }
        let mut units_by_asset: HashMap<String, Vec<usize>> = HashMap::new();
        let mut units: Vec<Unit> = Vec::new();
        let mut total = 0u64;
        for (node, group_assets) in &groups {
            let subset = match &node.partitions {
                None => None,
                Some(_) => {
                    // A union over the group's assets: a sibling may be missing where another is not.
                    let mut s = PartitionSubset::empty();
                    for a in group_assets {
                        s = s.union(&self.select(&graph, a, selection, filter, now, &dynamic)?);
                    }
                    Some(s)
                }
            };
            let new_units = split(node, group_assets, subset.as_ref(), policy, &cx)?;
            for u in new_units {
                total += u.keys.len().max(1) as u64;
                let idx = units.len();
                for a in &u.assets {
                    units_by_asset.entry(a.clone()).or_default().push(idx);
                }
                units.push(u);
            }
        }
        // Each asset's unit index ranges, sorted: ranges of one asset never overlap.
        let mut spans_by_asset: HashMap<String, Vec<(i64, i64, usize)>> = HashMap::new();
        for (j, u) in units.iter().enumerate() {
            for a in &u.assets {
                let spans = spans_by_asset.entry(a.clone()).or_default();
                spans.extend(u.indices.iter().map(|&(start, end)| (start, end, j)));
            }
        }
        for spans in spans_by_asset.values_mut() {
            spans.sort_unstable();
        }
        // Dependencies within the request.
        let mut deps: Vec<Vec<String>> = vec![Vec::new(); units.len()];
        for (i, u) in units.iter().enumerate() {
            let node = self.node(&graph, &u.node_key)?;
            let mut seen = BTreeSet::new();
            for a in &u.assets {
                let n = self.node(&graph, a)?;
                for e in &n.inputs {
                    let Some(up_units) = units_by_asset.get(&e.upstream) else {
                        continue;
                    };
                    let up = self.node(&graph, &e.upstream)?;
                    let (Some(up_def), Some(_)) = (&up.partitions, &node.partitions) else {
                        // Unpartitioned on either side: wait for all of them.
                        for j in up_units {
                            if seen.insert(*j) {
                                deps[i].push(units[*j].id.clone());
                            }
                        }
                        continue;
                    };
                    let down = PartitionSubset::from_indices(
                        tessera_partitions::RangeSet::from_ranges(u.indices.iter().copied()),
                    );
                    let needed = e
                        .mapping
                        .to_upstream(&cx, &down, node.partitions.as_ref(), up_def)?
                        .partitions;
                    // The upstream units whose index ranges meet the needed ones: a binary
                    // search per needed range, not a scan of every upstream unit.
                    let spans = spans_by_asset
                        .get(&e.upstream)
                        .map_or(&[][..], Vec::as_slice);
                    for &(a, b) in needed.indices().ranges() {
                        let first = spans.partition_point(|&(_, end, _)| end <= a);
                        for &(start, _, j) in &spans[first..] {
                            if start >= b {
                                break;
                            }
                            if seen.insert(j) {
                                deps[i].push(units[j].id.clone());
                            }
                        }
                    }
                }
            }
        }
        let runs: Vec<NewRun> = units
            .iter()
            .zip(deps)
            .map(|(u, depends_on)| {
                let n = graph.asset(&u.node_key);
                NewRun {
                    id: u.id.clone(),
                    plugin: n.map(|n| n.plugin.clone()).unwrap_or_default(),
                    computation: n.map(|n| n.computation.clone()).unwrap_or_default(),
                    assets: u.assets.clone(),
                    selection: u.selection.clone(),
                    partitions: u.keys.len().max(1) as u64,
                    backfill_id: backfill_id.clone(),
                    run_key: None,
                    trigger: trigger.to_string(),
                    tags: Vec::new(),
                    max_attempts: self.config.max_attempts,
                    depends_on,
                    pool: n.and_then(|n| n.pool.clone()),
                }
            })
            .collect();
        let record = backfill_id.as_ref().map(|id| crate::state::BackfillRecord {
            id: id.clone(),
            status: "running".into(),
            assets: assets.to_vec(),
            description: describe_selection(selection, filter),
            partitions: total,
            created_at: crate::state::now_ms(),
            ended_at: None,
        });
        self.state.insert_runs(record.as_ref(), &runs)?;
        Ok(Submitted {
            backfill_id,
            runs: runs.iter().map(|r| r.id.clone()).collect(),
            partitions: total,
        })
    }

    // ---- execution -----------------------------------------------------------------------

    /// Executes queued runs with `concurrency` workers until none is left (only the given
    /// backfill's, when set). Other processes may run the same queue at the same time.
    pub fn run_queue(
        &self,
        backfill: Option<&str>,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<QueueSummary, EngineError> {
        let scope = match backfill {
            Some(b) => RunScope::Backfill(b.to_string()),
            None => RunScope::All,
        };
        self.run_scope(&scope, progress)
    }

    /// Executes exactly the runs one request stored (`runs`, in the order `submit` or a sensor
    /// tick returned them) until every one is final, retries included; other queued work is
    /// left to the daemon.
    pub fn run_runs(
        &self,
        runs: &[String],
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<QueueSummary, EngineError> {
        let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
            return Ok(QueueSummary::default());
        };
        match self.state.seq_range(first, last)? {
            Some(scope) => self.run_scope(&scope, progress),
            None => Err(EngineError::UnknownRun(first.clone())),
        }
    }

    /// Executes the queued runs of a scope with `concurrency` workers until none is left.
    ///
    /// Each worker claims a few runs per transaction (as many as it starts within
    /// [`HOLD_BUDGET`] at the recent pace, at most [`CLAIM_BATCH`]: small runs cost few
    /// transactions) and records its successes in one transaction per batch. A monitor keeps
    /// that batching from holding work back: runs a worker claimed but has not started for
    /// twice the budget (it is in a slow run) go back to the queue, where any idle worker of
    /// this or another process takes them, and successes buffered that long are recorded.
    fn run_scope(
        &self,
        scope: &RunScope,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<QueueSummary, EngineError> {
        self.state.requeue_orphans(owner_alive)?;
        let workers = self.config.concurrency.clamp(1, MAX_CONCURRENCY);
        let shared = Shared {
            scope,
            progress,
            slots: (0..workers).map(|_| Slot::default()).collect(),
            summary: Mutex::new(QueueSummary::default()),
            first_error: Mutex::new(None),
            abort: std::sync::atomic::AtomicBool::new(false),
            workers_done: std::sync::atomic::AtomicUsize::new(0),
            monitor: (Mutex::new(()), Condvar::new()),
        };
        std::thread::scope(|s| {
            for me in 0..workers {
                let shared = &shared;
                s.spawn(move || {
                    if let Err(e) = self.worker(shared, me) {
                        shared.fail(e);
                    }
                    shared
                        .workers_done
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    {
                        let (lock, ended) = &shared.monitor;
                        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                        ended.notify_all();
                    }
                    self.notify();
                });
            }
            s.spawn(|| self.monitor(&shared));
        });
        // Whatever is still recorded nowhere or claimed goes to the database or back to the
        // queue (a stop, or an error).
        let mut left = Vec::new();
        for w in 0..workers {
            if let Err(e) = self.flush(&shared, w, true) {
                shared.fail(e);
            }
            left.extend(shared.slots[w].take_claimed());
        }
        let released = if left.is_empty() {
            Ok(())
        } else {
            self.state.release(&left)
        };
        if let Some(e) = shared
            .first_error
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
        {
            return Err(e);
        }
        released?;
        Ok(shared
            .summary
            .into_inner()
            .unwrap_or_else(|p| p.into_inner()))
    }

    fn notify(&self) {
        let mut n = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        self.wake.1.notify_all();
    }

    /// Keeps the batching honest while workers are busy: returns to the queue the claimed
    /// runs a worker has not started for twice [`HOLD_BUDGET`], and records successes
    /// buffered longer than the budget (their worker went on to a slow run).
    fn monitor(&self, shared: &Shared<'_>) {
        let workers = shared.slots.len();
        let done = || {
            shared
                .workers_done
                .load(std::sync::atomic::Ordering::SeqCst)
                >= workers
        };
        while !done() {
            let mut stale = Vec::new();
            for slot in &shared.slots {
                let mut c = slot.claimed.lock().unwrap_or_else(|p| p.into_inner());
                if c.at.is_some_and(|at| at.elapsed() > HOLD_BUDGET * 2) && !c.runs.is_empty() {
                    stale.extend(c.runs.drain(..).map(|r| r.id));
                }
            }
            if !stale.is_empty() {
                match self.state.release(&stale) {
                    // Idle workers may take them now.
                    Ok(()) => self.notify(),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not return claimed runs to the queue");
                    }
                }
            }
            for w in 0..workers {
                if let Err(e) = self.flush(shared, w, false) {
                    shared.fail(e);
                }
            }
            // Its own wake-up, not the workers': they notify at every batch.
            let (lock, ended) = &shared.monitor;
            let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            if !done() {
                let _ = ended
                    .wait_timeout(guard, HOLD_BUDGET)
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// The worker's next run: its own claimed ones first, else a new claim.
    fn next_run(
        &self,
        shared: &Shared<'_>,
        me: usize,
        pace: Option<Duration>,
    ) -> Result<Option<RunRecord>, EngineError> {
        let slot = &shared.slots[me];
        if let Some(run) = slot
            .claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .runs
            .pop_front()
        {
            return Ok(Some(run));
        }
        // As many runs as this worker starts within the budget at the recent pace (one
        // until the pace is known).
        let batch = match pace {
            Some(p) if !p.is_zero() => (HOLD_BUDGET.as_secs_f64() / p.as_secs_f64()) as u32,
            Some(_) => CLAIM_BATCH,
            None => 1,
        }
        .clamp(1, CLAIM_BATCH);
        let mut runs =
            self.state
                .claim_batch(&self.owner, shared.scope, batch, &self.config.pools)?;
        if runs.is_empty() {
            return Ok(None);
        }
        let first = runs.remove(0);
        let mut c = slot.claimed.lock().unwrap_or_else(|p| p.into_inner());
        c.runs.extend(runs);
        c.at = Some(std::time::Instant::now());
        Ok(Some(first))
    }

    /// One worker (`me` indexes its slot).
    fn worker(&self, shared: &Shared<'_>, me: usize) -> Result<(), EngineError> {
        let aborted = || shared.abort.load(std::sync::atomic::Ordering::SeqCst);
        // Moving average of how long this worker's runs take.
        let mut pace: Option<Duration> = None;
        loop {
            if self.is_stopping() || aborted() {
                return self.flush(shared, me, true);
            }
            let seen = *self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(run) = self.next_run(shared, me, pace)? {
                (shared.progress)(&Progress::RunStarted {
                    run: run.id.clone(),
                    assets: run.assets.clone(),
                    selection: run.selection.describe(),
                });
                let started = std::time::Instant::now();
                let outcome = match self.execute(&run) {
                    Ok(o) => o,
                    Err(e) => {
                        // The database failed under the run: hand it back if it still can.
                        let _ = self.state.release(std::slice::from_ref(&run.id));
                        return Err(e);
                    }
                };
                let took = started.elapsed();
                pace = Some(match pace {
                    Some(p) => p.mul_f64(0.8) + took.mul_f64(0.2),
                    None => took,
                });
                let slot = &shared.slots[me];
                let buffered = {
                    let mut d = slot.done.lock().unwrap_or_else(|p| p.into_inner());
                    let ended = match outcome {
                        Outcome::Success { partitions, done } => {
                            d.completed.push(done);
                            Ended::Succeeded(partitions)
                        }
                        Outcome::Retry { error } => Ended::Retried(error),
                        Outcome::Failed { error } => Ended::Failed(error),
                        Outcome::Canceled => Ended::Canceled,
                    };
                    d.finished.push((run.id, ended));
                    d.oldest.get_or_insert(started);
                    d.completed.len()
                };
                // The end of the batch, or a full one: record it.
                let batch_done = slot
                    .claimed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .runs
                    .is_empty();
                if batch_done || buffered >= CLAIM_BATCH as usize {
                    self.flush(shared, me, true)?;
                }
                continue;
            }
            self.flush(shared, me, true)?;
            let pending = self.state.pending(shared.scope)?;
            if pending.queued == 0 && pending.running == 0 {
                return Ok(());
            }
            // Nothing claimable: wait for a run to end (it may unblock dependents), a retry
            // delay to pass, or — for runs another process holds — a short while.
            let wait = match pending.next_retry_at {
                Some(at) if pending.running == 0 => {
                    Duration::from_millis((at - crate::state::now_ms()).clamp(1, 60_000) as u64)
                }
                _ => Duration::from_millis(200),
            };
            let guard = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
            if *guard == seen && !aborted() {
                let _ = self
                    .wake
                    .1
                    .wait_timeout(guard, wait)
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// Records a worker's buffered successes in one transaction (group commit: SQLite
    /// commits, not plugin calls, would otherwise bound small runs) and reports what
    /// finished. Unless `now`, only when the oldest has waited [`HOLD_BUDGET`]. On a database
    /// error the successes go back to the queue: they run again, and a materialization is
    /// recorded once per run and partition, so nothing doubles.
    fn flush(&self, shared: &Shared<'_>, worker: usize, now: bool) -> Result<(), EngineError> {
        let Some(slot) = shared.slots.get(worker) else {
            return Ok(());
        };
        let (completed, finished) = {
            let mut d = slot.done.lock().unwrap_or_else(|p| p.into_inner());
            if d.finished.is_empty() || (!now && d.oldest.is_none_or(|t| t.elapsed() < HOLD_BUDGET))
            {
                return Ok(());
            }
            d.oldest = None;
            (
                std::mem::take(&mut d.completed),
                std::mem::take(&mut d.finished),
            )
        };
        if let Err(e) = self.state.finish_successes(&completed) {
            let ids: Vec<String> = completed.iter().map(|c| c.run_id.clone()).collect();
            let _ = self.state.release(&ids);
            return Err(e);
        }
        let mut s = shared.summary.lock().unwrap_or_else(|p| p.into_inner());
        for (run, ended) in finished {
            let (ok, partitions, error) = match ended {
                Ended::Succeeded(partitions) => {
                    s.runs_succeeded += 1;
                    s.partitions += partitions;
                    (true, partitions, None)
                }
                Ended::Retried(error) => {
                    s.runs_retried += 1;
                    (false, 0, Some(error))
                }
                Ended::Failed(error) => {
                    s.runs_failed += 1;
                    (false, 0, Some(error))
                }
                Ended::Canceled => (false, 0, Some("canceled".into())),
            };
            (shared.progress)(&Progress::RunFinished {
                run,
                ok,
                partitions,
                error,
            });
        }
        drop(s);
        self.notify();
        Ok(())
    }

    /// Runs one claimed run to its end (or its next retry).
    fn execute(&self, run: &RunRecord) -> Result<Outcome, EngineError> {
        let _span = tracing::info_span!("run", run = %run.id, assets = ?run.assets).entered();
        let result = self.try_execute(run);
        let logs = self
            .logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&run.id)
            .map(|l| l.lines)
            .unwrap_or_default();
        match result {
            Ok(Outcome::Success {
                partitions,
                mut done,
            }) => {
                done.logs = logs;
                Ok(Outcome::Success { partitions, done })
            }
            Ok(outcome) => {
                self.state.log_many(&run.id, &logs)?;
                Ok(outcome)
            }
            Err(failure) => {
                self.state.log_many(&run.id, &logs)?;
                let retry = failure.retryable && run.attempts < run.max_attempts;
                let failed_partitions: Vec<(String, String)> = if retry {
                    Vec::new()
                } else {
                    let done: BTreeSet<(String, String)> =
                        self.state.done_in_run(&run.id)?.into_iter().collect();
                    run_keys(&run.selection)
                        .into_iter()
                        .flat_map(|k| run.assets.iter().map(move |a| (a.clone(), k.clone())))
                        .filter(|p| !done.contains(p))
                        .collect()
                };
                let delay = retry.then(|| {
                    let base = self.config.retry_backoff.as_millis() as i64;
                    base.saturating_mul(1 << (run.attempts.saturating_sub(1)).min(10))
                });
                tracing::warn!(error = %failure.message, retry, "run attempt failed");
                self.state
                    .finish_failure(run, &failure.message, &failed_partitions, delay)?;
                Ok(if retry {
                    Outcome::Retry {
                        error: failure.message,
                    }
                } else {
                    Outcome::Failed {
                        error: failure.message,
                    }
                })
            }
        }
    }

    fn try_execute(&self, run: &RunRecord) -> Result<Outcome, Failure> {
        let fatal = |message: String| Failure {
            message,
            retryable: false,
        };
        let plugin = self
            .registry
            .get(&run.plugin)
            .ok_or_else(|| fatal(format!("plugin {:?} is not loaded", run.plugin)))?;
        let graph = self.graph().map_err(|e| fatal(e.to_string()))?;
        let node = graph
            .asset(run.assets.first().map_or("", String::as_str))
            .ok_or_else(|| fatal(format!("asset {:?} is no longer declared", run.assets)))?
            .clone();
        let dynamic = if involves_dynamic(&graph, &node) {
            self.dynamic_snapshot().map_err(|e| fatal(e.to_string()))?
        } else {
            MemoryDynamicStore::new()
        };
        let now = self.config.clock.now();
        let cx = Context::new(now).with_dynamic(&dynamic);
        // Only a run that was interrupted or retried can have recorded keys already.
        let done: BTreeSet<String> = if run.attempts > 1 || run.partitions > CHECKPOINT_EVERY {
            self.state
                .done_in_run(&run.id)
                .map_err(|e| fatal(e.to_string()))?
                .into_iter()
                .map(|(_, k)| k)
                .collect()
        } else {
            BTreeSet::new()
        };
        let calls: Vec<(Selection, Vec<String>, String)> = match &run.selection {
            RunSelection::None => vec![(Selection::None, vec![String::new()], String::new())],
            RunSelection::Keys { keys } => keys
                .iter()
                .filter(|k| !done.contains(*k))
                .map(|k| (Selection::Key(k.clone()), vec![k.clone()], k.clone()))
                .collect(),
            RunSelection::Range { start, end } => {
                let def = node
                    .partitions
                    .as_ref()
                    .ok_or_else(|| fatal("a range of an unpartitioned asset".into()))?;
                let keys: Vec<String> = def
                    .subset_keys(
                        &cx,
                        &def.range(&cx, start, end)
                            .map_err(|e| fatal(e.to_string()))?,
                    )
                    .map_err(|e| fatal(e.to_string()))?
                    .map(PartitionKey::into_string)
                    .collect();
                if keys.iter().all(|k| done.contains(k)) {
                    Vec::new()
                } else {
                    vec![(
                        Selection::Range {
                            start: start.clone(),
                            end: end.clone(),
                        },
                        keys,
                        format!("{start}...{end}"),
                    )]
                }
            }
        };
        // A call produces all the run's assets: it gets the longest of their timeouts.
        let timeout = run
            .assets
            .iter()
            .filter_map(|a| {
                self.config
                    .timeouts
                    .get(a)
                    .copied()
                    .or_else(|| graph.asset(a).and_then(|n| n.timeout))
            })
            .max();
        let mut pending: Vec<NewMaterialization> = Vec::new();
        let mut blobs: Vec<NewBlob> = Vec::new();
        let mut count = 0u64;
        for (i, (selection, keys, label)) in calls.into_iter().enumerate() {
            if i > 0 && (i as u64).is_multiple_of(CHECKPOINT_EVERY) {
                // Checkpoint long runs: a resumed run skips what is recorded, and cancel is
                // noticed between partitions.
                self.state
                    .record_progress(&run.id, &run.plugin, &blobs, &pending)
                    .map_err(|e| fatal(e.to_string()))?;
                pending.clear();
                blobs.clear();
                if self
                    .state
                    .is_canceled(run)
                    .map_err(|e| fatal(e.to_string()))?
                {
                    self.state
                        .finish_canceled(&run.id)
                        .map_err(|e| fatal(e.to_string()))?;
                    return Ok(Outcome::Canceled);
                }
            }
            let inputs = self.gather_inputs(&graph, &node, run, &keys, &cx)?;
            let started = crate::state::now_ms();
            let outputs = plugin
                .materialize(&MaterializeRequest {
                    computation: run.computation.clone(),
                    assets: run.assets.clone(),
                    selection,
                    run_id: run.id.clone(),
                    attempt: run.attempts,
                    now,
                    inputs,
                    timeout,
                })
                .map_err(|e| Failure {
                    retryable: retryable(&e),
                    message: e.to_string(),
                })?;
            let ended = crate::state::now_ms();
            for o in outputs {
                let code_version = graph.asset(&o.asset).map_or_else(
                    || plugin.code_version().to_string(),
                    |n| n.code_version.clone(),
                );
                let (blob, data_version) = if o.data.len() <= INLINE_BLOB_BYTES {
                    // Small outputs live in the database, committed with their records.
                    let name = format!("{}/{}/{}", run.id, o.asset, crate::io::escape_key(&label));
                    let version = crate::io::data_version(&o.data);
                    blobs.push(NewBlob {
                        name: name.clone(),
                        data: o.data,
                    });
                    (format!("db:{name}"), version)
                } else {
                    let blob = IoStore::blob_name(&o.asset, &label);
                    let version = self.io.write(&blob, &o.data).map_err(|e| Failure {
                        message: e.to_string(),
                        retryable: true,
                    })?;
                    (blob, version)
                };
                let metadata = serde_json::to_value(&o.metadata).unwrap_or_default();
                for k in &keys {
                    pending.push(NewMaterialization {
                        asset: o.asset.clone(),
                        partition: k.clone(),
                        code_version: code_version.clone(),
                        data_version: data_version.clone(),
                        blob: blob.clone(),
                        metadata: metadata.clone(),
                        started_at: started,
                        ended_at: ended,
                    });
                }
            }
            count += keys.len() as u64;
        }
        Ok(Outcome::Success {
            partitions: count,
            done: Completed {
                run_id: run.id.clone(),
                plugin: run.plugin.clone(),
                backfill_id: run.backfill_id.clone(),
                logs: Vec::new(),
                blobs,
                materializations: pending,
            },
        })
    }

    /// The inputs of one call: for each upstream asset, the (key, bytes) of every upstream
    /// partition the call's keys map to.
    fn gather_inputs(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        run: &RunRecord,
        keys: &[String],
        cx: &Context<'_>,
    ) -> Result<Vec<InputData>, Failure> {
        let fatal = |message: String| Failure {
            message,
            retryable: false,
        };
        let keys: Vec<String> = keys.iter().filter(|k| !k.is_empty()).cloned().collect();
        let mut inputs: Vec<InputData> = Vec::new();
        for asset in &run.assets {
            let Some(n) = graph.asset(asset) else {
                continue;
            };
            for edge in &n.inputs {
                if inputs.iter().any(|i| i.asset == edge.upstream) {
                    continue;
                }
                let up = graph
                    .asset(&edge.upstream)
                    .ok_or_else(|| fatal(format!("upstream {:?} vanished", edge.upstream)))?;
                let (wanted, nonexistent) = self
                    .upstream_keys(cx, node, edge, up.partitions.as_ref(), &keys)
                    .map_err(|e| fatal(e.to_string()))?;
                if !nonexistent.is_empty() && !edge.allow_missing {
                    return Err(fatal(format!(
                        "input {:?} needs partitions that do not exist: {}",
                        edge.upstream,
                        nonexistent.join(", ")
                    )));
                }
                let records = self
                    .state
                    .partitions_of(&edge.upstream, &wanted)
                    .map_err(|e| fatal(e.to_string()))?;
                let by_key: HashMap<&str, &PartitionRecord> =
                    records.iter().map(|r| (r.partition.as_str(), r)).collect();
                let mut partitions = Vec::new();
                let mut blobs_seen = BTreeSet::new();
                for k in &wanted {
                    let Some(m) = by_key
                        .get(k.as_str())
                        .and_then(|r| r.materialization.as_ref())
                    else {
                        if edge.allow_missing {
                            continue;
                        }
                        let shown = if k.is_empty() { "(unpartitioned)" } else { k };
                        return Err(Failure {
                            message: format!(
                                "upstream partition {}[{shown}] has not been materialized",
                                edge.upstream
                            ),
                            // Another run may produce it (e.g. outside this backfill).
                            retryable: true,
                        });
                    };
                    // A range run stores one blob for all its keys: deliver it once, labelled
                    // with the range.
                    if !blobs_seen.insert(m.blob.clone()) {
                        continue;
                    }
                    let data = self.read_blob(&m.blob).map_err(|e| Failure {
                        message: e.to_string(),
                        retryable: true,
                    })?;
                    let label = m
                        .blob
                        .rsplit_once('/')
                        .map_or_else(|| k.clone(), |(_, f)| crate::io::unescape_key(f));
                    partitions.push((label, data));
                }
                inputs.push(InputData {
                    asset: edge.upstream.clone(),
                    partitions,
                });
            }
        }
        Ok(inputs)
    }

    // ---- status --------------------------------------------------------------------------

    /// Counts and a health bar of `width` buckets for one asset; with `list`, also every
    /// recorded partition with its details.
    pub fn asset_status(
        &self,
        graph: &AssetGraph,
        asset: &str,
        width: usize,
        now: DateTime<Utc>,
        list: bool,
    ) -> Result<(AssetStatus, Vec<PartitionView>), EngineError> {
        let node = self.node(graph, asset)?;
        let dynamic = if involves_dynamic(graph, node) {
            self.dynamic_snapshot()?
        } else {
            MemoryDynamicStore::new()
        };
        let cx = Context::new(now).with_dynamic(&dynamic);
        let records = self.state.partition_summaries(asset, &node.code_version)?;
        let stale = self.stale_keys(graph, node, &records, &cx)?;
        let (total, kind) = match &node.partitions {
            Some(d) => (d.count(&cx)?, d.kind().to_string()),
            None => (1, "unpartitioned".to_string()),
        };
        let width = width.max(1).min(total.max(1) as usize);
        let mut buckets = vec![(0u64, 0u64); width];
        let mut materialized = 0;
        let mut failed = 0;
        for r in &records {
            let index = match &node.partitions {
                Some(d) => d.index_of(&cx, &r.partition)?,
                None => Some(0),
            };
            let Some(i) = index.filter(|i| (0..total as i64).contains(i)) else {
                continue;
            };
            let b = ((i as u128 * width as u128) / total.max(1) as u128) as usize;
            let bucket = &mut buckets[b.min(width - 1)];
            if r.failed {
                failed += 1;
                bucket.1 += 1;
            } else {
                materialized += 1;
                bucket.0 += 1;
            }
        }
        let views = if list {
            self.state
                .partitions(asset)?
                .into_iter()
                .map(|r| PartitionView {
                    state: match r.status {
                        PartitionState::Failed => "failed",
                        PartitionState::Materialized if stale.contains(&r.partition) => "stale",
                        PartitionState::Materialized => "materialized",
                    },
                    run_id: r.materialization.as_ref().map(|m| m.run_id.clone()),
                    data_version: r.materialization.as_ref().map(|m| m.data_version.clone()),
                    code_version: r.materialization.as_ref().map(|m| m.code_version.clone()),
                    error: r.error.clone(),
                    key: r.partition,
                })
                .collect()
        } else {
            Vec::new()
        };
        let bar: String = buckets
            .iter()
            .enumerate()
            .map(|(b, &(ok, bad))| {
                let lo = (b as u128 * total as u128 / width as u128) as u64;
                let hi = ((b as u128 + 1) * total as u128 / width as u128) as u64;
                let size = hi.saturating_sub(lo).max(1);
                if bad > 0 {
                    'x'
                } else if ok >= size {
                    '█'
                } else if ok > 0 {
                    '▓'
                } else {
                    '·'
                }
            })
            .collect();
        Ok((
            AssetStatus {
                asset: asset.to_string(),
                plugin: node.plugin.clone(),
                partitions_kind: kind,
                total,
                materialized,
                failed,
                missing: total.saturating_sub(materialized + failed),
                stale: stale.len() as u64,
                bar,
            },
            views,
        ))
    }

    // ---- sensors -------------------------------------------------------------------------

    /// Evaluates one sensor now: applies its dynamic-partition requests, then validates and
    /// queues its run requests (a run key seen before is skipped), and stores the new cursor;
    /// all in one transaction.
    pub fn tick_sensor(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<SensorOutcome, EngineError> {
        let graph = self.graph()?;
        let sensor = graph
            .sensors()
            .get(name)
            .ok_or_else(|| EngineError::UnknownSensor(name.to_string()))?
            .clone();
        let plugin = self
            .registry
            .get(&sensor.plugin)
            .ok_or_else(|| EngineError::UnknownPlugin(sensor.plugin.clone()))?;
        let state = self.state.sensor_state(name)?;
        let at = now.timestamp_millis();
        let request = tessera_runtime::SensorRequest {
            sensor: name.to_string(),
            cursor: state.cursor.clone(),
            last_evaluation: state
                .last_evaluation
                .and_then(DateTime::<Utc>::from_timestamp_millis),
            now,
        };
        let mut tick = crate::state::SensorTick {
            sensor: name.to_string(),
            at,
            cursor: state.cursor.clone(),
            skip_reason: None,
            error: None,
            dynamic: Vec::new(),
            runs: Vec::new(),
        };
        let result = match plugin.evaluate_sensor_cancelable(&request, Some(&self.sensor_cancel)) {
            Ok(r) => r,
            Err(e @ CallError::Canceled { .. }) => {
                // Stopping: not the sensor's fault, so nothing is recorded.
                return Err(EngineError::Invalid(format!("sensor {name:?}: {e}")));
            }
            Err(e) => {
                // The cursor stays; the error is shown by `tessera sensor list`.
                tick.error = Some(e.to_string());
                self.state.record_sensor_tick(&tick)?;
                return Err(EngineError::Invalid(format!("sensor {name:?}: {e}")));
            }
        };
        tick.skip_reason = result.skip_reason.clone();
        tick.dynamic = result
            .dynamic_partitions
            .iter()
            .map(|d| (d.name.clone(), d.add.clone(), d.delete.clone()))
            .collect();
        for d in &result.dynamic_partitions {
            let checked = crate::state::check_dynamic_name(&d.name)
                .and_then(|()| crate::state::check_dynamic_keys(&d.add));
            if let Err(e) = checked {
                tick.error = Some(e.to_string());
                tick.dynamic.clear();
                self.state.record_sensor_tick(&tick)?;
                return Err(EngineError::Invalid(format!("sensor {name:?}: {e}")));
            }
        }
        // Run requests that name partitions are checked against the dynamic sets as they will
        // be after this tick: one pass over each set's keys (a sensor may add a million).
        let mut dynamic = MemoryDynamicStore::new();
        if result
            .run_requests
            .iter()
            .any(|rr| !matches!(rr.selection, Selection::None))
        {
            let mut names: BTreeSet<String> = self
                .state
                .dynamic_names()?
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            names.extend(result.dynamic_partitions.iter().map(|d| d.name.clone()));
            for set in names {
                let mut keys: indexmap::IndexSet<String> =
                    self.state.dynamic_keys(&set)?.into_iter().collect();
                for d in result.dynamic_partitions.iter().filter(|d| d.name == set) {
                    if !d.delete.is_empty() {
                        let gone: std::collections::HashSet<&str> =
                            d.delete.iter().map(String::as_str).collect();
                        keys.retain(|k| !gone.contains(k.as_str()));
                    }
                    keys.extend(d.add.iter().cloned());
                }
                dynamic.add(&set, keys);
            }
        }
        let cx = Context::new(now).with_dynamic(&dynamic);
        let mut skipped = 0;
        for rr in &result.run_requests {
            if let Some(key) = &rr.run_key
                && self.state.sensor_run_key_seen(name, key)?
            {
                skipped += 1;
                continue;
            }
            let Some(first) = rr.assets.first().and_then(|a| graph.asset(a)) else {
                continue;
            };
            let selection = match &rr.selection {
                Selection::None => RunSelection::None,
                Selection::Key(k) => RunSelection::Keys {
                    keys: vec![k.clone()],
                },
                Selection::Range { start, end } => RunSelection::Range {
                    start: start.clone(),
                    end: end.clone(),
                },
            };
            if let Some(def) = &first.partitions {
                match &rr.selection {
                    Selection::Key(k) if !def.has_key(&cx, k)? => {
                        return Err(EngineError::Invalid(format!(
                            "sensor {name:?} requested partition {k:?} of {:?}, which does not exist",
                            first.key
                        )));
                    }
                    Selection::Range { start, end } => {
                        def.range(&cx, start, end)?;
                    }
                    _ => {}
                }
            }
            tick.runs.push(NewRun {
                id: new_id("r"),
                plugin: first.plugin.clone(),
                computation: first.computation.clone(),
                assets: rr.assets.clone(),
                partitions: match &selection {
                    RunSelection::Keys { keys } => keys.len() as u64,
                    _ => 1,
                },
                selection,
                backfill_id: None,
                run_key: rr.run_key.clone(),
                trigger: format!("sensor:{name}"),
                tags: rr.tags.clone(),
                max_attempts: self.config.max_attempts,
                depends_on: Vec::new(),
                pool: first.pool.clone(),
            });
        }
        tick.cursor = result.cursor.clone().or(state.cursor);
        let launched = self.state.record_sensor_tick(&tick)?;
        let run_keys_skipped = skipped + (tick.runs.len() - launched.len()) as u64;
        Ok(SensorOutcome {
            sensor: name.to_string(),
            runs_queued: launched,
            // Duplicates within this one evaluation are dropped in the transaction.
            run_keys_skipped,
            skip_reason: result.skip_reason,
            cursor: tick.cursor,
            dynamic_partitions: result
                .dynamic_partitions
                .iter()
                .map(|d| (d.name.clone(), d.add.len() as u64, d.delete.len() as u64))
                .collect(),
        })
    }

    // ---- eager policies ------------------------------------------------------------------

    /// For every asset with the eager policy: queues its materialized partitions whose
    /// upstream partitions were re-materialized since (late-arriving data). Cheap when nothing
    /// was materialized since the last call. A partition is queued once per upstream change
    /// (the run key names the newest upstream materialization).
    pub fn queue_eager(&self, now: DateTime<Utc>) -> Result<Vec<String>, EngineError> {
        let newest = self.state.last_materialization()?;
        {
            let seen = self.eager_seen.lock().unwrap_or_else(|p| p.into_inner());
            if *seen == newest {
                return Ok(Vec::new());
            }
        }
        let graph = self.graph()?;
        let dynamic = self.dynamic_snapshot()?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        let mut queued = Vec::new();
        for node in graph.assets().filter(|n| n.eager && !n.inputs.is_empty()) {
            let records = self
                .state
                .partition_summaries(&node.key, &node.code_version)?;
            let stale = self.upstream_newer(&graph, node, &records, &cx)?;
            let mut tick = crate::state::SensorTick {
                sensor: format!("eager:{}", node.key),
                at: now.timestamp_millis(),
                cursor: None,
                skip_reason: None,
                error: None,
                dynamic: Vec::new(),
                runs: Vec::new(),
            };
            for (key, upstream_id) in stale {
                tick.runs.push(NewRun {
                    id: new_id("r"),
                    plugin: node.plugin.clone(),
                    computation: node.computation.clone(),
                    assets: vec![node.key.clone()],
                    selection: RunSelection::Keys {
                        keys: vec![key.clone()],
                    },
                    partitions: 1,
                    backfill_id: None,
                    run_key: Some(format!("{key}@{upstream_id}")),
                    trigger: "eager".into(),
                    tags: Vec::new(),
                    max_attempts: self.config.max_attempts,
                    depends_on: Vec::new(),
                    pool: node.pool.clone(),
                });
            }
            if !tick.runs.is_empty() {
                queued.extend(self.state.record_sensor_tick(&tick)?);
            }
        }
        *self.eager_seen.lock().unwrap_or_else(|p| p.into_inner()) = newest;
        Ok(queued)
    }

    /// Materialized partitions of `node` with an upstream partition materialized after them,
    /// and the newest such upstream materialization.
    fn upstream_newer<'r>(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        records: impl IntoIterator<Item = &'r PartitionSummary>,
        cx: &Context<'_>,
    ) -> Result<Vec<(String, i64)>, EngineError> {
        let mut out = Vec::new();
        let mut upstream = Vec::new();
        for e in &node.inputs {
            let up = self.node(graph, &e.upstream)?;
            let latest: HashMap<String, i64> = self
                .state
                .partition_summaries(&e.upstream, &up.code_version)?
                .into_iter()
                .filter_map(|r| r.materialization.map(|id| (r.partition, id)))
                .collect();
            upstream.push((e, up.partitions.as_ref(), latest));
        }
        for r in records {
            let Some(own) = r.materialization else {
                continue;
            };
            let mut newest = None;
            for (edge, up_def, latest) in &upstream {
                let (keys, _) = self.upstream_keys(
                    cx,
                    node,
                    edge,
                    *up_def,
                    std::slice::from_ref(&r.partition),
                )?;
                for k in keys {
                    if let Some(id) = latest.get(&k).filter(|id| **id > own) {
                        newest = newest.max(Some(*id));
                    }
                }
            }
            if let Some(id) = newest {
                out.push((r.partition.clone(), id));
            }
        }
        Ok(out)
    }

    // ---- schedules -----------------------------------------------------------------------

    /// Requests the latest complete partition of the schedule's asset for every cron tick
    /// since the last recorded one (at most `catch_up` of them, newest kept), with the
    /// partition key as run key. On the first call only the latest tick counts.
    pub fn tick_schedule(
        &self,
        spec: &ScheduleSpec,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, EngineError> {
        let bad = |m: String| EngineError::Invalid(format!("schedule {:?}: {m}", spec.name));
        let schedule = spec.schedule()?;
        let graph = self.graph()?;
        let node = self.node(&graph, &spec.asset)?;
        let def = node
            .partitions
            .as_ref()
            .ok_or_else(|| bad(format!("asset {:?} is not partitioned", spec.asset)))?;
        let now_s = now.timestamp();
        let mut ticks: Vec<i64> = Vec::new();
        match self.state.last_schedule_tick(&spec.name)? {
            Some(last) => {
                for t in schedule.iter_from(last + 1) {
                    if t > now_s {
                        break;
                    }
                    ticks.push(t);
                    if ticks.len() > spec.catch_up.max(1) as usize {
                        ticks.remove(0);
                    }
                }
            }
            None => {
                if let Some(t) = schedule.prev(now_s + 1) {
                    ticks.push(t);
                }
            }
        }
        let dynamic = self.dynamic_snapshot()?;
        let mut rows = Vec::new();
        for t in ticks {
            let at = DateTime::<Utc>::from_timestamp(t, 0).unwrap_or(now);
            let cx = Context::new(at).with_dynamic(&dynamic);
            let key = def.last_key(&cx)?.map(PartitionKey::into_string);
            let run = key.as_ref().map(|k| NewRun {
                id: new_id("r"),
                plugin: node.plugin.clone(),
                computation: node.computation.clone(),
                assets: vec![node.key.clone()],
                selection: RunSelection::Keys {
                    keys: vec![k.clone()],
                },
                partitions: 1,
                backfill_id: None,
                run_key: Some(k.clone()),
                trigger: format!("schedule:{}", spec.name),
                tags: vec![("schedule".into(), spec.name.clone())],
                max_attempts: self.config.max_attempts,
                depends_on: Vec::new(),
                pool: node.pool.clone(),
            });
            rows.push((t, key, run));
        }
        self.state.record_schedule_ticks(&spec.name, &rows)
    }

    // ---- dynamic partitions --------------------------------------------------------------

    pub fn dynamic_add(&self, name: &str, keys: &[String]) -> Result<u64, EngineError> {
        self.state.dynamic_add(name, keys)
    }
}

/// A cron schedule over a partitioned asset.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    pub name: String,
    pub asset: String,
    pub cron: String,
    pub timezone: String,
    pub catch_up: u32,
}

impl ScheduleSpec {
    /// The cron schedule in its time zone: an error names the schedule and what is wrong
    /// (checked when the configuration loads, not at the first tick).
    pub fn schedule(&self) -> Result<tessera_partitions::Schedule, EngineError> {
        let bad = |m: String| EngineError::Invalid(format!("schedule {:?}: {m}", self.name));
        let cron = tessera_partitions::cron::Cron::parse(&self.cron)
            .map_err(|e| bad(format!("cron {:?}: {e}", self.cron)))?;
        let zone = tessera_partitions::Zone::new(&self.timezone)
            .map_err(|e| bad(format!("timezone {:?}: {e}", self.timezone)))?;
        tessera_partitions::Schedule::new(cron, zone).map_err(|e| bad(e.to_string()))
    }

    /// The schedule's target in a graph: a partitioned asset.
    pub fn check_target(&self, graph: &AssetGraph) -> Result<(), EngineError> {
        let bad = |m: String| EngineError::Invalid(format!("schedule {:?}: {m}", self.name));
        match graph.asset(&self.asset) {
            None => Err(bad(format!(
                "its asset {:?} is not declared by any loaded plugin (see `tessera assets`)",
                self.asset
            ))),
            Some(n) if n.partitions.is_none() => Err(bad(format!(
                "its asset {:?} is not partitioned",
                self.asset
            ))),
            Some(_) => Ok(()),
        }
    }
}

/// The most runs one process executes at once: each is a thread and a plugin instance.
pub const MAX_CONCURRENCY: usize = 256;

/// What one sensor evaluation did.
#[derive(Debug, Clone, Serialize)]
pub struct SensorOutcome {
    pub sensor: String,
    pub runs_queued: Vec<String>,
    pub run_keys_skipped: u64,
    pub skip_reason: Option<String>,
    pub cursor: Option<String>,
    /// (set, keys added, keys deleted)
    pub dynamic_partitions: Vec<(String, u64, u64)>,
}

/// What `submit` stored.
#[derive(Debug, Clone, Serialize)]
pub struct Submitted {
    pub backfill_id: Option<String>,
    pub runs: Vec<String>,
    pub partitions: u64,
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

/// The most runs claimed (and successes recorded) per transaction.
const CLAIM_BATCH: u32 = 32;
/// How long a claimed run may wait for its worker, and a success for its record: the price
/// of batching transactions, never of holding work another worker or process could do.
const HOLD_BUDGET: Duration = Duration::from_millis(20);

/// The registry generation, the asset graph built for it, and the plugins left out of it.
type GraphCache = (u64, Arc<AssetGraph>, BTreeMap<String, String>);

/// The executor state one `run_scope` call shares between its workers and its monitor.
struct Shared<'a> {
    scope: &'a RunScope,
    progress: &'a (dyn Fn(&Progress) + Sync),
    /// One per worker.
    slots: Vec<Slot>,
    summary: Mutex<QueueSummary>,
    first_error: Mutex<Option<EngineError>>,
    abort: std::sync::atomic::AtomicBool,
    workers_done: std::sync::atomic::AtomicUsize,
    /// Wakes the monitor when the last worker is done.
    monitor: (Mutex<()>, Condvar),
}

impl Shared<'_> {
    /// Records the first error and stops every worker: the command fails with it instead of
    /// waiting for runs nobody will finish.
    fn fail(&self, e: EngineError) {
        let mut f = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        f.get_or_insert(e);
        self.abort.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A worker's claimed runs and its finished ones: its own, so that workers neither wait for
/// nor free each other's (the monitor steps in only for a worker stuck in a slow run).
#[derive(Default)]
struct Slot {
    claimed: Mutex<Claimed>,
    done: Mutex<Finished>,
}

impl Slot {
    fn take_claimed(&self) -> Vec<String> {
        self.claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .runs
            .drain(..)
            .map(|r| r.id)
            .collect()
    }
}

/// Runs claimed but not started, and when they were claimed.
#[derive(Default)]
struct Claimed {
    runs: std::collections::VecDeque<RunRecord>,
    at: Option<std::time::Instant>,
}

/// Runs finished, their successes buffered for one transaction.
#[derive(Default)]
struct Finished {
    completed: Vec<Completed>,
    finished: Vec<(String, Ended)>,
    /// When the oldest of them started.
    oldest: Option<std::time::Instant>,
}
/// Keys of one run between checkpoints.
const CHECKPOINT_EVERY: u64 = 64;
/// Outputs up to this size are stored in the database (a row keyed by name: small rows keep
/// that table compact); larger ones as files.
const INLINE_BLOB_BYTES: usize = 16 << 10;

/// Whether running `node` needs the dynamic partition sets (its own or an input's).
fn involves_dynamic(graph: &AssetGraph, node: &AssetNode) -> bool {
    fn dynamic(def: Option<&PartitionsDefinition>) -> bool {
        match def {
            Some(PartitionsDefinition::Dynamic(_)) => true,
            Some(PartitionsDefinition::Multi(m)) => m
                .dimensions()
                .iter()
                .any(|d| matches!(d.def, PartitionsDefinition::Dynamic(_))),
            _ => false,
        }
    }
    dynamic(node.partitions.as_ref())
        || node
            .inputs
            .iter()
            .any(|e| dynamic(graph.asset(&e.upstream).and_then(|u| u.partitions.as_ref())))
}

/// How a run ended, for its progress report (its recorded success is in `Finished`).
enum Ended {
    Succeeded(u64),
    Retried(String),
    Failed(String),
    Canceled,
}

enum Outcome {
    Success { partitions: u64, done: Completed },
    Retry { error: String },
    Failed { error: String },
    Canceled,
}

struct Failure {
    message: String,
    retryable: bool,
}

/// A failure the plugin reported, a timeout, a trap or a host hiccup may pass on a retry
/// (late data, a flaky source); a contract violation or a missing function will not.
fn retryable(e: &CallError) -> bool {
    !matches!(
        e,
        CallError::UnknownComputation { .. }
            | CallError::UnknownSensor { .. }
            | CallError::InvalidInput { .. }
            | CallError::InvalidResult { .. }
    )
}

fn run_keys(selection: &RunSelection) -> Vec<String> {
    match selection {
        RunSelection::None => vec![String::new()],
        RunSelection::Keys { keys } => keys.clone(),
        RunSelection::Range { start, end } => vec![format!("{start}...{end}")],
    }
}

fn describe_selection(selection: &PartitionSelection, filter: Filter) -> String {
    let s = match selection {
        PartitionSelection::All => "all partitions".to_string(),
        PartitionSelection::Keys(k) if k.len() == 1 => k[0].clone(),
        PartitionSelection::Keys(k) => format!("{} keys", k.len()),
        PartitionSelection::Range { start, end } => format!("{start}...{end}"),
    };
    match filter {
        Filter::Any => s,
        Filter::Missing => format!("{s}, missing only"),
        Filter::Failed => format!("{s}, failed only"),
        Filter::Stale => format!("{s}, stale only"),
    }
}

/// Splits a computation's selected partitions into runs.
fn split(
    node: &AssetNode,
    assets: &[String],
    subset: Option<&PartitionSubset>,
    policy: RunPolicy,
    cx: &Context<'_>,
) -> Result<Vec<Unit>, EngineError> {
    let (Some(def), Some(subset)) = (&node.partitions, subset) else {
        return Ok(vec![Unit {
            id: new_id("r"),
            node_key: node.key.clone(),
            assets: assets.to_vec(),
            selection: RunSelection::None,
            indices: Vec::new(),
            keys: Vec::new(),
        }]);
    };
    let mut units = Vec::new();
    let unit = |selection: RunSelection, indices: Vec<(i64, i64)>, keys: Vec<String>| Unit {
        id: new_id("r"),
        node_key: node.key.clone(),
        assets: assets.to_vec(),
        selection,
        indices,
        keys,
    };
    match policy {
        RunPolicy::SingleRun => {
            for &(a, b) in subset.indices().ranges() {
                let piece = PartitionSubset::from_range(a, b);
                let keys: Vec<String> = def
                    .subset_keys(cx, &piece)?
                    .map(PartitionKey::into_string)
                    .collect();
                let (Some(first), Some(last)) = (keys.first(), keys.last()) else {
                    continue;
                };
                let selection = if keys.len() == 1 {
                    RunSelection::Keys { keys: keys.clone() }
                } else {
                    RunSelection::Range {
                        start: first.clone(),
                        end: last.clone(),
                    }
                };
                units.push(unit(selection, vec![(a, b)], keys));
            }
        }
        RunPolicy::PerPartition | RunPolicy::MaxPerRun(_) => {
            let per = match policy {
                RunPolicy::MaxPerRun(n) => n.max(1) as usize,
                _ => 1,
            };
            let indices: Vec<i64> = subset.indices().iter().collect();
            let keys: Vec<String> = def
                .subset_keys(cx, subset)?
                .map(PartitionKey::into_string)
                .collect();
            for (ks, is) in keys.chunks(per).zip(indices.chunks(per)) {
                let ranges = tessera_partitions::RangeSet::from_values(is.iter().copied());
                units.push(unit(
                    RunSelection::Keys { keys: ks.to_vec() },
                    ranges.ranges().to_vec(),
                    ks.to_vec(),
                ));
            }
        }
    }
    Ok(units)
}
