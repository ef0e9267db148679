//! Planning: a request (assets × a selection) becomes runs in dependency order.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_partitions::{Context, KeyRange, PartitionKey, PartitionSubset};

use super::select::describe_selection;
use super::{Engine, Filter, PartitionSelection, RunPolicy, new_id};
use crate::error::EngineError;
use crate::graph::AssetNode;
use crate::state::{NewRun, RunSelection};

/// A run planned but not stored yet.
#[derive(Debug, Clone)]
struct Unit {
    id: String,
    node_key: String,
    assets: Vec<String>,
    selection: RunSelection,
    indices: Vec<(i64, i64)>,
    keys: Vec<String>,
}

impl Engine {
    /// Plans and stores runs for target assets × a selection, in dependency order: a run
    /// waits for the runs of the same request that produce the upstream partitions it reads.
    /// Returns the backfill id (when `backfill` is set) and the runs.
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        &self,
        assets: &[String],
        selection: &PartitionSelection,
        filter: Filter,
        policy: RunPolicy,
        backfill: bool,
        trigger: &str,
        now: DateTime<Utc>,
    ) -> Result<Submitted, EngineError> {
        let graph = self.graph()?;
        let dynamic = self.dynamic_snapshot()?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        for a in assets {
            self.node(&graph, a)?;
        }
        // A key or range names partitions: an unpartitioned target has none to name.
        if !matches!(selection, PartitionSelection::All)
            && let Some(n) = assets
                .iter()
                .filter_map(|a| graph.asset(a))
                .find(|n| n.partitions.is_none())
        {
            return Err(EngineError::Selection {
                asset: n.key.clone(),
                message: "the asset is not partitioned; materialize it without a partition \
                          key or range"
                    .to_string(),
            });
        }
        let backfill_id = backfill.then(|| new_id("b"));
        // Group targets by computation (siblings of a multi-asset run together), upstream first.
        let mut targets: Vec<&AssetNode> = assets.iter().filter_map(|a| graph.asset(a)).collect();
        targets.sort_by_key(|n| graph.rank(&n.key));
        let mut groups: Vec<(&AssetNode, Vec<String>)> = Vec::new();
        for n in targets {
            if let Some(g) = groups
                .iter_mut()
                .find(|(first, _)| first.plugin == n.plugin && first.computation == n.computation)
            {
                if !g.1.contains(&n.key) {
                    g.1.push(n.key.clone());
                }
            } else {
                groups.push((n, vec![n.key.clone()]));
            }
        }
        let mut units_by_asset: HashMap<String, Vec<usize>> = HashMap::new();
        let mut units: Vec<Unit> = Vec::new();
        let mut total = 0u64;
        for (node, group_assets) in &groups {
            let subset = match &node.partitions {
                None => None,
                Some(_) => {
                    // A union over the group's assets: a sibling may be missing where another is not.
                    let mut s = PartitionSubset::empty();
                    for a in group_assets {
                        s = s.union(&self.select(&graph, a, selection, filter, now, &dynamic)?);
                    }
                    Some(s)
                }
            };
            let new_units = split(node, group_assets, subset.as_ref(), policy, &cx)?;
            for u in new_units {
                total += u.keys.len().max(1) as u64;
                let idx = units.len();
                for a in &u.assets {
                    units_by_asset.entry(a.clone()).or_default().push(idx);
                }
                units.push(u);
            }
        }
        // Each asset's unit index ranges, sorted: ranges of one asset never overlap.
        let mut spans_by_asset: HashMap<String, Vec<(i64, i64, usize)>> = HashMap::new();
        for (j, u) in units.iter().enumerate() {
            for a in &u.assets {
                let spans = spans_by_asset.entry(a.clone()).or_default();
                spans.extend(u.indices.iter().map(|&(start, end)| (start, end, j)));
            }
        }
        for spans in spans_by_asset.values_mut() {
            spans.sort_unstable();
        }
        // Dependencies within the request.
        let mut deps: Vec<Vec<String>> = vec![Vec::new(); units.len()];
        for (i, u) in units.iter().enumerate() {
            let node = self.node(&graph, &u.node_key)?;
            let mut seen = BTreeSet::new();
            for a in &u.assets {
                let n = self.node(&graph, a)?;
                for e in &n.inputs {
                    let Some(up_units) = units_by_asset.get(&e.upstream) else {
                        continue;
                    };
                    let up = self.node(&graph, &e.upstream)?;
                    let (Some(up_def), Some(_)) = (&up.partitions, &node.partitions) else {
                        // Unpartitioned on either side: wait for all of them.
                        for j in up_units {
                            if seen.insert(*j) {
                                deps[i].push(units[*j].id.clone());
                            }
                        }
                        continue;
                    };
                    let down = PartitionSubset::from_indices(
                        tessera_partitions::RangeSet::from_ranges(u.indices.iter().copied()),
                    );
                    let needed = e
                        .mapping
                        .to_upstream(&cx, &down, node.partitions.as_ref(), up_def)?
                        .partitions;
                    // The upstream units whose index ranges meet the needed ones: a binary
                    // search per needed range, not a scan of every upstream unit.
                    let spans = spans_by_asset
                        .get(&e.upstream)
                        .map_or(&[][..], Vec::as_slice);
                    for &(a, b) in needed.indices().ranges() {
                        let first = spans.partition_point(|&(_, end, _)| end <= a);
                        for &(start, _, j) in &spans[first..] {
                            if start >= b {
                                break;
                            }
                            if seen.insert(j) {
                                deps[i].push(units[j].id.clone());
                            }
                        }
                    }
                }
            }
        }
        let runs: Vec<NewRun> = units
            .iter()
            .zip(deps)
            .map(|(u, depends_on)| {
                let n = graph.asset(&u.node_key);
                NewRun {
                    id: u.id.clone(),
                    plugin: n.map(|n| n.plugin.clone()).unwrap_or_default(),
                    computation: n.map(|n| n.computation.clone()).unwrap_or_default(),
                    assets: u.assets.clone(),
                    selection: u.selection.clone(),
                    partitions: u.keys.len().max(1) as u64,
                    backfill_id: backfill_id.clone(),
                    run_key: None,
                    trigger: trigger.to_string(),
                    tags: Vec::new(),
                    max_attempts: self.config.max_attempts,
                    depends_on,
                    pool: n.and_then(|n| n.pool.clone()),
                }
            })
            .collect();
        let record = backfill_id.as_ref().map(|id| crate::state::BackfillRecord {
            id: id.clone(),
            status: crate::state::BackfillStatus::Running,
            assets: assets.to_vec(),
            description: describe_selection(selection, filter),
            partitions: total,
            created_at: crate::state::now_ms(),
            ended_at: None,
        });
        self.state.insert_runs(record.as_ref(), &runs)?;
        Ok(Submitted {
            backfill_id,
            runs: runs.iter().map(|r| r.id.clone()).collect(),
            partitions: total,
        })
    }
}

/// What `submit` stored.
#[derive(Debug, Clone, Serialize)]
pub struct Submitted {
    pub backfill_id: Option<String>,
    pub runs: Vec<String>,
    pub partitions: u64,
}

/// Splits a computation's selected partitions into runs.
fn split(
    node: &AssetNode,
    assets: &[String],
    subset: Option<&PartitionSubset>,
    policy: RunPolicy,
    cx: &Context<'_>,
) -> Result<Vec<Unit>, EngineError> {
    let (Some(def), Some(subset)) = (&node.partitions, subset) else {
        return Ok(vec![Unit {
            id: new_id("r"),
            node_key: node.key.clone(),
            assets: assets.to_vec(),
            selection: RunSelection::None,
            indices: Vec::new(),
            keys: Vec::new(),
        }]);
    };
    let mut units = Vec::new();
    let unit = |selection: RunSelection, indices: Vec<(i64, i64)>, keys: Vec<String>| Unit {
        id: new_id("r"),
        node_key: node.key.clone(),
        assets: assets.to_vec(),
        selection,
        indices,
        keys,
    };
    match policy {
        RunPolicy::SingleRun => {
            for &(a, b) in subset.indices().ranges() {
                let piece = PartitionSubset::from_range(a, b);
                let keys: Vec<String> = def
                    .subset_keys(cx, &piece)?
                    .map(PartitionKey::into_string)
                    .collect();
                let (Some(first), Some(last)) = (keys.first(), keys.last()) else {
                    continue;
                };
                let selection = if keys.len() == 1 {
                    RunSelection::Keys { keys: keys.clone() }
                } else {
                    RunSelection::Range(KeyRange::new(first.clone(), last.clone()))
                };
                units.push(unit(selection, vec![(a, b)], keys));
            }
        }
        RunPolicy::PerPartition | RunPolicy::MaxPerRun(_) => {
            let per = match policy {
                RunPolicy::MaxPerRun(n) => n.max(1) as usize,
                _ => 1,
            };
            let indices: Vec<i64> = subset.indices().iter().collect();
            let keys: Vec<String> = def
                .subset_keys(cx, subset)?
                .map(PartitionKey::into_string)
                .collect();
            for (ks, is) in keys.chunks(per).zip(indices.chunks(per)) {
                let ranges = tessera_partitions::RangeSet::from_values(is.iter().copied());
                units.push(unit(
                    RunSelection::Keys { keys: ks.to_vec() },
                    ranges.ranges().to_vec(),
                    ks.to_vec(),
                ));
            }
        }
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use tessera_partitions::{MemoryDynamicStore, PartitionsDefinition, TimeWindowPartitions};

    use super::*;

    fn daily(key: &str) -> AssetNode {
        AssetNode {
            key: key.into(),
            plugin: "p".into(),
            computation: key.into(),
            description: None,
            partitions: TimeWindowPartitions::daily("2024-01-01")
                .build()
                .ok()
                .map(PartitionsDefinition::from),
            inputs: Vec::new(),
            code_version: "v".into(),
            eager: false,
            pool: None,
            timeout: None,
            siblings: vec![key.into()],
        }
    }

    fn keys(u: &Unit) -> String {
        match &u.selection {
            RunSelection::None => "-".into(),
            RunSelection::Keys { keys } => keys.join(","),
            RunSelection::Range(r) => r.to_string(),
        }
    }

    #[test]
    fn a_selection_splits_into_runs_by_policy() {
        let store = MemoryDynamicStore::new();
        let now = Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).single();
        let cx = Context::new(now.unwrap_or_default()).with_dynamic(&store);
        let node = daily("a");
        let assets = vec!["a".to_string()];
        // January 1–10 and 20–22: two contiguous ranges, 13 partitions.
        let subset = PartitionSubset::from_range(0, 10).union(&PartitionSubset::from_range(19, 22));
        let split = |policy| split(&node, &assets, Some(&subset), policy, &cx);

        let per = split(RunPolicy::PerPartition).unwrap_or_default();
        assert_eq!(per.len(), 13);
        assert_eq!(keys(&per[0]), "2024-01-01");
        assert_eq!(per[12].indices, vec![(21, 22)]);

        let five = split(RunPolicy::MaxPerRun(5)).unwrap_or_default();
        let got: Vec<String> = five.iter().map(keys).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], "2024-01-20,2024-01-21,2024-01-22");
        assert_eq!(five[1].indices, vec![(5, 10)]);

        let single = split(RunPolicy::SingleRun).unwrap_or_default();
        let got: Vec<String> = single.iter().map(keys).collect();
        assert_eq!(got, ["2024-01-01...2024-01-10", "2024-01-20...2024-01-22"]);
        assert_eq!(single[1].keys.len(), 3);

        // Unpartitioned: one run, no keys.
        let mut plain = daily("b");
        plain.partitions = None;
        let one = super::split(&plain, &["b".to_string()], None, RunPolicy::SingleRun, &cx)
            .unwrap_or_default();
        assert_eq!(one.len(), 1);
        assert_eq!(keys(&one[0]), "-");
    }
}
