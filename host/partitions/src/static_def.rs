//! Static partitions: a fixed list of keys, in the order given.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use crate::error::Error;
use crate::key::PartitionKey;

/// Substrings a key may not contain: `...` is the range syntax (`a...b`) and control
/// characters break logs, paths and the UI (Dagster's rule).
const FORBIDDEN: [&str; 9] = [
    "...", "\u{7}", "\u{8}", "\u{c}", "\n", "\r", "\t", "\u{b}", "\0",
];

/// A fixed, ordered list of partition keys.
#[derive(Debug, Clone)]
pub struct StaticPartitions {
    keys: Vec<PartitionKey>,
    index: HashMap<PartitionKey, usize, BuildHasherDefault<Fnv>>,
}

impl PartialEq for StaticPartitions {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys
    }
}
impl Eq for StaticPartitions {}

impl fmt::Display for StaticPartitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "static partitions [")?;
        for (i, k) in self.keys.iter().take(5).enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{:?}", k.as_str())?;
        }
        if self.keys.len() > 5 {
            write!(f, ", … {} keys", self.keys.len())?;
        }
        write!(f, "]")
    }
}

impl StaticPartitions {
    /// Keys keep the given order; duplicates and reserved text are errors.
    pub fn new<I, K>(keys: I) -> Result<StaticPartitions, Error>
    where
        I: IntoIterator<Item = K>,
        K: Into<PartitionKey>,
    {
        let keys: Vec<PartitionKey> = keys.into_iter().map(Into::into).collect();
        let describe = || format!("static partitions of {} keys", keys.len());
        for key in &keys {
            if let Some(found) = FORBIDDEN.iter().find(|bad| key.as_str().contains(**bad)) {
                return Err(Error::InvalidKeyText {
                    def: describe(),
                    key: key.to_string(),
                    found: (*found).to_string(),
                });
            }
        }
        let mut index =
            HashMap::with_capacity_and_hasher(keys.len(), BuildHasherDefault::default());
        let mut duplicates: Vec<String> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            if index.insert(key.clone(), i).is_some()
                && !duplicates.iter().any(|d| d == key.as_str())
            {
                duplicates.push(key.to_string());
            }
        }
        if !duplicates.is_empty() {
            return Err(Error::DuplicateKeys {
                def: describe(),
                keys: duplicates,
            });
        }
        Ok(StaticPartitions { keys, index })
    }

    pub fn keys(&self) -> &[PartitionKey] {
        &self.keys
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn index_of(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    pub fn key_at(&self, index: usize) -> Option<&PartitionKey> {
        self.keys.get(index)
    }

    pub fn has_key(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }
}

/// FNV-1a: keys are short and come from definitions, not from untrusted input, so a fast
/// hash beats SipHash's flood resistance on the lookup every multi key and status row makes.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_kept_and_rules_enforced() {
        let def = StaticPartitions::new(["zulu", "alpha", "mike"]).unwrap();
        assert_eq!(def.index_of("alpha"), Some(1));
        assert_eq!(def.key_at(2).map(PartitionKey::as_str), Some("mike"));
        let dup = StaticPartitions::new(["x", "y", "x", "y", "z"]).unwrap_err();
        assert!(matches!(dup, Error::DuplicateKeys { ref keys, .. } if keys == &["x", "y"]));
        let dots = StaticPartitions::new(["a...b"]).unwrap_err();
        assert!(dots.to_string().contains("a...b"), "{dots}");
        assert!(StaticPartitions::new(["a\nb"]).is_err());
        assert!(StaticPartitions::new(["a|b", "c,d", "[e]"]).is_ok());
    }
}
