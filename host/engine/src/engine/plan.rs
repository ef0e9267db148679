//! Planning: a request (assets × a selection) becomes runs in dependency order.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_partitions::{Context, KeyRange, MemoryDynamicStore, PartitionKey, PartitionSubset};
use tessera_runtime::MAX_KEYS_PER_CALL;

use super::select::describe_selection;
use super::{Engine, Filter, PartitionSelection, RunPolicy, new_id};
use crate::error::EngineError;
use crate::graph::{AssetGraph, AssetNode, BackfillPolicy};
use crate::state::{NewRun, RunSelection};

/// A run planned but not stored yet.
#[derive(Debug, Clone)]
struct Unit {
    id: String,
    node_key: String,
    assets: Vec<String>,
    selection: RunSelection,
    indices: Vec<(i64, i64)>,
    /// How many partitions it covers.
    count: u64,
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
        let backfill_id = backfill.then(|| new_id("b"));
        let (runs, total) = self.plan(
            assets,
            selection,
            filter,
            policy,
            backfill_id.as_deref(),
            trigger,
            now,
        )?;
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

    /// What [`Engine::submit`] would store, without storing it: partitions and runs per
    /// asset (a multi-asset run counts for each of its assets) and in all.
    pub fn preview(
        &self,
        assets: &[String],
        selection: &PartitionSelection,
        filter: Filter,
        policy: RunPolicy,
        now: DateTime<Utc>,
    ) -> Result<PlanPreview, EngineError> {
        // Counted from each computation's selected ranges: a launch of ten million
        // partitions, one run each, is previewed without planning ten million runs.
        let graph = self.graph()?;
        let dynamic = self.dynamic_snapshot()?;
        let groups = self.groups(&graph, assets, selection, filter, policy, now, &dynamic)?;
        let mut per_asset: Vec<AssetPreview> = Vec::new();
        let (mut partitions, mut runs) = (0u64, 0u64);
        for g in &groups {
            let (p, r) = g.counts();
            partitions += p;
            runs += r;
            for a in &g.assets {
                match per_asset.iter_mut().find(|x| &x.asset == a) {
                    Some(x) => {
                        x.partitions += p;
                        x.runs += r;
                    }
                    None => per_asset.push(AssetPreview {
                        asset: a.clone(),
                        partitions: p,
                        runs: r,
                    }),
                }
            }
        }
        // Targets with nothing to do are shown too, with zeros.
        for a in assets {
            if !per_asset.iter().any(|p| &p.asset == a) {
                per_asset.push(AssetPreview {
                    asset: a.clone(),
                    partitions: 0,
                    runs: 0,
                });
            }
        }
        Ok(PlanPreview {
            partitions,
            runs,
            assets: per_asset,
        })
    }

    /// The runs a request makes, in dependency order, and the partitions they cover.
    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        assets: &[String],
        selection: &PartitionSelection,
        filter: Filter,
        policy: RunPolicy,
        backfill_id: Option<&str>,
        trigger: &str,
        now: DateTime<Utc>,
    ) -> Result<(Vec<NewRun>, u64), EngineError> {
        let graph = self.graph()?;
        let dynamic = self.dynamic_snapshot()?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        let groups = self.groups(&graph, assets, selection, filter, policy, now, &dynamic)?;
        let mut units_by_asset: HashMap<String, Vec<usize>> = HashMap::new();
        let mut units: Vec<Unit> = Vec::new();
        let mut total = 0u64;
        for g in &groups {
            for u in split(g.node, &g.assets, g.subset.as_ref(), g.split, &cx)? {
                total += u.count.max(1);
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
                    partitions: u.count.max(1),
                    backfill_id: backfill_id.map(String::from),
                    run_key: None,
                    trigger: trigger.to_string(),
                    tags: Vec::new(),
                    max_attempts: self.config.max_attempts,
                    depends_on,
                    pool: n.and_then(|n| n.pool.clone()),
                }
            })
            .collect();
        Ok((runs, total))
    }
}

impl Engine {
    /// A request's targets grouped by computation (siblings of a multi-asset run together),
    /// upstream first, each with its selected partitions and how they split into runs.
    #[allow(clippy::too_many_arguments)]
    fn groups<'g>(
        &self,
        graph: &'g AssetGraph,
        assets: &[String],
        selection: &PartitionSelection,
        filter: Filter,
        policy: RunPolicy,
        now: DateTime<Utc>,
        dynamic: &MemoryDynamicStore,
    ) -> Result<Vec<Group<'g>>, EngineError> {
        for a in assets {
            self.node(graph, a)?;
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
        let mut targets: Vec<&AssetNode> = assets.iter().filter_map(|a| graph.asset(a)).collect();
        targets.sort_by_key(|n| graph.rank(&n.key));
        let mut groups: Vec<Group<'g>> = Vec::new();
        for n in targets {
            if let Some(g) = groups
                .iter_mut()
                .find(|g| g.node.plugin == n.plugin && g.node.computation == n.computation)
            {
                if !g.assets.contains(&n.key) {
                    g.assets.push(n.key.clone());
                }
            } else {
                groups.push(Group {
                    node: n,
                    assets: vec![n.key.clone()],
                    subset: None,
                    split: split_of(n, policy)?,
                });
            }
        }
        for g in &mut groups {
            if g.node.partitions.is_some() {
                // A union over the group's assets: a sibling may be missing where another is not.
                let mut s = PartitionSubset::empty();
                for a in &g.assets {
                    s = s.union(&self.select(graph, a, selection, filter, now, dynamic)?);
                }
                g.subset = Some(s);
            }
        }
        Ok(groups)
    }
}

/// One computation's share of a request ([`Engine::groups`]).
struct Group<'g> {
    node: &'g AssetNode,
    assets: Vec<String>,
    /// The selected partitions (`None`: unpartitioned).
    subset: Option<PartitionSubset>,
    split: Split,
}

impl Group<'_> {
    /// The partitions and runs [`split`] makes of it, counted from its ranges.
    fn counts(&self) -> (u64, u64) {
        let Some(subset) = &self.subset else {
            return (1, 1);
        };
        let loose = subset.unindexed().len() as u64;
        match self.split {
            Split::PerKey => (subset.len(), subset.len()),
            Split::Ranges(max) => {
                let runs: u64 = subset
                    .indices()
                    .ranges()
                    .iter()
                    .map(|&(a, b)| ((b - a) as u64).div_ceil(max.max(1)))
                    .sum();
                (subset.len(), runs + loose)
            }
        }
    }
}

/// What a launch would create ([`Engine::preview`]).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlanPreview {
    pub partitions: u64,
    pub runs: u64,
    pub assets: Vec<AssetPreview>,
}

/// One asset's share of a [`PlanPreview`].
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssetPreview {
    pub asset: String,
    pub partitions: u64,
    pub runs: u64,
}

/// What `submit` stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Submitted {
    pub backfill_id: Option<String>,
    pub runs: Vec<String>,
    pub partitions: u64,
}

/// How a computation's partitions are split into runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// One run and one call per partition.
    PerKey,
    /// One run and one call per contiguous range of at most this many partitions.
    Ranges(u64),
}

/// The split a request's policy and the asset's backfill policy agree on: the asset's
/// policy bounds what a request may ask, and decides when the request does not ask.
fn split_of(node: &AssetNode, requested: RunPolicy) -> Result<Split, EngineError> {
    use BackfillPolicy as B;
    // A call covers at most this many keys (the runtime's bound).
    let cap = |n: u64| Split::Ranges(n.clamp(1, MAX_KEYS_PER_CALL));
    let refuse = |asked: String| EngineError::BackfillPolicy {
        asset: node.key.clone(),
        policy: node.backfill_policy,
        requested: asked,
    };
    Ok(match (node.backfill_policy, requested) {
        (B::SinglePartition, RunPolicy::SingleRun) => {
            return Err(refuse("one run over each range (--single-run)".into()));
        }
        (B::SinglePartition, RunPolicy::MaxPerRun(n)) if n > 1 => {
            return Err(refuse(format!(
                "runs of up to {n} partitions (--max-per-run {n})"
            )));
        }
        (B::SinglePartition, _) | (B::Unspecified, RunPolicy::PerPartition) => Split::PerKey,
        (B::Unspecified, RunPolicy::MaxPerRun(n)) if n <= 1 => Split::PerKey,
        (B::SingleRun | B::Unspecified, RunPolicy::MaxPerRun(n)) => cap(n),
        (B::SingleRun | B::Unspecified, _) => cap(MAX_KEYS_PER_CALL),
        (B::MultiRun(m), RunPolicy::MaxPerRun(n)) => cap(n.min(m)),
        (B::MultiRun(m), _) => cap(m),
    })
}

/// Splits a computation's selected partitions into runs.
fn split(
    node: &AssetNode,
    assets: &[String],
    subset: Option<&PartitionSubset>,
    how: Split,
    cx: &Context<'_>,
) -> Result<Vec<Unit>, EngineError> {
    let (Some(def), Some(subset)) = (&node.partitions, subset) else {
        return Ok(vec![Unit {
            id: new_id("r"),
            node_key: node.key.clone(),
            assets: assets.to_vec(),
            selection: RunSelection::None,
            indices: Vec::new(),
            count: 1,
        }]);
    };
    let mut units = Vec::new();
    let unit = |selection: RunSelection, indices: Vec<(i64, i64)>, count: u64| Unit {
        id: new_id("r"),
        node_key: node.key.clone(),
        assets: assets.to_vec(),
        selection,
        indices,
        count,
    };
    let one = |k: String| RunSelection::Keys { keys: vec![k] };
    match how {
        Split::Ranges(max) => {
            let max = i64::try_from(max).unwrap_or(i64::MAX);
            let key = |i: i64| -> Result<String, EngineError> {
                def.key_at(cx, i)?
                    .map(PartitionKey::into_string)
                    .ok_or_else(|| {
                        EngineError::Invalid(format!("{def} has no partition at index {i}"))
                    })
            };
            // Only the ends of each piece are computed: a range of a million keys costs two.
            for &(a, b) in subset.indices().ranges() {
                let mut start = a;
                while start < b {
                    let end = start.saturating_add(max).min(b);
                    let selection = if end - start == 1 {
                        one(key(start)?)
                    } else {
                        RunSelection::Range(KeyRange::new(key(start)?, key(end - 1)?))
                    };
                    units.push(unit(selection, vec![(start, end)], (end - start) as u64));
                    start = end;
                }
            }
            // Keys without an index (none for a subset of the definition) run one by one.
            for k in subset.unindexed() {
                units.push(unit(one(k.to_string()), Vec::new(), 1));
            }
        }
        Split::PerKey => {
            let indices: Vec<i64> = subset.indices().iter().collect();
            let keys = def.subset_keys(cx, subset)?.map(PartitionKey::into_string);
            for (i, k) in keys.enumerate() {
                let span = indices
                    .get(i)
                    .map(|&x| vec![(x, x + 1)])
                    .unwrap_or_default();
                units.push(unit(one(k), span, 1));
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
            backfill_policy: BackfillPolicy::Unspecified,
        }
    }

    fn keys(u: &Unit) -> String {
        match &u.selection {
            RunSelection::None => "-".into(),
            RunSelection::Keys { keys } => keys.join(","),
            RunSelection::Range(r) => r.to_string(),
        }
    }

    fn with(policy: BackfillPolicy) -> AssetNode {
        let mut n = daily("a");
        n.backfill_policy = policy;
        n
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
        let split = |policy| {
            let how = split_of(&node, policy).unwrap_or(Split::PerKey);
            split(&node, &assets, Some(&subset), how, &cx).unwrap_or_default()
        };

        let per = split(RunPolicy::PerPartition);
        assert_eq!(per.len(), 13);
        assert_eq!(keys(&per[0]), "2024-01-01");
        assert_eq!(per[12].indices, vec![(21, 22)]);

        // Up to 5 per run: one call per run, over a range within a contiguous piece.
        let five = split(RunPolicy::MaxPerRun(5));
        let got: Vec<String> = five.iter().map(keys).collect();
        assert_eq!(
            got,
            [
                "2024-01-01...2024-01-05",
                "2024-01-06...2024-01-10",
                "2024-01-20...2024-01-22"
            ]
        );
        assert_eq!(five[1].indices, vec![(5, 10)]);
        assert_eq!(five[2].count, 3);

        let single = split(RunPolicy::SingleRun);
        let got: Vec<String> = single.iter().map(keys).collect();
        assert_eq!(got, ["2024-01-01...2024-01-10", "2024-01-20...2024-01-22"]);
        assert_eq!(single[1].count, 3);

        // Unpartitioned: one run, no keys.
        let mut plain = daily("b");
        plain.partitions = None;
        let one = super::split(&plain, &["b".to_string()], None, Split::Ranges(10), &cx)
            .unwrap_or_default();
        assert_eq!(one.len(), 1);
        assert_eq!(keys(&one[0]), "-");
    }

    #[test]
    fn the_backfill_policy_bounds_and_decides_the_split() {
        use BackfillPolicy as B;
        use RunPolicy as R;
        let cases = [
            (B::Unspecified, R::PerPartition, Some(Split::PerKey)),
            (B::Unspecified, R::MaxPerRun(1), Some(Split::PerKey)),
            (B::Unspecified, R::MaxPerRun(5), Some(Split::Ranges(5))),
            (
                B::Unspecified,
                R::SingleRun,
                Some(Split::Ranges(MAX_KEYS_PER_CALL)),
            ),
            (B::SinglePartition, R::PerPartition, Some(Split::PerKey)),
            (B::SinglePartition, R::MaxPerRun(1), Some(Split::PerKey)),
            (B::SinglePartition, R::MaxPerRun(5), None),
            (B::SinglePartition, R::SingleRun, None),
            // The asset's policy decides when the request does not ask.
            (
                B::SingleRun,
                R::PerPartition,
                Some(Split::Ranges(MAX_KEYS_PER_CALL)),
            ),
            (B::SingleRun, R::MaxPerRun(5), Some(Split::Ranges(5))),
            (B::MultiRun(8), R::PerPartition, Some(Split::Ranges(8))),
            (B::MultiRun(8), R::SingleRun, Some(Split::Ranges(8))),
            (B::MultiRun(8), R::MaxPerRun(5), Some(Split::Ranges(5))),
            (B::MultiRun(8), R::MaxPerRun(50), Some(Split::Ranges(8))),
            // A call never covers more keys than the runtime takes.
            (
                B::MultiRun(u64::MAX),
                R::PerPartition,
                Some(Split::Ranges(MAX_KEYS_PER_CALL)),
            ),
        ];
        for (policy, requested, want) in cases {
            let got = split_of(&with(policy), requested);
            match want {
                Some(w) => assert_eq!(got.ok(), Some(w), "{policy} × {requested:?}"),
                None => {
                    let e = got.err().map(|e| e.to_string()).unwrap_or_default();
                    assert!(
                        e.contains("a: its backfill policy is single_partition"),
                        "{policy} × {requested:?}: {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_multi_run_policy_covers_a_million_hours_with_few_runs() {
        let store = MemoryDynamicStore::new();
        let cx = Context::new(
            Utc.with_ymd_and_hms(2200, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        )
        .with_dynamic(&store);
        let mut node = with(BackfillPolicy::MultiRun(10_000));
        node.partitions = TimeWindowPartitions::hourly("2000-01-01-00:00")
            .build()
            .ok()
            .map(PartitionsDefinition::from);
        let subset = PartitionSubset::from_range(0, 1_000_000);
        let units = split(
            &node,
            &["a".to_string()],
            Some(&subset),
            split_of(&node, RunPolicy::PerPartition).unwrap_or(Split::PerKey),
            &cx,
        )
        .unwrap_or_default();
        assert_eq!(units.len(), 100);
        assert_eq!(units.iter().map(|u| u.count).sum::<u64>(), 1_000_000);
        assert_eq!(keys(&units[0]), "2000-01-01-00:00...2001-02-20-15:00");
    }
}
