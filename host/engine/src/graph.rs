//! The asset graph across every loaded plugin: who produces each asset, what it reads and
//! through which mapping, and an order in which upstream comes first.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use tessera_partitions::{
    Context, MultiPartitions, PartitionMapping, PartitionsDefinition, infer_mapping,
};
use tessera_runtime::{AssetSpec, Plugin, PluginMappingCode, RollupPolicy, SensorSpec};

use crate::error::EngineError;

/// One asset and where it comes from.
#[derive(Debug, Clone)]
pub struct AssetNode {
    pub key: String,
    pub plugin: String,
    pub computation: String,
    pub description: Option<String>,
    pub partitions: Option<PartitionsDefinition>,
    pub inputs: Vec<Edge>,
    /// The declared code version, else the plugin's content hash.
    pub code_version: String,
    /// Re-materialize when upstream partitions are re-materialized (late data).
    pub eager: bool,
    /// The concurrency pool its runs count against (metadata `pool`).
    pub pool: Option<String>,
    /// Wall-clock limit of one call producing it (metadata `timeout_ms`), in place of the
    /// plugin's limit.
    pub timeout: Option<std::time::Duration>,
    /// Sibling assets of the same computation (one call produces them all), itself included.
    pub siblings: Vec<String>,
    /// How it may be run over several partitions.
    pub backfill_policy: BackfillPolicy,
}

pub use tessera_runtime::BackfillPolicy;

/// One input of an asset.
#[derive(Debug, Clone)]
pub struct Edge {
    pub upstream: String,
    pub mapping: PartitionMapping,
    /// Runs with missing upstream partitions now (the `run_partial` policy).
    pub allow_missing: bool,
    /// When a downstream window runs while upstream partitions it maps to are missing.
    pub rollup: RollupPolicy,
}

#[derive(Debug, Clone)]
pub struct SensorNode {
    pub plugin: String,
    pub spec: SensorSpec,
}

#[derive(Debug, Clone, Default)]
pub struct AssetGraph {
    nodes: BTreeMap<String, AssetNode>,
    /// Topological order: every asset after all of its inputs.
    order: Vec<String>,
    sensors: BTreeMap<String, SensorNode>,
    /// Assets declared by a loaded plugin but unavailable, with the reason: they read an
    /// asset no loaded plugin declares (its plugin failed to load, say), or an unavailable
    /// one. Their plugin's other assets work.
    unavailable: BTreeMap<String, String>,
    /// Sensors that target an unavailable asset, with the reason.
    unavailable_sensors: BTreeMap<String, String>,
}

/// An asset is eager when its metadata says `policy = "eager"` (the contract has no field
/// for automation policies yet; metadata carries it without a WIT change).
fn is_eager(spec: &AssetSpec) -> bool {
    spec.metadata.iter().any(|(k, v)| {
        k == "policy"
            && matches!(v, tessera_runtime::MetadataValue::Text(t) if t.eq_ignore_ascii_case("eager"))
    })
}

/// Metadata `timeout_ms`: a positive whole number of milliseconds (integer or text).
fn timeout(spec: &AssetSpec) -> Result<Option<std::time::Duration>, String> {
    let Some((_, v)) = spec.metadata.iter().find(|(k, _)| k == "timeout_ms") else {
        return Ok(None);
    };
    let ms = match v {
        tessera_runtime::MetadataValue::Integer(i) => u64::try_from(*i).ok(),
        tessera_runtime::MetadataValue::Text(t) => t.trim().parse::<u64>().ok(),
        _ => None,
    };
    match ms {
        Some(ms) if ms > 0 => Ok(Some(std::time::Duration::from_millis(ms))),
        _ => Err(format!(
            "metadata timeout_ms of asset {:?} must be a positive number of milliseconds, not {v:?}",
            spec.key
        )),
    }
}

impl AssetGraph {
    /// The dynamic partition sets the graph's definitions use (own or a dimension's).
    pub fn dynamic_sets(&self) -> std::collections::BTreeSet<String> {
        let mut sets = std::collections::BTreeSet::new();
        for n in self.nodes.values() {
            if let Some(def) = &n.partitions {
                sets.extend(def.dynamic_sets().into_iter().map(str::to_string));
            }
        }
        sets
    }

    /// The sparse definitions whose combinations the dynamic set `name` holds, with an asset
    /// of each.
    pub fn combination_sets(&self, name: &str) -> Vec<(&str, &MultiPartitions)> {
        self.nodes
            .iter()
            .filter_map(|(asset, n)| match &n.partitions {
                Some(PartitionsDefinition::Multi(m))
                    if m.combination_set().is_some_and(|d| d.name() == name) =>
                {
                    Some((asset.as_str(), m))
                }
                _ => None,
            })
            .collect()
    }

    /// Checks keys about to join the dynamic set `name`: when it holds a sparse definition's
    /// combinations, each must join existing keys of the combined dimensions with `|`;
    /// otherwise none may hold `|`, which joins the keys of multi-dimensional partitions.
    pub fn check_dynamic_keys(
        &self,
        cx: &Context<'_>,
        name: &str,
        keys: &[String],
    ) -> Result<(), EngineError> {
        let sparse = self.combination_sets(name);
        if sparse.is_empty() {
            if let Some(k) = keys.iter().find(|k| k.contains('|')) {
                return Err(EngineError::Invalid(format!(
                    "dynamic partition key {k:?} holds '|' (it joins the keys of \
                     multi-dimensional partitions)"
                )));
            }
            return Ok(());
        }
        for (asset, m) in sparse {
            for key in keys {
                m.check_combination(cx, key).map_err(|e| {
                    EngineError::Invalid(format!(
                        "dynamic set {name:?} holds the combinations of asset {asset:?}: {e}"
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// Builds and validates the graph of a set of plugins (keyed by plugin name): an error
    /// when any plugin does not fit (the check a plugin reload must pass).
    /// An asset made unavailable counts as a problem here: a reload that would strand
    /// assets is refused like any other that breaks the graph.
    pub fn build(plugins: &BTreeMap<String, Arc<Plugin>>) -> Result<AssetGraph, String> {
        let (graph, mut problems) = AssetGraph::check(plugins);
        for (asset, why) in &graph.unavailable {
            let plugin = plugins
                .iter()
                .find(|(_, p)| {
                    p.definitions()
                        .computations
                        .iter()
                        .any(|c| c.assets.iter().any(|a| &a.key == asset))
                })
                .map_or("?", |(n, _)| n.as_str());
            problems.push((
                plugin.to_string(),
                format!("asset {asset:?} (plugin {plugin:?}): {why}"),
            ));
        }
        if problems.is_empty() {
            Ok(graph)
        } else {
            Err(problems
                .into_iter()
                .map(|(_, p)| p)
                .collect::<Vec<_>>()
                .join("; "))
        }
    }

    /// The graph of the plugins that fit together, and why each of the others was left out.
    /// A plugin whose assets collide with another's, read across an incompatible mapping, or
    /// close a dependency cycle is set aside like a plugin that failed to load: the rest keep
    /// working. An asset that reads one no loaded plugin declares is only itself unavailable,
    /// with what reads it (see [`AssetGraph::unavailable`]).
    pub fn build_excluding(
        plugins: &BTreeMap<String, Arc<Plugin>>,
    ) -> (AssetGraph, BTreeMap<String, String>) {
        let mut set = plugins.clone();
        let mut excluded: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let (graph, problems) = AssetGraph::check(&set);
            if problems.is_empty() {
                return (graph, excluded);
            }
            // Every round removes at least one plugin, so this ends.
            for (plugin, problem) in problems {
                set.remove(&plugin);
                excluded
                    .entry(plugin)
                    .and_modify(|p| {
                        p.push_str("; ");
                        p.push_str(&problem);
                    })
                    .or_insert(problem);
            }
        }
    }

    /// The graph and its problems, each with the plugin it is blamed on.
    fn check(plugins: &BTreeMap<String, Arc<Plugin>>) -> (AssetGraph, Vec<(String, String)>) {
        let mut nodes: BTreeMap<String, AssetNode> = BTreeMap::new();
        let mut problems: Vec<(String, String)> = Vec::new();
        let mut raw_inputs: BTreeMap<String, Vec<tessera_runtime::InputSpec>> = BTreeMap::new();
        let mut sensors: BTreeMap<String, SensorNode> = BTreeMap::new();
        // Partition mappings plugins export, by name: the first plugin (by name) keeps one.
        let mut exporters: BTreeMap<&str, (&String, &Arc<Plugin>)> = BTreeMap::new();
        for (name, plugin) in plugins {
            for m in &plugin.definitions().mappings {
                if let Some((other, _)) = exporters.get(m.name.as_str()) {
                    problems.push((
                        name.clone(),
                        format!(
                            "partition mapping {:?} is exported by both plugin {other:?} and plugin {name:?}",
                            m.name
                        ),
                    ));
                } else {
                    exporters.insert(&m.name, (name, plugin));
                }
            }
        }
        for (name, plugin) in plugins {
            let defs = plugin.definitions();
            for c in &defs.computations {
                let siblings: Vec<String> = c.assets.iter().map(|a| a.key.clone()).collect();
                for a in &c.assets {
                    if let Some(other) = nodes.get(&a.key) {
                        problems.push((
                            name.clone(),
                            format!(
                                "asset {:?} is declared by both plugin {:?} and plugin {name:?}",
                                a.key, other.plugin
                            ),
                        ));
                        continue;
                    }
                    let timeout = timeout(a).unwrap_or_else(|e| {
                        problems.push((name.clone(), format!("{e} (plugin {name:?})")));
                        None
                    });
                    raw_inputs.insert(a.key.clone(), a.inputs.clone());
                    nodes.insert(
                        a.key.clone(),
                        AssetNode {
                            key: a.key.clone(),
                            plugin: name.clone(),
                            computation: c.name.clone(),
                            description: a.description.clone(),
                            partitions: a.partitions.clone(),
                            inputs: Vec::new(),
                            code_version: a
                                .code_version
                                .clone()
                                .unwrap_or_else(|| plugin.code_version().to_string()),
                            eager: is_eager(a),
                            pool: a.metadata.iter().find_map(|(k, v)| match v {
                                tessera_runtime::MetadataValue::Text(t) if k == "pool" => {
                                    Some(t.clone())
                                }
                                _ => None,
                            }),
                            timeout,
                            siblings: siblings.clone(),
                            backfill_policy: a.backfill_policy,
                        },
                    );
                }
            }
            for s in &defs.sensors {
                if let Some(other) = sensors.get(&s.name) {
                    problems.push((
                        name.clone(),
                        format!(
                            "sensor {:?} is declared by both plugin {:?} and plugin {name:?}",
                            s.name, other.plugin
                        ),
                    ));
                    continue;
                }
                sensors.insert(
                    s.name.clone(),
                    SensorNode {
                        plugin: name.clone(),
                        spec: s.clone(),
                    },
                );
            }
        }
        // Assets reading what no loaded plugin declares, and what reads them, are unavailable
        // (with their siblings: one call produces them all); their plugin's others work.
        let mut unavailable: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let mut newly: Vec<(String, String)> = Vec::new();
            for (key, inputs) in &raw_inputs {
                let Some(n) = nodes.get(key) else { continue };
                if unavailable.contains_key(key) {
                    continue;
                }
                let Some(why) = inputs.iter().find_map(|input| {
                    if unavailable.contains_key(&input.asset) {
                        Some(format!("it reads {:?}, which is unavailable", input.asset))
                    } else if !nodes.contains_key(&input.asset) {
                        Some(format!(
                            "it reads {:?}, which no loaded plugin declares",
                            input.asset
                        ))
                    } else {
                        None
                    }
                }) else {
                    continue;
                };
                for s in n.siblings.iter().filter(|s| *s != key) {
                    newly.push((
                        s.clone(),
                        format!("the call that produces it also produces {key:?}, and {why}"),
                    ));
                }
                newly.push((key.clone(), why));
            }
            if newly.is_empty() {
                break;
            }
            for (k, why) in newly {
                unavailable.entry(k).or_insert(why);
            }
        }
        for k in unavailable.keys() {
            nodes.remove(k);
        }
        let mut unavailable_sensors = BTreeMap::new();
        sensors.retain(|name, s| {
            match s.spec.targets.iter().find(|t| unavailable.contains_key(*t)) {
                Some(t) => {
                    unavailable_sensors.insert(
                        name.clone(),
                        format!("it targets {t:?}, which is unavailable"),
                    );
                    false
                }
                None => true,
            }
        });
        // Resolve inputs now that every asset is known.
        for (key, inputs) in &raw_inputs {
            let (plugin, partitions, siblings) = match nodes.get(key) {
                Some(n) => (n.plugin.clone(), n.partitions.clone(), n.siblings.clone()),
                None => continue,
            };
            let mut edges = Vec::new();
            let mut mapping_versions: Vec<String> = Vec::new();
            for input in inputs {
                let Some(up) = nodes.get(&input.asset) else {
                    problems.push((
                        plugin.clone(),
                        format!(
                            "asset {key:?} (plugin {plugin:?}) reads {:?}, which no loaded plugin declares",
                            input.asset
                        ),
                    ));
                    continue;
                };
                if siblings.contains(&input.asset) {
                    problems.push((
                        plugin.clone(),
                        format!(
                            "asset {key:?} (plugin {plugin:?}) reads {:?}, which the same call produces",
                            input.asset
                        ),
                    ));
                    continue;
                }
                let mut mapping = input
                    .mapping
                    .clone()
                    .unwrap_or_else(|| infer_mapping(up.partitions.as_ref(), partitions.as_ref()));
                if let PartitionMapping::Plugin(m) = &mapping {
                    let Some((_, exporter)) = exporters.get(m.name()) else {
                        problems.push((
                            plugin.clone(),
                            format!(
                                "asset {key:?} (plugin {plugin:?}) reads {:?} through the partition mapping {:?}, which no loaded plugin exports",
                                input.asset,
                                m.name()
                            ),
                        ));
                        continue;
                    };
                    // One binding per input: its answers are cached for this graph, that is
                    // for these plugin versions.
                    let code = PluginMappingCode::new(
                        Arc::clone(exporter),
                        m.name(),
                        input.asset.clone(),
                        key.clone(),
                    );
                    // The mapping's code decides what the asset reads: a new version of it
                    // is a new version of the asset, so its partitions show stale and the
                    // eager policy re-plans them.
                    mapping_versions.push(format!("{}@{}", m.name(), exporter.code_version()));
                    mapping = PartitionMapping::Plugin(m.bind(Arc::new(code)));
                }
                if let Some(up_def) = &up.partitions
                    && let Err(e) = mapping.validate(up_def, partitions.as_ref())
                {
                    problems.push((
                        plugin.clone(),
                        format!(
                            "asset {key:?} (plugin {plugin:?}) reads {:?} (plugin {:?}): {e}",
                            input.asset, up.plugin
                        ),
                    ));
                    continue;
                }
                if matches!(input.rollup, RollupPolicy::WaitUntil(_))
                    && !partitions.as_ref().is_some_and(has_time_window)
                {
                    problems.push((
                        plugin.clone(),
                        format!(
                            "asset {key:?} (plugin {plugin:?}) waits for {:?} until a deadline after its windows end, but its partitions have no time window",
                            input.asset
                        ),
                    ));
                    continue;
                }
                edges.push(Edge {
                    upstream: input.asset.clone(),
                    mapping,
                    allow_missing: input.allow_missing,
                    rollup: input.rollup,
                });
            }
            if let Some(n) = nodes.get_mut(key) {
                n.inputs = edges;
                if !mapping_versions.is_empty() {
                    // Short, so listings that show 12 characters still show it changed.
                    use sha2::{Digest, Sha256};
                    let digest = Sha256::digest(mapping_versions.join("\n").as_bytes());
                    let short: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
                    n.code_version.push_str("+m");
                    n.code_version.push_str(&short);
                }
            }
        }
        for (name, s) in &sensors {
            for t in &s.spec.targets {
                if !nodes.contains_key(t) {
                    problems.push((
                        s.plugin.clone(),
                        format!(
                            "sensor {name:?} (plugin {:?}) targets {t:?}, which no loaded plugin declares",
                            s.plugin
                        ),
                    ));
                }
            }
        }
        let order = match topological_order(&nodes) {
            Ok(o) => o,
            Err(left) => {
                let cycle = on_cycles(&nodes, &left);
                let names: Vec<String> = cycle
                    .iter()
                    .map(|k| {
                        let p = nodes.get(*k).map_or("?", |n| n.plugin.as_str());
                        format!("{k} (plugin {p})")
                    })
                    .collect();
                let message = format!("a dependency cycle joins {}", names.join(", "));
                let blamed: BTreeSet<&str> = cycle
                    .iter()
                    .filter_map(|k| nodes.get(*k).map(|n| n.plugin.as_str()))
                    .collect();
                for p in blamed {
                    problems.push((p.to_string(), message.clone()));
                }
                Vec::new()
            }
        };
        (
            AssetGraph {
                nodes,
                order,
                sensors,
                unavailable,
                unavailable_sensors,
            },
            problems,
        )
    }

    pub fn asset(&self, key: &str) -> Option<&AssetNode> {
        self.nodes.get(key)
    }

    /// Every asset, upstream first.
    pub fn assets(&self) -> impl Iterator<Item = &AssetNode> {
        self.order.iter().filter_map(|k| self.nodes.get(k))
    }

    pub fn sensors(&self) -> &BTreeMap<String, SensorNode> {
        &self.sensors
    }

    /// Assets a loaded plugin declares that cannot run now, with the reason.
    pub fn unavailable(&self) -> &BTreeMap<String, String> {
        &self.unavailable
    }

    /// Sensors a loaded plugin declares that target an unavailable asset, with the reason.
    pub fn unavailable_sensors(&self) -> &BTreeMap<String, String> {
        &self.unavailable_sensors
    }

    /// Position of an asset in the topological order.
    pub fn rank(&self, key: &str) -> usize {
        self.order
            .iter()
            .position(|k| k == key)
            .unwrap_or(usize::MAX)
    }

    /// The assets that read `key` directly.
    pub fn downstream_of(&self, key: &str) -> Vec<&AssetNode> {
        self.nodes
            .values()
            .filter(|n| n.inputs.iter().any(|e| e.upstream == key))
            .collect()
    }
}

/// Of the assets Kahn's algorithm left over (on a cycle, or downstream of one), those on a
/// cycle: peel off, repeatedly, the ones no leftover asset reads.
fn on_cycles<'a>(nodes: &'a BTreeMap<String, AssetNode>, left: &'a [String]) -> Vec<&'a str> {
    let mut rest: BTreeSet<&str> = left.iter().map(String::as_str).collect();
    loop {
        let read: BTreeSet<&str> = rest
            .iter()
            .filter_map(|k| nodes.get(*k))
            .flat_map(|n| n.inputs.iter().map(|e| e.upstream.as_str()))
            .filter(|up| rest.contains(up))
            .collect();
        let before = rest.len();
        rest.retain(|k| read.contains(k));
        if rest.len() == before {
            return rest.into_iter().collect();
        }
    }
}

/// Kahn's algorithm; on a cycle, the assets left over (every one on or behind a cycle).
fn topological_order(nodes: &BTreeMap<String, AssetNode>) -> Result<Vec<String>, Vec<String>> {
    let mut indegree: BTreeMap<&str, usize> = nodes.keys().map(|k| (k.as_str(), 0)).collect();
    let mut readers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for n in nodes.values() {
        let ups: BTreeSet<&str> = n.inputs.iter().map(|e| e.upstream.as_str()).collect();
        for up in ups {
            *indegree.entry(n.key.as_str()).or_default() += 1;
            readers.entry(up).or_default().push(n.key.as_str());
        }
    }
    let mut ready: VecDeque<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(k) = ready.pop_front() {
        order.push(k.to_string());
        for r in readers.get(k).into_iter().flatten() {
            if let Some(d) = indegree.get_mut(r) {
                *d -= 1;
                if *d == 0 {
                    ready.push_back(r);
                }
            }
        }
    }
    if order.len() == nodes.len() {
        Ok(order)
    } else {
        let placed: BTreeSet<&str> = order.iter().map(String::as_str).collect();
        Err(nodes
            .keys()
            .filter(|k| !placed.contains(k.as_str()))
            .cloned()
            .collect())
    }
}

/// Whether a definition's keys have time windows (a time-window definition, or a multi one
/// with one time dimension).
fn has_time_window(def: &PartitionsDefinition) -> bool {
    def.as_time_window().is_some() || def.as_multi().and_then(|m| m.time_dimension()).is_some()
}
