//! The native test harness (host targets only): Dagster's `build_asset_context`, for Tessera.
//!
//! It runs an asset or a sensor under `cargo test` the way the host runs the component: the
//! context is built from the partitions definition with the host's own partition code
//! (`tessera-partitions`: keys checked, ranges listed, time windows with DST), the call goes
//! through the same WIT conversions as the exports, and what the function returns is checked
//! as the host would.
//!
//! ```
//! use tessera_sdk::prelude::*;
//! use tessera_sdk::testing;
//!
//! fn processed_events(ctx: &Context, inputs: &Inputs) -> Result<Output, PluginError> {
//!     let days = inputs.get("raw_events")?.len();
//!     Ok(Output::text(format!("{} from {days} days", ctx.partition_key()?)))
//! }
//!
//! let plugin = Plugin::new().computation(
//!     Asset::new("processed_events", processed_events)
//!         .partitions(Partitions::daily("2024-01-01").timezone("America/New_York"))
//!         .input_mapped("raw_events", Mapping::time_window(-1, 0)),
//! );
//! let run = testing::materialize(&plugin, "processed_events")
//!     .partition("2024-03-10")
//!     .now("2024-04-01T00:00:00Z")
//!     .input("raw_events", "2024-03-09", "[]")
//!     .input("raw_events", "2024-03-10", "[]")
//!     .run()?;
//! assert_eq!(run.outputs.get("processed_events").unwrap().data(), b"2024-03-10 from 2 days");
//! // The spring-forward day is 23 hours long.
//! assert_eq!(run.context.time_window()?.duration_secs(), 23 * 3600);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tessera_partitions as tp;

use crate::bindings::wit;
use crate::definitions::{Computation, Plugin};
use crate::host::native::HostState;
use crate::io::{Context, Output, Outputs, PartitionSelection, PluginError, TimeWindow};
use crate::log::{self, LogRecord};
use crate::partitions::Partitions;
use crate::sensor::SensorResult;

/// Why a harness run did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HarnessError {
    /// The test asked for something the host would never do: an unknown asset or sensor, a key
    /// that is not a partition, an input the asset does not declare, an invalid definition.
    Setup(String),
    /// The plugin's function returned an error (or outputs the host would reject).
    Plugin(PluginError),
    /// The plugin returned a result the host would reject.
    Contract(String),
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::Setup(m) => write!(f, "test setup: {m}"),
            HarnessError::Plugin(e) => write!(f, "plugin error: {e}"),
            HarnessError::Contract(m) => write!(f, "the host would reject the result: {m}"),
        }
    }
}

impl std::error::Error for HarnessError {}

impl From<PluginError> for HarnessError {
    fn from(e: PluginError) -> Self {
        HarnessError::Plugin(e)
    }
}

fn setup(message: impl Into<String>) -> HarnessError {
    HarnessError::Setup(message.into())
}

/// An instant for `.now(…)`: Unix seconds, an RFC 3339 string, or a `chrono` UTC time.
pub trait UnixTime {
    fn unix_seconds(self) -> Result<i64, String>;
}

impl UnixTime for i64 {
    fn unix_seconds(self) -> Result<i64, String> {
        Ok(self)
    }
}

impl UnixTime for &str {
    fn unix_seconds(self) -> Result<i64, String> {
        DateTime::parse_from_rfc3339(self)
            .map(|t| t.timestamp())
            .map_err(|e| format!("now {self:?} is not an RFC 3339 time: {e}"))
    }
}

impl UnixTime for String {
    fn unix_seconds(self) -> Result<i64, String> {
        self.as_str().unix_seconds()
    }
}

impl UnixTime for DateTime<Utc> {
    fn unix_seconds(self) -> Result<i64, String> {
        Ok(self.timestamp())
    }
}

fn to_utc(secs: i64) -> Result<DateTime<Utc>, HarnessError> {
    DateTime::from_timestamp(secs, 0).ok_or_else(|| setup(format!("now {secs} is out of range")))
}

/// Checks a plugin as the host does when loading it: [`Plugin::validate`], and every
/// partitions definition accepted by the host's partition code.
pub fn check(plugin: &Plugin) -> Result<(), HarnessError> {
    plugin.validate().map_err(HarnessError::Setup)?;
    for c in plugin.computations() {
        if let Some(p) = c.partitions_def() {
            host_definition(p).map_err(|e| setup(format!("computation {:?}: {e}", c.name())))?;
        }
    }
    Ok(())
}

/// The host's partitions definition for the SDK's description (through the WIT record the
/// host receives), validated.
pub fn host_definition(partitions: &Partitions) -> Result<tp::PartitionsDefinition, HarnessError> {
    host_definition_from_wit(&wit::Partitions::from(partitions))
}

/// The host's partitions definition for a WIT `partitions` record, validated.
pub fn host_definition_from_wit(
    partitions: &wit::Partitions,
) -> Result<tp::PartitionsDefinition, HarnessError> {
    let def = match partitions {
        wit::Partitions::StaticKeys(keys) => static_def(keys),
        wit::Partitions::Cadence(c) => cadence_def(c),
        wit::Partitions::Cron(c) => cron_def(c),
        wit::Partitions::Dynamic(name) => Ok(tp::DynamicPartitions::new(name.as_str()).into()),
        wit::Partitions::Multi(dims) => dims
            .iter()
            .map(|d| Ok((d.name.clone(), dimension_def(&d.partitions)?)))
            .collect::<Result<Vec<_>, tp::Error>>()
            .and_then(tp::MultiPartitions::new)
            .map(Into::into),
        wit::Partitions::SparseMulti(sparse) => sparse
            .dimensions
            .iter()
            .map(|d| Ok((d.name.clone(), dimension_def(&d.partitions)?)))
            .collect::<Result<Vec<_>, tp::Error>>()
            .and_then(|dims| {
                let combinations = tp::Combinations {
                    dimensions: sparse.combined.clone(),
                    source: match &sparse.combinations {
                        wit::CombinationSource::Listed(rows) => {
                            tp::CombinationSource::Listed(rows.clone())
                        }
                        wit::CombinationSource::Dynamic(set) => {
                            tp::CombinationSource::Dynamic(set.clone())
                        }
                    },
                };
                tp::MultiPartitions::sparse(dims, combinations)
            })
            .map(Into::into),
    }
    .map_err(|e| setup(format!("invalid partitions definition: {e}")))?;
    def.validate()
        .map_err(|e| setup(format!("invalid partitions definition: {e}")))?;
    Ok(def)
}

fn dimension_def(p: &wit::DimensionPartitions) -> Result<tp::PartitionsDefinition, tp::Error> {
    match p {
        wit::DimensionPartitions::StaticKeys(keys) => static_def(keys),
        wit::DimensionPartitions::Cadence(c) => cadence_def(c),
        wit::DimensionPartitions::Cron(c) => cron_def(c),
        wit::DimensionPartitions::Dynamic(name) => {
            Ok(tp::DynamicPartitions::new(name.as_str()).into())
        }
    }
}

fn static_def(keys: &[String]) -> Result<tp::PartitionsDefinition, tp::Error> {
    tp::StaticPartitions::new(keys.iter().map(String::as_str)).map(Into::into)
}

fn cadence_def(p: &wit::CadencePartitions) -> Result<tp::PartitionsDefinition, tp::Error> {
    let start = p.start.as_str();
    let mut b = match p.cadence {
        wit::Cadence::Hourly => tp::TimeWindowPartitions::hourly(start),
        wit::Cadence::Daily => tp::TimeWindowPartitions::daily(start),
        wit::Cadence::Weekly => tp::TimeWindowPartitions::weekly(start),
        wit::Cadence::Monthly => tp::TimeWindowPartitions::monthly(start),
    }
    .end_offset(p.end_offset)
    .minute_offset(p.minute_offset)
    .hour_offset(p.hour_offset);
    if let Some(day) = p.day_offset {
        b = b.day_offset(day);
    }
    if let Some(fmt) = &p.fmt {
        b = b.fmt(fmt);
    }
    time_window_common(b, p.timezone.as_deref(), p.end.as_deref())
}

fn cron_def(p: &wit::CronPartitions) -> Result<tp::PartitionsDefinition, tp::Error> {
    let b = tp::TimeWindowPartitions::cron(&p.cron_schedule, p.start.as_str(), &p.fmt)
        .end_offset(p.end_offset);
    time_window_common(b, p.timezone.as_deref(), p.end.as_deref())
}

fn time_window_common(
    mut b: tp::TimeWindowBuilder,
    timezone: Option<&str>,
    end: Option<&str>,
) -> Result<tp::PartitionsDefinition, tp::Error> {
    if let Some(tz) = timezone {
        b = b.timezone(tz);
    }
    if let Some(end) = end {
        b = b.end(end);
    }
    b.build().map(Into::into)
}

/// Host state shared by both kinds of runs: time, dynamic partitions, granted directories.
#[derive(Debug, Clone, Default)]
struct HostSetup {
    now: Option<Result<i64, String>>,
    dynamic: HashMap<String, Vec<String>>,
    grants: Vec<(String, PathBuf)>,
    errors: Vec<String>,
}

impl HostSetup {
    fn now(&self) -> Result<i64, HarnessError> {
        match &self.now {
            Some(Ok(t)) => Ok(*t),
            Some(Err(e)) => Err(setup(e.clone())),
            None => Ok(Utc::now().timestamp()),
        }
    }

    fn store(&self) -> tp::MemoryDynamicStore {
        let mut store = tp::MemoryDynamicStore::new();
        for (name, keys) in &self.dynamic {
            store.add(name, keys.iter().map(String::as_str));
        }
        store
    }

    fn first_error(&self) -> Result<(), HarnessError> {
        match self.errors.first() {
            Some(e) => Err(setup(e.clone())),
            None => Ok(()),
        }
    }
}

/// Starts a run of a computation, named by its name or by the key of one of its assets (which
/// then is the only asset requested).
pub fn materialize<'a>(plugin: &'a Plugin, name: &str) -> MaterializeTest<'a> {
    MaterializeTest {
        plugin,
        name: name.to_string(),
        assets: None,
        partition: PartitionSelection::None,
        run_id: "test-run".to_string(),
        attempt: 1,
        inputs: Vec::new(),
        host: HostSetup::default(),
    }
}

/// A materialization under test; see [`materialize`].
#[derive(Debug, Clone)]
pub struct MaterializeTest<'a> {
    plugin: &'a Plugin,
    name: String,
    assets: Option<Vec<String>>,
    partition: PartitionSelection,
    run_id: String,
    attempt: u32,
    inputs: Vec<wit::Input>,
    host: HostSetup,
}

/// What a materialization under test produced.
#[derive(Debug, Clone)]
pub struct Materialization {
    /// The context the function saw.
    pub context: Context,
    /// One output per requested asset, named.
    pub outputs: Outputs,
    pub logs: Vec<LogRecord>,
}

impl Materialization {
    pub fn output(&self, asset: &str) -> Option<&Output> {
        self.outputs.get(asset)
    }

    /// The output of `asset` parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self, asset: &str) -> Result<T, PluginError> {
        self.outputs.json(asset)
    }
}

impl<'a> MaterializeTest<'a> {
    pub fn partition(mut self, key: impl Into<String>) -> Self {
        self.partition = PartitionSelection::Key(key.into());
        self
    }

    /// Both ends included.
    pub fn partition_range(mut self, start: impl Into<String>, end: impl Into<String>) -> Self {
        self.partition = PartitionSelection::Range {
            start: start.into(),
            end: end.into(),
        };
        self
    }

    /// Only these assets of the computation (all of them by default).
    pub fn assets<I, K>(mut self, assets: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        self.assets = Some(assets.into_iter().map(Into::into).collect());
        self
    }

    /// When the run happens (the current time by default): time-window partitions exist once
    /// their window has ended.
    pub fn now(mut self, now: impl UnixTime) -> Self {
        self.host.now = Some(now.unix_seconds());
        self
    }

    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = run_id.into();
        self
    }

    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// The data of one upstream partition.
    pub fn input(mut self, asset: &str, key: &str, data: impl Into<Vec<u8>>) -> Self {
        let part = wit::InputPartition {
            key: key.to_string(),
            data: data.into(),
        };
        match self.inputs.iter_mut().find(|i| i.asset == asset) {
            Some(input) => input.partitions.push(part),
            None => self.inputs.push(wit::Input {
                asset: asset.to_string(),
                partitions: vec![part],
            }),
        }
        self
    }

    /// The data of one upstream partition, as JSON.
    pub fn input_json<T: Serialize + ?Sized>(self, asset: &str, key: &str, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(data) => self.input(asset, key, data),
            Err(e) => {
                let mut this = self;
                this.host
                    .errors
                    .push(format!("input {asset:?} {key:?} is not serializable: {e}"));
                this
            }
        }
    }

    /// The data of an unpartitioned upstream (its key is empty).
    pub fn input_unpartitioned(self, asset: &str, data: impl Into<Vec<u8>>) -> Self {
        self.input(asset, "", data)
    }

    /// The keys of a dynamic partitions set, for key checks and `dynamic_partition_keys`.
    pub fn dynamic_partitions<I, K>(mut self, name: &str, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        self.host
            .dynamic
            .insert(name.to_string(), keys.into_iter().map(Into::into).collect());
        self
    }

    /// Serves `granted_path(guest_path)` from `dir`.
    pub fn grant(mut self, guest_path: &str, dir: impl Into<PathBuf>) -> Self {
        self.host.grants.push((guest_path.to_string(), dir.into()));
        self
    }

    fn computation(&self) -> Result<(&'a Computation, Vec<String>), HarnessError> {
        let plugin = self.plugin;
        let (computation, assets) = match plugin.find_computation(&self.name) {
            Some(c) => (c, c.assets().iter().map(|a| a.key.clone()).collect()),
            None => match plugin.computation_of(&self.name) {
                Some(c) => (c, vec![self.name.clone()]),
                None => {
                    return Err(setup(format!(
                        "the plugin has no computation or asset {:?} (assets: {:?})",
                        self.name,
                        plugin.asset_keys().collect::<Vec<_>>()
                    )));
                }
            },
        };
        Ok((computation, self.assets.clone().unwrap_or(assets)))
    }

    /// The WIT context the host would send.
    pub fn wit_context(&self) -> Result<wit::MaterializeContext, HarnessError> {
        self.host.first_error()?;
        check(self.plugin)?;
        let (computation, assets) = self.computation()?;
        if let Some(unknown) = assets.iter().find(|a| !computation.has_asset(a)) {
            return Err(setup(format!(
                "computation {:?} does not produce {unknown:?}",
                computation.name()
            )));
        }
        let declared: Vec<String> = computation
            .assets()
            .iter()
            .filter(|a| assets.contains(&a.key))
            .flat_map(|a| computation.inputs_of(a))
            .map(|i| i.asset)
            .collect();
        if let Some(input) = self.inputs.iter().find(|i| !declared.contains(&i.asset)) {
            return Err(setup(format!(
                "{:?} declares no input {:?} (inputs: {declared:?})",
                self.name, input.asset
            )));
        }
        let now = self.host.now()?;
        let (partition_keys, time_window) = match computation.partitions_def() {
            None => {
                if self.partition != PartitionSelection::None {
                    return Err(setup(format!(
                        "{:?} is not partitioned; give no partition",
                        self.name
                    )));
                }
                (Vec::new(), None)
            }
            Some(partitions) => {
                let def = host_definition(partitions)?;
                let store = self.host.store();
                let cx = tp::Context::new(to_utc(now)?).with_dynamic(&store);
                let keys = selection_keys(&def, &cx, &self.partition, &self.name)?;
                let window = if partitions.has_time() {
                    window_of(&def, &keys)?
                } else {
                    None
                };
                (keys, window)
            }
        };
        Ok(wit::MaterializeContext {
            computation: computation.name().to_string(),
            assets,
            partition: self.partition.clone().into(),
            partition_keys,
            time_window: time_window.map(Into::into),
            run_id: self.run_id.clone(),
            attempt: self.attempt,
            now,
        })
    }

    /// The context the function would see, without running it.
    pub fn context(&self) -> Result<Context, HarnessError> {
        let (computation, _) = self.computation()?;
        Ok(crate::convert::context_from_wit(
            self.wit_context()?,
            computation,
        )?)
    }

    /// Runs the computation through the `materialize` export's code.
    pub fn run(self) -> Result<Materialization, HarnessError> {
        let wit_cx = self.wit_context()?;
        let (computation, _) = self.computation()?;
        let context = crate::convert::context_from_wit(wit_cx.clone(), computation)?;
        let _host = HostState::install(self.host.dynamic.clone(), self.host.grants.clone());
        drop(log::take_records());
        let result = self.plugin.wit_materialize(wit_cx, self.inputs);
        let logs = log::take_records();
        let outputs = result.map_err(|e| HarnessError::Plugin(e.into()))?;
        Ok(Materialization {
            context,
            outputs: Outputs {
                outputs: outputs.into_iter().map(Output::from).collect(),
            },
            logs,
        })
    }
}

/// The keys of a selection, checked to exist.
fn selection_keys(
    def: &tp::PartitionsDefinition,
    cx: &tp::Context<'_>,
    selection: &PartitionSelection,
    name: &str,
) -> Result<Vec<String>, HarnessError> {
    let exists = |key: &str| -> Result<(), HarnessError> {
        match def.has_key(cx, key) {
            Ok(true) => Ok(()),
            Ok(false) => Err(setup(format!(
                "{key:?} is not a partition of {name:?} ({def}) at {}",
                cx.now().to_rfc3339()
            ))),
            Err(e) => Err(setup(format!("cannot check key {key:?}: {e}"))),
        }
    };
    match selection {
        PartitionSelection::None => Err(setup(format!(
            "{name:?} is partitioned ({def}): give .partition(key) or .partition_range(start, end)"
        ))),
        PartitionSelection::Key(key) => {
            exists(key)?;
            Ok(vec![key.clone()])
        }
        PartitionSelection::Range { start, end } => {
            exists(start)?;
            exists(end)?;
            let subset = def
                .range(cx, start, end)
                .map_err(|e| setup(format!("range {start}...{end}: {e}")))?;
            let keys: Vec<String> = def
                .subset_keys(cx, &subset)
                .map_err(|e| setup(format!("range {start}...{end}: {e}")))?
                .map(tp::PartitionKey::into_string)
                .collect();
            if keys.is_empty() {
                return Err(setup(format!("range {start}...{end} is empty")));
            }
            Ok(keys)
        }
    }
}

/// The window covering every key: from the earliest start to the latest end.
fn window_of(
    def: &tp::PartitionsDefinition,
    keys: &[String],
) -> Result<Option<TimeWindow>, HarnessError> {
    let mut covering: Option<TimeWindow> = None;
    for key in keys {
        let w = match def.time_window_for_key(key) {
            Ok(w) => w,
            // Multi partitions with no single time dimension have no window.
            Err(_) if def.as_multi().is_some() => return Ok(None),
            Err(e) => return Err(setup(format!("no time window for {key:?}: {e}"))),
        };
        covering = Some(match covering {
            None => TimeWindow {
                start: w.start,
                end: w.end,
                start_offset: w.start_offset,
                end_offset: w.end_offset,
            },
            Some(mut c) => {
                if w.start < c.start {
                    c.start = w.start;
                    c.start_offset = w.start_offset;
                }
                if w.end > c.end {
                    c.end = w.end;
                    c.end_offset = w.end_offset;
                }
                c
            }
        });
    }
    Ok(covering)
}

/// Starts an evaluation of a sensor.
pub fn evaluate_sensor<'a>(plugin: &'a Plugin, sensor: &str) -> SensorTest<'a> {
    SensorTest {
        plugin,
        name: sensor.to_string(),
        cursor: None,
        last_evaluation: None,
        host: HostSetup::default(),
    }
}

/// A sensor evaluation under test; see [`evaluate_sensor`].
#[derive(Debug, Clone)]
pub struct SensorTest<'a> {
    plugin: &'a Plugin,
    name: String,
    cursor: Option<String>,
    last_evaluation: Option<i64>,
    host: HostSetup,
}

/// What a sensor evaluation under test returned.
#[derive(Debug, Clone)]
pub struct SensorEvaluation {
    /// Run requests name their assets (an empty list became the sensor's targets).
    pub result: SensorResult,
    pub logs: Vec<LogRecord>,
}

impl SensorTest<'_> {
    /// What the previous evaluation returned as its cursor.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    pub fn last_evaluation(mut self, at: impl UnixTime) -> Self {
        match at.unix_seconds() {
            Ok(t) => self.last_evaluation = Some(t),
            Err(e) => self.host.errors.push(e),
        }
        self
    }

    pub fn now(mut self, now: impl UnixTime) -> Self {
        self.host.now = Some(now.unix_seconds());
        self
    }

    /// The keys of a dynamic partitions set before the evaluation.
    pub fn dynamic_partitions<I, K>(mut self, name: &str, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        self.host
            .dynamic
            .insert(name.to_string(), keys.into_iter().map(Into::into).collect());
        self
    }

    /// Serves `granted_path(guest_path)` from `dir`.
    pub fn grant(mut self, guest_path: &str, dir: impl Into<PathBuf>) -> Self {
        self.host.grants.push((guest_path.to_string(), dir.into()));
        self
    }

    /// Evaluates the sensor through the `evaluate-sensor` export's code, then checks its run
    /// requests as the host would: targets only, and (for assets of this plugin) partitions
    /// that exist once the dynamic partitions requests are applied.
    pub fn run(self) -> Result<SensorEvaluation, HarnessError> {
        self.host.first_error()?;
        check(self.plugin)?;
        let sensor = self
            .plugin
            .find_sensor(&self.name)
            .ok_or_else(|| setup(format!("the plugin has no sensor {:?}", self.name)))?;
        let now = self.host.now()?;
        let wit_cx = wit::SensorContext {
            sensor: self.name.clone(),
            cursor: self.cursor.clone(),
            last_evaluation: self.last_evaluation,
            now,
        };
        let _host = HostState::install(self.host.dynamic.clone(), self.host.grants.clone());
        drop(log::take_records());
        let result = self.plugin.wit_evaluate_sensor(wit_cx);
        let logs = log::take_records();
        let result: SensorResult = result.map_err(|e| HarnessError::Plugin(e.into()))?.into();

        let mut store = self.host.store();
        for request in &result.dynamic_partitions {
            store.add(&request.name, request.add.iter().map(String::as_str));
            for key in &request.delete {
                store.delete(&request.name, key);
            }
        }
        let cx = tp::Context::new(to_utc(now)?).with_dynamic(&store);
        for request in &result.run_requests {
            for asset in &request.assets {
                if !sensor.target_assets().contains(asset) {
                    return Err(HarnessError::Contract(format!(
                        "sensor {:?} requested a run of {asset:?}, not among its targets {:?}",
                        self.name,
                        sensor.target_assets()
                    )));
                }
                let Some(partitions) = self
                    .plugin
                    .computation_of(asset)
                    .and_then(Computation::partitions_def)
                else {
                    continue;
                };
                let def = host_definition(partitions)?;
                if request.partition == PartitionSelection::None {
                    return Err(HarnessError::Contract(format!(
                        "sensor {:?} requested an unpartitioned run of partitioned {asset:?}",
                        self.name
                    )));
                }
                selection_keys(&def, &cx, &request.partition, asset)
                    .map_err(|e| HarnessError::Contract(e.to_string()))?;
            }
        }
        Ok(SensorEvaluation { result, logs })
    }
}
