//! Status: counts and health bars of an asset's partitions, and their listing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_partitions::{Context, MemoryDynamicStore};

use super::{Engine, StaleReason, involves_dynamic};
use crate::error::EngineError;
use crate::graph::AssetGraph;
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
        let dynamic = if involves_dynamic(graph, node) {
            self.dynamic_snapshot()?
        } else {
            MemoryDynamicStore::new()
        };
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
            let index = match &node.partitions {
                Some(d) => d.index_of(&cx, &r.partition).ok().flatten(),
                None => r.partition.is_empty().then_some(0),
            };
            let Some(i) = index.filter(|i| (0..total as i64).contains(i)) else {
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
