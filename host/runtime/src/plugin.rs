//! One loaded version of a plugin: immutable once built, shared by `Arc` so a reload never
//! disturbs calls in flight.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use wasmtime::component::Instance;

use crate::bindings::{types as wit, v0_1, v0_2};
use crate::config::Limits;
use crate::convert::{self, Definitions};
use crate::error::{CallError, LoadError, TrapKind};
use crate::exports::{GuestExports, Shape};
use crate::flat;
use crate::host::{CallScope, HostState, LogBudget};
use crate::runtime::Runtime;

/// How a plugin version was loaded.
#[derive(Debug, Clone, Copy)]
pub struct LoadStats {
    pub size_bytes: u64,
    /// Loaded from the artifact cache instead of compiled.
    pub from_cache: bool,
    /// Compiling, or loading the cached artifact.
    pub compile: Duration,
    /// When compiled with the incremental compilation cache (a cache directory is set): how
    /// many functions came from it and how many Cranelift compiled.
    pub functions: Option<FunctionCounts>,
    /// From bytes to validated definitions.
    pub total: Duration,
}

/// The functions of one compilation: reused from the incremental compilation cache, or
/// compiled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FunctionCounts {
    pub reused: u64,
    pub compiled: u64,
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

    /// The world it implements: `plugin`, `plugin-with-mappings` or `plugin-flat`.
    pub fn world(&self) -> &'static str {
        self.exports.world()
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
        let limits = self.limits(None);
        // Ok(Err(_)): the exports have the wrong types (checked once per version, here).
        let raw = self
            .call(
                CallScope::default(),
                &limits,
                None,
                async |this, store, instance| {
                    if let Err(message) = this.exports.check(store, &instance) {
                        return Ok(Err(LoadError::WrongWorld {
                            path: this.path.clone(),
                            message,
                        }));
                    }
                    match this.exports.shape() {
                        Shape::Flat => {
                            let func = this
                                .exports
                                .flat_definitions(store, &instance)
                                .ok_or_else(|| this.missing_export("definitions"))?;
                            let (doc,) = func
                                .call_async(&mut *store, ())
                                .await
                                .map_err(|e| this.trap(&e, &limits))?;
                            Ok(flat::read::<wit::Definitions>("definitions", &doc)
                                .map(|d| (d, Vec::new(), Vec::new()))
                                .map_err(|message| LoadError::InvalidDefinitions {
                                    plugin: this.name.to_string(),
                                    message,
                                }))
                        }
                        Shape::Rich => {
                            let func = this
                                .exports
                                .definitions(store, &instance)
                                .ok_or_else(|| this.missing_export("definitions"))?;
                            let (raw,) = func
                                .call_async(&mut *store, ())
                                .await
                                .map_err(|e| this.trap(&e, &limits))?;
                            let mut mappings = Vec::new();
                            if let Some(func) = this.exports.declared_mappings(store, &instance) {
                                let (declared,) = func
                                    .call_async(&mut *store, ())
                                    .await
                                    .map_err(|e| this.trap(&e, &limits))?;
                                mappings = declared;
                            }
                            let mut checks = Vec::new();
                            if let Some(func) = this.exports.declared_checks(store, &instance) {
                                let (declared,) = func
                                    .call_async(&mut *store, ())
                                    .await
                                    .map_err(|e| this.trap(&e, &limits))?;
                                checks = declared;
                            }
                            Ok(Ok((raw, mappings, checks)))
                        }
                        Shape::V0_2 => {
                            let func = this
                                .exports
                                .definitions_0_2(store, &instance)
                                .ok_or_else(|| this.missing_export("definitions"))?;
                            let (raw,) = func
                                .call_async(&mut *store, ())
                                .await
                                .map_err(|e| this.trap(&e, &limits))?;
                            Ok(v0_2::definitions(&raw)
                                .map(|d| (d, Vec::new(), Vec::new()))
                                .map_err(|e| LoadError::InvalidDefinitions {
                                    plugin: this.name.to_string(),
                                    message: format!(
                                        "its 0.2.0 definitions do not read as 0.4.0: {e}"
                                    ),
                                }))
                        }
                        Shape::V0_1 => {
                            let func = this
                                .exports
                                .definitions_0_1(store, &instance)
                                .ok_or_else(|| this.missing_export("definitions"))?;
                            let (raw,) = func
                                .call_async(&mut *store, ())
                                .await
                                .map_err(|e| this.trap(&e, &limits))?;
                            Ok(v0_1::definitions(&raw)
                                .map(|d| (d, Vec::new(), Vec::new()))
                                .map_err(|e| LoadError::InvalidDefinitions {
                                    plugin: this.name.to_string(),
                                    message: format!(
                                        "its 0.1.0 definitions do not read as 0.4.0: {e}"
                                    ),
                                }))
                        }
                    }
                },
            )
            .map_err(|e| self.definitions_error(e))??;
        let (raw, mappings, checks) = raw;
        let invalid = |message| LoadError::InvalidDefinitions {
            plugin: self.name.to_string(),
            message,
        };
        let mut defs = convert::definitions(raw, &limits).map_err(invalid)?;
        defs.mappings = convert::mappings(mappings, &limits).map_err(invalid)?;
        defs.checks = convert::checks(checks, &defs, &limits).map_err(invalid)?;
        self.definitions = defs;
        Ok(())
    }

    fn definitions_error(&self, e: CallError) -> LoadError {
        LoadError::Definitions {
            plugin: self.name.to_string(),
            error: Box::new(e),
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

    /// Runs `body` against a fresh instance, within the call's limits: the whole call
    /// (instantiation included) ends by its deadline, whether the guest is computing (the epoch
    /// callback traps it) or blocked in a host call such as a WASI sleep, poll or read (the
    /// timer drops the call's future, and with it the blocked host call and the store).
    pub(crate) fn call<R>(
        &self,
        scope: CallScope,
        limits: &Limits,
        cancel: Option<&CancelToken>,
        body: impl AsyncFnOnce(&Plugin, &mut Store<HostState>, Instance) -> Result<R, CallError>,
    ) -> Result<R, CallError> {
        self.call_in(&mut None, scope, limits, cancel, body)
    }

    /// [`Plugin::call`] in the instance `live` holds, made first if it holds none. The
    /// instance is dropped when the call fails in any way (a trap leaves a component instance
    /// that may not be entered again; a timeout or cancel drops the store mid-call).
    pub(crate) fn call_in<R>(
        &self,
        live: &mut Option<Live>,
        scope: CallScope,
        limits: &Limits,
        cancel: Option<&CancelToken>,
        body: impl AsyncFnOnce(&Plugin, &mut Store<HostState>, Instance) -> Result<R, CallError>,
    ) -> Result<R, CallError> {
        let started = Instant::now();
        let deadline = started + limits.timeout;
        let mut kept = match live.take() {
            Some(mut l) => {
                self.rearm(&mut l.store, scope, limits, deadline, cancel)?;
                l
            }
            None => Live {
                store: self.new_store(scope, limits, deadline, cancel)?,
                instance: None,
            },
        };
        let outcome = self.drive(&mut kept, limits, started, deadline, cancel, body);
        if outcome.is_ok() {
            *live = Some(kept);
        }
        outcome
    }

    /// Polls one call to its end, under its deadline and cancel token.
    fn drive<R>(
        &self,
        live: &mut Live,
        limits: &Limits,
        started: Instant,
        deadline: Instant,
        cancel: Option<&CancelToken>,
        body: impl AsyncFnOnce(&Plugin, &mut Store<HostState>, Instance) -> Result<R, CallError>,
    ) -> Result<R, CallError> {
        let Live { store, instance } = live;
        let work = async {
            let ready = match *instance {
                Some(i) => i,
                None => {
                    let made = self.exports.instantiate(store).await.map_err(|e| {
                        match self.trap(&e, limits) {
                            CallError::Trap { message, .. } => CallError::Instantiate {
                                plugin: self.name.to_string(),
                                message,
                            },
                            other => other,
                        }
                    })?;
                    *instance = Some(made);
                    made
                }
            };
            body(self, store, ready).await
        };
        let timeout = || CallError::Timeout {
            plugin: self.name.to_string(),
            after: started.elapsed(),
            limit: limits.timeout,
        };
        let tokio = &self.runtime.inner.tokio;
        // Most calls never wait: the call is polled once, in the runtime's context (WASI's
        // host functions need it), and only a call that blocks in a host call is handed to
        // the executor, under the deadline's timer (and the cancel token's).
        let _context = tokio.enter();
        let mut work = std::pin::pin!(work);
        if let std::task::Poll::Ready(outcome) = work
            .as_mut()
            .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
        {
            return match outcome {
                Err(CallError::Timeout { .. }) => Err(timeout()),
                other => other,
            };
        }
        let outcome = match cancel {
            None => tokio.block_on(async {
                tokio::time::timeout_at(deadline.into(), work)
                    .await
                    .unwrap_or_else(|_| Err(timeout()))
            }),
            Some(c) => tokio.block_on(async {
                tokio::select! {
                    biased;
                    r = tokio::time::timeout_at(deadline.into(), work) => {
                        r.unwrap_or_else(|_| Err(timeout()))
                    }
                    () = c.canceled() => Err(CallError::Canceled { plugin: self.name.to_string() }),
                }
            }),
        };
        // A guest trapped by the epoch callback reports when it noticed; say when it ended.
        match outcome {
            Err(CallError::Timeout { .. }) => Err(timeout()),
            other => other,
        }
    }

    /// A fresh store with these limits and this plugin's grants.
    fn new_store(
        &self,
        scope: CallScope,
        limits: &Limits,
        deadline: Instant,
        cancel: Option<&CancelToken>,
    ) -> Result<Store<HostState>, CallError> {
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
            scope: CallScope::default(),
            dynamic: Arc::clone(&inner.dynamic),
            log_sink: inner.log_sink.read().ok().and_then(|s| s.clone()),
            log: LogBudget::new(limits),
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX))
                .trap_on_grow_failure(true)
                .build(),
            deadline,
            cancel: None,
        };
        let mut store = Store::new(&inner.engine, state);
        store.limiter(|s| &mut s.limits);
        // Checked at every epoch tick while guest code runs: the call's deadline, and its
        // cancellation (both in the store, set for each call).
        store.epoch_deadline_callback(|cx| {
            let state = cx.data();
            if state.cancel.as_ref().is_some_and(CancelToken::is_canceled) {
                return Err(wasmtime::Error::new(Canceled));
            }
            if Instant::now() >= state.deadline {
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Continue(1))
        });
        self.rearm(&mut store, scope, limits, deadline, cancel)?;
        Ok(store)
    }

    /// Sets a store up for its next call: what the call is about, its log budget, deadline,
    /// cancel token, and the fuel it may spend.
    fn rearm(
        &self,
        store: &mut Store<HostState>,
        scope: CallScope,
        limits: &Limits,
        deadline: Instant,
        cancel: Option<&CancelToken>,
    ) -> Result<(), CallError> {
        let state = store.data_mut();
        state.scope = scope;
        state.log = LogBudget::new(limits);
        state.deadline = deadline;
        state.cancel = cancel.cloned();
        store.set_epoch_deadline(1);
        // Bounds what the host copies out of the guest (a result, or one host call's
        // arguments) before any of our checks can look at it.
        store.set_hostcall_fuel(usize::try_from(limits.max_transfer_bytes()).unwrap_or(usize::MAX));
        if self.runtime.inner.config.fuel {
            store
                .set_fuel(limits.fuel.unwrap_or(u64::MAX))
                .map_err(|e| CallError::Host {
                    plugin: self.name.to_string(),
                    message: e.to_string(),
                })?;
        }
        Ok(())
    }

    /// Classifies a failed call: a limit that fired, a trap, or a host-side failure.
    pub(crate) fn trap(&self, e: &wasmtime::Error, limits: &Limits) -> CallError {
        let plugin = self.name.to_string();
        let message = format!("{e:#}");
        if e.downcast_ref::<Canceled>().is_some() {
            return CallError::Canceled { plugin };
        }
        if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
            let kind = match trap {
                wasmtime::Trap::Interrupt => {
                    // `call` replaces the duration with the call's own.
                    return CallError::Timeout {
                        plugin,
                        after: limits.timeout,
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
        // Wasmtime's hostcall fuel: the guest handed over more than the host copies.
        if message.contains("fuel allocated for hostcalls has been exhausted") {
            return CallError::LimitExceeded {
                plugin,
                what: "the data handed to the host in one result or host call".to_string(),
                limit: limits.max_transfer_bytes(),
                setting: "max_output_bytes (plus 64 MiB)",
            };
        }
        CallError::Trap {
            plugin,
            kind: TrapKind::Other,
            message,
        }
    }
}

/// A store and the instance made in it, kept between the calls of one run
/// ([`crate::Session`]).
pub(crate) struct Live {
    store: Store<HostState>,
    /// Made by the first call.
    instance: Option<Instance>,
}

/// The error an epoch callback raises for a canceled call.
#[derive(Debug)]
struct Canceled;

impl std::fmt::Display for Canceled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("canceled")
    }
}

impl std::error::Error for Canceled {}

/// Cancels calls in flight: a daemon shutting down does not wait for a sensor evaluation.
/// Cheap to clone; every clone cancels the same calls.
#[derive(Debug, Clone)]
pub struct CancelToken {
    inner: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken {
            inner: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Ends every call given this token (or a clone) with [`CallError::Canceled`], now and
    /// from now on.
    pub fn cancel(&self) {
        self.inner.send_replace(true);
    }

    pub fn is_canceled(&self) -> bool {
        *self.inner.borrow()
    }

    async fn canceled(&self) {
        let mut rx = self.inner.subscribe();
        // Errs only when the sender is gone, and `self` holds it.
        let _ = rx.wait_for(|c| *c).await;
    }
}
