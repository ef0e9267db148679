//! Tessera's plugin runtime: loads WebAssembly components that implement the
//! `tessera:plugin` contract, runs them sandboxed, and swaps them in place when their file
//! changes.
//!
//! - [`Runtime`] owns the one wasmtime [`Engine`](wasmtime::Engine) (pooling allocator, epoch
//!   interruption, calls on fibers so that WASI's blocking calls end at a deadline), the
//!   on-disk artifact cache and the host functions.
//! - [`Runtime::load`] turns a file into a [`Plugin`]: compiled (or loaded from the cache),
//!   API version checked before anything runs, linked once into an `InstancePre`, its
//!   definitions read and validated.
//! - [`Plugin::materialize`] and [`Plugin::evaluate_sensor`] run one call in a fresh store with
//!   memory, time and (optionally) fuel limits, and only the capabilities granted to it.
//! - [`Registry`] keeps the current version of every plugin in a directory, reloads on change,
//!   and keeps the old version serving when a reload fails.

mod bindings;
mod cache;
mod call;
mod checks;
mod config;
mod convert;
mod error;
mod exports;
mod flat;
pub mod fs;
#[cfg(test)]
mod fuzz;
mod host;
mod incremental;
mod mapping;
mod plugin;
mod policy;
mod registry;
mod runtime;
mod wrap;

pub use cache::ArtifactCache;
pub use call::{
    DynamicRequest, InputData, MAX_KEYS_PER_CALL, MaterializeRequest, MetadataValue, Output,
    Resolved, RunRequest, Selection, SensorRequest, SensorResult, Session,
};
pub use checks::{CheckOutcome, CheckResult};
pub use config::{DirGrant, Grants, Limits, RESULT_OVERHEAD_BYTES, RuntimeConfig};
pub use convert::{
    AssetSpec, CheckSpec, ComputationSpec, Definitions, InputSpec, MappingSpec, SensorSpec,
};
pub use error::{CallError, LoadError, TrapKind};
pub use flat::schema as flat_schema;
pub use host::{DynamicKeys, LogRecord, LogSink, NoDynamicKeys};
pub use mapping::PluginMappingCode;
pub use plugin::{CancelToken, FunctionCounts, LoadStats, Plugin};
pub use policy::{BackfillPolicy, RollupPolicy};
pub use registry::{LoadFailure, Registry, RegistryEvent, Validator, WatchHandle};
pub use runtime::Runtime;
pub use wrap::{NotWrappable, componentize, is_core_module};

/// The current contract version (the WIT package `tessera:plugin` in `plugin-sdk/wit`).
pub const API_VERSION: &str = "0.4.0";

/// Every contract version this host loads plugins of, newest first.
pub const SUPPORTED_API_VERSIONS: [&str; 4] = [API_VERSION, "0.3.0", "0.2.0", "0.1.0"];

/// The contract the host speaks with one plugin, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ApiVersion {
    /// The frozen first contract (`plugin-sdk/wit-0.1.0`): one output per asset and call,
    /// backfill policy as metadata.
    V0_1,
    /// The frozen second contract (`plugin-sdk/wit-0.2.0`): no calendar exclusions.
    V0_2,
    /// The frozen third contract (`plugin-sdk/wit-0.3.0`): the current one without the flat
    /// world.
    V0_3,
    /// The current contract (`plugin-sdk/wit`).
    V0_4,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V0_1 => SUPPORTED_API_VERSIONS[3],
            ApiVersion::V0_2 => SUPPORTED_API_VERSIONS[2],
            ApiVersion::V0_3 => SUPPORTED_API_VERSIONS[1],
            ApiVersion::V0_4 => API_VERSION,
        }
    }
}
