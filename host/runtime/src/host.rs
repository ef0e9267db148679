//! What the host offers a plugin during one call: logging into tracing, the keys of dynamic
//! partition sets, and WASI with only the granted capabilities.

use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::{host, types};
use crate::config::Limits;

/// Where plugins read the keys of dynamic partition sets (the engine's database later).
pub trait DynamicKeys: Send + Sync {
    /// The keys of the set `name`, in insertion order; empty when it does not exist.
    fn keys(&self, name: &str) -> Vec<String>;
}

/// No dynamic partitions at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDynamicKeys;

impl DynamicKeys for NoDynamicKeys {
    fn keys(&self, _name: &str) -> Vec<String> {
        Vec::new()
    }
}

/// One log line of a plugin, for a sink that stores it (the engine keeps them per run).
#[derive(Debug, Clone)]
pub struct LogRecord {
    pub plugin: String,
    pub run: Option<String>,
    pub level: &'static str,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

/// Receives every plugin log line, besides tracing.
pub type LogSink = dyn Fn(LogRecord) + Send + Sync;

/// What a log line is about, beyond the plugin.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallScope {
    pub(crate) asset: Option<String>,
    pub(crate) partition: Option<String>,
    pub(crate) run: Option<String>,
    pub(crate) sensor: Option<String>,
}

/// How much more one call may log: past either budget, one notice and then nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogBudget {
    lines: u64,
    bytes: u64,
    max_lines: u64,
    max_bytes: u64,
    truncated: bool,
}

impl LogBudget {
    pub(crate) fn new(limits: &Limits) -> LogBudget {
        LogBudget {
            lines: limits.max_log_lines,
            bytes: limits.max_log_bytes,
            max_lines: limits.max_log_lines,
            max_bytes: limits.max_log_bytes,
            truncated: false,
        }
    }

    /// Whether a line of `size` bytes may be logged; `Err(notice)` the first time one may not.
    fn take(&mut self, size: u64) -> Result<bool, String> {
        if self.truncated {
            return Ok(false);
        }
        if self.lines == 0 || size > self.bytes {
            self.truncated = true;
            return Err(format!(
                "log truncated: this call wrote more than {} lines or {} bytes (max_log_lines, max_log_bytes in [runtime.limits]); the rest of its log was dropped",
                self.max_lines, self.max_bytes
            ));
        }
        self.lines -= 1;
        self.bytes -= size;
        Ok(true)
    }
}

/// The data of one store: one call's view of the host.
pub(crate) struct HostState {
    pub(crate) plugin: Arc<str>,
    pub(crate) scope: CallScope,
    pub(crate) dynamic: Arc<dyn DynamicKeys>,
    pub(crate) log_sink: Option<Arc<LogSink>>,
    pub(crate) log: LogBudget,
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
    /// When the current call must end; the epoch callback checks it at every tick.
    pub(crate) deadline: std::time::Instant,
    /// The current call's cancel token.
    pub(crate) cancel: Option<crate::plugin::CancelToken>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: host::LogLevel, message: String, fields: Vec<(String, String)>) {
        let size = message.len() + fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        match self.log.take(size as u64) {
            Ok(true) => self.emit(level, &message, &fields),
            Ok(false) => {}
            Err(notice) => self.emit(host::LogLevel::Warn, &notice, &[]),
        }
    }

    fn dynamic_partition_keys(&mut self, name: String) -> Vec<String> {
        self.dynamic.keys(&name)
    }
}

/// What a plugin of a frozen contract imports is what the current one imports: the same two
/// functions, with log levels case for case.
macro_rules! frozen_host {
    ($($version:ident),*) => {$(
        impl crate::bindings::$version::types::Host for HostState {}

        impl crate::bindings::$version::host::Host for HostState {
            fn log(
                &mut self,
                level: crate::bindings::$version::host::LogLevel,
                message: String,
                fields: Vec<(String, String)>,
            ) {
                host::Host::log(
                    self,
                    crate::bindings::$version::log_level(level),
                    message,
                    fields,
                );
            }

            fn dynamic_partition_keys(&mut self, name: String) -> Vec<String> {
                host::Host::dynamic_partition_keys(self, name)
            }
        }
    )*};
}

frozen_host!(v0_3, v0_2, v0_1);

impl HostState {
    /// One log line to the sink (the engine's run log) and to tracing.
    fn emit(&self, level: host::LogLevel, message: &str, fields: &[(String, String)]) {
        if let Some(sink) = &self.log_sink {
            sink(LogRecord {
                plugin: self.plugin.to_string(),
                run: self.scope.run.clone(),
                level: match level {
                    host::LogLevel::Trace => "trace",
                    host::LogLevel::Debug => "debug",
                    host::LogLevel::Info => "info",
                    host::LogLevel::Warn => "warn",
                    host::LogLevel::Error => "error",
                },
                message: message.to_string(),
                fields: fields.to_vec(),
            });
        }
        let fields = if fields.is_empty() {
            String::new()
        } else {
            fields
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let plugin = &*self.plugin;
        let s = &self.scope;
        let (asset, partition, run, sensor) = (
            s.asset.as_deref().unwrap_or(""),
            s.partition.as_deref().unwrap_or(""),
            s.run.as_deref().unwrap_or(""),
            s.sensor.as_deref().unwrap_or(""),
        );
        // One macro per level: tracing levels are compile-time constants.
        match level {
            host::LogLevel::Trace => {
                tracing::trace!(target: "tessera::plugin", plugin, asset, partition, run, sensor, fields, "{message}");
            }
            host::LogLevel::Debug => {
                tracing::debug!(target: "tessera::plugin", plugin, asset, partition, run, sensor, fields, "{message}");
            }
            host::LogLevel::Info => {
                tracing::info!(target: "tessera::plugin", plugin, asset, partition, run, sensor, fields, "{message}");
            }
            host::LogLevel::Warn => {
                tracing::warn!(target: "tessera::plugin", plugin, asset, partition, run, sensor, fields, "{message}");
            }
            host::LogLevel::Error => {
                tracing::error!(target: "tessera::plugin", plugin, asset, partition, run, sensor, fields, "{message}");
            }
        }
    }
}
