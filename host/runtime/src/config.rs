//! Runtime settings: limits per call and capabilities per plugin.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Limits on one call into a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Linear memory, in bytes, across the plugin's memories.
    pub memory_bytes: u64,
    /// Wall-clock time for the whole call (enforced by epoch interruption).
    #[serde(with = "millis")]
    pub timeout: Duration,
    /// Instructions-ish budget; only honoured when the runtime was built with fuel enabled.
    pub fuel: Option<u64>,
    /// The most bytes one call may return, all outputs together.
    pub max_output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 << 20,
            timeout: Duration::from_secs(60),
            fuel: None,
            max_output_bytes: 64 << 20,
        }
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
    pub fn grants_for(&self, plugin: &str) -> Grants {
        self.grants
            .get(plugin)
            .cloned()
            .unwrap_or_else(|| self.default_grants.clone())
    }
}
