//! Between the SDK's types and the WIT types, and the three exports built on them.

use crate::bindings::exports::tessera::plugin::checks as wit_checks;
use crate::bindings::exports::tessera::plugin::mappings as wit_mappings;
use crate::bindings::wit;
use crate::check::{CheckContext, CheckOutcome};
use crate::definitions::{BackfillPolicy, Computation, Plugin, Sensor};
use crate::io::{
    Context, InputPartition, Inputs, MetadataValue, Output, Outputs, PartitionSelection,
    PluginError, TimeWindow,
};
use crate::mapper::{Direction, MapRequest};
use crate::partitions::{
    AssetInput, Cadence, CadencePartitions, Combinations, CronPartitions, Dimension,
    DimensionMapping, DimensionMappingKind, DimensionPartitions, Mapping, Partitions, Rollup,
    TimeWindowMapping,
};
use crate::sensor::{DynamicPartitionsRequest, RunRequest, SensorContext, SensorResult};

impl Plugin {
    /// The `definitions` export: every computation and sensor as WIT records.
    pub fn wit_definitions(&self) -> wit::Definitions {
        wit::Definitions {
            computations: self.computations.iter().map(wit_computation).collect(),
            sensors: self.sensors.iter().map(wit_sensor).collect(),
        }
    }

    /// The `materialize` export: runs one computation and names, filters and checks its
    /// outputs.
    pub fn wit_materialize(
        &self,
        context: wit::MaterializeContext,
        inputs: Vec<wit::Input>,
    ) -> Result<Vec<wit::Output>, wit::PluginError> {
        self.materialize(context, inputs)
            .map(|outputs| outputs.into_iter().map(wit_output).collect())
            .map_err(Into::into)
    }

    /// The `evaluate-sensor` export.
    /// The `declared-mappings` export.
    pub fn wit_declared_mappings(&self) -> Vec<wit_mappings::MappingDefinition> {
        self.mappers
            .iter()
            .map(|m| wit_mappings::MappingDefinition {
                name: m.name.clone(),
                description: m.description.clone(),
            })
            .collect()
    }

    /// The `declared-checks` export.
    pub fn wit_declared_checks(&self) -> Vec<wit_checks::CheckDefinition> {
        self.checks
            .iter()
            .map(|c| wit_checks::CheckDefinition {
                name: c.name.clone(),
                asset: c.asset.clone(),
                description: c.description.clone(),
                blocking: c.blocking,
            })
            .collect()
    }

    /// The `evaluate-check` export.
    pub fn wit_evaluate_check(
        &self,
        context: wit_checks::CheckContext,
        values: Vec<wit::InputPartition>,
    ) -> Result<Vec<wit_checks::CheckResult>, wit::PluginError> {
        let Some(check) = self.checks.iter().find(|c| c.name == context.check) else {
            return Err(wit::PluginError::InvalidInput(format!(
                "this plugin exports no check {:?}",
                context.check
            )));
        };
        let cx = CheckContext {
            check: context.check,
            asset: context.asset,
            now: context.now,
        };
        let values: Vec<(String, Vec<u8>)> = values.into_iter().map(|v| (v.key, v.data)).collect();
        let results = check
            .evaluate(&cx, &values)
            .map_err(wit::PluginError::from)?;
        Ok(results
            .into_iter()
            .map(|r| wit_checks::CheckResult {
                partition: r.partition,
                outcome: match r.outcome {
                    CheckOutcome::Pass => wit_checks::CheckOutcome::Pass,
                    CheckOutcome::Warn => wit_checks::CheckOutcome::Warn,
                    CheckOutcome::Fail => wit_checks::CheckOutcome::Fail,
                },
                description: r.description,
                metadata: wit_metadata(&r.metadata),
            })
            .collect())
    }

    /// The `map-partitions` export.
    pub fn wit_map_partitions(
        &self,
        request: wit_mappings::MappingRequest,
    ) -> Result<Vec<wit_mappings::KeyRange>, wit::PluginError> {
        let Some(mapper) = self.mappers.iter().find(|m| m.name == request.mapping) else {
            return Err(wit::PluginError::InvalidInput(format!(
                "this plugin exports no partition mapping {:?}",
                request.mapping
            )));
        };
        let request = MapRequest {
            mapping: request.mapping,
            direction: match request.direction {
                wit_mappings::MappingDirection::ToUpstream => Direction::ToUpstream,
                wit_mappings::MappingDirection::ToDownstream => Direction::ToDownstream,
            },
            upstream_asset: request.upstream_asset,
            downstream_asset: request.downstream_asset,
            ranges: request
                .ranges
                .into_iter()
                .map(|r| (r.first, r.last))
                .collect(),
        };
        mapper
            .map(&request)
            .map(|ranges| {
                ranges
                    .into_iter()
                    .map(|(first, last)| wit_mappings::KeyRange { first, last })
                    .collect()
            })
            .map_err(Into::into)
    }

    pub fn wit_evaluate_sensor(
        &self,
        context: wit::SensorContext,
    ) -> Result<wit::SensorResult, wit::PluginError> {
        self.evaluate_sensor(context)
            .map(Into::into)
            .map_err(Into::into)
    }

    pub(crate) fn materialize(
        &self,
        context: wit::MaterializeContext,
        inputs: Vec<wit::Input>,
    ) -> Result<Vec<Output>, PluginError> {
        let computation = self.find_computation(&context.computation).ok_or_else(|| {
            PluginError::invalid_input(format!(
                "this plugin has no computation {:?} (it has {:?})",
                context.computation,
                self.computations
                    .iter()
                    .map(Computation::name)
                    .collect::<Vec<_>>()
            ))
        })?;
        let cx = context_from_wit(context, computation)?;
        let inputs = Inputs::from(inputs);
        let outputs = computation.call(&cx, &inputs)?;
        name_outputs(computation, cx.assets(), outputs)
    }

    pub(crate) fn evaluate_sensor(
        &self,
        context: wit::SensorContext,
    ) -> Result<SensorResult, PluginError> {
        let sensor = self.find_sensor(&context.sensor).ok_or_else(|| {
            PluginError::invalid_input(format!(
                "this plugin has no sensor {:?} (it has {:?})",
                context.sensor,
                self.sensors.iter().map(Sensor::name).collect::<Vec<_>>()
            ))
        })?;
        let mut result = sensor.call(&SensorContext::from(context))?;
        for request in &mut result.run_requests {
            if request.assets.is_empty() {
                request.assets.clone_from(&sensor.targets);
            }
        }
        Ok(result)
    }
}

/// The context of a run, checked against the computation: requested assets must be its own
/// (none requested means all of them).
pub(crate) fn context_from_wit(
    context: wit::MaterializeContext,
    computation: &Computation,
) -> Result<Context, PluginError> {
    let assets = if context.assets.is_empty() {
        computation.assets.iter().map(|a| a.key.clone()).collect()
    } else {
        if let Some(unknown) = context.assets.iter().find(|a| !computation.has_asset(a)) {
            return Err(PluginError::invalid_input(format!(
                "computation {:?} does not produce asset {unknown:?}",
                computation.name
            )));
        }
        context.assets
    };
    Ok(Context {
        computation: context.computation,
        assets,
        partition: context.partition.into(),
        partition_keys: context.partition_keys,
        time_window: context.time_window.map(Into::into),
        run_id: context.run_id,
        attempt: context.attempt,
        now: context.now,
        dimensions: computation
            .partitions
            .as_ref()
            .map(Partitions::dimension_names)
            .unwrap_or_default(),
    })
}

/// Gives every output its asset, drops outputs of assets not requested, and fails when a
/// requested asset has no output.
fn name_outputs(
    computation: &Computation,
    requested: &[String],
    outputs: Outputs,
) -> Result<Vec<Output>, PluginError> {
    let mut named: Vec<Output> = Vec::new();
    // (asset, key) pairs seen: a range call may return one output per key, thousands. Ordered,
    // not hashed: a hash set's random keys would cost every fresh instance a call to the host
    // for entropy.
    let mut seen: std::collections::BTreeSet<(String, Option<String>)> =
        std::collections::BTreeSet::new();
    for mut output in outputs {
        let asset = match (&output.asset, computation.assets.as_slice(), requested) {
            (Some(asset), _, _) => asset.clone(),
            (None, [only], _) => only.key.clone(),
            (None, _, [only]) => only.clone(),
            (None, _, _) => {
                return Err(PluginError::failed(format!(
                    "computation {:?} produces several assets, so its outputs must name \
                     theirs: Outputs::new().with(asset, output)",
                    computation.name
                )));
            }
        };
        if !computation.has_asset(&asset) {
            return Err(PluginError::failed(format!(
                "computation {:?} returned an output for {asset:?}, which it does not declare",
                computation.name
            )));
        }
        if !requested.contains(&asset) {
            continue;
        }
        if !seen.insert((asset.clone(), output.partition.clone())) {
            return Err(PluginError::failed(match &output.partition {
                None => format!(
                    "computation {:?} returned two outputs for {asset:?}",
                    computation.name
                ),
                Some(k) => format!(
                    "computation {:?} returned two outputs for {asset:?}[{k}]",
                    computation.name
                ),
            }));
        }
        output.asset = Some(asset);
        named.push(output);
    }
    let produced: std::collections::BTreeSet<&str> =
        seen.iter().map(|(asset, _)| asset.as_str()).collect();
    if let Some(missing) = requested.iter().find(|a| !produced.contains(a.as_str())) {
        return Err(PluginError::failed(format!(
            "computation {:?} returned no output for requested asset {missing:?}",
            computation.name
        )));
    }
    Ok(named)
}

// ----- definitions -------------------------------------------------------------------------

fn wit_computation(c: &Computation) -> wit::Computation {
    wit::Computation {
        name: c.name.clone(),
        assets: c
            .assets
            .iter()
            .map(|a| wit::AssetDefinition {
                key: a.key.clone(),
                description: a.description.clone(),
                partitions: c.partitions.as_ref().map(Into::into),
                inputs: c.inputs_of(a).iter().map(Into::into).collect(),
                code_version: a.code_version.clone(),
                metadata: wit_metadata(&a.metadata),
                backfill_policy: a.backfill_policy.map(|p| match p {
                    BackfillPolicy::SinglePartition => wit::BackfillPolicy::SinglePartition,
                    BackfillPolicy::SingleRun => wit::BackfillPolicy::SingleRun,
                    BackfillPolicy::MultiRun(n) => wit::BackfillPolicy::MultiRun(n),
                }),
            })
            .collect(),
    }
}

fn wit_sensor(s: &Sensor) -> wit::SensorDefinition {
    wit::SensorDefinition {
        name: s.name.clone(),
        description: s.description.clone(),
        minimum_interval_seconds: s.minimum_interval_seconds,
        targets: s.targets.clone(),
    }
}

fn wit_metadata(entries: &[(String, MetadataValue)]) -> Vec<wit::MetadataEntry> {
    entries
        .iter()
        .map(|(k, v)| wit::MetadataEntry {
            key: k.clone(),
            value: v.clone().into(),
        })
        .collect()
}

impl From<MetadataValue> for wit::MetadataValue {
    fn from(v: MetadataValue) -> Self {
        match v {
            MetadataValue::Text(s) => wit::MetadataValue::Text(s),
            MetadataValue::Integer(i) => wit::MetadataValue::Integer(i),
            MetadataValue::Float(f) => wit::MetadataValue::Float(f),
            MetadataValue::Boolean(b) => wit::MetadataValue::Boolean(b),
            MetadataValue::Json(s) => wit::MetadataValue::Json(s),
            MetadataValue::Url(s) => wit::MetadataValue::Url(s),
            MetadataValue::Path(s) => wit::MetadataValue::Path(s),
        }
    }
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

impl From<Cadence> for wit::Cadence {
    fn from(c: Cadence) -> Self {
        match c {
            Cadence::Hourly => wit::Cadence::Hourly,
            Cadence::Daily => wit::Cadence::Daily,
            Cadence::Weekly => wit::Cadence::Weekly,
            Cadence::Monthly => wit::Cadence::Monthly,
        }
    }
}

impl From<&CadencePartitions> for wit::CadencePartitions {
    fn from(p: &CadencePartitions) -> Self {
        wit::CadencePartitions {
            cadence: p.cadence.into(),
            start: p.start.clone(),
            end: p.end.clone(),
            timezone: p.timezone.clone(),
            fmt: p.fmt.clone(),
            end_offset: p.end_offset,
            minute_offset: p.minute_offset,
            hour_offset: p.hour_offset,
            day_offset: p.day_offset,
            exclusions: (!p.exclusions.is_empty()).then(|| p.exclusions.clone()),
        }
    }
}

impl From<&CronPartitions> for wit::CronPartitions {
    fn from(p: &CronPartitions) -> Self {
        wit::CronPartitions {
            cron_schedule: p.cron_schedule.clone(),
            start: p.start.clone(),
            end: p.end.clone(),
            timezone: p.timezone.clone(),
            fmt: p.fmt.clone(),
            end_offset: p.end_offset,
            exclusions: (!p.exclusions.is_empty()).then(|| p.exclusions.clone()),
        }
    }
}

impl From<&DimensionPartitions> for wit::DimensionPartitions {
    fn from(p: &DimensionPartitions) -> Self {
        match p {
            DimensionPartitions::Static(keys) => wit::DimensionPartitions::StaticKeys(keys.clone()),
            DimensionPartitions::Cadence(c) => wit::DimensionPartitions::Cadence(c.into()),
            DimensionPartitions::Cron(c) => wit::DimensionPartitions::Cron(c.into()),
            DimensionPartitions::Dynamic(name) => wit::DimensionPartitions::Dynamic(name.clone()),
        }
    }
}

impl From<&Dimension> for wit::Dimension {
    fn from(d: &Dimension) -> Self {
        wit::Dimension {
            name: d.name.clone(),
            partitions: (&d.partitions).into(),
        }
    }
}

impl From<&Partitions> for wit::Partitions {
    fn from(p: &Partitions) -> Self {
        match p {
            Partitions::Static(keys) => wit::Partitions::StaticKeys(keys.clone()),
            Partitions::Cadence(c) => wit::Partitions::Cadence(c.into()),
            Partitions::Cron(c) => wit::Partitions::Cron(c.into()),
            Partitions::Dynamic(name) => wit::Partitions::Dynamic(name.clone()),
            Partitions::Multi(dims) => {
                wit::Partitions::Multi(dims.iter().map(Into::into).collect())
            }
            Partitions::Sparse {
                dimensions,
                combinations,
            } => {
                let (combined, combinations) = match combinations {
                    Combinations::Listed { dimensions, rows } => (
                        dimensions.clone(),
                        wit::CombinationSource::Listed(rows.clone()),
                    ),
                    Combinations::Dynamic { dimensions, set } => (
                        dimensions.clone(),
                        wit::CombinationSource::Dynamic(set.clone()),
                    ),
                };
                wit::Partitions::SparseMulti(wit::SparseMultiPartitions {
                    dimensions: dimensions.iter().map(Into::into).collect(),
                    combined,
                    combinations,
                })
            }
        }
    }
}

impl From<TimeWindowMapping> for wit::TimeWindowMapping {
    fn from(m: TimeWindowMapping) -> Self {
        wit::TimeWindowMapping {
            start_offset: m.start_offset,
            end_offset: m.end_offset,
            allow_nonexistent_upstream_partitions: m.allow_nonexistent_upstream_partitions,
        }
    }
}

fn wit_static_pairs(pairs: &[(String, Vec<String>)]) -> Vec<wit::StaticPair> {
    pairs
        .iter()
        .map(|(up, down)| wit::StaticPair {
            upstream: up.clone(),
            downstream: down.clone(),
        })
        .collect()
}

impl From<&DimensionMappingKind> for wit::DimensionMappingKind {
    fn from(m: &DimensionMappingKind) -> Self {
        match m {
            DimensionMappingKind::Identity => wit::DimensionMappingKind::Identity,
            DimensionMappingKind::All => wit::DimensionMappingKind::All,
            DimensionMappingKind::Last => wit::DimensionMappingKind::Last,
            DimensionMappingKind::Specific(keys) => {
                wit::DimensionMappingKind::Specific(keys.clone())
            }
            DimensionMappingKind::StaticMap(pairs) => {
                wit::DimensionMappingKind::StaticMap(wit_static_pairs(pairs))
            }
            DimensionMappingKind::TimeWindow(m) => {
                wit::DimensionMappingKind::TimeWindow((*m).into())
            }
        }
    }
}

impl From<&DimensionMapping> for wit::DimensionMapping {
    fn from(m: &DimensionMapping) -> Self {
        wit::DimensionMapping {
            upstream_dimension: m.upstream_dimension.clone(),
            downstream_dimension: m.downstream_dimension.clone(),
            mapping: (&m.mapping).into(),
        }
    }
}

impl From<&Mapping> for wit::PartitionMapping {
    fn from(m: &Mapping) -> Self {
        match m {
            Mapping::Identity => wit::PartitionMapping::Identity,
            Mapping::All => wit::PartitionMapping::All,
            Mapping::Last => wit::PartitionMapping::Last,
            Mapping::Specific(keys) => wit::PartitionMapping::Specific(keys.clone()),
            Mapping::StaticMap(pairs) => wit::PartitionMapping::StaticMap(wit_static_pairs(pairs)),
            Mapping::TimeWindow(m) => wit::PartitionMapping::TimeWindow((*m).into()),
            Mapping::MultiToSingle(dim) => wit::PartitionMapping::MultiToSingle(dim.clone()),
            Mapping::Multi(dims) => {
                wit::PartitionMapping::Multi(dims.iter().map(Into::into).collect())
            }
            Mapping::Plugin(name) => wit::PartitionMapping::Plugin(name.clone()),
        }
    }
}

impl From<&AssetInput> for wit::AssetInput {
    fn from(i: &AssetInput) -> Self {
        wit::AssetInput {
            asset: i.asset.clone(),
            mapping: i.mapping.as_ref().map(Into::into),
            allow_missing: i.allow_missing,
            rollup: i.rollup.map(|r| match r {
                Rollup::WaitAll => wit::RollupPolicy::WaitAll,
                Rollup::WaitUntil(secs) => wit::RollupPolicy::WaitUntil(secs),
                Rollup::RunPartial => wit::RollupPolicy::RunPartial,
            }),
        }
    }
}

// ----- runs --------------------------------------------------------------------------------

impl From<wit::PartitionSelection> for PartitionSelection {
    fn from(p: wit::PartitionSelection) -> Self {
        match p {
            wit::PartitionSelection::None => PartitionSelection::None,
            wit::PartitionSelection::Key(k) => PartitionSelection::Key(k),
            wit::PartitionSelection::Range(r) => PartitionSelection::Range {
                start: r.start,
                end: r.end,
            },
        }
    }
}

impl From<PartitionSelection> for wit::PartitionSelection {
    fn from(p: PartitionSelection) -> Self {
        match p {
            PartitionSelection::None => wit::PartitionSelection::None,
            PartitionSelection::Key(k) => wit::PartitionSelection::Key(k),
            PartitionSelection::Range { start, end } => {
                wit::PartitionSelection::Range(wit::KeyRange { start, end })
            }
        }
    }
}

impl From<wit::TimeWindow> for TimeWindow {
    fn from(w: wit::TimeWindow) -> Self {
        TimeWindow {
            start: w.start,
            end: w.end,
            start_offset: w.start_utc_offset,
            end_offset: w.end_utc_offset,
        }
    }
}

impl From<TimeWindow> for wit::TimeWindow {
    fn from(w: TimeWindow) -> Self {
        wit::TimeWindow {
            start: w.start,
            end: w.end,
            start_utc_offset: w.start_offset,
            end_utc_offset: w.end_offset,
        }
    }
}

impl From<Vec<wit::Input>> for Inputs {
    fn from(inputs: Vec<wit::Input>) -> Self {
        let mut out: Vec<(String, Vec<InputPartition>)> = Vec::with_capacity(inputs.len());
        for input in inputs {
            let parts = input.partitions.into_iter().map(|p| InputPartition {
                key: p.key,
                data: p.data,
            });
            // The host sends one entry per asset; merge defensively if it sends more.
            match out.iter_mut().find(|(a, _)| *a == input.asset) {
                Some((_, existing)) => existing.extend(parts),
                None => out.push((input.asset, parts.collect())),
            }
        }
        Inputs { inputs: out }
    }
}

fn wit_output(o: Output) -> wit::Output {
    wit::Output {
        asset: o.asset.unwrap_or_default(),
        partition: o.partition,
        data: o.data,
        metadata: o
            .metadata
            .into_iter()
            .map(|(key, value)| wit::MetadataEntry {
                key,
                value: value.into(),
            })
            .collect(),
    }
}

impl From<wit::Output> for Output {
    fn from(o: wit::Output) -> Self {
        Output {
            asset: Some(o.asset),
            partition: o.partition,
            data: o.data,
            metadata: o
                .metadata
                .into_iter()
                .map(|e| (e.key, e.value.into()))
                .collect(),
        }
    }
}

impl From<PluginError> for wit::PluginError {
    fn from(e: PluginError) -> Self {
        match e {
            PluginError::InvalidInput(m) => wit::PluginError::InvalidInput(m),
            PluginError::Failed(m) => wit::PluginError::Failed(m),
        }
    }
}

impl From<wit::PluginError> for PluginError {
    fn from(e: wit::PluginError) -> Self {
        match e {
            wit::PluginError::InvalidInput(m) => PluginError::InvalidInput(m),
            wit::PluginError::Failed(m) => PluginError::Failed(m),
        }
    }
}

// ----- sensors -----------------------------------------------------------------------------

impl From<wit::SensorContext> for SensorContext {
    fn from(c: wit::SensorContext) -> Self {
        SensorContext {
            sensor: c.sensor,
            cursor: c.cursor,
            last_evaluation: c.last_evaluation,
            now: c.now,
        }
    }
}

impl From<RunRequest> for wit::RunRequest {
    fn from(r: RunRequest) -> Self {
        wit::RunRequest {
            run_key: r.run_key,
            assets: r.assets,
            partition: r.partition.into(),
            tags: r
                .tags
                .into_iter()
                .map(|(key, value)| wit::Tag { key, value })
                .collect(),
        }
    }
}

impl From<wit::RunRequest> for RunRequest {
    fn from(r: wit::RunRequest) -> Self {
        RunRequest {
            run_key: r.run_key,
            assets: r.assets,
            partition: r.partition.into(),
            tags: r.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        }
    }
}

impl From<SensorResult> for wit::SensorResult {
    fn from(r: SensorResult) -> Self {
        wit::SensorResult {
            run_requests: r.run_requests.into_iter().map(Into::into).collect(),
            skip_reason: r.skip_reason,
            cursor: r.cursor,
            dynamic_partitions: r
                .dynamic_partitions
                .into_iter()
                .map(|d| wit::DynamicPartitionsRequest {
                    name: d.name,
                    add: d.add,
                    delete: d.delete,
                })
                .collect(),
        }
    }
}

impl From<wit::SensorResult> for SensorResult {
    fn from(r: wit::SensorResult) -> Self {
        SensorResult {
            run_requests: r.run_requests.into_iter().map(Into::into).collect(),
            skip_reason: r.skip_reason,
            cursor: r.cursor,
            dynamic_partitions: r
                .dynamic_partitions
                .into_iter()
                .map(|d| DynamicPartitionsRequest {
                    name: d.name,
                    add: d.add,
                    delete: d.delete,
                })
                .collect(),
        }
    }
}
