//! The engine, linker and artifact cache shared by every plugin.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings;
use crate::cache::ArtifactCache;
use crate::config::RuntimeConfig;
use crate::error::LoadError;
use crate::exports::GuestExports;
use crate::host::{DynamicKeys, HostState, NoDynamicKeys};
use crate::incremental::IncrementalStore;
use crate::plugin::{FunctionCounts, LoadStats, Plugin};
use crate::{API_VERSION, ApiVersion, SUPPORTED_API_VERSIONS};

/// The one engine of a host process. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.inner.config)
            .field("pooling", &self.inner.pooling)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) cache: Option<ArtifactCache>,
    /// Cranelift's incremental compilation cache, beside the artifact cache.
    incremental: Option<Arc<IncrementalStore>>,
    /// One compilation at a time: each already uses every core, and this way the functions a
    /// compilation reused and compiled are its own, and so is what it adds to the store.
    compiling: std::sync::Mutex<()>,
    pub(crate) config: RuntimeConfig,
    pub(crate) dynamic: Arc<dyn DynamicKeys>,
    pub(crate) log_sink: std::sync::RwLock<Option<Arc<crate::host::LogSink>>>,
    /// Drives WASI's async host functions and the calls' deadline timers. Calls run on the
    /// caller's thread (`block_on`); its worker only turns the timer and IO drivers.
    pub(crate) tokio: tokio::runtime::Handle,
    /// Owns the runtime behind `tokio`; shut down without blocking on drop (the last
    /// reference may go in an async task).
    tokio_runtime: Option<tokio::runtime::Runtime>,
    pooling: bool,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
        if let Some(rt) = self.tokio_runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn engine_config(
    config: &RuntimeConfig,
    pooling: bool,
    incremental: Option<&Arc<IncrementalStore>>,
) -> Result<Config, LoadError> {
    let mut c = Config::new();
    if let Some(store) = incremental {
        c.enable_incremental_compilation(Arc::clone(store) as Arc<dyn wasmtime::CacheStore>)
            .map_err(|e| LoadError::Engine(e.to_string()))?;
    }
    c.epoch_interruption(true);
    // Calls run on a fiber (`call_async`) so that a guest blocked in a WASI call can be stopped
    // at its deadline; the component model's own concurrency (async guests) is not used.
    c.concurrency_support(false);
    c.consume_fuel(config.fuel);
    if pooling {
        let largest = config
            .plugin_limits
            .values()
            .map(|l| l.memory_bytes)
            .chain([config.limits.memory_bytes])
            .max()
            .unwrap_or(config.limits.memory_bytes);
        let n = config.max_instances.max(1);
        let mut pool = PoolingAllocationConfig::default();
        // Components from JS and Python hold many core instances and a few memories each.
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(16))
            .total_memories(n.saturating_mul(4))
            .total_tables(n.saturating_mul(16))
            // One fiber stack per call in flight.
            .total_stacks(n)
            .max_memory_size(usize::try_from(largest).unwrap_or(usize::MAX))
            // Every call gets a fresh instance: reset the first pages of a slot by hand and
            // keep them mapped, and return the rest to the OS in batches, instead of one
            // `madvise` (and TLB shootdown) per instance.
            // Measured on the example plugins (2 cores, Linux 6.18): 512 KiB resident with
            // pagemap scanning roughly halves instantiate + call against the defaults.
            .linear_memory_keep_resident(512 << 10)
            .table_keep_resident(64 << 10)
            .decommit_batch_size(32)
            .pagemap_scan(wasmtime::Enabled::Auto);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Ok(c)
}

impl Runtime {
    /// Builds the engine (pooling allocator when the machine allows it), the linker with the
    /// host interface and WASI, the cache, and the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, LoadError> {
        Runtime::with_dynamic_keys(config, Arc::new(NoDynamicKeys))
    }

    /// [`Runtime::new`], with the store plugins read dynamic partition keys from.
    pub fn with_dynamic_keys(
        config: RuntimeConfig,
        dynamic: Arc<dyn DynamicKeys>,
    ) -> Result<Runtime, LoadError> {
        let incremental = config
            .cache_dir
            .as_deref()
            .map(|dir| {
                let dir = dir.join("incremental");
                IncrementalStore::open(&dir).map_err(|e| LoadError::Cache {
                    path: dir,
                    message: e.to_string(),
                })
            })
            .transpose()?
            .map(Arc::new);
        // Pooling reserves address space up front; where that is refused, allocate on demand.
        let (engine, pooling) = match Engine::new(&engine_config(
            &config,
            true,
            incremental.as_ref(),
        )?) {
            Ok(e) => (e, true),
            Err(pool_err) => {
                tracing::warn!(error = %pool_err, "pooling allocator unavailable; allocating instances on demand");
                let e = Engine::new(&engine_config(&config, false, incremental.as_ref())?)
                    .map_err(|e| LoadError::Engine(e.to_string()))?;
                (e, false)
            }
        };
        let mut linker = Linker::<HostState>::new(&engine);
        // WASI's async host functions: a sleep, poll or read is a future the call's deadline
        // can drop, where the synchronous ones block the thread until they return.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        bindings::PluginWithMappings::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| LoadError::Engine(e.to_string()))?;
        bindings::v0_3::PluginWithMappings::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| LoadError::Engine(e.to_string()))?;
        bindings::v0_2::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        bindings::v0_1::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        let cache = config
            .cache_dir
            .as_deref()
            .map(|dir| ArtifactCache::new(dir, &engine))
            .transpose()?;
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tessera-wasi")
            .enable_all()
            .build()
            .map_err(|e| LoadError::Engine(format!("cannot start the WASI runtime: {e}")))?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        spawn_ticker(&engine, config.epoch_tick, Arc::clone(&stop_ticker));
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                incremental,
                compiling: std::sync::Mutex::new(()),
                config,
                dynamic,
                log_sink: std::sync::RwLock::new(None),
                tokio: tokio.handle().clone(),
                tokio_runtime: Some(tokio),
                pooling,
                stop_ticker,
            }),
        })
    }

    /// Sends every plugin log line to `sink` as well as to tracing.
    pub fn set_log_sink(&self, sink: Arc<crate::host::LogSink>) {
        if let Ok(mut s) = self.inner.log_sink.write() {
            *s = Some(sink);
        }
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    pub fn cache(&self) -> Option<&ArtifactCache> {
        self.inner.cache.as_ref()
    }

    /// Whether instances come from the pooling allocator.
    pub fn pooling(&self) -> bool {
        self.inner.pooling
    }

    /// Loads a plugin file: its name is the file stem. Only a regular file (or a symlink to
    /// one) of at most `max_plugin_bytes` is read.
    pub fn load(&self, path: &Path) -> Result<Plugin, LoadError> {
        let bytes = self.read_plugin_file(path)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".to_string());
        self.load_bytes(&name, path, &bytes)
    }

    /// Reads a plugin file within `max_plugin_bytes`, refusing anything but a regular file.
    pub(crate) fn read_plugin_file(&self, path: &Path) -> Result<Vec<u8>, LoadError> {
        crate::fs::read_regular_file(path, self.inner.config.max_plugin_bytes).map_err(
            |e| match e {
                crate::fs::FileError::NotAFile { path, kind } => LoadError::NotAFile { path, kind },
                crate::fs::FileError::TooLarge { path, limit } => {
                    LoadError::TooLarge { path, limit }
                }
                crate::fs::FileError::Io { path, message } => LoadError::Io { path, message },
            },
        )
    }

    /// Loads a plugin from its bytes (`path` is for messages).
    pub fn load_bytes(&self, name: &str, path: &Path, bytes: &[u8]) -> Result<Plugin, LoadError> {
        self.load_hashed(name, path, bytes, content_hash(bytes))
    }

    /// [`Runtime::load_bytes`] for bytes whose [`content_hash`] the caller already has.
    pub(crate) fn load_hashed(
        &self,
        name: &str,
        path: &Path,
        bytes: &[u8],
        sha256: String,
    ) -> Result<Plugin, LoadError> {
        let started = Instant::now();
        let inner = &self.inner;
        let compile_started = Instant::now();
        // A core module is made a component first. The artifact cached under the module's
        // hash (marked with the wrapping's version, which the engine's hash does not cover)
        // is that component's, so a later load skips both steps.
        let core = crate::wrap::is_core_module(bytes);
        let cache_key = match core {
            true => format!("{sha256}-{}", crate::wrap::VERSION),
            false => sha256.clone(),
        };
        let mut functions = None;
        let (component, from_cache) = match inner
            .cache
            .as_ref()
            .and_then(|c| c.load(&inner.engine, &cache_key))
        {
            Some(c) => (c, true),
            None => {
                let wrapped = match core {
                    true => Some(crate::wrap::componentize(bytes).map_err(|e| {
                        LoadError::CoreModule {
                            path: path.to_path_buf(),
                            reason: e.reason,
                            exports: e.exports,
                        }
                    })?),
                    false => None,
                };
                let c = {
                    let _one_at_a_time = inner.compiling.lock().unwrap_or_else(|p| p.into_inner());
                    let before = inner.incremental.as_ref().map(|store| {
                        store.refresh();
                        store.counts()
                    });
                    let compiled =
                        Component::new(&inner.engine, wrapped.as_deref().unwrap_or(bytes));
                    if let (Some(store), Some(before)) = (&inner.incremental, before) {
                        store.flush();
                        let after = store.counts();
                        functions = Some(FunctionCounts {
                            reused: after.reused.saturating_sub(before.reused),
                            compiled: after.compiled.saturating_sub(before.compiled),
                        });
                    }
                    compiled.map_err(|e| self.compile_error(path, &e))?
                };
                if let Some(cache) = &inner.cache {
                    cache.store(&cache_key, &c);
                }
                (c, false)
            }
        };
        let compile = compile_started.elapsed();
        let api_version = api_version(&inner.engine, &component, path)?;
        let pre = inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link {
                path: path.to_path_buf(),
                message: format!("{e:#}"),
            })?;
        let exports =
            GuestExports::find(pre, &api_version).map_err(|message| LoadError::WrongWorld {
                path: path.to_path_buf(),
                message,
            })?;
        let api_version = api_version.found;
        let mut plugin = Plugin::new(
            self.clone(),
            name,
            path,
            sha256,
            api_version,
            exports,
            LoadStats {
                size_bytes: bytes.len() as u64,
                from_cache,
                compile,
                functions,
                total: Duration::ZERO,
            },
        );
        plugin.read_definitions()?;
        plugin.stats.total = started.elapsed();
        Ok(plugin)
    }
}

impl Runtime {
    /// Why a component did not compile: most often malformed, but a valid component whose
    /// memories start larger than the memory limit allows is refused here too (the pooling
    /// allocator's slots have the limit's size), and that is the limit's fault, not the file's.
    fn compile_error(&self, path: &Path, e: &wasmtime::Error) -> LoadError {
        let message = format!("{e:#}");
        let limit_bytes = self.inner.config.limits_for(
            &path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        if message.contains("memory") && (message.contains("minimum") || message.contains("exceed"))
        {
            return LoadError::MemoryLimit {
                path: path.to_path_buf(),
                limit_bytes: limit_bytes.memory_bytes,
                message,
            };
        }
        LoadError::Malformed {
            path: path.to_path_buf(),
            message,
        }
    }
}

/// The version a component was built against, and the contract the host speaks with it.
pub(crate) struct Negotiated {
    /// As the component names it (`0.1.3`).
    pub(crate) found: String,
    pub(crate) contract: ApiVersion,
    /// It exports the flat world's `flat-guest` instead of `guest`.
    pub(crate) flat: bool,
}

/// The API version of the `tessera:plugin/guest` interface a component exports, checked
/// against those this host serves; read from the component's type, before instantiating.
fn api_version(
    engine: &Engine,
    component: &Component,
    path: &Path,
) -> Result<Negotiated, LoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let rich = exports
        .iter()
        .find_map(|name| name.strip_prefix("tessera:plugin/guest@"));
    let flat = exports.iter().find_map(|name| {
        name.strip_prefix(crate::flat::INTERFACE)
            .and_then(|rest| rest.strip_prefix('@'))
    });
    let Some(found) = rich.or(flat) else {
        return Err(LoadError::WrongWorld {
            path: path.to_path_buf(),
            message: if exports.is_empty() {
                "it exports nothing".to_string()
            } else {
                format!("its exports are {}", exports.join(", "))
            },
        });
    };
    let contract = if compatible(found, API_VERSION) {
        ApiVersion::V0_4
    } else if compatible(found, ApiVersion::V0_3.as_str()) {
        ApiVersion::V0_3
    } else if compatible(found, ApiVersion::V0_2.as_str()) {
        ApiVersion::V0_2
    } else if compatible(found, ApiVersion::V0_1.as_str()) {
        ApiVersion::V0_1
    } else {
        return Err(LoadError::UnsupportedApiVersion {
            path: path.to_path_buf(),
            found: found.to_string(),
            supported: SUPPORTED_API_VERSIONS.join(", "),
        });
    };
    let flat = rich.is_none();
    if flat && contract < ApiVersion::V0_4 {
        return Err(LoadError::UnsupportedApiVersion {
            path: path.to_path_buf(),
            found: format!("{found} (flat world)"),
            supported: API_VERSION.to_string(),
        });
    }
    Ok(Negotiated {
        found: found.to_string(),
        contract,
        flat,
    })
}

/// Semver: in 0.x the same minor version; from 1.0 the same major and a minor the host
/// already serves. Patch versions never matter.
fn compatible(found: &str, served: &str) -> bool {
    let parts = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parts(found), parts(served)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, fa)), Some((b, sb))) => a == b && a != 0 && fa <= sb,
        _ => false,
    }
}

/// The SHA-256 of a component, in hex: its code version and cache key.
pub(crate) fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn spawn_ticker(engine: &Engine, tick: Duration, stop: Arc<AtomicBool>) {
    let engine = engine.clone();
    let tick = tick.max(Duration::from_millis(1));
    let spawned = std::thread::Builder::new()
        .name("tessera-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                engine.increment_epoch();
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the epoch ticker; plugin timeouts will not fire");
    }
}

#[cfg(test)]
mod tests {
    use super::compatible;

    #[test]
    fn api_versions() {
        assert!(compatible("0.1.0", "0.1.0"));
        assert!(compatible("0.1.3", "0.1.0"));
        assert!(!compatible("0.2.0", "0.1.0"));
        assert!(!compatible("0.1.0", "0.2.0"));
        assert!(!compatible("1.0.0", "0.1.0"));
        assert!(compatible("1.0.0", "1.4.0"));
        assert!(!compatible("1.4.0", "1.0.0"));
        assert!(!compatible("x", "0.1.0"));
    }
}
