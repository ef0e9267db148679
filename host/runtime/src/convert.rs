//! The plugin's definitions, from the WIT records it returns to the partition domain's types,
//! validated on the way: a plugin whose definitions do not build never goes live.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tessera_partitions::{
    CombinationSource, Combinations, DimensionMapping, DynamicPartitions, MultiPartitions,
    PartitionKey, PartitionMapping, PartitionsDefinition, PluginMapping, StaticMapping,
    StaticPartitions, TimeWindowMapping, TimeWindowPartitions, infer_mapping,
};

use crate::BackfillPolicy;
use crate::bindings::types as wit;
use crate::config::Limits;
use crate::policy::RollupPolicy;

/// Everything a plugin declares, in the domain's terms.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    pub computations: Vec<ComputationSpec>,
    pub sensors: Vec<SensorSpec>,
    /// Partition mappings the plugin exports (interface `mappings`), by name.
    pub mappings: Vec<MappingSpec>,
    /// Asset checks the plugin exports (interface `checks`).
    pub checks: Vec<CheckSpec>,
    /// The definitions as the plugin returned them, for display (`plugin inspect --json`).
    pub raw: serde_json::Value,
}

/// An asset check a plugin exports: evaluated per partition after a materialization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    pub name: String,
    /// One of the plugin's own assets.
    pub asset: String,
    pub description: Option<String>,
    /// A partition failing it stops the downstream partitions that read it.
    pub blocking: bool,
}

/// A partition mapping a plugin exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingSpec {
    pub name: String,
    pub description: Option<String>,
}

/// One compute function and the assets it produces.
#[derive(Debug, Clone)]
pub struct ComputationSpec {
    pub name: String,
    pub assets: Vec<AssetSpec>,
}

#[derive(Debug, Clone)]
pub struct AssetSpec {
    pub key: String,
    pub description: Option<String>,
    pub partitions: Option<PartitionsDefinition>,
    pub inputs: Vec<InputSpec>,
    pub code_version: Option<String>,
    pub metadata: Vec<(String, crate::call::MetadataValue)>,
    /// The contract's field, or for a plugin that does not set it (every 0.1.0 plugin) its
    /// metadata `backfill_policy`.
    pub backfill_policy: BackfillPolicy,
}

#[derive(Debug, Clone)]
pub struct InputSpec {
    pub asset: String,
    /// `None`: inferred from the two definitions once the upstream is known.
    pub mapping: Option<PartitionMapping>,
    /// Whether the input may run with missing upstream partitions now: `run_partial`.
    pub allow_missing: bool,
    pub rollup: RollupPolicy,
}

#[derive(Debug, Clone)]
pub struct SensorSpec {
    pub name: String,
    pub description: Option<String>,
    pub minimum_interval: Duration,
    pub targets: Vec<String>,
}

impl Definitions {
    /// The computation producing an asset.
    pub fn computation_of(&self, asset: &str) -> Option<&ComputationSpec> {
        self.computations
            .iter()
            .find(|c| c.assets.iter().any(|a| a.key == asset))
    }

    pub fn asset(&self, key: &str) -> Option<&AssetSpec> {
        self.computations
            .iter()
            .flat_map(|c| &c.assets)
            .find(|a| a.key == key)
    }

    pub fn assets(&self) -> impl Iterator<Item = &AssetSpec> {
        self.computations.iter().flat_map(|c| &c.assets)
    }

    pub fn sensor(&self, name: &str) -> Option<&SensorSpec> {
        self.sensors.iter().find(|s| s.name == name)
    }
}

/// An asset key usable as a file name and in a URL path segment.
fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The sizes a plugin's definitions may have: checked on the records as returned, before
/// anything is built from them (nor copied into `raw`).
fn check_limits(d: &wit::Definitions, limits: &Limits) -> Result<(), String> {
    let over = |what: String, limit: u64, setting: &str| {
        format!("{what} exceeds the limit of {limit} ({setting} in [runtime.limits])")
    };
    let assets: u64 = d.computations.iter().map(|c| c.assets.len() as u64).sum();
    if assets > limits.max_assets {
        return Err(over(
            format!("{assets} assets"),
            limits.max_assets,
            "max_assets",
        ));
    }
    if d.sensors.len() as u64 > limits.max_sensors {
        return Err(over(
            format!("{} sensors", d.sensors.len()),
            limits.max_sensors,
            "max_sensors",
        ));
    }
    let list = |what: &str, n: usize| -> Result<(), String> {
        if n as u64 > limits.max_definition_keys {
            return Err(over(
                format!("a list of {n} {what}"),
                limits.max_definition_keys,
                "max_definition_keys",
            ));
        }
        Ok(())
    };
    let string = |s: &str| -> Result<(), String> {
        if s.len() as u64 > limits.max_string_bytes {
            let start: String = s.chars().take(40).collect();
            return Err(over(
                format!("a string of {} bytes ({start:?}…)", s.len()),
                limits.max_string_bytes,
                "max_string_bytes",
            ));
        }
        Ok(())
    };
    let strings = |ss: &[String]| ss.iter().try_for_each(|s| string(s));
    let dimension = |p: &wit::DimensionPartitions| -> Result<(), String> {
        match p {
            wit::DimensionPartitions::StaticKeys(keys) => {
                list("static partition keys", keys.len())?;
                strings(keys)
            }
            wit::DimensionPartitions::Cadence(c) => [&c.start]
                .into_iter()
                .chain(&c.end)
                .chain(&c.timezone)
                .chain(&c.fmt)
                .try_for_each(|s| string(s)),
            wit::DimensionPartitions::Cron(c) => [&c.cron_schedule, &c.start, &c.fmt]
                .into_iter()
                .chain(&c.end)
                .chain(&c.timezone)
                .try_for_each(|s| string(s)),
            wit::DimensionPartitions::Dynamic(name) => string(name),
        }
    };
    let pairs = |pairs: &[wit::StaticPair]| -> Result<(), String> {
        list("static mapping pairs", pairs.len())?;
        for p in pairs {
            string(&p.upstream)?;
            list("mapped keys", p.downstream.len())?;
            strings(&p.downstream)?;
        }
        Ok(())
    };
    let dimension_mapping = |m: &wit::DimensionMappingKind| -> Result<(), String> {
        match m {
            wit::DimensionMappingKind::Specific(k) => {
                list("mapped keys", k.len())?;
                strings(k)
            }
            wit::DimensionMappingKind::StaticMap(p) => pairs(p),
            _ => Ok(()),
        }
    };
    let metadata = |m: &[wit::MetadataEntry]| -> Result<(), String> {
        if m.len() as u64 > limits.max_metadata_entries {
            return Err(over(
                format!("{} metadata entries", m.len()),
                limits.max_metadata_entries,
                "max_metadata_entries",
            ));
        }
        for e in m {
            string(&e.key)?;
            match &e.value {
                wit::MetadataValue::Text(v)
                | wit::MetadataValue::Json(v)
                | wit::MetadataValue::Url(v)
                | wit::MetadataValue::Path(v) => string(v)?,
                _ => {}
            }
        }
        Ok(())
    };
    for c in &d.computations {
        string(&c.name)?;
        for a in &c.assets {
            string(&a.key)?;
            a.description
                .iter()
                .chain(&a.code_version)
                .try_for_each(|s| string(s))?;
            metadata(&a.metadata)?;
            match &a.partitions {
                None => {}
                Some(wit::Partitions::StaticKeys(k)) => {
                    dimension(&wit::DimensionPartitions::StaticKeys(k.clone()))?;
                }
                Some(wit::Partitions::Cadence(c)) => {
                    dimension(&wit::DimensionPartitions::Cadence(c.clone()))?;
                }
                Some(wit::Partitions::Cron(c)) => {
                    dimension(&wit::DimensionPartitions::Cron(c.clone()))?;
                }
                Some(wit::Partitions::Dynamic(n)) => string(n)?,
                Some(wit::Partitions::Multi(dims)) => {
                    list("dimensions", dims.len())?;
                    for dim in dims {
                        string(&dim.name)?;
                        dimension(&dim.partitions)?;
                    }
                }
                Some(wit::Partitions::SparseMulti(sparse)) => {
                    list("dimensions", sparse.dimensions.len())?;
                    for dim in &sparse.dimensions {
                        string(&dim.name)?;
                        dimension(&dim.partitions)?;
                    }
                    list("combined dimensions", sparse.combined.len())?;
                    strings(&sparse.combined)?;
                    match &sparse.combinations {
                        wit::CombinationSource::Listed(rows) => {
                            list("combinations", rows.len())?;
                            for row in rows {
                                list("keys of a combination", row.len())?;
                                strings(row)?;
                            }
                        }
                        wit::CombinationSource::Dynamic(set) => string(set)?,
                    }
                }
            }
            list("inputs", a.inputs.len())?;
            for i in &a.inputs {
                string(&i.asset)?;
                match &i.mapping {
                    Some(wit::PartitionMapping::Specific(k)) => {
                        list("mapped keys", k.len())?;
                        strings(k)?;
                    }
                    Some(wit::PartitionMapping::StaticMap(p)) => pairs(p)?,
                    Some(
                        wit::PartitionMapping::MultiToSingle(Some(name))
                        | wit::PartitionMapping::Plugin(name),
                    ) => string(name)?,
                    Some(wit::PartitionMapping::Multi(dims)) => {
                        list("dimension mappings", dims.len())?;
                        for m in dims {
                            string(&m.upstream_dimension)?;
                            string(&m.downstream_dimension)?;
                            dimension_mapping(&m.mapping)?;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    for s in &d.sensors {
        string(&s.name)?;
        s.description.iter().try_for_each(|d| string(d))?;
        list("sensor targets", s.targets.len())?;
        strings(&s.targets)?;
    }
    Ok(())
}

pub(crate) fn definitions(d: wit::Definitions, limits: &Limits) -> Result<Definitions, String> {
    check_limits(&d, limits)?;
    let raw = serde_json::to_value(&d).unwrap_or(serde_json::Value::Null);
    let mut computations = Vec::new();
    let mut asset_keys = BTreeSet::new();
    let mut names = BTreeSet::new();
    for c in d.computations {
        if !names.insert(c.name.clone()) {
            return Err(format!("computation {:?} is declared twice", c.name));
        }
        if c.assets.is_empty() {
            return Err(format!("computation {:?} produces no assets", c.name));
        }
        let mut assets = Vec::new();
        for a in c.assets {
            if !valid_key(&a.key) {
                return Err(format!(
                    "asset key {:?} must start with a letter, digit or '_' and hold only letters, digits, '_', '-' and '.'",
                    a.key
                ));
            }
            if !asset_keys.insert(a.key.clone()) {
                return Err(format!("asset {:?} is declared twice", a.key));
            }
            assets.push(asset(a)?);
        }
        if let Some(first) = assets.first()
            && let Some(other) = assets.iter().find(|a| a.partitions != first.partitions)
        {
            return Err(format!(
                "computation {:?} produces {:?} and {:?} with different partitions; the assets of one computation share one partitions definition",
                c.name, first.key, other.key
            ));
        }
        computations.push(ComputationSpec {
            name: c.name,
            assets,
        });
    }
    let mut sensors = Vec::new();
    let mut sensor_names = BTreeSet::new();
    for s in d.sensors {
        if !sensor_names.insert(s.name.clone()) {
            return Err(format!("sensor {:?} is declared twice", s.name));
        }
        if s.minimum_interval_seconds == 0 {
            return Err(format!(
                "sensor {:?} needs a minimum interval of at least 1 second",
                s.name
            ));
        }
        sensors.push(SensorSpec {
            name: s.name,
            description: s.description,
            minimum_interval: Duration::from_secs(u64::from(s.minimum_interval_seconds)),
            targets: s.targets,
        });
    }
    let defs = Definitions {
        computations,
        sensors,
        mappings: Vec::new(),
        checks: Vec::new(),
        raw,
    };
    check_local_inputs(&defs)?;
    check_local_cycles(&defs)?;
    Ok(defs)
}

/// The mappings a plugin declares: named (unique, within the limits), in order.
pub(crate) fn mappings(
    declared: Vec<crate::bindings::mappings::MappingDefinition>,
    limits: &Limits,
) -> Result<Vec<MappingSpec>, String> {
    if declared.len() as u64 > limits.max_definition_keys {
        return Err(format!(
            "{} mappings exceed the limit of {} (max_definition_keys in [runtime.limits])",
            declared.len(),
            limits.max_definition_keys
        ));
    }
    let mut names = BTreeSet::new();
    let mut out = Vec::with_capacity(declared.len());
    for m in declared {
        if !valid_key(&m.name) {
            return Err(format!(
                "mapping name {:?} must start with a letter, digit or '_' and hold only letters, digits, '_', '-' and '.'",
                m.name
            ));
        }
        if !names.insert(m.name.clone()) {
            return Err(format!("mapping {:?} is declared twice", m.name));
        }
        if let Some(d) = &m.description
            && d.len() as u64 > limits.max_string_bytes
        {
            return Err(format!(
                "the description of mapping {:?} exceeds max_string_bytes",
                m.name
            ));
        }
        out.push(MappingSpec {
            name: m.name,
            description: m.description,
        });
    }
    Ok(out)
}

/// The checks a plugin declares: named uniquely, each on one of its own assets.
pub(crate) fn checks(
    declared: Vec<crate::bindings::checks::CheckDefinition>,
    defs: &Definitions,
    limits: &Limits,
) -> Result<Vec<CheckSpec>, String> {
    if declared.len() as u64 > limits.max_definition_keys {
        return Err(format!(
            "{} checks exceed the limit of {} (max_definition_keys in [runtime.limits])",
            declared.len(),
            limits.max_definition_keys
        ));
    }
    let mut names = BTreeSet::new();
    let mut out = Vec::with_capacity(declared.len());
    for c in declared {
        if !valid_key(&c.name) {
            return Err(format!(
                "check name {:?} must start with a letter, digit or '_' and hold only letters, digits, '_', '-' and '.'",
                c.name
            ));
        }
        if !names.insert(c.name.clone()) {
            return Err(format!("check {:?} is declared twice", c.name));
        }
        if defs.asset(&c.asset).is_none() {
            return Err(format!(
                "check {:?} is on {:?}, which is not one of this plugin's assets",
                c.name, c.asset
            ));
        }
        if c.description
            .as_ref()
            .is_some_and(|d| d.len() as u64 > limits.max_string_bytes)
        {
            return Err(format!(
                "the description of check {:?} exceeds max_string_bytes",
                c.name
            ));
        }
        out.push(CheckSpec {
            name: c.name,
            asset: c.asset,
            description: c.description,
            blocking: c.blocking,
        });
    }
    Ok(out)
}

/// A cycle among one plugin's own assets is that plugin's error (refused at load), not a
/// problem of the whole asset graph that would stop every other plugin's work.
fn check_local_cycles(defs: &Definitions) -> Result<(), String> {
    let own: BTreeMap<&str, Vec<&str>> = defs
        .assets()
        .map(|a| {
            let ups = a
                .inputs
                .iter()
                .map(|i| i.asset.as_str())
                .filter(|up| defs.asset(up).is_some())
                .collect();
            (a.key.as_str(), ups)
        })
        .collect();
    // Kahn's algorithm over the plugin's own edges.
    let mut indegree: BTreeMap<&str, usize> = own.iter().map(|(k, ups)| (*k, ups.len())).collect();
    let mut readers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, ups) in &own {
        for up in ups {
            readers.entry(up).or_default().push(k);
        }
    }
    let mut ready: Vec<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut placed = 0;
    while let Some(k) = ready.pop() {
        placed += 1;
        for r in readers.get(k).into_iter().flatten() {
            if let Some(d) = indegree.get_mut(r) {
                *d -= 1;
                if *d == 0 {
                    ready.push(r);
                }
            }
        }
    }
    if placed == own.len() {
        return Ok(());
    }
    let left: Vec<&str> = indegree
        .iter()
        .filter(|(_, d)| **d > 0)
        .map(|(k, _)| *k)
        .collect();
    Err(format!(
        "its assets depend on each other in a cycle: {}",
        left.join(", ")
    ))
}

/// Inputs between assets of the same plugin can be checked now; the rest when the asset graph
/// across plugins is built.
fn check_local_inputs(defs: &Definitions) -> Result<(), String> {
    for down in defs.assets() {
        for input in &down.inputs {
            let Some(up) = defs.asset(&input.asset) else {
                continue;
            };
            let Some(up_parts) = &up.partitions else {
                continue;
            };
            let mapping = input
                .mapping
                .clone()
                .unwrap_or_else(|| infer_mapping(Some(up_parts), down.partitions.as_ref()));
            mapping
                .validate(up_parts, down.partitions.as_ref())
                .map_err(|e| format!("input {:?} of asset {:?}: {e}", input.asset, down.key))?;
        }
    }
    Ok(())
}

fn asset(a: wit::AssetDefinition) -> Result<AssetSpec, String> {
    let partitions = a
        .partitions
        .map(|p| partitions(p).map_err(|e| format!("asset {:?}: {e}", a.key)))
        .transpose()?;
    if let Some(p) = &partitions {
        p.validate()
            .map_err(|e| format!("asset {:?}: {e}", a.key))?;
    }
    let mut seen = BTreeSet::new();
    let mut inputs = Vec::new();
    for i in a.inputs {
        if !seen.insert(i.asset.clone()) {
            return Err(format!("asset {:?} lists input {:?} twice", a.key, i.asset));
        }
        if i.asset == a.key {
            return Err(format!("asset {:?} cannot be its own input", a.key));
        }
        let rollup = match (i.rollup, i.allow_missing) {
            (None, false) => RollupPolicy::WaitAll,
            (None, true) | (Some(wit::RollupPolicy::RunPartial), _) => RollupPolicy::RunPartial,
            (Some(_), true) => {
                return Err(format!(
                    "input {:?} of asset {:?} allows missing partitions and waits for them too; give a roll-up policy or allow-missing, not both",
                    i.asset, a.key
                ));
            }
            (Some(wit::RollupPolicy::WaitAll), false) => RollupPolicy::WaitAll,
            (Some(wit::RollupPolicy::WaitUntil(secs)), false) => {
                RollupPolicy::WaitUntil(Duration::from_secs(secs))
            }
        };
        inputs.push(InputSpec {
            mapping: i.mapping.map(mapping),
            asset: i.asset,
            allow_missing: rollup == RollupPolicy::RunPartial,
            rollup,
        });
    }
    let metadata: Vec<(String, crate::call::MetadataValue)> = a
        .metadata
        .into_iter()
        .map(|m| (m.key, crate::call::MetadataValue::from(m.value)))
        .collect();
    let backfill_policy = match a.backfill_policy {
        Some(wit::BackfillPolicy::SinglePartition) => BackfillPolicy::SinglePartition,
        Some(wit::BackfillPolicy::SingleRun) => BackfillPolicy::SingleRun,
        Some(wit::BackfillPolicy::MultiRun(0)) => {
            return Err(format!(
                "asset {:?}: backfill policy multi-run needs at least 1 partition per run",
                a.key
            ));
        }
        Some(wit::BackfillPolicy::MultiRun(n)) => BackfillPolicy::MultiRun(u64::from(n)),
        None => metadata_backfill_policy(&metadata)
            .map_err(|e| format!("asset {:?}: metadata backfill_policy: {e}", a.key))?,
    };
    Ok(AssetSpec {
        key: a.key,
        description: a.description,
        partitions,
        inputs,
        code_version: a.code_version,
        metadata,
        backfill_policy,
    })
}

/// How 0.1.0 plugins declare a backfill policy: metadata `backfill_policy`, as text.
fn metadata_backfill_policy(
    metadata: &[(String, crate::call::MetadataValue)],
) -> Result<BackfillPolicy, String> {
    match metadata.iter().find(|(k, _)| k == "backfill_policy") {
        None => Ok(BackfillPolicy::Unspecified),
        Some((_, crate::call::MetadataValue::Text(t))) => t.parse(),
        Some((_, other)) => Err(format!("{other:?} is not text")),
    }
}

fn cadence(c: wit::CadencePartitions) -> Result<PartitionsDefinition, String> {
    let mut b = match c.cadence {
        wit::Cadence::Hourly => TimeWindowPartitions::hourly(c.start),
        wit::Cadence::Daily => TimeWindowPartitions::daily(c.start),
        wit::Cadence::Weekly => TimeWindowPartitions::weekly(c.start),
        wit::Cadence::Monthly => TimeWindowPartitions::monthly(c.start),
    };
    if let Some(end) = c.end {
        b = b.end(end);
    }
    if let Some(tz) = &c.timezone {
        b = b.timezone(tz);
    }
    if let Some(fmt) = &c.fmt {
        b = b.fmt(fmt);
    }
    if let Some(d) = c.day_offset {
        b = b.day_offset(d);
    }
    b.end_offset(c.end_offset)
        .minute_offset(c.minute_offset)
        .hour_offset(c.hour_offset)
        .exclude(c.exclusions.unwrap_or_default())
        .build()
        .map(PartitionsDefinition::from)
        .map_err(|e| e.to_string())
}

fn cron(c: wit::CronPartitions) -> Result<PartitionsDefinition, String> {
    let mut b = TimeWindowPartitions::cron(&c.cron_schedule, c.start, &c.fmt);
    if let Some(end) = c.end {
        b = b.end(end);
    }
    if let Some(tz) = &c.timezone {
        b = b.timezone(tz);
    }
    b.end_offset(c.end_offset)
        .exclude(c.exclusions.unwrap_or_default())
        .build()
        .map(PartitionsDefinition::from)
        .map_err(|e| e.to_string())
}

fn dimension(p: wit::DimensionPartitions) -> Result<PartitionsDefinition, String> {
    match p {
        wit::DimensionPartitions::StaticKeys(keys) => StaticPartitions::new(keys)
            .map(PartitionsDefinition::from)
            .map_err(|e| e.to_string()),
        wit::DimensionPartitions::Cadence(c) => cadence(c),
        wit::DimensionPartitions::Cron(c) => cron(c),
        wit::DimensionPartitions::Dynamic(name) => {
            Ok(PartitionsDefinition::from(DynamicPartitions::new(name)))
        }
    }
}

pub(crate) fn partitions(p: wit::Partitions) -> Result<PartitionsDefinition, String> {
    match p {
        wit::Partitions::StaticKeys(keys) => dimension(wit::DimensionPartitions::StaticKeys(keys)),
        wit::Partitions::Cadence(c) => cadence(c),
        wit::Partitions::Cron(c) => cron(c),
        wit::Partitions::Dynamic(name) => dimension(wit::DimensionPartitions::Dynamic(name)),
        wit::Partitions::Multi(dims) => {
            let dims = dims
                .into_iter()
                .map(|d| dimension(d.partitions).map(|p| (d.name, p)))
                .collect::<Result<Vec<_>, _>>()?;
            MultiPartitions::new(dims)
                .map(PartitionsDefinition::from)
                .map_err(|e| e.to_string())
        }
        wit::Partitions::SparseMulti(sparse) => {
            let dims = sparse
                .dimensions
                .into_iter()
                .map(|d| dimension(d.partitions).map(|p| (d.name, p)))
                .collect::<Result<Vec<_>, _>>()?;
            let combinations = Combinations {
                dimensions: sparse.combined,
                source: match sparse.combinations {
                    wit::CombinationSource::Listed(rows) => CombinationSource::Listed(rows),
                    wit::CombinationSource::Dynamic(set) => CombinationSource::Dynamic(set),
                },
            };
            MultiPartitions::sparse(dims, combinations)
                .map(PartitionsDefinition::from)
                .map_err(|e| e.to_string())
        }
    }
}

fn time_window(m: wit::TimeWindowMapping) -> PartitionMapping {
    PartitionMapping::TimeWindow(TimeWindowMapping {
        start_offset: m.start_offset,
        end_offset: m.end_offset,
        allow_nonexistent_upstream_partitions: m.allow_nonexistent_upstream_partitions,
    })
}

fn static_map(pairs: Vec<wit::StaticPair>) -> PartitionMapping {
    PartitionMapping::Static(StaticMapping::new(
        pairs.into_iter().map(|p| (p.upstream, p.downstream)),
    ))
}

fn keys(keys: Vec<String>) -> Vec<PartitionKey> {
    keys.into_iter().map(PartitionKey::from).collect()
}

fn dimension_mapping(m: wit::DimensionMappingKind) -> PartitionMapping {
    match m {
        wit::DimensionMappingKind::Identity => PartitionMapping::Identity,
        wit::DimensionMappingKind::All => PartitionMapping::All,
        wit::DimensionMappingKind::Last => PartitionMapping::Last,
        wit::DimensionMappingKind::Specific(k) => PartitionMapping::SpecificPartitions(keys(k)),
        wit::DimensionMappingKind::StaticMap(p) => static_map(p),
        wit::DimensionMappingKind::TimeWindow(t) => time_window(t),
    }
}

pub(crate) fn mapping(m: wit::PartitionMapping) -> PartitionMapping {
    match m {
        wit::PartitionMapping::Identity => PartitionMapping::Identity,
        wit::PartitionMapping::All => PartitionMapping::All,
        wit::PartitionMapping::Last => PartitionMapping::Last,
        wit::PartitionMapping::Specific(k) => PartitionMapping::SpecificPartitions(keys(k)),
        wit::PartitionMapping::StaticMap(p) => static_map(p),
        wit::PartitionMapping::TimeWindow(t) => time_window(t),
        wit::PartitionMapping::MultiToSingle(dimension) => {
            PartitionMapping::MultiToSingleDimension { dimension }
        }
        wit::PartitionMapping::Plugin(name) => PartitionMapping::Plugin(PluginMapping::new(name)),
        wit::PartitionMapping::Multi(dims) => PartitionMapping::Multi(
            dims.into_iter()
                .map(|d| {
                    (
                        d.upstream_dimension,
                        DimensionMapping {
                            downstream_dimension: d.downstream_dimension,
                            mapping: dimension_mapping(d.mapping),
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}
