//! Selections: which partitions of an asset a request names, and which upstream
//! partitions a set of downstream keys reads.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_partitions::{
    Context, KeyRange, MemoryDynamicStore, PartitionKey, PartitionSubset, PartitionsDefinition,
};

use super::Engine;
use crate::error::EngineError;
use crate::graph::{AssetGraph, AssetNode};

/// Which partitions of the target assets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionSelection {
    All,
    Keys(Vec<String>),
    Range(KeyRange),
}

/// Narrows a selection to partitions in some state.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    #[default]
    Any,
    Missing,
    Failed,
    Stale,
}

impl Engine {
    /// The partitions of `asset` a selection and filter name, as a subset of its definition.
    pub fn select(
        &self,
        graph: &AssetGraph,
        asset: &str,
        selection: &PartitionSelection,
        filter: Filter,
        now: DateTime<Utc>,
        dynamic: &MemoryDynamicStore,
    ) -> Result<PartitionSubset, EngineError> {
        let node = self.node(graph, asset)?;
        let bad = |message: String| EngineError::Selection {
            asset: asset.to_string(),
            message,
        };
        let Some(def) = &node.partitions else {
            return Err(bad("the asset is not partitioned".into()));
        };
        let cx = Context::new(now).with_dynamic(dynamic);
        let subset = match selection {
            PartitionSelection::All => def.all(&cx)?,
            PartitionSelection::Keys(keys) => def.subset_of_keys(&cx, keys)?,
            PartitionSelection::Range(range) => range.subset(def, &cx).map_err(|e| match e {
                // Said of the asset, not only of its definition.
                tessera_partitions::Error::EmptyRange { .. }
                | tessera_partitions::Error::RangeNotYet { .. } => bad(e.to_string()),
                other => other.into(),
            })?,
        };
        if filter == Filter::Any {
            return Ok(subset);
        }
        let records = self.state.partition_summaries(asset, &node.code_version)?;
        let stale: BTreeSet<String> = if filter == Filter::Stale {
            self.stale_partitions(graph, node, &records, &cx, false)?
                .into_keys()
                .collect()
        } else {
            BTreeSet::new()
        };
        let mut chosen = PartitionSubset::empty();
        match filter {
            Filter::Missing => {
                let mut done = PartitionSubset::empty();
                for r in &records {
                    if r.materialization.is_some()
                        && let Some(i) = def.index_of(&cx, &r.partition)?
                    {
                        done.insert_index(i);
                    }
                }
                chosen = subset.difference(&done);
            }
            Filter::Failed | Filter::Stale => {
                for r in &records {
                    let hit = match filter {
                        Filter::Failed => r.failed,
                        _ => stale.contains(&r.partition),
                    };
                    if hit && let Some(i) = def.index_of(&cx, &r.partition)? {
                        chosen.insert_index(i);
                    }
                }
                chosen = subset.intersection(&chosen);
            }
            Filter::Any => {}
        }
        Ok(chosen)
    }

    /// The upstream keys a set of downstream keys reads through an edge, and the ones it
    /// needs that do not exist.
    pub(super) fn upstream_keys(
        &self,
        cx: &Context<'_>,
        node: &AssetNode,
        edge: &crate::graph::Edge,
        up_def: Option<&PartitionsDefinition>,
        keys: &[String],
    ) -> Result<(Vec<String>, Vec<String>), EngineError> {
        let Some(up_def) = up_def else {
            // An unpartitioned upstream has one blob.
            return Ok((vec![String::new()], Vec::new()));
        };
        let down_subset = match &node.partitions {
            Some(d) => d.subset_of_keys(cx, keys)?,
            None => PartitionSubset::empty(),
        };
        let up = edge
            .mapping
            .to_upstream(cx, &down_subset, node.partitions.as_ref(), up_def)?;
        let existing: Vec<String> = up_def
            .subset_keys(cx, &up.partitions)?
            .map(PartitionKey::into_string)
            .collect();
        let nonexistent: Vec<String> = up
            .required_but_nonexistent
            .indices()
            .iter()
            .take(5)
            .map(|i| {
                up_def
                    .key_at(cx, i)
                    .ok()
                    .flatten()
                    .map_or_else(|| format!("#{i}"), PartitionKey::into_string)
            })
            .chain(
                up.required_but_nonexistent
                    .unindexed()
                    .iter()
                    .map(|k| k.to_string()),
            )
            .collect();
        Ok((existing, nonexistent))
    }
}

pub(super) fn describe_selection(selection: &PartitionSelection, filter: Filter) -> String {
    let s = match selection {
        PartitionSelection::All => "all partitions".to_string(),
        PartitionSelection::Keys(k) if k.len() == 1 => k[0].clone(),
        PartitionSelection::Keys(k) => format!("{} keys", k.len()),
        PartitionSelection::Range(r) => r.to_string(),
    };
    match filter {
        Filter::Any => s,
        Filter::Missing => format!("{s}, missing only"),
        Filter::Failed => format!("{s}, failed only"),
        Filter::Stale => format!("{s}, stale only"),
    }
}
