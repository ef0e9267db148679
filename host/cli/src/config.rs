//! `tessera.toml`: where the plugins and the state live, execution settings, runtime limits
//! and grants, schedules. Relative paths are relative to the file's directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use tessera_engine::EngineConfig;
use tessera_runtime::RuntimeConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    plugins: Option<PathBuf>,
    /// A directory (SQLite's `state.db` and the IO store), or a PostgreSQL URL.
    #[serde(default)]
    storage: Option<String>,
    /// With a database URL: the directory of the IO store (`data/`) and this host's files;
    /// hosts on several machines point it at one shared mount.
    #[serde(default)]
    storage_dir: Option<PathBuf>,
    #[serde(default)]
    execution: Execution,
    #[serde(default)]
    runtime: Option<RuntimeConfig>,
    #[serde(default)]
    schedules: Vec<Schedule>,
    #[serde(default)]
    server: Server,
}

/// `[server]`: where `tessera dev` and `tessera serve` listen, and the token they ask for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Server {
    listen: Option<std::net::SocketAddr>,
    token: Option<String>,
}

/// Where the API and UI listen unless told otherwise: loopback only.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:3000";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Execution {
    concurrency: usize,
    /// Runs at once per pool; an asset joins a pool with metadata `pool = "name"`.
    pools: std::collections::BTreeMap<String, usize>,
    max_attempts: u32,
    retry_backoff_ms: u64,
    /// Per-asset call timeouts in milliseconds, by asset key.
    timeouts_ms: std::collections::BTreeMap<String, u64>,
    /// How long a claimed run survives its host without a heartbeat.
    lease_ms: u64,
}

impl Default for Execution {
    fn default() -> Self {
        let d = EngineConfig::default();
        Execution {
            concurrency: d.concurrency,
            pools: d.pools,
            max_attempts: d.max_attempts,
            retry_backoff_ms: u64::try_from(d.retry_backoff.as_millis()).unwrap_or(500),
            timeouts_ms: std::collections::BTreeMap::new(),
            lease_ms: u64::try_from(d.lease.as_millis()).unwrap_or(30_000),
        }
    }
}

/// A cron schedule for a partitioned asset: each tick requests the latest complete partition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Schedule {
    pub(crate) name: String,
    pub(crate) asset: String,
    pub(crate) cron: String,
    #[serde(default = "utc")]
    pub(crate) timezone: String,
    /// Missed ticks run on start-up, at most this many (newest first).
    #[serde(default = "one")]
    pub(crate) catch_up: u32,
}

impl Schedule {
    pub(crate) fn spec(&self) -> tessera_engine::ScheduleSpec {
        tessera_engine::ScheduleSpec {
            name: self.name.clone(),
            asset: self.asset.clone(),
            cron: self.cron.clone(),
            timezone: self.timezone.clone(),
            catch_up: self.catch_up,
        }
    }
}

/// The largest `tessera.toml` read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

fn utc() -> String {
    "UTC".to_string()
}

fn one() -> u32 {
    1
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The file it came from, if any.
    pub(crate) file: Option<PathBuf>,
    pub(crate) plugins: PathBuf,
    pub(crate) storage: PathBuf,
    pub(crate) engine: EngineConfig,
    pub(crate) runtime: RuntimeConfig,
    pub(crate) schedules: Vec<Schedule>,
    /// `[server] listen`.
    pub(crate) listen: Option<std::net::SocketAddr>,
    /// `TESSERA_TOKEN`, else `[server] token`.
    pub(crate) token: Option<String>,
}

/// Whether `storage` names a PostgreSQL database rather than a directory.
fn is_database_url(storage: &str) -> bool {
    storage.starts_with("postgres://") || storage.starts_with("postgresql://")
}

fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("tessera").join("artifacts"))
}

impl Config {
    /// `--config FILE`, else `tessera.toml` in the working directory, else defaults
    /// (`plugins/` and `.tessera/` in the working directory).
    pub(crate) fn load(explicit: Option<&Path>) -> anyhow::Result<Config> {
        let (file, base) = match explicit {
            Some(p) => (Some(p.to_path_buf()), p.parent().map(Path::to_path_buf)),
            None => {
                let p = PathBuf::from("tessera.toml");
                (p.is_file().then_some(p), None)
            }
        };
        let base = base
            .filter(|b| !b.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        match &file {
            Some(p) => {
                // A regular file of reasonable size: `--config /dev/zero` is an error, not a
                // process that fills memory.
                let bytes = tessera_runtime::fs::read_regular_file(p, MAX_CONFIG_BYTES)
                    .context("cannot read the config")?;
                let text = String::from_utf8(bytes)
                    .with_context(|| format!("config {} is not UTF-8 text", p.display()))?;
                Config::from_text(&text, file.clone(), &base)
                    .with_context(|| format!("config {}", p.display()))
            }
            None => Config::from_text("", None, &base).context("default config"),
        }
    }

    /// The configuration a `tessera.toml` text describes, relative paths resolved against
    /// `base`; `file` is where it came from.
    fn from_text(text: &str, file: Option<PathBuf>, base: &Path) -> anyhow::Result<Config> {
        let parsed: File = toml::from_str(text)?;
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let mut runtime = parsed.runtime.unwrap_or_default();
        if runtime.cache_dir.is_none() {
            runtime.cache_dir = std::env::var_os("TESSERA_CACHE_DIR")
                .map(PathBuf::from)
                .or_else(default_cache_dir);
        } else {
            runtime.cache_dir = runtime.cache_dir.map(resolve);
        }
        for g in runtime
            .grants
            .values_mut()
            .chain(std::iter::once(&mut runtime.default_grants))
        {
            for d in &mut g.dirs {
                d.host = resolve(std::mem::take(&mut d.host));
            }
        }
        let e = parsed.execution;
        if e.concurrency == 0 {
            anyhow::bail!("[execution] concurrency must be at least 1");
        }
        if e.concurrency > tessera_engine::MAX_CONCURRENCY {
            anyhow::bail!(
                "[execution] concurrency = {} is more than the {} runs one process executes at once",
                e.concurrency,
                tessera_engine::MAX_CONCURRENCY
            );
        }
        // Every run in flight holds an instance, and a sensor or a reload may hold a few more.
        runtime.max_instances = runtime.max_instances.max(
            u32::try_from(e.concurrency)
                .unwrap_or(u32::MAX)
                .saturating_add(8),
        );
        for s in &parsed.schedules {
            s.spec().schedule()?;
        }
        if e.lease_ms < 300 {
            anyhow::bail!(
                "[execution] lease_ms = {} is too short: at least 300 (a heartbeat renews it every third)",
                e.lease_ms
            );
        }
        if let Some((asset, _)) = e.timeouts_ms.iter().find(|(_, ms)| **ms == 0) {
            anyhow::bail!("[execution.timeouts_ms] {asset:?} must be at least 1 millisecond");
        }
        // `TESSERA_DATABASE_URL` wins over the file, as a deployment's secret would.
        let storage = std::env::var("TESSERA_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .or(parsed.storage);
        let (database, storage) = match storage {
            Some(url) if is_database_url(&url) => (
                Some(url),
                parsed
                    .storage_dir
                    .unwrap_or_else(|| PathBuf::from(".tessera")),
            ),
            Some(dir) => {
                if parsed.storage_dir.is_some() {
                    anyhow::bail!(
                        "storage_dir is for a database URL in `storage`; with a directory, the state and the IO store are both under it"
                    );
                }
                (None, PathBuf::from(dir))
            }
            None => (
                None,
                parsed
                    .storage_dir
                    .unwrap_or_else(|| PathBuf::from(".tessera")),
            ),
        };
        Ok(Config {
            file,
            plugins: resolve(parsed.plugins.unwrap_or_else(|| PathBuf::from("plugins"))),
            storage: resolve(storage),
            engine: EngineConfig {
                clock: tessera_engine::Clock::System,
                concurrency: e.concurrency,
                pools: e.pools,
                max_attempts: e.max_attempts.max(1),
                retry_backoff: Duration::from_millis(e.retry_backoff_ms),
                timeouts: e
                    .timeouts_ms
                    .into_iter()
                    .map(|(asset, ms)| (asset, Duration::from_millis(ms)))
                    .collect(),
                lease: Duration::from_millis(e.lease_ms),
                database,
            },
            runtime,
            schedules: parsed.schedules,
            listen: parsed.server.listen,
            token: std::env::var("TESSERA_TOKEN")
                .ok()
                .or(parsed.server.token)
                .filter(|t| !t.is_empty()),
        })
    }
}

/// Fuzz target for `tessera.toml`: any text is a configuration or an error, never a panic,
/// and what is accepted holds the settings' bounds. Inputs are the README's example with
/// characters and lines changed, and arbitrary text. `cargo test` runs `TESSERA_FUZZ_CASES`
/// cases (256 unless set); the long run is in the README's "Fuzzing".
#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code")]
mod fuzz {
    use proptest::prelude::*;
    use proptest::test_runner::{Config as Cases, FileFailurePersistence};

    use super::*;

    const EXAMPLE: &str = r#"plugins = "plugins"
storage = ".tessera"

[execution]
concurrency = 2
max_attempts = 3
retry_backoff_ms = 500
pools = { warehouse = 1 }
timeouts_ms = { daily_sales = 30000 }
lease_ms = 30000

[runtime]
limits = { memory_bytes = 268435456, timeout = 60000 }
fuel = false
[runtime.grants.new_data_sensor]
dirs = [{ host = "incoming", guest = "/data/incoming" }]

[server]
listen = "127.0.0.1:3000"

[[schedules]]
name = "nightly_sales"
asset = "daily_sales"
cron = "0 1 * * *"
timezone = "Europe/Berlin"
catch_up = 3
"#;

    /// The example with a few lines dropped, repeated or given another value, then a few
    /// characters changed.
    fn inputs() -> impl Strategy<Value = String> {
        let lines: Vec<String> = EXAMPLE.lines().map(str::to_string).collect();
        let value = prop_oneof![
            Just("0".to_string()),
            Just("-1".to_string()),
            Just("18446744073709551616".to_string()),
            Just("\"\"".to_string()),
            Just("[]".to_string()),
            Just("{}".to_string()),
            Just("\"postgres://u@h/db\"".to_string()),
            Just("\"Mars/Olympus\"".to_string()),
            Just("\"61 * * * *\"".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            "\"\\PC{0,8}\"",
        ];
        let line_edits =
            proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, value), 0..4);
        let char_edits =
            proptest::collection::vec((any::<prop::sample::Index>(), any::<char>()), 0..3);
        let edited = (line_edits, char_edits).prop_map(move |(line_edits, char_edits)| {
            let mut lines = lines.clone();
            for (at, how, value) in line_edits {
                let i = at.index(lines.len());
                match how {
                    0 => {
                        lines.remove(i);
                    }
                    1 => {
                        let line = lines[i].clone();
                        lines.insert(i, line);
                    }
                    _ => {
                        if let Some((key, _)) = lines[i].split_once(" = ") {
                            lines[i] = format!("{key} = {value}");
                        }
                    }
                }
                if lines.is_empty() {
                    break;
                }
            }
            let mut text: Vec<char> = lines.join("\n").chars().collect();
            for (at, c) in char_edits {
                let i = at.index(text.len() + 1);
                text.insert(i, c);
            }
            text.into_iter().collect::<String>()
        });
        prop_oneof![8 => edited, 1 => "\\PC{0,60}", 1 => any::<String>()]
    }

    fn target(text: &str) {
        let Ok(config) = Config::from_text(text, None, Path::new("/project")) else {
            return;
        };
        let e = &config.engine;
        assert!(e.concurrency >= 1 && e.concurrency <= tessera_engine::MAX_CONCURRENCY);
        assert!(e.lease >= Duration::from_millis(300));
        assert!(e.max_attempts >= 1);
        assert!(e.timeouts.values().all(|t| !t.is_zero()));
        assert!(config.plugins.is_absolute() && config.storage.is_absolute());
    }

    proptest! {
        #![proptest_config(Cases {
            cases: tessera_tests::fuzz_cases(),
            failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
            ..Cases::default()
        })]

        #[test]
        fn fuzz_tessera_toml(text in inputs()) {
            target(&text);
        }
    }

    #[test]
    fn the_example_is_valid() {
        let config = Config::from_text(EXAMPLE, None, Path::new("/project")).unwrap();
        assert_eq!(config.engine.concurrency, 2);
        assert_eq!(config.schedules.len(), 1);
    }
}
