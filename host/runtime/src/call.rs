//! Calls into a plugin: one materialization, one sensor evaluation. Requests and results are
//! plain Rust values; the WIT records stay inside this crate.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_partitions::{Context, KeyRange, MemoryDynamicStore, PartitionsDefinition, TimeWindow};

use crate::bindings::{types as wit, v0_1};
use crate::config::Limits;
use crate::error::CallError;
use crate::exports::Shape;
use crate::flat;
use crate::host::CallScope;
use crate::plugin::{CancelToken, Live, Plugin};

/// Which partitions a call is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Unpartitioned.
    None,
    Key(String),
    /// Both ends included.
    Range(KeyRange),
}

impl std::fmt::Display for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selection::None => f.write_str("-"),
            Selection::Key(k) => f.write_str(k),
            Selection::Range(r) => r.fmt(f),
        }
    }
}

/// A selection resolved against its asset's definition: every key it covers, in order, and
/// the time window over them. The engine resolves a call it planned once and hands this to
/// the runtime, which then needs no partition store of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub keys: Vec<String>,
    pub window: Option<TimeWindow>,
}

impl Resolved {
    /// Resolves `selection` against `def` (`None`: unpartitioned) at `cx`: the key must
    /// exist, the range be non-empty and exist, and it cover at most [`MAX_KEYS_PER_CALL`].
    pub fn of(
        def: Option<&PartitionsDefinition>,
        selection: &Selection,
        cx: &Context<'_>,
    ) -> Result<Resolved, String> {
        let Some(def) = def else {
            return match selection {
                Selection::None => Ok(Resolved {
                    keys: Vec::new(),
                    window: None,
                }),
                _ => Err("the asset is not partitioned; do not name a partition".into()),
            };
        };
        let now = cx.now();
        let keys: Vec<String> = match selection {
            Selection::None => {
                return Err(format!(
                    "the asset is partitioned ({def}); name a partition key or range"
                ));
            }
            Selection::Key(k) => {
                if !def.has_key(cx, k).map_err(|e| e.to_string())? {
                    return Err(format!("{def} has no partition {k:?} as of {now}"));
                }
                vec![k.clone()]
            }
            Selection::Range(range) => {
                let existing = range.subset(def, cx).map_err(|e| e.to_string())?;
                if existing.len() > MAX_KEYS_PER_CALL {
                    return Err(format!(
                        "the range {range} holds {} partitions; one call takes at most {MAX_KEYS_PER_CALL}",
                        existing.len()
                    ));
                }
                def.subset_keys(cx, &existing)
                    .map_err(|e| e.to_string())?
                    .map(|k| k.into_string())
                    .collect()
            }
        };
        let window = match (keys.first(), keys.last()) {
            (Some(first), Some(last)) => {
                let a = def.time_window_for_key(first);
                // One key (the common case): one window computation.
                let b = if keys.len() == 1 {
                    a.clone()
                } else {
                    def.time_window_for_key(last)
                };
                match (a, b) {
                    (Ok(a), Ok(b)) => Some(TimeWindow {
                        start: a.start,
                        end: b.end,
                        start_offset: a.start_offset,
                        end_offset: b.end_offset,
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        Ok(Resolved { keys, window })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum MetadataValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Json(String),
    Url(String),
    Path(String),
}

impl From<wit::MetadataValue> for MetadataValue {
    fn from(v: wit::MetadataValue) -> Self {
        match v {
            wit::MetadataValue::Text(s) => MetadataValue::Text(s),
            wit::MetadataValue::Integer(i) => MetadataValue::Integer(i),
            wit::MetadataValue::Float(f) => MetadataValue::Float(f),
            wit::MetadataValue::Boolean(b) => MetadataValue::Boolean(b),
            wit::MetadataValue::Json(s) => MetadataValue::Json(s),
            wit::MetadataValue::Url(s) => MetadataValue::Url(s),
            wit::MetadataValue::Path(s) => MetadataValue::Path(s),
        }
    }
}

/// One materialization.
#[derive(Debug, Clone)]
pub struct MaterializeRequest {
    pub computation: String,
    /// The assets to produce; empty means all of the computation's.
    pub assets: Vec<String>,
    pub selection: Selection,
    /// The selection's keys and window as planned (see [`Resolved`]); `None` has the runtime
    /// resolve it against the computation's definition (a stateless call, `plugin call`),
    /// reading dynamic sets through the runtime's [`crate::DynamicKeys`].
    pub resolved: Option<Resolved>,
    pub run_id: String,
    pub attempt: u32,
    pub now: DateTime<Utc>,
    /// For each input asset, the upstream partitions it maps to.
    pub inputs: Vec<InputData>,
    /// Wall-clock limit of this call in place of the plugin's (`None` keeps the plugin's).
    pub timeout: Option<Duration>,
}

/// The upstream partitions of one input: (key, bytes) pairs, a list even for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputData {
    pub asset: String,
    pub partitions: Vec<(String, Vec<u8>)>,
}

/// One asset's output, for the whole selection or one of its keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    pub asset: String,
    /// The key this output is for, when a call over several keys returned one per key;
    /// `None`: the whole selection.
    pub partition: Option<String>,
    #[serde(skip)]
    pub data: Vec<u8>,
    pub metadata: Vec<(String, MetadataValue)>,
}

/// One sensor evaluation.
#[derive(Debug, Clone)]
pub struct SensorRequest {
    pub sensor: String,
    pub cursor: Option<String>,
    pub last_evaluation: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRequest {
    pub run_key: Option<String>,
    pub assets: Vec<String>,
    pub selection: Selection,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DynamicRequest {
    pub name: String,
    pub add: Vec<String>,
    pub delete: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SensorResult {
    pub run_requests: Vec<RunRequest>,
    pub skip_reason: Option<String>,
    pub cursor: Option<String>,
    pub dynamic_partitions: Vec<DynamicRequest>,
}

fn selection_to_wit(s: &Selection) -> wit::PartitionSelection {
    match s {
        Selection::None => wit::PartitionSelection::None,
        Selection::Key(k) => wit::PartitionSelection::Key(k.clone()),
        Selection::Range(r) => wit::PartitionSelection::Range(wit::KeyRange {
            start: r.start.clone(),
            end: r.end.clone(),
        }),
    }
}

fn selection_from_wit(s: wit::PartitionSelection) -> Selection {
    match s {
        wit::PartitionSelection::None => Selection::None,
        wit::PartitionSelection::Key(k) => Selection::Key(k),
        wit::PartitionSelection::Range(r) => Selection::Range(KeyRange::new(r.start, r.end)),
    }
}

/// The most keys one call may cover; larger selections are split into several runs.
pub const MAX_KEYS_PER_CALL: u64 = 100_000;

impl Plugin {
    /// Snapshot of the dynamic partition sets a definition reads.
    fn dynamic_store(&self, def: &PartitionsDefinition) -> MemoryDynamicStore {
        let mut store = MemoryDynamicStore::new();
        for name in def.dynamic_sets() {
            let keys = self.runtime_dynamic().keys(name);
            store.add(name, keys);
        }
        store
    }

    /// Keys and time window of a selection nobody resolved: checked against the partitions
    /// that exist, dynamic sets read through the runtime's [`crate::DynamicKeys`].
    fn resolve_selection(
        &self,
        def: Option<&PartitionsDefinition>,
        selection: &Selection,
        now: DateTime<Utc>,
    ) -> Result<Resolved, CallError> {
        let dynamic = def.map(|d| self.dynamic_store(d)).unwrap_or_default();
        let cx = Context::new(now).with_dynamic(&dynamic);
        Resolved::of(def, selection, &cx).map_err(|message| CallError::Host {
            plugin: self.name().to_string(),
            message,
        })
    }

    fn runtime_dynamic(&self) -> &dyn crate::host::DynamicKeys {
        &*self.runtime_inner().dynamic
    }

    /// Runs one materialization in a fresh instance.
    pub fn materialize(&self, req: &MaterializeRequest) -> Result<Vec<Output>, CallError> {
        self.materialize_in(&mut None, req)
    }

    /// An instance for the calls of one run ([`Session`]).
    pub fn session(&self) -> Session<'_> {
        Session {
            plugin: self,
            live: None,
            calls: 0,
        }
    }

    /// One materialization in the instance `live` holds (made first if it holds none); the
    /// instance is dropped when anything about the call fails.
    fn materialize_in(
        &self,
        live: &mut Option<Live>,
        req: &MaterializeRequest,
    ) -> Result<Vec<Output>, CallError> {
        let outcome = self.materialize_checked(live, req);
        if outcome.is_err() {
            *live = None;
        }
        outcome
    }

    fn materialize_checked(
        &self,
        live: &mut Option<Live>,
        req: &MaterializeRequest,
    ) -> Result<Vec<Output>, CallError> {
        let defs = self.definitions();
        let computation = defs
            .computations
            .iter()
            .find(|c| c.name == req.computation)
            .ok_or_else(|| CallError::UnknownComputation {
                plugin: self.name().to_string(),
                name: req.computation.clone(),
            })?;
        let produced: BTreeSet<&str> = computation.assets.iter().map(|a| a.key.as_str()).collect();
        let assets: Vec<String> = if req.assets.is_empty() {
            computation.assets.iter().map(|a| a.key.clone()).collect()
        } else {
            for a in &req.assets {
                if !produced.contains(a.as_str()) {
                    return Err(CallError::Host {
                        plugin: self.name().to_string(),
                        message: format!(
                            "computation {:?} does not produce asset {a:?}",
                            computation.name
                        ),
                    });
                }
            }
            req.assets.clone()
        };
        let partitions = computation
            .assets
            .first()
            .and_then(|a| a.partitions.as_ref());
        let Resolved { keys, window } = match &req.resolved {
            Some(r) => {
                self.check_resolved(partitions, &req.selection, r)?;
                r.clone()
            }
            None => self.resolve_selection(partitions, &req.selection, req.now)?,
        };
        let context = wit::MaterializeContext {
            computation: computation.name.clone(),
            assets: assets.clone(),
            partition: selection_to_wit(&req.selection),
            partition_keys: keys,
            time_window: window.map(|w| wit::TimeWindow {
                start: w.start,
                end: w.end,
                start_utc_offset: w.start_offset,
                end_utc_offset: w.end_offset,
            }),
            run_id: req.run_id.clone(),
            attempt: req.attempt,
            now: req.now.timestamp(),
        };
        let inputs: Vec<wit::Input> = req
            .inputs
            .iter()
            .map(|input| wit::Input {
                asset: input.asset.clone(),
                partitions: input
                    .partitions
                    .iter()
                    .map(|(key, data)| wit::InputPartition {
                        key: key.clone(),
                        data: data.clone(),
                    })
                    .collect(),
            })
            .collect();
        let scope = CallScope {
            asset: Some(assets.join(",")),
            partition: match &req.selection {
                Selection::None => None,
                Selection::Key(k) => Some(k.clone()),
                Selection::Range(r) => Some(r.to_string()),
            },
            run: Some(req.run_id.clone()),
            sensor: None,
        };
        let limits = self.limits(req.timeout);
        let result = self.call_in(live, scope, &limits, None, async |this, store, instance| {
            Ok(match this.exports().shape() {
                Shape::Rich | Shape::V0_2 => {
                    let func = this
                        .exports()
                        .materialize(store, &instance)
                        .ok_or_else(|| this.missing_export("materialize"))?;
                    func.call_async(&mut *store, (&context, &inputs))
                        .await
                        .map_err(|e| this.trap(&e, &limits))?
                        .0
                }
                Shape::V0_1 => {
                    let func = this
                        .exports()
                        .materialize_0_1(store, &instance)
                        .ok_or_else(|| this.missing_export("materialize"))?;
                    func.call_async(&mut *store, (&context, &inputs))
                        .await
                        .map_err(|e| this.trap(&e, &limits))?
                        .0
                        .map(|outputs| outputs.into_iter().map(v0_1::output).collect())
                }
                Shape::Flat => {
                    let func = this
                        .exports()
                        .flat_materialize(store, &instance)
                        .ok_or_else(|| this.missing_export("materialize"))?;
                    let context = flat::write(&context).map_err(|m| this.invalid(m))?;
                    let (inputs, data) = flat::inputs(&inputs);
                    match func
                        .call_async(&mut *store, (&context, &inputs, &data))
                        .await
                        .map_err(|e| this.trap(&e, &limits))?
                        .0
                    {
                        Ok((doc, data)) => {
                            Ok(flat::outputs(&doc, data).map_err(|m| this.invalid(m))?)
                        }
                        Err(doc) => Err(flat::read::<wit::PluginError>("plugin-error", &doc)
                            .map_err(|m| this.invalid(m))?),
                    }
                }
            })
        })?;
        let outputs = match result {
            Ok(outputs) => outputs,
            Err(e) => return Err(self.plugin_error(e)),
        };
        let limit = limits.max_output_bytes;
        let total: u64 = outputs.iter().map(|o| o.data.len() as u64).sum();
        if total > limit {
            return Err(self.invalid(format!(
                "it returned {total} bytes; the limit is {limit} (max_output_bytes)"
            )));
        }
        for o in &outputs {
            self.check_metadata(&o.asset, &o.metadata, &limits)?;
        }
        let keys = &context.partition_keys;
        let key_set: HashSet<&str> = if outputs.iter().any(|o| o.partition.is_some()) {
            keys.iter().map(String::as_str).collect()
        } else {
            HashSet::new()
        };
        // Per asset: `None` once it had an output for the whole selection, else the keys it
        // had outputs for.
        let mut seen: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
        let mut out = Vec::with_capacity(outputs.len());
        for o in outputs {
            if !assets.contains(&o.asset) {
                return Err(self.invalid(format!(
                    "it returned output for {:?}, which was not requested",
                    o.asset
                )));
            }
            // An output for the only key of a one-key selection is the selection's.
            let partition = match o.partition {
                Some(k) if keys.len() == 1 && keys[0] == k => None,
                other => other,
            };
            match (&partition, seen.get_mut(&o.asset)) {
                (None, None) => {
                    seen.insert(o.asset.clone(), None);
                }
                (Some(k), entry) => {
                    if matches!(req.selection, Selection::None) || !key_set.contains(k.as_str()) {
                        return Err(self.invalid(format!(
                            "it returned output for {:?}[{k}], a partition not in the selection",
                            o.asset
                        )));
                    }
                    match entry {
                        None => {
                            seen.insert(o.asset.clone(), Some(BTreeSet::from([k.clone()])));
                        }
                        Some(Some(done)) => {
                            if !done.insert(k.clone()) {
                                return Err(
                                    self.invalid(format!("it returned {:?}[{k}] twice", o.asset))
                                );
                            }
                        }
                        Some(None) => return Err(self.mixed(&o.asset)),
                    }
                }
                (None, Some(Some(_))) => return Err(self.mixed(&o.asset)),
                (None, Some(None)) => {
                    return Err(self.invalid(format!("it returned {:?} twice", o.asset)));
                }
            }
            out.push(Output {
                asset: o.asset,
                partition,
                data: o.data,
                metadata: o
                    .metadata
                    .into_iter()
                    .map(|m| (m.key, m.value.into()))
                    .collect(),
            });
        }
        for asset in &assets {
            match seen.get(asset) {
                None => {
                    return Err(self.invalid(format!("it returned no output for {asset:?}")));
                }
                Some(Some(done)) if done.len() < keys.len() => {
                    let missing = keys.iter().find(|k| !done.contains(*k));
                    return Err(self.invalid(format!(
                        "it returned outputs per partition for {asset:?} but none for {asset}[{}] \
                         (one per key of the selection, or one for all of it)",
                        missing.map_or("", String::as_str)
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(out)
    }

    fn mixed(&self, asset: &str) -> CallError {
        self.invalid(format!(
            "it returned {asset:?} both for the whole selection and for single partitions"
        ))
    }

    /// Runs one sensor evaluation in a fresh instance.
    pub fn evaluate_sensor(&self, req: &SensorRequest) -> Result<SensorResult, CallError> {
        self.evaluate_sensor_cancelable(req, None)
    }

    /// [`Plugin::evaluate_sensor`], ended early with [`CallError::Canceled`] when `cancel`
    /// fires (a daemon stopping need not wait for a sensor).
    pub fn evaluate_sensor_cancelable(
        &self,
        req: &SensorRequest,
        cancel: Option<&CancelToken>,
    ) -> Result<SensorResult, CallError> {
        let spec = self
            .definitions()
            .sensor(&req.sensor)
            .ok_or_else(|| CallError::UnknownSensor {
                plugin: self.name().to_string(),
                name: req.sensor.clone(),
            })?
            .clone();
        let context = wit::SensorContext {
            sensor: req.sensor.clone(),
            cursor: req.cursor.clone(),
            last_evaluation: req.last_evaluation.map(|t| t.timestamp()),
            now: req.now.timestamp(),
        };
        let scope = CallScope {
            sensor: Some(req.sensor.clone()),
            ..CallScope::default()
        };
        let limits = self.limits(None);
        let result = self.call(scope, &limits, cancel, async |this, store, instance| {
            if this.exports().shape() == Shape::Flat {
                let func = this
                    .exports()
                    .flat_evaluate_sensor(store, &instance)
                    .ok_or_else(|| this.missing_export("evaluate-sensor"))?;
                let context = flat::write(&context).map_err(|m| this.invalid(m))?;
                let (result,) = func
                    .call_async(&mut *store, (&context,))
                    .await
                    .map_err(|e| this.trap(&e, &limits))?;
                return match result {
                    Ok(doc) => Ok(Ok(flat::read::<wit::SensorResult>("sensor-result", &doc)
                        .map_err(|m| this.invalid(m))?)),
                    Err(doc) => Ok(Err(flat::read::<wit::PluginError>("plugin-error", &doc)
                        .map_err(|m| this.invalid(m))?)),
                };
            }
            let func = this
                .exports()
                .evaluate_sensor(store, &instance)
                .ok_or_else(|| this.missing_export("evaluate-sensor"))?;
            let (result,) = func
                .call_async(&mut *store, (&context,))
                .await
                .map_err(|e| this.trap(&e, &limits))?;
            Ok(result)
        })?;
        let r = result.map_err(|e| self.plugin_error(e))?;
        self.check_sensor_result(&r, &limits)?;
        let mut run_requests = Vec::with_capacity(r.run_requests.len());
        for rr in r.run_requests {
            if rr.assets.is_empty() {
                return Err(self.invalid("a run request names no assets".into()));
            }
            if let Some(a) = rr.assets.iter().find(|a| !spec.targets.contains(a)) {
                return Err(self.invalid(format!(
                    "sensor {:?} requested {a:?}, which is not among its targets {:?}",
                    spec.name, spec.targets
                )));
            }
            run_requests.push(RunRequest {
                run_key: rr.run_key,
                assets: rr.assets,
                selection: selection_from_wit(rr.partition),
                tags: rr.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            });
        }
        Ok(SensorResult {
            run_requests,
            skip_reason: r.skip_reason,
            cursor: r.cursor,
            dynamic_partitions: r
                .dynamic_partitions
                .into_iter()
                .map(|d| DynamicRequest {
                    name: d.name,
                    add: d.add,
                    delete: d.delete,
                })
                .collect(),
        })
    }

    fn exceeded(&self, what: String, limit: u64, setting: &'static str) -> CallError {
        CallError::LimitExceeded {
            plugin: self.name().to_string(),
            what,
            limit,
            setting,
        }
    }

    /// One output's metadata within `max_metadata_entries` and `max_metadata_bytes`.
    fn check_metadata(
        &self,
        asset: &str,
        metadata: &[wit::MetadataEntry],
        limits: &Limits,
    ) -> Result<(), CallError> {
        let entries = metadata.len() as u64;
        if entries > limits.max_metadata_entries {
            return Err(self.exceeded(
                format!("the output of {asset:?} has {entries} metadata entries, which"),
                limits.max_metadata_entries,
                "max_metadata_entries",
            ));
        }
        let bytes: u64 = metadata
            .iter()
            .map(|m| (m.key.len() + metadata_value_len(&m.value)) as u64)
            .sum();
        if bytes > limits.max_metadata_bytes {
            return Err(self.exceeded(
                format!("the metadata of {asset:?} ({bytes} bytes)"),
                limits.max_metadata_bytes,
                "max_metadata_bytes",
            ));
        }
        Ok(())
    }

    /// A sensor result within the cursor, run request, dynamic key and string limits.
    fn check_sensor_result(&self, r: &wit::SensorResult, limits: &Limits) -> Result<(), CallError> {
        if let Some(c) = &r.cursor
            && c.len() as u64 > limits.max_cursor_bytes
        {
            return Err(self.exceeded(
                format!("its cursor of {} bytes", c.len()),
                limits.max_cursor_bytes,
                "max_cursor_bytes",
            ));
        }
        let runs = r.run_requests.len() as u64;
        if runs > limits.max_run_requests {
            return Err(self.exceeded(
                format!("{runs} run requests in one evaluation"),
                limits.max_run_requests,
                "max_run_requests",
            ));
        }
        let keys: u64 = r
            .dynamic_partitions
            .iter()
            .map(|d| (d.add.len() + d.delete.len()) as u64)
            .sum();
        if keys > limits.max_dynamic_keys {
            return Err(self.exceeded(
                format!("{keys} dynamic partition keys added or deleted in one evaluation"),
                limits.max_dynamic_keys,
                "max_dynamic_keys",
            ));
        }
        let strings = r
            .skip_reason
            .iter()
            .chain(r.run_requests.iter().flat_map(|rr| {
                rr.run_key
                    .iter()
                    .chain(rr.tags.iter().flat_map(|t| [&t.key, &t.value]))
            }))
            .chain(r.dynamic_partitions.iter().map(|d| &d.name));
        for s in strings {
            if s.len() as u64 > limits.max_string_bytes {
                return Err(self.exceeded(
                    format!(
                        "a string of {} bytes in its result (a skip reason, run key, tag or set name)",
                        s.len()
                    ),
                    limits.max_string_bytes,
                    "max_string_bytes",
                ));
            }
        }
        Ok(())
    }

    fn invalid(&self, message: String) -> CallError {
        CallError::InvalidResult {
            plugin: self.name().to_string(),
            message,
        }
    }

    /// A resolution handed in agrees with its selection's shape (the planner's keys are
    /// trusted, not recomputed): a key is itself, a range starts and ends at its ends.
    fn check_resolved(
        &self,
        def: Option<&PartitionsDefinition>,
        selection: &Selection,
        r: &Resolved,
    ) -> Result<(), CallError> {
        let ok = match (def, selection) {
            (None, Selection::None) => r.keys.is_empty(),
            (Some(_), Selection::Key(k)) => r.keys.len() == 1 && r.keys[0] == *k,
            (Some(_), Selection::Range(range)) => {
                r.keys.first() == Some(&range.start)
                    && r.keys.last() == Some(&range.end)
                    && r.keys.len() as u64 <= MAX_KEYS_PER_CALL
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(CallError::Host {
                plugin: self.name().to_string(),
                message: format!(
                    "the planned keys ({} of them) do not match the selection {selection}",
                    r.keys.len()
                ),
            })
        }
    }

    pub(crate) fn plugin_error(&self, e: wit::PluginError) -> CallError {
        let plugin = self.name().to_string();
        match e {
            wit::PluginError::InvalidInput(message) => CallError::InvalidInput { plugin, message },
            wit::PluginError::Failed(message) => CallError::Failed { plugin, message },
        }
    }
}

fn metadata_value_len(v: &wit::MetadataValue) -> usize {
    match v {
        wit::MetadataValue::Text(s)
        | wit::MetadataValue::Json(s)
        | wit::MetadataValue::Url(s)
        | wit::MetadataValue::Path(s) => s.len(),
        wit::MetadataValue::Integer(_) | wit::MetadataValue::Float(_) => 8,
        wit::MetadataValue::Boolean(_) => 1,
    }
}

/// One instance for the materializations of one run, in order: the first call instantiates
/// the plugin, the next ones reuse the instance, and dropping the session drops it. A
/// JavaScript or Python plugin then starts its engine once per run instead of once per
/// partition.
///
/// The isolation rule (the README's "Instances"): an instance serves one run of one
/// computation of one plugin version, and nothing else: never two runs, never a sensor, check
/// or mapping, never another version after a reload. Each call keeps its own limits (deadline,
/// fuel, log budget, output size) and its own context; memory and guest globals persist
/// between the calls of the run. When a call fails in any way (a trap, a limit, a plugin
/// error, an output the host refuses) the instance is dropped and the next call gets a
/// fresh one; a call that ran out of memory in an instance that had served earlier calls is
/// run once more in a fresh instance, so that memory a guest never frees between calls (an
/// AssemblyScript stub runtime, a leak) costs one retry, not the run.
pub struct Session<'p> {
    plugin: &'p Plugin,
    live: Option<Live>,
    calls: u64,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("plugin", &self.plugin.name())
            .field("instantiated", &self.live.is_some())
            .field("calls", &self.calls)
            .finish()
    }
}

impl Session<'_> {
    /// One materialization in the session's instance.
    pub fn materialize(&mut self, req: &MaterializeRequest) -> Result<Vec<Output>, CallError> {
        self.calls += 1;
        let reused = self.live.is_some();
        match self.plugin.materialize_in(&mut self.live, req) {
            // Plugins have no side effects beyond their logs: running a call again is safe.
            Err(CallError::OutOfMemory { .. }) if reused => {
                tracing::debug!(
                    plugin = self.plugin.name(),
                    "out of memory in a reused instance; running the call in a fresh one"
                );
                self.plugin.materialize_in(&mut self.live, req)
            }
            other => other,
        }
    }

    /// Whether the next call reuses an instance (false before the first call and after a
    /// failed one).
    pub fn is_instantiated(&self) -> bool {
        self.live.is_some()
    }
}
