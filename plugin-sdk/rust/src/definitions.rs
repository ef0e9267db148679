//! Assets, computations, sensors and the plugin that holds them.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::io::{Context, Inputs, MetadataValue, Outputs, PluginError};
use crate::partitions::{AssetInput, Mapping, Partitions};
use crate::sensor::{SensorContext, SensorResult};

/// A compute function, as stored.
pub type ComputeFn = Arc<dyn Fn(&Context, &Inputs) -> Result<Outputs, PluginError> + Send + Sync>;

/// A sensor's evaluation function, as stored.
pub type SensorFn = Arc<dyn Fn(&SensorContext) -> Result<SensorResult, PluginError> + Send + Sync>;

/// What is declared about one asset beyond its computation's partitions and inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetSpec {
    pub key: String,
    pub description: Option<String>,
    /// Changes when the logic changes; the host uses the plugin's content hash when absent.
    pub code_version: Option<String>,
    pub metadata: Vec<(String, MetadataValue)>,
    /// Inputs of this asset only, besides the computation's.
    pub inputs: Vec<AssetInput>,
    /// How the asset may be run over several partitions; undeclared: as each request asks.
    pub backfill_policy: Option<BackfillPolicy>,
}

impl AssetSpec {
    pub fn new(key: impl Into<String>) -> Self {
        AssetSpec {
            key: key.into(),
            description: None,
            code_version: None,
            metadata: Vec::new(),
            inputs: Vec::new(),
            backfill_policy: None,
        }
    }

    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    pub fn code_version(mut self, version: impl Into<String>) -> Self {
        self.code_version = Some(version.into());
        self
    }

    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<MetadataValue>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    pub fn input(mut self, input: impl Into<AssetInput>) -> Self {
        self.inputs.push(input.into());
        self
    }

    /// How the asset may be run over several partitions.
    pub fn backfill_policy(mut self, policy: BackfillPolicy) -> Self {
        self.backfill_policy = Some(policy);
        self
    }
}

/// How an asset may be run over several partitions (Dagster's `BackfillPolicy`); the host's
/// planner honours it. Undeclared: as each request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackfillPolicy {
    /// One partition per run: ranges are refused.
    SinglePartition,
    /// One run (and one call) per contiguous range.
    SingleRun,
    /// Runs (each one call) of at most this many contiguous partitions.
    MultiRun(u32),
}

impl fmt::Display for BackfillPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackfillPolicy::SinglePartition => f.write_str("single_partition"),
            BackfillPolicy::SingleRun => f.write_str("single_run"),
            BackfillPolicy::MultiRun(n) => write!(f, "multi_run:{n}"),
        }
    }
}

impl From<&str> for AssetSpec {
    fn from(key: &str) -> Self {
        AssetSpec::new(key)
    }
}

impl From<String> for AssetSpec {
    fn from(key: String) -> Self {
        AssetSpec::new(key)
    }
}

/// One compute function producing one or more assets (a multi-asset) that share a partitions
/// definition.
///
/// ```
/// use tessera_sdk::prelude::*;
///
/// fn combine(_: &Context, _: &Inputs) -> Result<Outputs, PluginError> {
///     Ok(Outputs::new()
///         .with("combined_metrics", Output::text("…"))
///         .with("daily_summary", Output::text("…")))
/// }
///
/// let c = Computation::new("combine_metrics", combine)
///     .partitions(Partitions::daily("2024-01-01"))
///     .input_mapped("user_events", Mapping::time_window(0, 0))
///     .input_mapped("sales_data", Mapping::time_window(0, 0))
///     .asset("combined_metrics")
///     .asset(AssetSpec::new("daily_summary").description("One line per day."));
/// ```
#[derive(Clone)]
pub struct Computation {
    pub(crate) name: String,
    pub(crate) compute: ComputeFn,
    pub(crate) partitions: Option<Partitions>,
    pub(crate) inputs: Vec<AssetInput>,
    pub(crate) assets: Vec<AssetSpec>,
}

impl fmt::Debug for Computation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Computation")
            .field("name", &self.name)
            .field("partitions", &self.partitions)
            .field("inputs", &self.inputs)
            .field("assets", &self.assets)
            .finish_non_exhaustive()
    }
}

impl Computation {
    /// `compute` returns [`Outputs`] (or one [`Output`](crate::Output) for a single asset).
    pub fn new<F, O>(name: impl Into<String>, compute: F) -> Self
    where
        F: Fn(&Context, &Inputs) -> Result<O, PluginError> + Send + Sync + 'static,
        O: Into<Outputs>,
    {
        Computation {
            name: name.into(),
            compute: Arc::new(move |cx, inputs| compute(cx, inputs).map(Into::into)),
            partitions: None,
            inputs: Vec::new(),
            assets: Vec::new(),
        }
    }

    pub fn asset(mut self, asset: impl Into<AssetSpec>) -> Self {
        self.assets.push(asset.into());
        self
    }

    /// The partitions of every asset of the computation.
    pub fn partitions(mut self, partitions: impl Into<Partitions>) -> Self {
        self.partitions = Some(partitions.into());
        self
    }

    /// An input of every asset of the computation.
    pub fn input(mut self, input: impl Into<AssetInput>) -> Self {
        self.inputs.push(input.into());
        self
    }

    /// An input with an explicit partition mapping.
    pub fn input_mapped(self, asset: impl Into<String>, mapping: impl Into<Mapping>) -> Self {
        self.input(AssetInput::new(asset).mapping(mapping))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn partitions_def(&self) -> Option<&Partitions> {
        self.partitions.as_ref()
    }

    /// Inputs shared by every asset.
    pub fn inputs(&self) -> &[AssetInput] {
        &self.inputs
    }

    pub fn assets(&self) -> &[AssetSpec] {
        &self.assets
    }

    pub fn has_asset(&self, key: &str) -> bool {
        self.assets.iter().any(|a| a.key == key)
    }

    /// Every input of one asset: the computation's, then its own.
    pub fn inputs_of(&self, asset: &AssetSpec) -> Vec<AssetInput> {
        self.inputs.iter().chain(&asset.inputs).cloned().collect()
    }

    /// Runs the compute function directly (no conversions, no checks).
    pub fn call(&self, cx: &Context, inputs: &Inputs) -> Result<Outputs, PluginError> {
        (self.compute)(cx, inputs)
    }
}

/// A single asset: a computation producing one asset of the same name.
///
/// ```
/// use tessera_sdk::prelude::*;
///
/// fn processed_events(_: &Context, inputs: &Inputs) -> Result<Output, PluginError> {
///     Ok(Output::text(format!("{} partitions", inputs.get("raw_events")?.len())))
/// }
///
/// let asset = Asset::new("processed_events", processed_events)
///     .partitions(Partitions::daily("2024-01-01"))
///     .input_mapped("raw_events", Mapping::time_window(-1, 0))
///     .description("Events, deduplicated over two days.");
/// ```
#[derive(Debug, Clone)]
pub struct Asset {
    computation: Computation,
    spec: AssetSpec,
}

impl Asset {
    pub fn new<F, O>(key: impl Into<String>, compute: F) -> Self
    where
        F: Fn(&Context, &Inputs) -> Result<O, PluginError> + Send + Sync + 'static,
        O: Into<Outputs>,
    {
        let key = key.into();
        Asset {
            spec: AssetSpec::new(key.clone()),
            computation: Computation::new(key, compute),
        }
    }

    pub fn partitions(mut self, partitions: impl Into<Partitions>) -> Self {
        self.computation = self.computation.partitions(partitions);
        self
    }

    pub fn input(mut self, input: impl Into<AssetInput>) -> Self {
        self.computation = self.computation.input(input);
        self
    }

    pub fn input_mapped(self, asset: impl Into<String>, mapping: impl Into<Mapping>) -> Self {
        self.input(AssetInput::new(asset).mapping(mapping))
    }

    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.spec = self.spec.description(description);
        self
    }

    pub fn code_version(mut self, version: impl Into<String>) -> Self {
        self.spec = self.spec.code_version(version);
        self
    }

    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<MetadataValue>) -> Self {
        self.spec = self.spec.metadata(key, value);
        self
    }

    /// How the asset may be run over several partitions.
    pub fn backfill_policy(mut self, policy: BackfillPolicy) -> Self {
        self.spec = self.spec.backfill_policy(policy);
        self
    }
}

impl From<Asset> for Computation {
    fn from(asset: Asset) -> Self {
        asset.computation.asset(asset.spec)
    }
}

/// A sensor: evaluated every `minimum_interval` seconds at least, it returns run requests,
/// changes to dynamic partitions, and a cursor for the next evaluation.
///
/// ```
/// use tessera_sdk::prelude::*;
///
/// fn check(_: &SensorContext) -> Result<SensorResult, PluginError> {
///     Ok(SensorResult::skip("No new data found"))
/// }
///
/// let sensor = Sensor::new("new_data_sensor", check)
///     .minimum_interval(30)
///     .targets(["processed_events"]);
/// ```
#[derive(Clone)]
pub struct Sensor {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) minimum_interval_seconds: u32,
    pub(crate) targets: Vec<String>,
    pub(crate) evaluate: SensorFn,
}

impl fmt::Debug for Sensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sensor")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("minimum_interval_seconds", &self.minimum_interval_seconds)
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

impl Sensor {
    /// Every 30 seconds by default (Dagster's default).
    pub fn new<F>(name: impl Into<String>, evaluate: F) -> Self
    where
        F: Fn(&SensorContext) -> Result<SensorResult, PluginError> + Send + Sync + 'static,
    {
        Sensor {
            name: name.into(),
            description: None,
            minimum_interval_seconds: 30,
            targets: Vec::new(),
            evaluate: Arc::new(evaluate),
        }
    }

    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Seconds between evaluations, at least.
    pub fn minimum_interval(mut self, seconds: u32) -> Self {
        self.minimum_interval_seconds = seconds;
        self
    }

    /// Assets its run requests may target; a run request naming no asset targets them all.
    pub fn targets<I, K>(mut self, assets: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        self.targets.extend(assets.into_iter().map(Into::into));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn target_assets(&self) -> &[String] {
        &self.targets
    }

    pub fn minimum_interval_seconds(&self) -> u32 {
        self.minimum_interval_seconds
    }

    /// Runs the evaluation function directly (no conversions).
    pub fn call(&self, cx: &SensorContext) -> Result<SensorResult, PluginError> {
        (self.evaluate)(cx)
    }
}

/// A plugin's computations and sensors. [`plugin!`](crate::plugin) builds one as `plugin()`.
#[derive(Debug, Clone, Default)]
pub struct Plugin {
    pub(crate) computations: Vec<Computation>,
    pub(crate) sensors: Vec<Sensor>,
    pub(crate) mappers: Vec<crate::mapper::Mapper>,
    pub(crate) checks: Vec<crate::check::Check>,
}

impl Plugin {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an [`Asset`] or a [`Computation`].
    pub fn computation(mut self, computation: impl Into<Computation>) -> Self {
        self.computations.push(computation.into());
        self
    }

    pub fn sensor(mut self, sensor: Sensor) -> Self {
        self.sensors.push(sensor);
        self
    }

    /// Adds a partition mapping the plugin exports.
    pub fn mapper(mut self, mapper: crate::mapper::Mapper) -> Self {
        self.mappers.push(mapper);
        self
    }

    pub fn mappers(&self) -> &[crate::mapper::Mapper] {
        &self.mappers
    }

    /// Adds an asset check the plugin exports.
    pub fn check(mut self, check: crate::check::Check) -> Self {
        self.checks.push(check);
        self
    }

    pub fn checks(&self) -> &[crate::check::Check] {
        &self.checks
    }

    pub fn computations(&self) -> &[Computation] {
        &self.computations
    }

    pub fn sensors(&self) -> &[Sensor] {
        &self.sensors
    }

    pub fn find_computation(&self, name: &str) -> Option<&Computation> {
        self.computations.iter().find(|c| c.name == name)
    }

    /// The computation producing `asset`.
    pub fn computation_of(&self, asset: &str) -> Option<&Computation> {
        self.computations.iter().find(|c| c.has_asset(asset))
    }

    pub fn find_sensor(&self, name: &str) -> Option<&Sensor> {
        self.sensors.iter().find(|s| s.name == name)
    }

    /// Every asset key, in declaration order.
    pub fn asset_keys(&self) -> impl Iterator<Item = &str> {
        self.computations
            .iter()
            .flat_map(|c| c.assets.iter().map(|a| a.key.as_str()))
    }

    /// Checks what the SDK can check alone: names present and unique, every computation
    /// producing an asset, no asset reading itself. The host checks partitions definitions
    /// and mappings (so does [`testing`](crate::testing)).
    pub fn validate(&self) -> Result<(), String> {
        let mut computations = HashSet::new();
        let mut assets = HashSet::new();
        for c in &self.computations {
            if c.name.is_empty() {
                return Err("a computation has an empty name".to_string());
            }
            if !computations.insert(c.name.as_str()) {
                return Err(format!("two computations are named {:?}", c.name));
            }
            if c.assets.is_empty() {
                return Err(format!("computation {:?} produces no asset", c.name));
            }
            for a in &c.assets {
                if a.key.is_empty() {
                    return Err(format!(
                        "computation {:?} has an asset with an empty key",
                        c.name
                    ));
                }
                if !assets.insert(a.key.as_str()) {
                    return Err(format!("asset {:?} is declared twice", a.key));
                }
                let mut seen = HashSet::new();
                for input in c.inputs_of(a) {
                    if input.asset == a.key {
                        return Err(format!("asset {:?} reads itself", a.key));
                    }
                    if !seen.insert(input.asset.clone()) {
                        return Err(format!("asset {:?} reads {:?} twice", a.key, input.asset));
                    }
                }
            }
            if let Some(dims) = c.partitions.as_ref().map(Partitions::dimensions) {
                let mut names = HashSet::new();
                if let Some(d) = dims.iter().find(|d| !names.insert(d.name.as_str())) {
                    return Err(format!(
                        "computation {:?} has two partition dimensions named {:?}",
                        c.name, d.name
                    ));
                }
            }
        }
        let mut sensors = HashSet::new();
        for s in &self.sensors {
            if s.name.is_empty() {
                return Err("a sensor has an empty name".to_string());
            }
            if !sensors.insert(s.name.as_str()) {
                return Err(format!("two sensors are named {:?}", s.name));
            }
        }
        Ok(())
    }
}
