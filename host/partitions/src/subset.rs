//! Subsets of a definition's partitions, range-encoded.
//!
//! A subset is a set of partition *indices* of one definition (see
//! [`PartitionsDefinition::key_at`](crate::PartitionsDefinition::key_at)), stored as sorted
//! ranges: the subset "all ten million partitions but a thousand" is a thousand and one ranges.
//! Keys that the definition cannot index (an unknown static key, a multi key whose time part
//! does not exist) are kept as keys beside the ranges, so that nothing a caller put in is
//! silently dropped; mapping results use them to report required-but-nonexistent partitions.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::key::PartitionKey;
use crate::ranges::RangeSet;

/// A set of partitions of one definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionSubset {
    indices: RangeSet,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    unindexed: BTreeSet<PartitionKey>,
}

impl PartitionSubset {
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn from_indices(indices: RangeSet) -> Self {
        PartitionSubset {
            indices,
            unindexed: BTreeSet::new(),
        }
    }

    /// Indices `[start, end)`.
    pub fn from_range(start: i64, end: i64) -> Self {
        Self::from_indices(RangeSet::from_range(start, end))
    }

    pub fn with_unindexed(mut self, keys: impl IntoIterator<Item = PartitionKey>) -> Self {
        self.unindexed.extend(keys);
        self
    }

    pub fn indices(&self) -> &RangeSet {
        &self.indices
    }

    pub fn unindexed(&self) -> &BTreeSet<PartitionKey> {
        &self.unindexed
    }

    pub fn into_parts(self) -> (RangeSet, BTreeSet<PartitionKey>) {
        (self.indices, self.unindexed)
    }

    /// Number of partitions.
    pub fn len(&self) -> u64 {
        self.indices.len() + self.unindexed.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty() && self.unindexed.is_empty()
    }

    pub fn contains_index(&self, index: i64) -> bool {
        self.indices.contains(index)
    }

    pub fn insert_index(&mut self, index: i64) {
        self.indices.insert(index);
    }

    pub fn insert_range(&mut self, start: i64, end: i64) {
        self.indices.insert_range(start, end);
    }

    pub fn insert_unindexed(&mut self, key: PartitionKey) {
        self.unindexed.insert(key);
    }

    pub fn union(&self, other: &Self) -> Self {
        PartitionSubset {
            indices: self.indices.union(&other.indices),
            unindexed: self.unindexed.union(&other.unindexed).cloned().collect(),
        }
    }

    pub fn intersection(&self, other: &Self) -> Self {
        PartitionSubset {
            indices: self.indices.intersection(&other.indices),
            unindexed: self
                .unindexed
                .intersection(&other.unindexed)
                .cloned()
                .collect(),
        }
    }

    pub fn difference(&self, other: &Self) -> Self {
        PartitionSubset {
            indices: self.indices.difference(&other.indices),
            unindexed: self
                .unindexed
                .difference(&other.unindexed)
                .cloned()
                .collect(),
        }
    }

    pub fn is_subset(&self, other: &Self) -> bool {
        self.indices.is_subset(&other.indices) && self.unindexed.is_subset(&other.unindexed)
    }

    /// The part inside `[0, count)`, and the rest (indices outside it, and unindexed keys).
    pub fn split_existing(&self, count: u64) -> (PartitionSubset, PartitionSubset) {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let inside = self.indices.clamp(0, count);
        let outside = self.indices.difference(&inside);
        (
            PartitionSubset::from_indices(inside),
            PartitionSubset {
                indices: outside,
                unindexed: self.unindexed.clone(),
            },
        )
    }

    /// Approximate heap bytes: a subset should cost kilobytes whatever its size.
    pub fn heap_bytes(&self) -> usize {
        self.indices.heap_bytes()
            + self
                .unindexed
                .iter()
                .map(|k| k.as_str().len() + 48)
                .sum::<usize>()
    }
}
