//! The closed set of partitions definitions and what can be asked of any of them.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::dynamic::{DynamicPartitions, DynamicPartitionsStore};
use crate::error::Error;
use crate::key::{PartitionKey, TimeWindow};
use crate::multi::MultiPartitions;
use crate::static_def::StaticPartitions;
use crate::subset::PartitionSubset;
use crate::time_window::TimeWindowPartitions;

/// How an asset's data is split. Closed on purpose: the host must be able to reason about every
/// definition (count, map, plan) without running plugin code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionsDefinition {
    Static(StaticPartitions),
    /// Boxed: a schedule, zone and formats are large beside the other kinds.
    TimeWindow(Box<TimeWindowPartitions>),
    Dynamic(DynamicPartitions),
    Multi(MultiPartitions),
}

impl fmt::Display for PartitionsDefinition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionsDefinition::Static(d) => fmt::Display::fmt(d, f),
            PartitionsDefinition::TimeWindow(d) => fmt::Display::fmt(d, f),
            PartitionsDefinition::Dynamic(d) => fmt::Display::fmt(d, f),
            PartitionsDefinition::Multi(d) => fmt::Display::fmt(d, f),
        }
    }
}

impl From<StaticPartitions> for PartitionsDefinition {
    fn from(d: StaticPartitions) -> Self {
        PartitionsDefinition::Static(d)
    }
}

impl From<TimeWindowPartitions> for PartitionsDefinition {
    fn from(d: TimeWindowPartitions) -> Self {
        PartitionsDefinition::TimeWindow(Box::new(d))
    }
}

impl From<DynamicPartitions> for PartitionsDefinition {
    fn from(d: DynamicPartitions) -> Self {
        PartitionsDefinition::Dynamic(d)
    }
}

impl From<MultiPartitions> for PartitionsDefinition {
    fn from(d: MultiPartitions) -> Self {
        PartitionsDefinition::Multi(d)
    }
}

/// What every question about partitions is evaluated against: the current time and, for
/// dynamic partitions, where their keys live. Nothing in this crate reads a clock.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    now: DateTime<Utc>,
    dynamic: Option<&'a dyn DynamicPartitionsStore>,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("now", &self.now)
            .field("dynamic", &self.dynamic.is_some())
            .finish()
    }
}

impl<'a> Context<'a> {
    pub fn new(now: DateTime<Utc>) -> Self {
        Context { now, dynamic: None }
    }

    pub fn with_dynamic(mut self, store: &'a dyn DynamicPartitionsStore) -> Self {
        self.dynamic = Some(store);
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub(crate) fn store(
        &self,
        def: &DynamicPartitions,
    ) -> Result<&'a dyn DynamicPartitionsStore, Error> {
        self.dynamic.ok_or_else(|| Error::NoDynamicStore {
            name: def.name().to_string(),
        })
    }
}

/// Keys listed lazily.
pub type KeyIter<'a> = Box<dyn Iterator<Item = PartitionKey> + 'a>;

impl PartitionsDefinition {
    /// `"static"`, `"time_window"`, `"dynamic"` or `"multi"`.
    pub fn kind(&self) -> &'static str {
        match self {
            PartitionsDefinition::Static(_) => "static",
            PartitionsDefinition::TimeWindow(_) => "time_window",
            PartitionsDefinition::Dynamic(_) => "dynamic",
            PartitionsDefinition::Multi(_) => "multi",
        }
    }

    pub fn as_time_window(&self) -> Option<&TimeWindowPartitions> {
        match self {
            PartitionsDefinition::TimeWindow(d) => Some(d),
            _ => None,
        }
    }

    pub fn as_multi(&self) -> Option<&MultiPartitions> {
        match self {
            PartitionsDefinition::Multi(d) => Some(d),
            _ => None,
        }
    }

    /// Number of partitions that exist in this context.
    pub fn count(&self, cx: &Context<'_>) -> Result<u64, Error> {
        Ok(match self {
            PartitionsDefinition::Static(d) => d.len() as u64,
            PartitionsDefinition::TimeWindow(d) => d.count_at(cx.now),
            PartitionsDefinition::Dynamic(d) => cx.store(d)?.count(d.name()),
            PartitionsDefinition::Multi(d) => d.count(cx)?,
        })
    }

    /// The key at `index` in key order, for `0 <= index < count`. Time-window definitions also
    /// answer for indices outside that range (windows before the start or not yet complete).
    pub fn key_at(&self, cx: &Context<'_>, index: i64) -> Result<Option<PartitionKey>, Error> {
        Ok(match self {
            PartitionsDefinition::TimeWindow(d) => d.key_at(index),
            _ if index < 0 => None,
            PartitionsDefinition::Static(d) => usize::try_from(index)
                .ok()
                .and_then(|i| d.key_at(i))
                .cloned(),
            PartitionsDefinition::Dynamic(d) => cx.store(d)?.key_at(d.name(), index as u64),
            PartitionsDefinition::Multi(d) => d.key_at(cx, index)?,
        })
    }

    /// Whether a key that is a partition at some time keeps its index at every later time
    /// (dynamic sets left as they are): time windows grow only at their end, static and
    /// dynamic definitions do not depend on time. A multi definition's index is row-major
    /// with its first dimension most significant, so it keeps its indices when only that
    /// dimension grows; a time dimension anywhere else moves them. What lets a status
    /// computed earlier be extended to a later `now` rather than computed again.
    pub fn indices_stable_over_time(&self) -> bool {
        match self {
            PartitionsDefinition::Static(_)
            | PartitionsDefinition::TimeWindow(_)
            | PartitionsDefinition::Dynamic(_) => true,
            PartitionsDefinition::Multi(d) => d.indices_stable_over_time(),
        }
    }

    /// The names of the dynamic partition sets whose keys this definition reads: its own, its
    /// dimensions' and a sparse definition's set of combinations.
    pub fn dynamic_sets(&self) -> Vec<&str> {
        match self {
            PartitionsDefinition::Dynamic(d) => vec![d.name()],
            PartitionsDefinition::Multi(m) => m.dynamic_sets().collect(),
            _ => Vec::new(),
        }
    }

    /// Position of an existing partition's key, `None` when no partition has that exact key.
    pub fn index_of(&self, cx: &Context<'_>, key: &str) -> Result<Option<i64>, Error> {
        Ok(match self {
            PartitionsDefinition::Static(d) => d.index_of(key).map(|i| i as i64),
            PartitionsDefinition::TimeWindow(d) => {
                let count = d.count_at_ts(cx.now.timestamp());
                d.index_of_key(key).filter(|&i| i >= 0 && i < count)
            }
            PartitionsDefinition::Dynamic(d) => {
                cx.store(d)?.index_of(d.name(), key).map(|i| i as i64)
            }
            PartitionsDefinition::Multi(d) => d.index_of(cx, key)?,
        })
    }

    /// [`Self::index_of`] with [`Self::count`], each computed once (multi keys need both per
    /// dimension).
    pub(crate) fn index_and_count(
        &self,
        cx: &Context<'_>,
        key: &str,
    ) -> Result<(Option<i64>, u64), Error> {
        Ok(match self {
            PartitionsDefinition::TimeWindow(d) => {
                let count = d.count_at_ts(cx.now.timestamp()).max(0);
                let index = d.index_of_key(key).filter(|&i| i >= 0 && i < count);
                (index, count as u64)
            }
            _ => (self.index_of(cx, key)?, self.count(cx)?),
        })
    }

    pub fn has_key(&self, cx: &Context<'_>, key: &str) -> Result<bool, Error> {
        Ok(self.index_of(cx, key)?.is_some())
    }

    /// All keys in order, lazily.
    pub fn keys<'a>(&'a self, cx: &Context<'a>) -> Result<KeyIter<'a>, Error> {
        self.keys_from(cx, 0, self.count(cx)?)
    }

    /// `count` keys from position `offset`, lazily.
    pub fn keys_from<'a>(
        &'a self,
        cx: &Context<'a>,
        offset: u64,
        count: u64,
    ) -> Result<KeyIter<'a>, Error> {
        let total = self.count(cx)?;
        let count = count.min(total.saturating_sub(offset));
        Ok(match self {
            PartitionsDefinition::Static(d) => Box::new(
                d.keys()
                    .iter()
                    .skip(offset as usize)
                    .take(count as usize)
                    .cloned(),
            ),
            PartitionsDefinition::TimeWindow(d) => Box::new(d.keys_from(offset as i64, count)),
            PartitionsDefinition::Dynamic(d) => {
                let store = cx.store(d)?;
                let name = d.name();
                Box::new((offset..offset + count).map_while(move |i| store.key_at(name, i)))
            }
            PartitionsDefinition::Multi(d) => d.keys_from(cx, offset, count)?,
        })
    }

    /// A page of keys, for listings.
    pub fn keys_page(
        &self,
        cx: &Context<'_>,
        offset: u64,
        limit: usize,
    ) -> Result<Vec<PartitionKey>, Error> {
        Ok(self.keys_from(cx, offset, limit as u64)?.collect())
    }

    pub fn first_key(&self, cx: &Context<'_>) -> Result<Option<PartitionKey>, Error> {
        if self.count(cx)? == 0 {
            return Ok(None);
        }
        self.key_at(cx, 0)
    }

    pub fn last_key(&self, cx: &Context<'_>) -> Result<Option<PartitionKey>, Error> {
        let count = self.count(cx)?;
        if count == 0 {
            return Ok(None);
        }
        self.key_at(cx, count as i64 - 1)
    }

    /// The time window of a key: for time-window definitions, and multi definitions with one
    /// time dimension. Does not check that the partition exists.
    pub fn time_window_for_key(&self, key: &str) -> Result<TimeWindow, Error> {
        match self {
            PartitionsDefinition::TimeWindow(d) => d.window_for_key(key),
            PartitionsDefinition::Multi(d) => d.time_window_for_key(key),
            _ => Err(Error::InvalidDefinition {
                def: self.to_string(),
                reason: format!("it has no time dimension, so key {key:?} has no time window"),
            }),
        }
    }

    /// Partitions of the inclusive key range `start...end`. Time windows: bounded by the start
    /// (an error) and the end date, not by `now`. Static and dynamic: positions in key order,
    /// both keys must exist. Multi: the product of the per-dimension ranges.
    pub fn range(
        &self,
        cx: &Context<'_>,
        start: &str,
        end: &str,
    ) -> Result<PartitionSubset, Error> {
        match self {
            PartitionsDefinition::TimeWindow(d) => {
                let (i0, i1) = d.range_indices(start, end)?;
                Ok(PartitionSubset::from_range(i0, i1 + 1))
            }
            PartitionsDefinition::Multi(d) => d.range(cx, start, end),
            _ => {
                let unknown = |key: &str| Error::UnknownKey {
                    def: self.to_string(),
                    key: key.to_string(),
                };
                let i0 = self.index_of(cx, start)?.ok_or_else(|| unknown(start))?;
                let i1 = self.index_of(cx, end)?.ok_or_else(|| unknown(end))?;
                Ok(PartitionSubset::from_range(i0, i1 + 1))
            }
        }
    }

    /// Every partition that exists in this context.
    pub fn all(&self, cx: &Context<'_>) -> Result<PartitionSubset, Error> {
        Ok(PartitionSubset::from_range(0, self.count(cx)? as i64))
    }

    /// The subset of these keys; every key must name an existing partition.
    pub fn subset_of_keys<I, K>(&self, cx: &Context<'_>, keys: I) -> Result<PartitionSubset, Error>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let mut subset = PartitionSubset::empty();
        for key in keys {
            let key = key.as_ref();
            match self.index_of(cx, key)? {
                Some(i) => subset.insert_index(i),
                None => {
                    return Err(Error::UnknownKey {
                        def: self.to_string(),
                        key: key.to_string(),
                    });
                }
            }
        }
        Ok(subset)
    }

    /// Keys of a subset: indexed partitions in key order, then unindexed keys.
    pub fn subset_keys<'a>(
        &'a self,
        cx: &Context<'a>,
        subset: &'a PartitionSubset,
    ) -> Result<KeyIter<'a>, Error> {
        if let PartitionsDefinition::TimeWindow(d) = self {
            let ranges = subset.indices().ranges().iter().flat_map(move |&(a, b)| {
                // Ranges before the first window are listed one by one: they are short (a
                // mapping's nonexistent windows); ranges from 0 on stream through the ticks.
                let before: Vec<PartitionKey> = (a..b.min(0)).filter_map(|i| d.key_at(i)).collect();
                let from = a.max(0);
                let after = d.keys_from(from, (b - from).max(0) as u64);
                before.into_iter().chain(after)
            });
            return Ok(Box::new(ranges.chain(subset.unindexed().iter().cloned())));
        }
        let cx = *cx;
        let indexed = subset
            .indices()
            .iter()
            .map(move |i| self.key_at(&cx, i))
            .filter_map(|k| k.ok().flatten());
        Ok(Box::new(indexed.chain(subset.unindexed().iter().cloned())))
    }

    /// Checks that the definition can work as intended (time windows: distinct keys).
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            PartitionsDefinition::TimeWindow(d) => d.validate(),
            PartitionsDefinition::Multi(d) => d.validate(),
            _ => Ok(()),
        }
    }
}
