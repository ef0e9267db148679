//! What a compute function receives (context, inputs) and returns (outputs or an error).

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::time;

/// Why a compute function or sensor failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginError {
    /// The inputs or the request are not what the logic accepts; retrying will not help.
    InvalidInput(String),
    /// The logic failed; the host may retry per its policy.
    Failed(String),
}

impl PluginError {
    pub fn invalid_input(message: impl Into<String>) -> Self {
        PluginError::InvalidInput(message.into())
    }

    pub fn failed(message: impl Into<String>) -> Self {
        PluginError::Failed(message.into())
    }

    pub fn message(&self) -> &str {
        match self {
            PluginError::InvalidInput(m) | PluginError::Failed(m) => m,
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginError::InvalidInput(m) => write!(f, "invalid input: {m}"),
            PluginError::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

impl std::error::Error for PluginError {}

/// I/O errors (reading a granted directory, say) are failures the host may retry.
impl From<std::io::Error> for PluginError {
    fn from(e: std::io::Error) -> Self {
        PluginError::Failed(e.to_string())
    }
}

/// Which partitions a run covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PartitionSelection {
    /// Unpartitioned.
    #[default]
    None,
    Key(String),
    /// Both ends included.
    Range {
        start: String,
        end: String,
    },
}

/// A half-open window `[start, end)` in Unix seconds, with the UTC offsets (seconds east) of
/// the partitions' time zone at either end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    pub start: i64,
    pub end: i64,
    pub start_offset: i32,
    pub end_offset: i32,
}

impl TimeWindow {
    /// Length in seconds (23 or 25 hours for a daily window across a DST change).
    pub fn duration_secs(&self) -> i64 {
        self.end - self.start
    }

    pub fn contains(&self, instant: i64) -> bool {
        self.start <= instant && instant < self.end
    }

    /// The start in the zone's local time: `2024-03-10T00:00:00-05:00`.
    pub fn start_rfc3339(&self) -> String {
        time::rfc3339(self.start, self.start_offset)
    }

    /// The end in the zone's local time.
    pub fn end_rfc3339(&self) -> String {
        time::rfc3339(self.end, self.end_offset)
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start_rfc3339(), self.end_rfc3339())
    }
}

/// What a compute function is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub(crate) computation: String,
    pub(crate) assets: Vec<String>,
    pub(crate) partition: PartitionSelection,
    pub(crate) partition_keys: Vec<String>,
    pub(crate) time_window: Option<TimeWindow>,
    pub(crate) run_id: String,
    pub(crate) attempt: u32,
    pub(crate) now: i64,
    /// Dimension names of multi partitions, sorted (the order of a key's parts).
    pub(crate) dimensions: Vec<String>,
}

impl Context {
    /// The computation's name (the asset key for a single asset).
    pub fn computation(&self) -> &str {
        &self.computation
    }

    /// The assets to produce: all of the computation's, or a subset.
    pub fn assets(&self) -> &[String] {
        &self.assets
    }

    /// Whether `asset` is to be produced in this run.
    pub fn is_requested(&self, asset: &str) -> bool {
        self.assets.iter().any(|a| a == asset)
    }

    pub fn partition(&self) -> &PartitionSelection {
        &self.partition
    }

    pub fn is_partitioned(&self) -> bool {
        !matches!(self.partition, PartitionSelection::None)
    }

    /// The one partition key of the run. An error when the run is unpartitioned or covers a
    /// range of several keys.
    pub fn partition_key(&self) -> Result<&str, PluginError> {
        match &self.partition {
            PartitionSelection::Key(k) => Ok(k),
            PartitionSelection::Range { start, end } => match self.partition_keys.as_slice() {
                [only] => Ok(only),
                _ => Err(PluginError::invalid_input(format!(
                    "run {} covers the partition range {start}...{end}, not one key; \
                     use partition_key_range() or partition_keys()",
                    self.run_id
                ))),
            },
            PartitionSelection::None => Err(PluginError::invalid_input(format!(
                "run {} of {} is not partitioned: there is no partition key",
                self.run_id, self.computation
            ))),
        }
    }

    /// The first and last keys of the run (the same key twice for one key).
    pub fn partition_key_range(&self) -> Result<(&str, &str), PluginError> {
        match &self.partition {
            PartitionSelection::Key(k) => Ok((k, k)),
            PartitionSelection::Range { start, end } => Ok((start, end)),
            PartitionSelection::None => Err(PluginError::invalid_input(format!(
                "run {} of {} is not partitioned: there is no partition key range",
                self.run_id, self.computation
            ))),
        }
    }

    /// Every key of the run, in order (none when unpartitioned).
    pub fn partition_keys(&self) -> &[String] {
        &self.partition_keys
    }

    /// The part of a multi-partition key for one dimension: `"eu"` of `"eu|2024-01-15"` for
    /// dimension `region` of `{date, region}`.
    pub fn dimension_key(&self, dimension: &str) -> Result<&str, PluginError> {
        let Some(index) = self.dimensions.iter().position(|d| d == dimension) else {
            return Err(PluginError::invalid_input(format!(
                "{} has no partition dimension {dimension:?} (dimensions: {:?})",
                self.computation, self.dimensions
            )));
        };
        let key = self.partition_key()?;
        key.split('|').nth(index).ok_or_else(|| {
            PluginError::invalid_input(format!(
                "partition key {key:?} has no part for dimension {dimension:?}"
            ))
        })
    }

    /// The window covering the run's partitions. An error for partitions without time.
    pub fn time_window(&self) -> Result<TimeWindow, PluginError> {
        self.time_window.ok_or_else(|| {
            PluginError::invalid_input(format!(
                "{} has no time window: its partitions are not time windows",
                self.computation
            ))
        })
    }

    pub fn time_window_opt(&self) -> Option<TimeWindow> {
        self.time_window
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// 1 for the first try.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Unix seconds at which the run was launched.
    pub fn now(&self) -> i64 {
        self.now
    }

    pub fn now_rfc3339(&self) -> String {
        time::rfc3339(self.now, 0)
    }
}

/// One upstream partition's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputPartition {
    /// Empty for an unpartitioned upstream.
    pub key: String,
    pub data: Vec<u8>,
}

impl InputPartition {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.data).map_err(|e| {
            PluginError::invalid_input(format!(
                "partition {:?} is not the JSON expected: {e}",
                self.key
            ))
        })
    }

    pub fn text(&self) -> Result<&str, PluginError> {
        std::str::from_utf8(&self.data).map_err(|e| {
            PluginError::invalid_input(format!("partition {:?} is not UTF-8: {e}", self.key))
        })
    }
}

/// The data of a computation's inputs, by upstream asset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    pub(crate) inputs: Vec<(String, Vec<InputPartition>)>,
}

impl Inputs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one upstream partition (for tests that call a compute function directly).
    pub fn with(mut self, asset: &str, key: &str, data: impl Into<Vec<u8>>) -> Self {
        let part = InputPartition {
            key: key.to_string(),
            data: data.into(),
        };
        match self.inputs.iter_mut().find(|(a, _)| a == asset) {
            Some((_, parts)) => parts.push(part),
            None => self.inputs.push((asset.to_string(), vec![part])),
        }
        self
    }

    /// The upstream assets given, in order.
    pub fn assets(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().map(|(a, _)| a.as_str())
    }

    /// The partitions of one input; `None` when the host gave none for it.
    pub fn partitions(&self, asset: &str) -> Option<&[InputPartition]> {
        self.inputs
            .iter()
            .find(|(a, _)| a == asset)
            .map(|(_, p)| p.as_slice())
    }

    /// The partitions of one input; an error when it is absent.
    pub fn get(&self, asset: &str) -> Result<&[InputPartition], PluginError> {
        self.partitions(asset).ok_or_else(|| {
            PluginError::invalid_input(format!(
                "no input {asset:?} (inputs given: {:?})",
                self.assets().collect::<Vec<_>>()
            ))
        })
    }

    /// The only partition of an input (an unpartitioned upstream, or a one-to-one mapping).
    pub fn single(&self, asset: &str) -> Result<&InputPartition, PluginError> {
        match self.get(asset)? {
            [one] => Ok(one),
            parts => Err(PluginError::invalid_input(format!(
                "input {asset:?} has {} partitions, expected one",
                parts.len()
            ))),
        }
    }

    /// Every partition of an input parsed as JSON, with its key.
    pub fn json<T: DeserializeOwned>(&self, asset: &str) -> Result<Vec<(String, T)>, PluginError> {
        self.get(asset)?
            .iter()
            .map(|p| Ok((p.key.clone(), p.json()?)))
            .collect()
    }

    /// The only partition of an input, parsed as JSON.
    pub fn single_json<T: DeserializeOwned>(&self, asset: &str) -> Result<T, PluginError> {
        self.single(asset)?.json()
    }
}

/// A metadata value, attached to an asset definition or an output.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    /// A JSON document, as text.
    Json(String),
    Url(String),
    Path(String),
}

impl MetadataValue {
    pub fn url(url: impl Into<String>) -> Self {
        MetadataValue::Url(url.into())
    }

    pub fn path(path: impl Into<String>) -> Self {
        MetadataValue::Path(path.into())
    }
}

impl From<&str> for MetadataValue {
    fn from(v: &str) -> Self {
        MetadataValue::Text(v.to_string())
    }
}

impl From<String> for MetadataValue {
    fn from(v: String) -> Self {
        MetadataValue::Text(v)
    }
}

impl From<bool> for MetadataValue {
    fn from(v: bool) -> Self {
        MetadataValue::Boolean(v)
    }
}

impl From<f64> for MetadataValue {
    fn from(v: f64) -> Self {
        MetadataValue::Float(v)
    }
}

impl From<serde_json::Value> for MetadataValue {
    fn from(v: serde_json::Value) -> Self {
        MetadataValue::Json(v.to_string())
    }
}

macro_rules! integer_metadata {
    ($($t:ty),*) => {$(
        impl From<$t> for MetadataValue {
            fn from(v: $t) -> Self {
                MetadataValue::Integer(i64::from(v))
            }
        }
    )*};
}
integer_metadata!(i8, i16, i32, i64, u8, u16, u32);

macro_rules! saturating_metadata {
    ($($t:ty),*) => {$(
        impl From<$t> for MetadataValue {
            /// Saturates at `i64::MAX`.
            fn from(v: $t) -> Self {
                MetadataValue::Integer(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
    )*};
}
saturating_metadata!(u64, usize, isize);

/// The data and metadata produced for one asset: for the whole selection, or (see
/// [`Output::for_partition`]) for one of its keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    pub(crate) asset: Option<String>,
    pub(crate) partition: Option<String>,
    pub(crate) data: Vec<u8>,
    pub(crate) metadata: Vec<(String, MetadataValue)>,
}

impl Output {
    pub fn bytes(data: impl Into<Vec<u8>>) -> Self {
        Output {
            asset: None,
            partition: None,
            data: data.into(),
            metadata: Vec::new(),
        }
    }

    pub fn text(text: impl Into<String>) -> Self {
        Self::bytes(text.into().into_bytes())
    }

    /// The value as compact JSON.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, PluginError> {
        serde_json::to_vec(value)
            .map(Self::bytes)
            .map_err(|e| PluginError::failed(format!("cannot write the output as JSON: {e}")))
    }

    /// Adds a metadata entry: `.metadata("rows", 3)`.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<MetadataValue>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// Makes this the value of one partition key of the selection. A run over a range that
    /// returns one output per key (all keys, each once) gives every partition its own value
    /// and data version, and each downstream partition receives exactly the keys its mapping
    /// names; one output without a key covers the whole range, and downstream partitions
    /// receive it whole.
    ///
    /// ```
    /// # use tessera_sdk::prelude::*;
    /// fn daily(ctx: &Context, _: &Inputs) -> Result<Outputs, PluginError> {
    ///     Ok(ctx
    ///         .partition_keys()
    ///         .iter()
    ///         .map(|day| Output::text(format!("sales of {day}")).for_partition(day))
    ///         .collect())
    /// }
    /// ```
    pub fn for_partition(mut self, key: impl Into<String>) -> Self {
        self.partition = Some(key.into());
        self
    }

    /// The partition key this output is for; `None`: the whole selection.
    pub fn partition(&self) -> Option<&str> {
        self.partition.as_deref()
    }

    /// The asset this output is for; `None` until named (a single asset's output need not be).
    pub fn asset(&self) -> Option<&str> {
        self.asset.as_deref()
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn metadata_entries(&self) -> &[(String, MetadataValue)] {
        &self.metadata
    }

    /// The value of a metadata entry.
    pub fn metadata_value(&self, key: &str) -> Option<&MetadataValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The data parsed as JSON (for tests).
    pub fn parse_json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.data).map_err(|e| {
            PluginError::invalid_input(format!("the output is not the JSON expected: {e}"))
        })
    }
}

/// The outputs of a computation: one per asset produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    pub(crate) outputs: Vec<Output>,
}

impl Outputs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the output of one asset of a multi-asset computation.
    pub fn with(mut self, asset: impl Into<String>, mut output: Output) -> Self {
        output.asset = Some(asset.into());
        self.outputs.push(output);
        self
    }

    pub fn push(&mut self, asset: impl Into<String>, mut output: Output) {
        output.asset = Some(asset.into());
        self.outputs.push(output);
    }

    /// The output of `asset` for the whole selection, or its first per-key output.
    pub fn get(&self, asset: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.asset() == Some(asset))
    }

    /// The output of `asset` for partition `key` (an output per key, or the whole selection's).
    pub fn get_partition(&self, asset: &str, key: &str) -> Option<&Output> {
        let of_asset = || self.outputs.iter().filter(|o| o.asset() == Some(asset));
        of_asset()
            .find(|o| o.partition() == Some(key))
            .or_else(|| of_asset().find(|o| o.partition().is_none()))
    }

    /// The output of `asset` parsed as JSON (for tests).
    pub fn json<T: DeserializeOwned>(&self, asset: &str) -> Result<T, PluginError> {
        self.get(asset)
            .ok_or_else(|| PluginError::invalid_input(format!("no output for asset {asset:?}")))?
            .parse_json()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Output> {
        self.outputs.iter()
    }

    pub fn len(&self) -> usize {
        self.outputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }
}

/// A single asset's output, unnamed: the SDK names it after the asset.
impl From<Output> for Outputs {
    fn from(output: Output) -> Self {
        Outputs {
            outputs: vec![output],
        }
    }
}

/// Outputs per partition key of a single asset, or named ones of several.
impl FromIterator<Output> for Outputs {
    fn from_iter<I: IntoIterator<Item = Output>>(iter: I) -> Self {
        Outputs {
            outputs: iter.into_iter().collect(),
        }
    }
}

impl IntoIterator for Outputs {
    type Item = Output;
    type IntoIter = std::vec::IntoIter<Output>;

    fn into_iter(self) -> Self::IntoIter {
        self.outputs.into_iter()
    }
}
