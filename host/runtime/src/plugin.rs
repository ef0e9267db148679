//! One loaded version of a plugin: immutable once built, shared by `Arc` so a reload never
//! disturbs calls in flight.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use wasmtime::component::Instance;

use crate::config::Limits;
use crate::convert::{self, Definitions};
use crate::error::{CallError, LoadError, TrapKind};
use crate::exports::GuestExports;
use crate::host::{CallScope, HostState};
use crate::runtime::Runtime;

/// How a plugin version was loaded.
#[derive(Debug, Clone, Copy)]
pub struct LoadStats {
    pub size_bytes: u64,
    /// Loaded from the artifact cache instead of compiled.
    pub from_cache: bool,
    /// Compiling, or loading the cached artifact.
    pub compile: Duration,
    /// From bytes to validated definitions.
    pub total: Duration,
}

/// A loaded, validated plugin version.
pub struct Plugin {
    runtime: Runtime,
    name: Arc<str>,
    path: PathBuf,
    code_version: String,
    api_version: String,
    exports: GuestExports,
    /// Filled by `read_definitions` before the plugin is handed out.
    definitions: Definitions,
    pub(crate) stats: LoadStats,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("code_version", &self.code_version)
            .field("api_version", &self.api_version)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    pub(crate) fn new(
        runtime: Runtime,
        name: &str,
        path: &Path,
        code_version: String,
        api_version: String,
        exports: GuestExports,
        stats: LoadStats,
    ) -> Plugin {
        Plugin {
            runtime,
            name: Arc::from(name),
            path: path.to_path_buf(),
            code_version,
            api_version,
            exports,
            definitions: Definitions::default(),
            stats,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SHA-256 of the component: identifies this version.
    pub fn code_version(&self) -> &str {
        &self.code_version
    }

    /// The `tessera:plugin` version the component was built against.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    pub(crate) fn runtime_inner(&self) -> &crate::runtime::Inner {
        &self.runtime.inner
    }

    pub fn stats(&self) -> LoadStats {
        self.stats
    }

    pub fn definitions(&self) -> &Definitions {
        &self.definitions
    }

    pub(crate) fn read_definitions(&mut self) -> Result<(), LoadError> {
        let (mut store, instance) = self
            .instantiate(CallScope::default(), &self.limits(None))
            .map_err(|e| self.definitions_error(e))?;
        self.exports
            .check(&mut store, &instance)
            .map_err(|message| LoadError::WrongWorld {
                path: self.path.clone(),
                message,
            })?;
        let func = self
            .exports
            .definitions(&mut store, &instance)
            .ok_or_else(|| self.definitions_error(self.missing_export("definitions")))?;
        let started = Instant::now();
        let (raw,) = func
            .call(&mut store, ())
            .map_err(|e| self.definitions_error(self.trap(&e, started, &self.limits(None))))?;
        let defs = convert::definitions(raw).map_err(|message| LoadError::InvalidDefinitions {
            plugin: self.name.to_string(),
            message,
        })?;
        self.definitions = defs;
        Ok(())
    }

    fn definitions_error(&self, e: CallError) -> LoadError {
        LoadError::Definitions {
            plugin: self.name.to_string(),
            source: Box::new(e),
        }
    }

    /// An export checked at load is gone from an instance: only a host bug gets here.
    pub(crate) fn missing_export(&self, name: &str) -> CallError {
        CallError::Host {
            plugin: self.name.to_string(),
            message: format!("the instance lacks its {name:?} export"),
        }
    }

    pub(crate) fn exports(&self) -> &GuestExports {
        &self.exports
    }

    /// This plugin's limits, with the wall-clock limit replaced when a caller (the engine,
    /// for an asset with its own timeout) sets one.
    pub(crate) fn limits(&self, timeout: Option<Duration>) -> Limits {
        let mut limits = self.runtime.inner.config.limits_for(&self.name);
        if let Some(t) = timeout {
            limits.timeout = t;
        }
        limits
    }

    /// A fresh store with these limits and this plugin's grants, and an instance in it.
    pub(crate) fn instantiate(
        &self,
        scope: CallScope,
        limits: &Limits,
    ) -> Result<(Store<HostState>, Instance), CallError> {
        let inner = &self.runtime.inner;
        let config = &inner.config;
        let grants = config.grants_for(&self.name);
        let mut wasi = WasiCtxBuilder::new();
        for dir in &grants.dirs {
            wasi.preopened_dir(&dir.host, &dir.guest, FsPerms::ReadOnly)
                .map_err(|e| CallError::Host {
                    plugin: self.name.to_string(),
                    message: format!("granted directory {}: {e}", dir.host.display()),
                })?;
        }
        for var in &grants.env {
            if let Ok(value) = std::env::var(var) {
                wasi.env(var, value);
            }
        }
        let state = HostState {
            plugin: Arc::clone(&self.name),
            scope,
            dynamic: Arc::clone(&inner.dynamic),
            log_sink: inner.log_sink.read().ok().and_then(|s| s.clone()),
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX))
                .trap_on_grow_failure(true)
                .build(),
        };
        let mut store = Store::new(&inner.engine, state);
        store.limiter(|s| &mut s.limits);
        let tick = config.epoch_tick.max(Duration::from_millis(1));
        // One tick more than the timeout holds: the first tick may come at once, and a call
        // must get at least its whole limit.
        let ticks = limits.timeout.as_millis().div_ceil(tick.as_millis()) + 1;
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        if config.fuel {
            store
                .set_fuel(limits.fuel.unwrap_or(u64::MAX))
                .map_err(|e| CallError::Host {
                    plugin: self.name.to_string(),
                    message: e.to_string(),
                })?;
        }
        let started = Instant::now();
        let instance = self.exports.instantiate(&mut store).map_err(|e| {
            match self.trap(&e, started, limits) {
                CallError::Trap { message, .. } => CallError::Instantiate {
                    plugin: self.name.to_string(),
                    message,
                },
                other => other,
            }
        })?;
        Ok((store, instance))
    }

    /// Classifies a failed call: a limit that fired, a trap, or a host-side failure.
    pub(crate) fn trap(&self, e: &wasmtime::Error, started: Instant, limits: &Limits) -> CallError {
        let plugin = self.name.to_string();
        let message = format!("{e:#}");
        if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
            let kind = match trap {
                wasmtime::Trap::Interrupt => {
                    return CallError::Timeout {
                        plugin,
                        after: started.elapsed(),
                        limit: limits.timeout,
                    };
                }
                wasmtime::Trap::OutOfFuel => {
                    return CallError::OutOfFuel {
                        plugin,
                        limit: limits.fuel.unwrap_or(u64::MAX),
                    };
                }
                wasmtime::Trap::StackOverflow => TrapKind::StackOverflow,
                wasmtime::Trap::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
                wasmtime::Trap::UnreachableCodeReached => TrapKind::Unreachable,
                wasmtime::Trap::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
                wasmtime::Trap::IntegerOverflow => TrapKind::IntegerOverflow,
                wasmtime::Trap::BadSignature | wasmtime::Trap::IndirectCallToNull => {
                    TrapKind::IndirectCall
                }
                _ => TrapKind::Other,
            };
            return CallError::Trap {
                plugin,
                kind,
                message,
            };
        }
        // `trap_on_grow_failure` reports a refused `memory.grow` as a plain error.
        if message.contains("forcing trap when growing memory") {
            return CallError::OutOfMemory {
                plugin,
                limit_bytes: limits.memory_bytes,
            };
        }
        CallError::Trap {
            plugin,
            kind: TrapKind::Other,
            message,
        }
    }
}
