//! Status: counts and health bars of an asset's partitions, and their listing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_partitions::Context;

use super::{Engine, StaleReason};
use crate::error::EngineError;
use crate::graph::{AssetGraph, AssetNode};
use crate::state::PartitionState;

/// The health of one asset's partitions.
#[derive(Debug, Clone, Serialize)]
pub struct AssetStatus {
    pub asset: String,
    pub plugin: String,
    pub partitions_kind: String,
    pub total: u64,
    pub materialized: u64,
    pub failed: u64,
    pub missing: u64,
    pub stale: u64,
    /// Recorded partitions that are not partitions of the asset now (a removed dynamic key, a
    /// date after a shortened end or after `now`): kept, shown apart, counted nowhere else.
    pub outside: u64,
    /// One character per bucket of partitions, in key order: `█` all materialized, `▓` some,
    /// `x` any failed, `·` none (missing); at most `width` buckets.
    pub bar: String,
}

/// A recorded partition's state in listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionStatus {
    /// Never materialized.
    Missing,
    Materialized,
    Stale,
    Failed,
    /// Recorded, but not a partition of the asset now.
    OutsideDefinition,
}

impl PartitionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PartitionStatus::Missing => "missing",
            PartitionStatus::Materialized => "materialized",
            PartitionStatus::Stale => "stale",
            PartitionStatus::Failed => "failed",
            PartitionStatus::OutsideDefinition => "outside the definition",
        }
    }
}

impl std::fmt::Display for PartitionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Consecutive partitions (by their index in the definition at `now`) in one state: the
/// status of any number of partitions in as many entries as the state changes, for a health
/// bar drawn at any zoom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRange {
    /// Indices, both ends included.
    pub from: u64,
    pub to: u64,
    pub state: PartitionStatus,
    /// The keys at both ends (empty for an unpartitioned asset).
    pub from_key: String,
    pub to_key: String,
}

/// An asset's partitions as [`StatusRange`]s covering every index from 0 to `total - 1`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRanges {
    pub asset: String,
    pub total: u64,
    pub ranges: Vec<StatusRange>,
}

/// One partition's state, for listings.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionView {
    pub key: String,
    pub state: PartitionStatus,
    pub run_id: Option<String>,
    pub data_version: Option<String>,
    pub code_version: Option<String>,
    pub error: Option<String>,
    /// Why it is stale (empty unless it is).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale_reasons: Vec<StaleReason>,
}

impl Engine {
    /// The asset's partitions as ranges of one state each, in index order, gaps included as
    /// missing. Costs the recorded partitions (sorted by index), never the definition's size:
    /// an asset of ten million partitions with ten thousand recorded answers in as many
    /// ranges as its state changes. Records outside the definition are left out (see
    /// [`AssetStatus::outside`]).
    pub fn status_ranges(
        &self,
        graph: &AssetGraph,
        asset: &str,
        now: DateTime<Utc>,
    ) -> Result<StatusRanges, EngineError> {
        let node = self.node(graph, asset)?;
        let dynamic = self.dynamic_for(graph, node)?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        let records = self.state.partition_summaries(asset, &node.code_version)?;
        let stale = self.stale_partitions(graph, node, &records, &cx, false)?;
        let total = match &node.partitions {
            Some(d) => d.count(&cx)?,
            None => 1,
        };
        let mut states: Vec<(u64, PartitionStatus)> = Vec::with_capacity(records.len());
        for r in &records {
            let Some(i) = index_within(node, &cx, &r.partition, total) else {
                continue;
            };
            let state = if r.failed {
                PartitionStatus::Failed
            } else if stale.contains_key(&r.partition) {
                PartitionStatus::Stale
            } else {
                PartitionStatus::Materialized
            };
            states.push((i, state));
        }
        states.sort_unstable_by_key(|(i, _)| *i);
        // (from, to, state), merged where consecutive indices share a state.
        let mut spans: Vec<(u64, u64, PartitionStatus)> = Vec::new();
        let mut next = 0u64;
        for (i, state) in states {
            if i > next {
                spans.push((next, i - 1, PartitionStatus::Missing));
            }
            match spans.last_mut() {
                Some((_, to, s)) if *s == state && *to + 1 == i => *to = i,
                _ => spans.push((i, i, state)),
            }
            next = i + 1;
        }
        if next < total {
            spans.push((next, total - 1, PartitionStatus::Missing));
        }
        let key = |i: u64| -> Result<String, EngineError> {
            Ok(match &node.partitions {
                Some(d) => d
                    .key_at(&cx, i64::try_from(i).unwrap_or(i64::MAX))?
                    .map(|k| k.to_string())
                    .unwrap_or_default(),
                None => String::new(),
            })
        };
        let ranges = spans
            .into_iter()
            .map(|(from, to, state)| {
                Ok(StatusRange {
                    from_key: key(from)?,
                    to_key: key(to)?,
                    from,
                    to,
                    state,
                })
            })
            .collect::<Result<_, EngineError>>()?;
        Ok(StatusRanges {
            asset: asset.to_string(),
            total,
            ranges,
        })
    }

    /// Counts and a health bar of `width` buckets for one asset; with `list`, also every
    /// recorded partition with its details.
    pub fn asset_status(
        &self,
        graph: &AssetGraph,
        asset: &str,
        width: usize,
        now: DateTime<Utc>,
        list: bool,
    ) -> Result<(AssetStatus, Vec<PartitionView>), EngineError> {
        let node = self.node(graph, asset)?;
        let dynamic = self.dynamic_for(graph, node)?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        let records = self.state.partition_summaries(asset, &node.code_version)?;
        let mut stale = self.stale_partitions(graph, node, &records, &cx, list)?;
        let (total, kind) = match &node.partitions {
            Some(d) => (d.count(&cx)?, d.kind().to_string()),
            None => (1, "unpartitioned".to_string()),
        };
        let width = width.max(1).min(total.max(1) as usize);
        let mut buckets = vec![(0u64, 0u64); width];
        let mut materialized = 0;
        let mut failed = 0;
        let mut outside = BTreeSet::new();
        for r in &records {
            let Some(i) = index_within(node, &cx, &r.partition, total) else {
                outside.insert(r.partition.as_str());
                continue;
            };
            let b = ((i as u128 * width as u128) / total.max(1) as u128) as usize;
            let bucket = &mut buckets[b.min(width - 1)];
            if r.failed {
                failed += 1;
                bucket.1 += 1;
            } else {
                materialized += 1;
                bucket.0 += 1;
            }
        }
        let stale_count = stale.len() as u64;
        let views = if list {
            self.state
                .partitions(asset)?
                .into_iter()
                .map(|r| {
                    let reasons = match r.status {
                        PartitionState::Materialized => stale.remove(&r.partition),
                        PartitionState::Failed => None,
                    };
                    (r, reasons)
                })
                .map(|(r, reasons)| PartitionView {
                    state: match r.status {
                        _ if outside.contains(r.partition.as_str()) => {
                            PartitionStatus::OutsideDefinition
                        }
                        PartitionState::Failed => PartitionStatus::Failed,
                        PartitionState::Materialized if reasons.is_some() => PartitionStatus::Stale,
                        PartitionState::Materialized => PartitionStatus::Materialized,
                    },
                    stale_reasons: reasons.map(|s| s.reasons).unwrap_or_default(),
                    run_id: r.materialization.as_ref().map(|m| m.run_id.clone()),
                    data_version: r.materialization.as_ref().map(|m| m.data_version.clone()),
                    code_version: r.materialization.as_ref().map(|m| m.code_version.clone()),
                    error: r.error.clone(),
                    key: r.partition,
                })
                .collect()
        } else {
            Vec::new()
        };
        let bar: String = buckets
            .iter()
            .enumerate()
            .map(|(b, &(ok, bad))| {
                let lo = (b as u128 * total as u128 / width as u128) as u64;
                let hi = ((b as u128 + 1) * total as u128 / width as u128) as u64;
                let size = hi.saturating_sub(lo).max(1);
                if bad > 0 {
                    'x'
                } else if ok >= size {
                    '█'
                } else if ok > 0 {
                    '▓'
                } else {
                    '·'
                }
            })
            .collect();
        Ok((
            AssetStatus {
                asset: asset.to_string(),
                plugin: node.plugin.clone(),
                partitions_kind: kind,
                total,
                materialized,
                failed,
                missing: total.saturating_sub(materialized + failed),
                stale: stale_count,
                outside: outside.len() as u64,
                bar,
            },
            views,
        ))
    }
}

/// The index of a recorded partition in its asset's definition at `cx`'s time, when it is one
/// of the `total` partitions there (`None`: outside the definition).
fn index_within(node: &AssetNode, cx: &Context<'_>, partition: &str, total: u64) -> Option<u64> {
    let index = match &node.partitions {
        Some(d) => d.index_of(cx, partition).ok().flatten(),
        None => partition.is_empty().then_some(0),
    };
    index
        .and_then(|i| u64::try_from(i).ok())
        .filter(|i| *i < total)
}
