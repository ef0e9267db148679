//! Typed errors of loading a plugin and of calling one.

use std::path::PathBuf;
use std::time::Duration;

/// Why a plugin file could not become a serving plugin version.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("cannot read plugin {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path} is not a regular file ({kind}); a plugin must be a .wasm file")]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error(
        "{path} is larger than the {limit} bytes a plugin file may have (max_plugin_bytes in [runtime])"
    )]
    TooLarge { path: PathBuf, limit: u64 },
    #[error(
        "{path} needs more memory than the limit of {limit_bytes} bytes (memory_bytes in [runtime.limits], or --memory-mib): {message}"
    )]
    MemoryLimit {
        path: PathBuf,
        limit_bytes: u64,
        message: String,
    },
    #[error("{path} is not a valid WebAssembly component: {message}")]
    Malformed { path: PathBuf, message: String },
    #[error(
        "{path} is a WebAssembly core module that cannot be made a plugin ({reason}): a plugin is \
         a component exporting tessera:plugin/guest (definitions, materialize, evaluate-sensor), \
         a core module built with its component type embedded (as wit-bindgen does), or a core \
         module of the flat world (plugin-sdk/flat/README.md); build it with a kit \
         (plugin-sdk/). The module exports: {}",
        if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") }
    )]
    CoreModule {
        path: PathBuf,
        reason: String,
        exports: Vec<String>,
    },
    #[error(
        "{path} does not implement the tessera:plugin world (it must export tessera:plugin/guest, or tessera:plugin/flat-guest for the flat world): {message}"
    )]
    WrongWorld { path: PathBuf, message: String },
    #[error(
        "{path} was built for plugin API {found}; this host serves {supported} (rebuild it against the matching tessera-sdk)"
    )]
    UnsupportedApiVersion {
        path: PathBuf,
        found: String,
        supported: String,
    },
    #[error("{path} needs imports this host does not provide: {message}")]
    Link { path: PathBuf, message: String },
    // The call's error is part of the message, so it is not also reported as a source (a
    // printed chain would say it twice).
    #[error("plugin {plugin}: reading its definitions failed: {error}")]
    Definitions {
        plugin: String,
        error: Box<CallError>,
    },
    #[error("plugin {plugin} declares invalid definitions: {message}")]
    InvalidDefinitions { plugin: String, message: String },
    #[error("plugin {plugin} was not swapped in: {message}")]
    Rejected { plugin: String, message: String },
    #[error("artifact cache {path}: {message}")]
    Cache { path: PathBuf, message: String },
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
}

/// How a guest was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrapKind {
    Unreachable,
    StackOverflow,
    MemoryOutOfBounds,
    IntegerDivisionByZero,
    IntegerOverflow,
    IndirectCall,
    Other,
}

/// Why one call into a plugin did not produce a result.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    #[error("plugin {plugin} has no computation {name:?}")]
    UnknownComputation { plugin: String, name: String },
    #[error("plugin {plugin} has no sensor {name:?}")]
    UnknownSensor { plugin: String, name: String },
    #[error("plugin {plugin}: the call was stopped after {after:?} (limit {limit:?})")]
    Timeout {
        plugin: String,
        after: Duration,
        limit: Duration,
    },
    #[error("plugin {plugin} ran out of memory (limit {limit_bytes} bytes)")]
    OutOfMemory { plugin: String, limit_bytes: u64 },
    #[error("plugin {plugin} ran out of fuel (limit {limit})")]
    OutOfFuel { plugin: String, limit: u64 },
    #[error("plugin {plugin} trapped ({kind:?}): {message}")]
    Trap {
        plugin: String,
        kind: TrapKind,
        message: String,
    },
    #[error("plugin {plugin} could not be instantiated: {message}")]
    Instantiate { plugin: String, message: String },
    #[error("plugin {plugin} rejected its input: {message}")]
    InvalidInput { plugin: String, message: String },
    #[error("plugin {plugin} failed: {message}")]
    Failed { plugin: String, message: String },
    #[error("plugin {plugin} returned an invalid result: {message}")]
    InvalidResult { plugin: String, message: String },
    #[error("plugin {plugin}: {what} exceeds the limit of {limit} ({setting} in [runtime.limits])")]
    LimitExceeded {
        plugin: String,
        what: String,
        limit: u64,
        setting: &'static str,
    },
    #[error("plugin {plugin}: the call was canceled")]
    Canceled { plugin: String },
    #[error("plugin {plugin}: {message}")]
    Host { plugin: String, message: String },
}

impl CallError {
    /// Whether trying again may help (the plugin said it failed, or it ran out of time).
    pub fn is_retryable(&self) -> bool {
        matches!(self, CallError::Failed { .. } | CallError::Timeout { .. })
    }
}
