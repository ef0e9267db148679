//! The plugins of a directory, kept current: every `*.wasm` file is a plugin named by its stem.
//! A change is loaded off the caller's threads, validated in full and swapped in atomically;
//! calls in flight keep the `Arc<Plugin>` they started with; a failed load keeps the previous
//! version serving and is recorded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::error::LoadError;
use crate::plugin::Plugin;
use crate::runtime::{Runtime, content_hash};

/// What happened to a plugin file.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RegistryEvent {
    /// A plugin started serving (first load, or a new version).
    Loaded {
        plugin: String,
        version: String,
        previous_version: Option<String>,
        path: PathBuf,
        from_cache: bool,
        /// Compiling or loading the cached artifact.
        compile_ms: f64,
        /// When compiled with the incremental compilation cache: the functions it gave back
        /// and those compiled.
        #[serde(skip_serializing_if = "Option::is_none")]
        functions: Option<crate::FunctionCounts>,
        /// From noticing the change to serving the new version.
        detected_to_serving_ms: f64,
    },
    /// A load failed; the previous version, if any, keeps serving.
    Failed {
        plugin: String,
        path: PathBuf,
        error: String,
        serving_version: Option<String>,
    },
    /// The file was removed; the plugin no longer serves new calls.
    Removed { plugin: String, version: String },
}

/// A recorded load failure.
#[derive(Debug, Clone, Serialize)]
pub struct LoadFailure {
    pub path: PathBuf,
    /// The content hash of the file that failed (absent when it could not be read).
    pub version: Option<String>,
    pub error: String,
    #[serde(with = "unix_secs")]
    pub at: SystemTime,
}

mod unix_secs {
    use std::time::SystemTime;

    use serde::Serializer;

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let secs = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        s.serialize_f64(secs)
    }
}

/// Checks a proposed set of plugins (by name) before a new version goes live.
pub type Validator = dyn Fn(&BTreeMap<String, Arc<Plugin>>) -> Result<(), String> + Send + Sync;

struct Inner {
    /// Bumped whenever the set of serving versions changes.
    generation: std::sync::atomic::AtomicU64,
    /// Held while a new version is checked against the others and swapped in, so that two
    /// plugins loading at once are each checked against what the other left.
    swap: std::sync::Mutex<()>,
    /// Plugin files whose load failed, by name: a content seen to fail is not loaded again
    /// (nor reported again) until the file changes.
    failed_content: RwLock<BTreeMap<String, String>>,
    runtime: Runtime,
    validator: RwLock<Option<Arc<Validator>>>,
    dir: PathBuf,
    /// Where the last version of each plugin that served is kept (see
    /// [`Registry::keep_last_good`]).
    last_good: RwLock<Option<PathBuf>>,
    plugins: RwLock<BTreeMap<String, Arc<Plugin>>>,
    errors: RwLock<BTreeMap<String, LoadFailure>>,
    events: broadcast::Sender<RegistryEvent>,
}

/// The current plugins of a directory. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

/// Stops watching when dropped.
pub struct WatchHandle {
    _debouncer: Box<dyn std::any::Any + Send>,
}

impl std::fmt::Debug for WatchHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WatchHandle")
    }
}

fn plugin_name(path: &Path) -> Option<String> {
    (path.extension()? == "wasm")
        .then(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))?
}

impl Registry {
    pub fn new(runtime: Runtime, dir: &Path) -> Registry {
        let (events, _) = broadcast::channel(256);
        Registry {
            inner: Arc::new(Inner {
                generation: std::sync::atomic::AtomicU64::new(0),
                swap: std::sync::Mutex::new(()),
                failed_content: RwLock::new(BTreeMap::new()),
                runtime,
                validator: RwLock::new(None),
                dir: dir.to_path_buf(),
                last_good: RwLock::new(None),
                plugins: RwLock::new(BTreeMap::new()),
                errors: RwLock::new(BTreeMap::new()),
                events,
            }),
        }
    }

    /// Installs a check every reload must pass (the engine's asset graph): a new version that
    /// would turn a valid set of plugins into an invalid one is refused, and the old version
    /// keeps serving. A set that is already invalid does not block reloads (they may fix it).
    pub fn set_validator(&self, validator: Arc<Validator>) {
        if let Ok(mut v) = self.inner.validator.write() {
            *v = Some(validator);
        }
    }

    /// Keeps a copy of every version that serves in `dir` (`<name>.wasm`, beside its
    /// `<name>.sha256`), and serves that copy when a plugin's file fails to load with nothing
    /// serving yet: a command started beside a broken file sees the plugin set the daemon
    /// serves, with the broken file reported. Set before [`Registry::load_all`].
    pub fn keep_last_good(&self, dir: &Path) {
        if let Ok(mut d) = self.inner.last_good.write() {
            *d = Some(dir.to_path_buf());
        }
    }

    fn last_good_dir(&self) -> Option<PathBuf> {
        self.inner.last_good.read().ok().and_then(|d| d.clone())
    }

    /// Records `bytes` as the last good version of `name` (atomically; skipped when that
    /// version is the one kept). A failure costs only the fallback: it is logged.
    fn keep(&self, name: &str, bytes: &[u8], hash: &str) {
        let Some(dir) = self.last_good_dir() else {
            return;
        };
        let stamp = dir.join(format!("{name}.sha256"));
        if std::fs::read_to_string(&stamp).is_ok_and(|h| h.trim() == hash) {
            return;
        }
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let tmp = dir.join(format!(".{name}.wasm.tmp{}", std::process::id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, dir.join(format!("{name}.wasm")))?;
            let tmp = dir.join(format!(".{name}.sha256.tmp{}", std::process::id()));
            std::fs::write(&tmp, hash)?;
            std::fs::rename(&tmp, &stamp)
        };
        if let Err(e) = write() {
            tracing::warn!(plugin = name, error = %e, "cannot keep the last good version");
        }
    }

    /// Serves the kept last good version of `name`, when nothing serves it and one is kept
    /// whose content is not `failed` (the content that just failed).
    fn serve_last_good(&self, name: &str, failed: Option<&str>) -> Option<Arc<Plugin>> {
        let dir = self.last_good_dir()?;
        let path = dir.join(format!("{name}.wasm"));
        let limit = self.inner.runtime.config().max_plugin_bytes;
        let bytes = crate::fs::read_regular_file(&path, limit).ok()?;
        let hash = content_hash(&bytes);
        if failed == Some(hash.as_str()) {
            return None;
        }
        let plugin = match self.inner.runtime.load_hashed(name, &path, &bytes, hash) {
            Ok(p) => Arc::new(p),
            Err(e) => {
                tracing::warn!(plugin = name, error = %e, "the kept last good version does not load");
                return None;
            }
        };
        let _swapping = self.inner.swap.lock().unwrap_or_else(|p| p.into_inner());
        if self.check_swap(name, &plugin).is_err() {
            return None;
        }
        let mut plugins = self.inner.plugins.write().ok()?;
        if plugins.contains_key(name) {
            return None;
        }
        plugins.insert(name.to_string(), Arc::clone(&plugin));
        drop(plugins);
        self.bump();
        tracing::warn!(
            plugin = name,
            version = &plugin.code_version()[..12.min(plugin.code_version().len())],
            "serving the last good version"
        );
        Some(plugin)
    }

    /// Records a failure of `name`'s file; with nothing serving, the last good version serves
    /// from now on (the failure stays reported).
    fn failed_or_last_good(
        &self,
        name: &str,
        path: &Path,
        version: Option<&str>,
        e: &LoadError,
        current: Option<&Plugin>,
    ) -> Option<RegistryEvent> {
        let fallback = match current {
            Some(_) => None,
            None => self.serve_last_good(name, version),
        };
        self.failed_once(name, path, version, e, current.or(fallback.as_deref()))
    }

    /// Changes whenever a version is swapped in or a plugin removed: callers cache what they
    /// derive from the plugin set (the asset graph) under it.
    pub fn generation(&self) -> u64 {
        self.inner
            .generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    fn bump(&self) {
        self.inner
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Runs the validator over the current set, e.g. after `load_all`.
    pub fn validate(&self) -> Result<(), String> {
        let validator = self.inner.validator.read().ok().and_then(|v| v.clone());
        let plugins = self
            .inner
            .plugins
            .read()
            .map(|p| p.clone())
            .unwrap_or_default();
        validator.map_or(Ok(()), |v| v(&plugins))
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// Events from now on (loads, failures, removals).
    pub fn subscribe(&self) -> broadcast::Receiver<RegistryEvent> {
        self.inner.events.subscribe()
    }

    /// The serving version of a plugin.
    pub fn get(&self, name: &str) -> Option<Arc<Plugin>> {
        self.inner
            .plugins
            .read()
            .ok()
            .and_then(|p| p.get(name).cloned())
    }

    /// Every serving plugin, by name.
    pub fn plugins(&self) -> Vec<Arc<Plugin>> {
        self.inner
            .plugins
            .read()
            .map(|p| p.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The last failure of each plugin whose latest load failed.
    pub fn errors(&self) -> BTreeMap<String, LoadFailure> {
        self.inner
            .errors
            .read()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    /// Loads every plugin file of the directory, in name order. A `*.wasm` entry that is not a
    /// regular file (a FIFO, a device, a directory) is reported as a failure, never read.
    pub fn load_all(&self) -> Result<Vec<RegistryEvent>, LoadError> {
        let dir = &self.inner.dir;
        let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Io {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| plugin_name(p).is_some())
            .collect();
        paths.sort();
        Ok(paths
            .iter()
            .filter_map(|p| self.refresh(p, Instant::now()))
            .collect())
    }

    /// Brings one path up to date: loads it if it changed, unloads it if it is gone. Returns
    /// the event, or `None` when nothing changed (the same content is serving, or already
    /// failed and was reported). Blocking: call off async threads.
    pub fn refresh(&self, path: &Path, detected: Instant) -> Option<RegistryEvent> {
        let name = plugin_name(path)?;
        // Gone (a dangling symlink too): no longer served, and no longer failing.
        if !path.exists() {
            if let Ok(mut f) = self.inner.failed_content.write() {
                f.remove(&name);
            }
            if let Ok(mut errors) = self.inner.errors.write() {
                errors.remove(&name);
            }
            let removed = self.inner.plugins.write().ok()?.remove(&name)?;
            self.bump();
            return Some(self.publish(RegistryEvent::Removed {
                plugin: name,
                version: removed.code_version().to_string(),
            }));
        }
        let current = self.get(&name);
        let bytes = match self.wait_until_stable(path) {
            Ok(b) => b,
            Err(e) => return self.failed_or_last_good(&name, path, None, &e, current.as_deref()),
        };
        let hash = content_hash(&bytes);
        if current.as_ref().is_some_and(|p| p.code_version() == hash) {
            // Back to the serving content: whatever failed in between is moot.
            if let Ok(mut f) = self.inner.failed_content.write() {
                f.remove(&name);
            }
            if let Ok(mut errors) = self.inner.errors.write() {
                errors.remove(&name);
            }
            return None;
        }
        let known_bad = self
            .inner
            .failed_content
            .read()
            .ok()
            .is_some_and(|f| f.get(&name) == Some(&hash));
        if known_bad {
            return None;
        }
        let plugin = match self
            .inner
            .runtime
            .load_hashed(&name, path, &bytes, hash.clone())
        {
            Ok(plugin) => Arc::new(plugin),
            Err(e) => {
                // The content itself is bad: remember it, so another event for the same bytes
                // neither loads nor reports it again.
                if let Ok(mut f) = self.inner.failed_content.write() {
                    f.insert(name.clone(), hash.clone());
                }
                return self.failed_or_last_good(&name, path, Some(&hash), &e, current.as_deref());
            }
        };
        let kept = bytes;
        let stats = plugin.stats();
        let version = plugin.code_version().to_string();
        let previous = {
            let _swapping = self.inner.swap.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(message) = self.check_swap(&name, &plugin) {
                // Refused for how it fits the other plugins, which may change: not cached.
                let e = LoadError::Rejected {
                    plugin: name.clone(),
                    message,
                };
                return self.failed_or_last_good(&name, path, Some(&hash), &e, current.as_deref());
            }
            let previous = self
                .inner
                .plugins
                .write()
                .ok()
                .and_then(|mut p| p.insert(name.clone(), plugin));
            self.bump();
            previous
        };
        if let Ok(mut f) = self.inner.failed_content.write() {
            f.remove(&name);
        }
        if let Ok(mut errors) = self.inner.errors.write() {
            errors.remove(&name);
        }
        self.keep(&name, &kept, &hash);
        drop(kept);
        Some(self.publish(RegistryEvent::Loaded {
            plugin: name,
            version,
            previous_version: previous.map(|p| p.code_version().to_string()),
            path: path.to_path_buf(),
            from_cache: stats.from_cache,
            compile_ms: stats.compile.as_secs_f64() * 1e3,
            functions: stats.functions,
            detected_to_serving_ms: detected.elapsed().as_secs_f64() * 1e3,
        }))
    }

    fn check_swap(&self, name: &str, plugin: &Arc<Plugin>) -> Result<(), String> {
        let Some(validator) = self.inner.validator.read().ok().and_then(|v| v.clone()) else {
            return Ok(());
        };
        let current = self
            .inner
            .plugins
            .read()
            .map(|p| p.clone())
            .unwrap_or_default();
        let mut proposed = current.clone();
        proposed.insert(name.to_string(), Arc::clone(plugin));
        match validator(&proposed) {
            Ok(()) => Ok(()),
            Err(e) if validator(&current).is_ok() => Err(e),
            Err(_) => Ok(()),
        }
    }

    /// Records a failure and publishes it, unless this very failure (same content, same
    /// error) is already the plugin's recorded one.
    fn failed_once(
        &self,
        name: &str,
        path: &Path,
        version: Option<&str>,
        e: &LoadError,
        serving: Option<&Plugin>,
    ) -> Option<RegistryEvent> {
        let error = e.to_string();
        {
            let mut errors = self.inner.errors.write().unwrap_or_else(|p| p.into_inner());
            if errors
                .get(name)
                .is_some_and(|f| f.version.as_deref() == version && f.error == error)
            {
                return None;
            }
            errors.insert(
                name.to_string(),
                LoadFailure {
                    path: path.to_path_buf(),
                    version: version.map(str::to_string),
                    error: error.clone(),
                    at: SystemTime::now(),
                },
            );
        }
        tracing::warn!(plugin = name, path = %path.display(), error, "plugin load failed");
        Some(self.publish(RegistryEvent::Failed {
            plugin: name.to_string(),
            path: path.to_path_buf(),
            error,
            serving_version: serving.map(|p| p.code_version().to_string()),
        }))
    }

    fn publish(&self, event: RegistryEvent) -> RegistryEvent {
        match &event {
            RegistryEvent::Loaded {
                plugin,
                version,
                detected_to_serving_ms,
                from_cache,
                functions,
                ..
            } => {
                tracing::info!(
                    plugin,
                    version = &version[..12.min(version.len())],
                    from_cache,
                    functions_compiled = functions.map(|f| f.compiled),
                    functions_reused = functions.map(|f| f.reused),
                    ms = detected_to_serving_ms,
                    "plugin serving"
                );
            }
            RegistryEvent::Removed { plugin, .. } => tracing::info!(plugin, "plugin removed"),
            RegistryEvent::Failed { .. } => {}
        }
        // No subscribers is fine.
        let _ = self.inner.events.send(event.clone());
        event
    }

    /// Watches the directory and refreshes changed plugins on a background thread until the
    /// handle is dropped.
    pub fn watch(&self) -> Result<WatchHandle, LoadError> {
        let (tx, rx) = std::sync::mpsc::channel::<(PathBuf, Instant)>();
        let mut debouncer = new_debouncer(
            Duration::from_millis(100),
            None,
            move |result: DebounceEventResult| {
                let Ok(events) = result else { return };
                let now = Instant::now();
                for event in events {
                    for path in &event.paths {
                        if plugin_name(path).is_some() {
                            let _ = tx.send((path.clone(), now));
                        }
                    }
                }
            },
        )
        .map_err(|e| LoadError::Io {
            path: self.inner.dir.clone(),
            message: format!("cannot watch: {e}"),
        })?;
        debouncer
            .watch(&self.inner.dir, RecursiveMode::NonRecursive)
            .map_err(|e| LoadError::Io {
                path: self.inner.dir.clone(),
                message: format!("cannot watch: {e}"),
            })?;
        let registry = self.clone();
        std::thread::Builder::new()
            .name("tessera-reload".into())
            .spawn(move || {
                let loads = Loads::default();
                // Ends when the debouncer (and with it the sender) is dropped.
                while let Ok((path, detected)) = rx.recv() {
                    loads.submit(&registry, path, detected);
                }
            })
            .map_err(|e| LoadError::Io {
                path: self.inner.dir.clone(),
                message: format!("cannot start the reload thread: {e}"),
            })?;
        Ok(WatchHandle {
            _debouncer: Box::new(debouncer),
        })
    }
}

/// A changed path and when the change was noticed.
type Event = (PathBuf, Instant);

/// The loads in progress, one per plugin name: each plugin file loads on its own thread, so a
/// slow one (a `definitions()` that runs to its time limit) holds up no other; events for a
/// plugin already loading are coalesced into one more load when it ends.
#[derive(Default)]
struct Loads {
    /// By plugin name, while it loads: the event to load again for when done, if any.
    slots: Arc<std::sync::Mutex<BTreeMap<String, Option<Event>>>>,
    /// Loads running at once, bounded so that a directory changed all at once does not start
    /// a compiler per file.
    running: Arc<(std::sync::Mutex<usize>, std::sync::Condvar)>,
}

impl Loads {
    fn max_running() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get() * 2)
            .unwrap_or(4)
            .max(4)
    }

    fn submit(&self, registry: &Registry, path: PathBuf, detected: Instant) {
        let Some(name) = plugin_name(&path) else {
            return;
        };
        {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(pending) = slots.get_mut(&name) {
                // Loading now: load once more when done (the latest event wins).
                *pending = Some((path, detected));
                return;
            }
            slots.insert(name.clone(), None);
        }
        let slots = Arc::clone(&self.slots);
        let running = Arc::clone(&self.running);
        let registry = registry.clone();
        let thread_name = format!("tessera-load-{name}");
        let key = name.clone();
        let spawned = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                let (mut path, mut detected) = (path, detected);
                loop {
                    {
                        let (count, freed) = &*running;
                        let mut n = count.lock().unwrap_or_else(|p| p.into_inner());
                        while *n >= Loads::max_running() {
                            n = freed.wait(n).unwrap_or_else(|p| p.into_inner());
                        }
                        *n += 1;
                    }
                    registry.refresh(&path, detected);
                    {
                        let (count, freed) = &*running;
                        let mut n = count.lock().unwrap_or_else(|p| p.into_inner());
                        *n -= 1;
                        freed.notify_one();
                    }
                    let mut slots = slots.lock().unwrap_or_else(|p| p.into_inner());
                    match slots.get_mut(&name).and_then(Option::take) {
                        Some(next) => (path, detected) = next,
                        None => {
                            slots.remove(&name);
                            return;
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, plugin = key, "cannot start a plugin load thread");
            if let Ok(mut slots) = self.slots.lock() {
                slots.remove(&key);
            }
        }
    }
}

/// How long a file must go unmodified before it is read: long enough for a copy or a linker
/// to finish writing, short beside a compile.
const SETTLE: Duration = Duration::from_millis(50);

impl Registry {
    /// Reads a plugin file once it has settled: unmodified for [`SETTLE`] and the same size, so
    /// a half-written file is never loaded (a copy in progress, a linker still writing). A file
    /// already settled when the change is noticed (the usual case, behind the debouncer) is
    /// read at once. Anything but a regular file within `max_plugin_bytes` is refused unread.
    fn wait_until_stable(&self, path: &Path) -> Result<Vec<u8>, LoadError> {
        let io = |e: std::io::Error| LoadError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let meta = std::fs::metadata(path).map_err(io)?;
            if !meta.is_file() {
                return Err(LoadError::NotAFile {
                    path: path.to_path_buf(),
                    kind: crate::fs::file_kind(&meta),
                });
            }
            let limit = self.inner.runtime.config().max_plugin_bytes;
            if meta.len() > limit {
                return Err(LoadError::TooLarge {
                    path: path.to_path_buf(),
                    limit,
                });
            }
            let age = meta
                .modified()
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .unwrap_or(SETTLE);
            if age >= SETTLE {
                let bytes = self.inner.runtime.read_plugin_file(path)?;
                // A writer may have started again between the stamp and the read.
                let after = std::fs::metadata(path).map_err(io)?;
                if bytes.len() as u64 == after.len()
                    && after.modified().ok() == meta.modified().ok()
                {
                    return Ok(bytes);
                }
            }
            if Instant::now() >= deadline {
                return Err(LoadError::Io {
                    path: path.to_path_buf(),
                    message: "the file kept changing for 10 s".to_string(),
                });
            }
            std::thread::sleep(SETTLE.saturating_sub(age).max(Duration::from_millis(5)));
        }
    }
}
