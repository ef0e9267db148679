//! Staleness: which materialized partitions no longer reflect their code or their inputs.

use std::collections::{BTreeSet, HashMap};

use tessera_partitions::Context;

use super::Engine;
use crate::error::EngineError;
use crate::graph::{AssetGraph, AssetNode};
use crate::state::{PartitionRecord, PartitionSummary};

impl Engine {
    /// Materialized partitions of `node` that are stale: their asset's code version changed,
    /// or an upstream partition they map to was materialized after them. Records of keys
    /// outside the definition at `cx` (a removed dynamic key, a date past a shortened end)
    /// are not partitions of the asset now: never stale.
    pub(super) fn stale_keys(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        records: &[PartitionSummary],
        cx: &Context<'_>,
    ) -> Result<BTreeSet<String>, EngineError> {
        let (changed, current): (Vec<&PartitionSummary>, Vec<&PartitionSummary>) = records
            .iter()
            .filter(|r| r.materialization.is_some() && inside(node, cx, &r.partition))
            .partition(|r| r.code_changed);
        let mut stale: BTreeSet<String> =
            changed.into_iter().map(|r| r.partition.clone()).collect();
        stale.extend(
            self.upstream_newer(graph, node, current, cx)?
                .into_iter()
                .map(|(key, _)| key),
        );
        Ok(stale)
    }

    /// Materialized partitions of `node` with an upstream partition materialized after them,
    /// and the newest such upstream materialization.
    pub(super) fn upstream_newer<'r>(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        records: impl IntoIterator<Item = &'r PartitionSummary>,
        cx: &Context<'_>,
    ) -> Result<Vec<(String, i64)>, EngineError> {
        let mut out = Vec::new();
        let mut upstream = Vec::new();
        for e in &node.inputs {
            let up = self.node(graph, &e.upstream)?;
            let latest: HashMap<String, i64> = self
                .state
                .partition_summaries(&e.upstream, &up.code_version)?
                .into_iter()
                .filter_map(|r| r.materialization.map(|id| (r.partition, id)))
                .collect();
            upstream.push((e, up.partitions.as_ref(), latest));
        }
        for r in records {
            let Some(own) = r.materialization else {
                continue;
            };
            if !inside(node, cx, &r.partition) {
                continue;
            }
            let mut newest = None;
            for (edge, up_def, latest) in &upstream {
                let (keys, _) = self.upstream_keys(
                    cx,
                    node,
                    edge,
                    *up_def,
                    std::slice::from_ref(&r.partition),
                )?;
                for k in keys {
                    if let Some(id) = latest.get(&k).filter(|id| **id > own) {
                        newest = newest.max(Some(*id));
                    }
                }
            }
            if let Some(id) = newest {
                out.push((r.partition.clone(), id));
            }
        }
        Ok(out)
    }
}

/// Reasons listed per partition at most; the rest are counted.
const MAX_REASONS: usize = 20;

impl Engine {
    /// Why one recorded partition is stale (empty when it is not) — its code version
    /// changed, or an upstream partition it reads was materialized after it — and the
    /// upstream partitions it reads that were never materialized.
    pub(super) fn stale_reasons(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        record: &PartitionRecord,
        cx: &Context<'_>,
    ) -> Result<(Vec<String>, Vec<String>), EngineError> {
        let Some(own) = &record.materialization else {
            return Ok((Vec::new(), Vec::new()));
        };
        let short = super::short_version;
        let mut reasons = Vec::new();
        if own.code_version != node.code_version {
            reasons.push(format!(
                "code version changed from {} to {}",
                short(&own.code_version),
                short(&node.code_version)
            ));
        }
        let mut missing = Vec::new();
        let (mut more_reasons, mut more_missing) = (0u64, 0u64);
        for e in &node.inputs {
            let up = self.node(graph, &e.upstream)?;
            let (keys, _) = self.upstream_keys(
                cx,
                node,
                e,
                up.partitions.as_ref(),
                std::slice::from_ref(&record.partition),
            )?;
            let records = self.state.partitions_of(&e.upstream, &keys)?;
            let by_key: HashMap<&str, &PartitionRecord> =
                records.iter().map(|r| (r.partition.as_str(), r)).collect();
            for k in &keys {
                let label = if k.is_empty() {
                    e.upstream.clone()
                } else {
                    format!("{}[{k}]", e.upstream)
                };
                match by_key
                    .get(k.as_str())
                    .and_then(|r| r.materialization.as_ref())
                {
                    None if e.allow_missing => {}
                    None if missing.len() < MAX_REASONS => missing.push(label),
                    None => more_missing += 1,
                    Some(m) if m.id > own.id && reasons.len() < MAX_REASONS => {
                        reasons.push(format!(
                            "upstream {label} was materialized after it (run {})",
                            m.run_id
                        ));
                    }
                    Some(m) if m.id > own.id => more_reasons += 1,
                    Some(_) => {}
                }
            }
        }
        if more_reasons > 0 {
            reasons.push(format!("and {more_reasons} more upstream partitions"));
        }
        if more_missing > 0 {
            missing.push(format!("and {more_missing} more"));
        }
        Ok((reasons, missing))
    }
}

/// Whether `key` is a partition of `node` at `cx` (an unpartitioned asset has one, "").
pub(super) fn inside(node: &AssetNode, cx: &Context<'_>, key: &str) -> bool {
    match &node.partitions {
        Some(d) => d.has_key(cx, key).unwrap_or(false),
        None => key.is_empty(),
    }
}
