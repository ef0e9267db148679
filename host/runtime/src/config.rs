//! Runtime settings: limits per call and capabilities per plugin.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Limits on one call into a plugin, and on what it may hand the host.
///
/// Every limit bounds something a guest controls and the host would otherwise pay for: memory
/// and time while it runs, and the size of what it returns (the host copies a result out of the
/// guest before anything else looks at it). The defaults are far above what a real plugin needs.
/// In `tessera.toml` they are set under `[runtime.limits]` (and per plugin under
/// `[runtime.plugin_limits.NAME]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Linear memory, in bytes, across the plugin's memories.
    pub memory_bytes: u64,
    /// Wall-clock time for the whole call, instantiation included, whatever the guest is doing
    /// (computing, or blocked in a WASI call).
    #[serde(with = "millis")]
    pub timeout: Duration,
    /// Instructions-ish budget; only honoured when the runtime was built with fuel enabled.
    pub fuel: Option<u64>,
    /// The most bytes one call may return, all outputs together. The host copies at most this
    /// plus [`RESULT_OVERHEAD_BYTES`] out of a guest in one result or one host call.
    pub max_output_bytes: u64,
    /// Log lines one call may write; past this (or `max_log_bytes`) the host records one
    /// truncation notice and drops the rest, and the call goes on.
    pub max_log_lines: u64,
    /// Log bytes (messages and fields) one call may write.
    pub max_log_bytes: u64,
    /// Metadata entries of one output.
    pub max_metadata_entries: u64,
    /// Metadata bytes (keys and values) of one output.
    pub max_metadata_bytes: u64,
    /// The size of a sensor's cursor.
    pub max_cursor_bytes: u64,
    /// Run requests of one sensor evaluation.
    pub max_run_requests: u64,
    /// Dynamic partition keys one sensor evaluation adds and deletes, all sets together.
    pub max_dynamic_keys: u64,
    /// Assets one plugin declares.
    pub max_assets: u64,
    /// Sensors one plugin declares.
    pub max_sensors: u64,
    /// Keys of one list in a plugin's definitions (static partitions, mapping keys).
    pub max_definition_keys: u64,
    /// Bytes of any one string a plugin declares or returns besides its data and partition
    /// keys (names, descriptions, metadata in definitions, run keys, tags, skip reasons).
    pub max_string_bytes: u64,
}

/// What the host lets a guest hand over beyond `max_output_bytes` in one result or one host
/// call: metadata, names and list overhead.
pub const RESULT_OVERHEAD_BYTES: u64 = 64 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 << 20,
            timeout: Duration::from_secs(60),
            fuel: None,
            max_output_bytes: 64 << 20,
            max_log_lines: 10_000,
            max_log_bytes: 4 << 20,
            max_metadata_entries: 1_000,
            max_metadata_bytes: 1 << 20,
            max_cursor_bytes: 1 << 20,
            max_run_requests: 100_000,
            max_dynamic_keys: 2_000_000,
            max_assets: 10_000,
            max_sensors: 1_000,
            max_definition_keys: 1_000_000,
            max_string_bytes: 64 << 10,
        }
    }
}

impl Limits {
    /// The most bytes the host copies out of a guest in one result or one host call (wasmtime's
    /// hostcall fuel, counted in host bytes).
    pub fn max_transfer_bytes(&self) -> u64 {
        self.max_output_bytes.saturating_add(RESULT_OVERHEAD_BYTES)
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// A host directory a plugin may read, and where it appears inside the plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirGrant {
    pub host: PathBuf,
    pub guest: String,
}

/// What a plugin may touch beyond its inputs. Nothing by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Grants {
    /// Read-only preopened directories.
    pub dirs: Vec<DirGrant>,
    /// Names of host environment variables passed through (when set).
    pub env: Vec<String>,
}

/// Everything the runtime needs to know up front.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Where compiled artifacts are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Default limits of every call.
    pub limits: Limits,
    /// Per-plugin overrides of the limits, by plugin name.
    pub plugin_limits: BTreeMap<String, Limits>,
    /// Per-plugin capabilities, by plugin name.
    pub grants: BTreeMap<String, Grants>,
    /// Capabilities of plugins not named in `grants` (nothing, unless configured).
    pub default_grants: Grants,
    /// Count fuel in every call (costs 20–40 % speed; needed for `Limits::fuel`).
    pub fuel: bool,
    /// Epoch tick: the granularity of timeouts.
    #[serde(with = "millis")]
    pub epoch_tick: Duration,
    /// Instances that may run at once (the pooling allocator's size).
    pub max_instances: u32,
    /// The largest plugin file loaded (a Python component is about 19 MB).
    pub max_plugin_bytes: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            limits: Limits::default(),
            plugin_limits: BTreeMap::new(),
            grants: BTreeMap::new(),
            default_grants: Grants::default(),
            fuel: false,
            epoch_tick: Duration::from_millis(10),
            max_instances: 64,
            max_plugin_bytes: 128 << 20,
        }
    }
}

impl RuntimeConfig {
    /// The limits of one plugin's calls.
    pub fn limits_for(&self, plugin: &str) -> Limits {
        self.plugin_limits
            .get(plugin)
            .copied()
            .unwrap_or(self.limits)
    }

    /// The capabilities of one plugin.
    pub fn grants_for(&self, plugin: &str) -> &Grants {
        self.grants.get(plugin).unwrap_or(&self.default_grants)
    }
}
