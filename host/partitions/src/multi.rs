//! Multi-dimensional partitions: the cartesian product of named dimensions.
//!
//! Dimensions are kept sorted by name, and a key joins one key per dimension with `|` in that
//! order (`{"date": daily, "abc": static}` gives `"a|2021-05-05"`). Keys are listed with the
//! first dimension outermost. Any number of dimensions from two up (Dagster allows exactly two,
//! dagster#21177); two-dimensional keys and order are Dagster's.

use std::fmt;

use crate::definition::{Context, KeyIter, PartitionsDefinition};
use crate::error::Error;
use crate::key::{PartitionKey, TimeWindow};
use crate::subset::PartitionSubset;

/// Characters that would make a multi key ambiguous.
const FORBIDDEN_IN_DIMENSION_KEYS: [char; 3] = ['|', '[', ']'];

/// Most dimensions a definition may have: enough for any real partitioning (Dagster users ask
/// for five, dagster#21177), few enough that a flat index of existing counts stays meaningful.
pub const MAX_DIMENSIONS: usize = 8;

/// Strides of a flat index: `strides[k]` is the product of the counts after dimension `k`.
fn strides(counts: &[u64]) -> Vec<i64> {
    let mut out = vec![1i64; counts.len()];
    for k in (0..counts.len().saturating_sub(1)).rev() {
        out[k] = out[k + 1].saturating_mul(counts[k + 1] as i64);
    }
    out
}

/// Splits flat indices `[a, b)` into boxes: one index range per dimension whose product is a
/// run of the flat range. At most two partial boxes per dimension, so a range costs
/// `O(dimensions)` boxes however many keys it holds.
pub(crate) fn boxes(counts: &[u64], a: i64, b: i64) -> Vec<Vec<(i64, i64)>> {
    let mut out = Vec::new();
    if counts.contains(&0) || a >= b {
        return out;
    }
    let strides = strides(counts);
    let full: Vec<(i64, i64)> = counts.iter().map(|&c| (0, c as i64)).collect();
    split_boxes(&strides, &full, 0, a, b, &mut Vec::new(), &mut out);
    out
}

fn split_boxes(
    strides: &[i64],
    full: &[(i64, i64)],
    k: usize,
    a: i64,
    b: i64,
    prefix: &mut Vec<(i64, i64)>,
    out: &mut Vec<Vec<(i64, i64)>>,
) {
    let s = strides[k];
    let emit = |range: (i64, i64), prefix: &[(i64, i64)], out: &mut Vec<Vec<(i64, i64)>>| {
        let mut boxed = prefix.to_vec();
        boxed.push(range);
        boxed.extend_from_slice(&full[k + 1..]);
        out.push(boxed);
    };
    let (first_full, last_full) = (
        a.div_euclid(s) + i64::from(a.rem_euclid(s) != 0),
        b.div_euclid(s),
    );
    if first_full > last_full {
        // Inside one index of this dimension.
        let i = a.div_euclid(s);
        prefix.push((i, i + 1));
        split_boxes(strides, full, k + 1, a - i * s, b - i * s, prefix, out);
        prefix.pop();
        return;
    }
    if a < first_full * s {
        let i = first_full - 1;
        prefix.push((i, i + 1));
        split_boxes(strides, full, k + 1, a - i * s, s, prefix, out);
        prefix.pop();
    }
    if first_full < last_full {
        emit((first_full, last_full), prefix, out);
    }
    if last_full * s < b {
        let i = last_full;
        prefix.push((i, i + 1));
        split_boxes(strides, full, k + 1, 0, b - i * s, prefix, out);
        prefix.pop();
    }
}

/// One named dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimension {
    pub name: String,
    pub def: PartitionsDefinition,
}

/// The product of two or more dimensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiPartitions {
    dims: Vec<Dimension>,
}

impl fmt::Display for MultiPartitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "multi partitions {{")?;
        for (i, d) in self.dims.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{:?}: {}", d.name, d.def)?;
        }
        write!(f, "}}")
    }
}

impl MultiPartitions {
    /// Dimensions in any order; they are sorted by name (code point order).
    pub fn new<I, S>(dims: I) -> Result<MultiPartitions, Error>
    where
        I: IntoIterator<Item = (S, PartitionsDefinition)>,
        S: Into<String>,
    {
        let mut dims: Vec<Dimension> = dims
            .into_iter()
            .map(|(name, def)| Dimension {
                name: name.into(),
                def,
            })
            .collect();
        if !(2..=MAX_DIMENSIONS).contains(&dims.len()) {
            return Err(Error::DimensionCount(dims.len()));
        }
        dims.sort_by(|a, b| a.name.cmp(&b.name));
        for d in &dims {
            match &d.def {
                PartitionsDefinition::Multi(_) => {
                    return Err(Error::InvalidDimension {
                        dimension: d.name.clone(),
                        kind: "multi".to_string(),
                    });
                }
                PartitionsDefinition::Static(s) => {
                    for key in s.keys() {
                        if let Some(c) = key
                            .as_str()
                            .chars()
                            .find(|c| FORBIDDEN_IN_DIMENSION_KEYS.contains(c) || *c == ',')
                        {
                            return Err(Error::InvalidKeyText {
                                def: format!(
                                    "dimension {:?} of a multi-partitions definition",
                                    d.name
                                ),
                                key: key.to_string(),
                                found: c.to_string(),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        for pair in dims.windows(2) {
            if pair[0].name == pair[1].name {
                return Err(Error::DuplicateKeys {
                    def: "multi-partitions dimension names".to_string(),
                    keys: vec![pair[0].name.clone()],
                });
            }
        }
        Ok(MultiPartitions { dims })
    }

    /// Dimensions, sorted by name.
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    pub fn dimension(&self, name: &str) -> Option<&Dimension> {
        self.dims.iter().find(|d| d.name == name)
    }

    pub fn dimension_index(&self, name: &str) -> Option<usize> {
        self.dims.iter().position(|d| d.name == name)
    }

    /// The time dimension, when exactly one dimension is time-windowed.
    pub fn time_dimension(&self) -> Option<(usize, &Dimension)> {
        let mut time = self
            .dims
            .iter()
            .enumerate()
            .filter(|(_, d)| matches!(d.def, PartitionsDefinition::TimeWindow(_)));
        let first = time.next()?;
        time.next().is_none().then_some(first)
    }

    /// Per-dimension counts, in dimension order.
    pub fn counts(&self, cx: &Context<'_>) -> Result<Vec<u64>, Error> {
        self.dims.iter().map(|d| d.def.count(cx)).collect()
    }

    pub fn count(&self, cx: &Context<'_>) -> Result<u64, Error> {
        Ok(self
            .counts(cx)?
            .iter()
            .fold(1u64, |acc, &c| acc.saturating_mul(c)))
    }

    /// Splits a key into per-dimension keys (on `|`, in dimension order).
    pub fn split_key<'k>(&self, key: &'k str) -> Result<Vec<&'k str>, Error> {
        let parts: Vec<&str> = key.split('|').collect();
        if parts.len() != self.dims.len() {
            return Err(Error::MalformedMultiKey {
                def: self.to_string(),
                key: key.to_string(),
            });
        }
        Ok(parts)
    }

    /// Joins per-dimension keys, in dimension order.
    pub fn join_key<S: AsRef<str>>(parts: &[S]) -> PartitionKey {
        let mut out = String::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.push('|');
            }
            out.push_str(p.as_ref());
        }
        PartitionKey::new(out)
    }

    /// Per-dimension indices → flat index (first dimension outermost).
    pub fn combine(counts: &[u64], indices: &[i64]) -> i64 {
        let mut flat = 0i64;
        for (count, index) in counts.iter().zip(indices) {
            flat = flat.saturating_mul(*count as i64).saturating_add(*index);
        }
        flat
    }

    /// Flat index → per-dimension indices.
    pub fn split_index(counts: &[u64], mut flat: i64) -> Vec<i64> {
        let mut out = vec![0; counts.len()];
        for (slot, &count) in out.iter_mut().zip(counts).rev() {
            let c = (count as i64).max(1);
            *slot = flat.rem_euclid(c);
            flat = flat.div_euclid(c);
        }
        out
    }

    pub fn key_at(&self, cx: &Context<'_>, index: i64) -> Result<Option<PartitionKey>, Error> {
        let counts = self.counts(cx)?;
        let total = counts.iter().fold(1u64, |a, &c| a.saturating_mul(c));
        if index < 0 || index as u64 >= total {
            return Ok(None);
        }
        let indices = Self::split_index(&counts, index);
        let mut parts = Vec::with_capacity(self.dims.len());
        for (d, i) in self.dims.iter().zip(indices) {
            match d.def.key_at(cx, i)? {
                Some(k) => parts.push(k),
                None => return Ok(None),
            }
        }
        Ok(Some(Self::join_key(&parts)))
    }

    pub fn index_of(&self, cx: &Context<'_>, key: &str) -> Result<Option<i64>, Error> {
        // One pass, no allocation: this is the hot path of status and planning lookups.
        let mut parts = key.split('|');
        let mut flat = 0i64;
        for d in &self.dims {
            let Some(part) = parts.next() else {
                return Ok(None);
            };
            let (Some(i), count) = d.def.index_and_count(cx, part)? else {
                return Ok(None);
            };
            flat = flat.saturating_mul(count as i64).saturating_add(i);
        }
        if parts.next().is_some() {
            return Ok(None);
        }
        Ok(Some(flat))
    }

    pub fn keys_from<'a>(
        &'a self,
        cx: &Context<'a>,
        offset: u64,
        count: u64,
    ) -> Result<KeyIter<'a>, Error> {
        let cx = *cx;
        let iter = (offset..offset.saturating_add(count))
            .map(move |i| self.key_at(&cx, i as i64))
            .map_while(|k| k.ok().flatten());
        Ok(Box::new(iter))
    }

    /// The time window of the key's time dimension.
    pub fn time_window_for_key(&self, key: &str) -> Result<TimeWindow, Error> {
        let parts = self.split_key(key)?;
        let Some((i, dim)) = self.time_dimension() else {
            return Err(Error::InvalidDefinition {
                def: self.to_string(),
                reason: "it does not have exactly one time dimension".to_string(),
            });
        };
        dim.def.time_window_for_key(parts[i])
    }

    /// The product of the per-dimension ranges between two keys.
    pub fn range(
        &self,
        cx: &Context<'_>,
        start: &str,
        end: &str,
    ) -> Result<PartitionSubset, Error> {
        let starts = self.split_key(start)?;
        let ends = self.split_key(end)?;
        let subsets = self
            .dims
            .iter()
            .zip(starts.iter().zip(&ends))
            .map(|(d, (s, e))| d.def.range(cx, s, e))
            .collect::<Result<Vec<_>, _>>()?;
        self.product(cx, &subsets)
    }

    /// The product of per-dimension subsets, as flat indices. Per-dimension indices outside a
    /// dimension's existing range become unindexed keys.
    pub fn product(
        &self,
        cx: &Context<'_>,
        parts: &[PartitionSubset],
    ) -> Result<PartitionSubset, Error> {
        let counts = self.counts(cx)?;
        let mut in_range = Vec::with_capacity(parts.len());
        let mut has_outside = false;
        for (part, &count) in parts.iter().zip(&counts) {
            let (inside, outside) = part.split_existing(count);
            has_outside |= !outside.is_empty();
            in_range.push(inside);
        }
        let mut out = PartitionSubset::empty();
        let strides = strides(&counts);
        // Dimensions from `k` on all full: a range of dimension `k - 1` is one flat range.
        let mut suffix_full = vec![true; parts.len() + 1];
        for k in (0..parts.len()).rev() {
            suffix_full[k] = suffix_full[k + 1] && in_range[k].indices().len() == counts[k];
        }
        fill(&in_range, &strides, &suffix_full, 0, 0, &mut out);
        if has_outside {
            // Combinations touching a nonexistent dimension key: list them as keys.
            let key_lists = self
                .dims
                .iter()
                .zip(parts)
                .map(|(d, p)| Ok(d.def.subset_keys(cx, p)?.collect::<Vec<_>>()))
                .collect::<Result<Vec<_>, Error>>()?;
            let mut combos: Vec<Vec<PartitionKey>> = vec![Vec::new()];
            for list in &key_lists {
                combos = combos
                    .into_iter()
                    .flat_map(|prefix| {
                        list.iter().map(move |k| {
                            let mut next = prefix.clone();
                            next.push(k.clone());
                            next
                        })
                    })
                    .collect();
            }
            for combo in combos {
                let key = Self::join_key(&combo);
                match self.index_of(cx, key.as_str())? {
                    Some(i) => out.insert_index(i),
                    None => out.insert_unindexed(key),
                }
            }
        }
        Ok(out)
    }

    /// Per-dimension projections of a subset (flat indices → each dimension's indices).
    pub fn project(
        &self,
        cx: &Context<'_>,
        subset: &PartitionSubset,
    ) -> Result<Vec<PartitionSubset>, Error> {
        let counts = self.counts(cx)?;
        let mut out = vec![PartitionSubset::empty(); self.dims.len()];
        for &(a, b) in subset.indices().ranges() {
            for boxed in boxes(&counts, a, b) {
                for (slot, (lo, hi)) in out.iter_mut().zip(boxed) {
                    slot.insert_range(lo, hi);
                }
            }
        }
        for key in subset.unindexed() {
            let parts = self.split_key(key.as_str())?;
            for ((slot, d), part) in out.iter_mut().zip(&self.dims).zip(parts) {
                // A time part must at least parse: a key with its parts in the wrong order is
                // a caller's mistake to report, not a partition to wait for.
                if let PartitionsDefinition::TimeWindow(tw) = &d.def {
                    tw.parse_key(part)?;
                }
                match d.def.index_of(cx, part)? {
                    Some(i) => slot.insert_index(i),
                    None => slot.insert_unindexed(PartitionKey::from(part)),
                }
            }
        }
        Ok(out)
    }

    pub fn validate(&self) -> Result<(), Error> {
        self.dims.iter().try_for_each(|d| d.def.validate())
    }
}

/// Inserts the product of per-dimension index sets from dimension `k` on, at flat offset
/// `base`, as few ranges as the shape allows.
fn fill(
    parts: &[PartitionSubset],
    strides: &[i64],
    suffix_full: &[bool],
    k: usize,
    base: i64,
    out: &mut PartitionSubset,
) {
    let s = strides[k];
    for &(a, b) in parts[k].indices().ranges() {
        if suffix_full[k + 1] {
            out.insert_range(base + a * s, base + b * s);
            continue;
        }
        for i in a..b {
            fill(parts, strides, suffix_full, k + 1, base + i * s, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::boxes;

    #[test]
    fn boxes_tile_a_flat_range_exactly() {
        let counts = [3u64, 4, 5];
        let flat = |b: &[i64]| (b[0] * 4 + b[1]) * 5 + b[2];
        for a in 0..60 {
            for b in a..=60 {
                let mut seen = Vec::new();
                for boxed in boxes(&counts, a, b) {
                    for i in boxed[0].0..boxed[0].1 {
                        for j in boxed[1].0..boxed[1].1 {
                            for k in boxed[2].0..boxed[2].1 {
                                seen.push(flat(&[i, j, k]));
                            }
                        }
                    }
                }
                seen.sort_unstable();
                assert_eq!(seen, (a..b).collect::<Vec<_>>(), "[{a}, {b})");
                assert!(boxes(&counts, a, b).len() <= 5);
            }
        }
    }
}
