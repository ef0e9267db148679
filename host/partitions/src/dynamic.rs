//! Dynamic partitions: keys added and removed at run time, listed in insertion order.
//!
//! The keys live outside the definition, in a [`DynamicPartitionsStore`] (the engine's SQLite
//! table; [`MemoryDynamicStore`] for tests and one-off evaluation). The store is asked by index
//! and by key, so a definition with a million keys is never copied to answer a question.

use std::collections::HashMap;
use std::fmt;

use crate::key::PartitionKey;

/// Where the keys of named dynamic partitions definitions live.
pub trait DynamicPartitionsStore {
    /// Number of keys of the named definition (0 for an unknown name).
    fn count(&self, name: &str) -> u64;
    /// The key at a position in insertion order.
    fn key_at(&self, name: &str, index: u64) -> Option<PartitionKey>;
    /// The position of a key in insertion order.
    fn index_of(&self, name: &str, key: &str) -> Option<u64>;
    /// Up to `limit` keys from position `offset`.
    fn page(&self, name: &str, offset: u64, limit: usize) -> Vec<PartitionKey> {
        (offset..offset.saturating_add(limit as u64))
            .map_while(|i| self.key_at(name, i))
            .collect()
    }
}

/// A dynamic partitions definition: just a name; its keys come from the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DynamicPartitions {
    name: String,
}

impl fmt::Display for DynamicPartitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dynamic partitions {:?}", self.name)
    }
}

impl DynamicPartitions {
    pub fn new(name: impl Into<String>) -> Self {
        DynamicPartitions { name: name.into() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// An in-memory store: insertion order kept, adding a present key is a no-op, deleting and
/// re-adding moves a key to the end (as Dagster's table does).
#[derive(Debug, Clone, Default)]
pub struct MemoryDynamicStore {
    defs: HashMap<String, Keyed>,
}

#[derive(Debug, Clone, Default)]
struct Keyed {
    keys: Vec<PartitionKey>,
    index: HashMap<PartitionKey, u64>,
}

impl MemoryDynamicStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds keys not present yet, in order; returns how many were new.
    pub fn add<I, K>(&mut self, name: &str, keys: I) -> usize
    where
        I: IntoIterator<Item = K>,
        K: Into<PartitionKey>,
    {
        let entry = self.defs.entry(name.to_string()).or_default();
        let mut added = 0;
        for key in keys {
            let key = key.into();
            if !entry.index.contains_key(&key) {
                entry.index.insert(key.clone(), entry.keys.len() as u64);
                entry.keys.push(key);
                added += 1;
            }
        }
        added
    }

    /// Removes a key; returns whether it was present.
    pub fn delete(&mut self, name: &str, key: &str) -> bool {
        let Some(entry) = self.defs.get_mut(name) else {
            return false;
        };
        let Some(pos) = entry.index.remove(key) else {
            return false;
        };
        let pos = pos as usize;
        entry.keys.remove(pos);
        for (i, k) in entry.keys.iter().enumerate().skip(pos) {
            entry.index.insert(k.clone(), i as u64);
        }
        true
    }
}

impl DynamicPartitionsStore for MemoryDynamicStore {
    fn count(&self, name: &str) -> u64 {
        self.defs.get(name).map_or(0, |e| e.keys.len() as u64)
    }

    fn key_at(&self, name: &str, index: u64) -> Option<PartitionKey> {
        let entry = self.defs.get(name)?;
        entry.keys.get(usize::try_from(index).ok()?).cloned()
    }

    fn index_of(&self, name: &str, key: &str) -> Option<u64> {
        self.defs.get(name)?.index.get(key).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insertion_order_dedupe_delete() {
        let mut store = MemoryDynamicStore::new();
        assert_eq!(store.add("customers", ["b", "a", "b"]), 2);
        assert_eq!(store.add("customers", ["a", "c"]), 1);
        assert!(store.delete("customers", "b"));
        assert!(!store.delete("customers", "b"));
        store.add("customers", ["b"]);
        let keys = store.page("customers", 0, 10);
        assert_eq!(keys, vec!["a".into(), "c".into(), PartitionKey::from("b")]);
        assert_eq!(store.index_of("customers", "b"), Some(2));
        assert_eq!(store.count("other"), 0);
    }
}
