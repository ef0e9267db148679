//! Multi-dimensional partitions: the cartesian product of named dimensions.
//!
//! Dimensions are kept sorted by name, and a key joins one key per dimension with `|` in that
//! order (`{"date": daily, "abc": static}` gives `"a|2021-05-05"`). Keys are listed with the
//! first dimension outermost. Any number of dimensions from two up (Dagster allows exactly two,
//! dagster#21177); two-dimensional keys and order are Dagster's.
//!
//! A *sparse* definition declares which combinations of some of its dimensions exist (each
//! customer's regions) instead of taking their full product (dagster#13139). Its partitions
//! are the product of the other ("full") dimensions with that relation, listed with the full
//! dimensions outermost and the relation innermost, so a flat index is
//! `full index × |relation| + rank` and counting, pages and subsets cost in proportion to the
//! combinations that exist, never to the product they are drawn from.

use std::fmt;

use crate::definition::{Context, KeyIter, PartitionsDefinition};
use crate::dynamic::DynamicPartitions;
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

/// The combinations a sparse definition declares, as given (see [`MultiPartitions::sparse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combinations {
    /// The dimensions the combinations range over, in the order of each combination's keys.
    pub dimensions: Vec<String>,
    pub source: CombinationSource,
}

/// Where the combinations of a sparse definition come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CombinationSource {
    /// Fixed combinations of static dimensions: one key per dimension of
    /// [`Combinations::dimensions`], in that order. Listed in the order of the product of
    /// those dimensions, whatever order they are given in.
    Listed(Vec<Vec<String>>),
    /// A dynamic partitions set whose keys are combinations: the keys of the combined
    /// dimensions joined with `|` in dimension-name order (`acme|emea`), listed in insertion
    /// order. The set is authoritative: a combination exists while it is in the set.
    Dynamic(String),
}

impl Combinations {
    pub fn listed<D, S, R, K>(dimensions: D, rows: R) -> Combinations
    where
        D: IntoIterator<Item = S>,
        S: Into<String>,
        R: IntoIterator<Item = Vec<K>>,
        K: Into<String>,
    {
        Combinations {
            dimensions: dimensions.into_iter().map(Into::into).collect(),
            source: CombinationSource::Listed(
                rows.into_iter()
                    .map(|r| r.into_iter().map(Into::into).collect())
                    .collect(),
            ),
        }
    }

    pub fn dynamic<D, S>(dimensions: D, set: impl Into<String>) -> Combinations
    where
        D: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Combinations {
            dimensions: dimensions.into_iter().map(Into::into).collect(),
            source: CombinationSource::Dynamic(set.into()),
        }
    }
}

/// The relation of a sparse definition, resolved against its dimensions.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Relation {
    /// Positions (in the definition's dimensions) of the combined dimensions, ascending.
    dims: Vec<usize>,
    source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// Static dimensions' counts (in `dims` order) and the combinations as flat indices of
    /// their product, sorted: a rank is a position in `rows`, a lookup a binary search.
    Listed {
        counts: Vec<u64>,
        rows: Vec<i64>,
    },
    Dynamic(DynamicPartitions),
}

/// The product of two or more dimensions, or the sparse subset of it a relation declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiPartitions {
    dims: Vec<Dimension>,
    /// Positions of the dimensions outside the relation (all of them when not sparse),
    /// ascending: the outer axes of the flat index.
    full: Vec<usize>,
    relation: Option<Relation>,
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
        write!(f, "}}")?;
        if let Some(r) = &self.relation {
            let names: Vec<&str> = r.dims.iter().map(|&i| self.dims[i].name.as_str()).collect();
            match &r.source {
                Source::Listed { rows, .. } => {
                    write!(f, " over {} listed combinations of {names:?}", rows.len())?;
                }
                Source::Dynamic(d) => {
                    write!(f, " over the combinations of {names:?} in {d}")?;
                }
            }
        }
        Ok(())
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
        let full = (0..dims.len()).collect();
        Ok(MultiPartitions {
            dims,
            full,
            relation: None,
        })
    }

    /// A sparse definition: the given dimensions, where the dimensions named by
    /// `combinations` take only the combinations it declares. Combined dimensions are static
    /// (listed combinations) or static and dynamic (a dynamic set of combinations); time
    /// dimensions are always full.
    pub fn sparse<I, S>(dims: I, combinations: Combinations) -> Result<MultiPartitions, Error>
    where
        I: IntoIterator<Item = (S, PartitionsDefinition)>,
        S: Into<String>,
    {
        let mut multi = MultiPartitions::new(dims)?;
        let invalid = |multi: &MultiPartitions, reason: String| Error::InvalidCombinations {
            def: multi.to_string(),
            reason,
        };
        if combinations.dimensions.is_empty() {
            return Err(invalid(&multi, "they name no dimension".to_string()));
        }
        let mut positions = Vec::with_capacity(combinations.dimensions.len());
        for name in &combinations.dimensions {
            let Some(i) = multi.dimension_index(name) else {
                return Err(Error::UnknownDimension {
                    def: multi.to_string(),
                    dimension: name.clone(),
                });
            };
            if positions.contains(&i) {
                return Err(invalid(
                    &multi,
                    format!("dimension {name:?} is named twice"),
                ));
            }
            positions.push(i);
        }
        let mut sorted = positions.clone();
        sorted.sort_unstable();
        for &i in &sorted {
            let d = &multi.dims[i];
            let allowed = matches!(
                (&combinations.source, &d.def),
                (_, PartitionsDefinition::Static(_))
                    | (
                        CombinationSource::Dynamic(_),
                        PartitionsDefinition::Dynamic(_)
                    )
            );
            if !allowed {
                let what = match combinations.source {
                    CombinationSource::Listed(_) => "listed combinations take static dimensions",
                    CombinationSource::Dynamic(_) => {
                        "a dynamic set of combinations takes static and dynamic dimensions"
                    }
                };
                return Err(invalid(
                    &multi,
                    format!("{what}; dimension {:?} is {}", d.name, d.def.kind()),
                ));
            }
        }
        let source = match combinations.source {
            CombinationSource::Dynamic(set) => Source::Dynamic(DynamicPartitions::new(set)),
            CombinationSource::Listed(rows) => {
                let cx = Context::new(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH);
                let counts = sorted
                    .iter()
                    .map(|&i| multi.dims[i].def.count(&cx))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut flat = Vec::with_capacity(rows.len());
                for row in &rows {
                    if row.len() != positions.len() {
                        return Err(invalid(
                            &multi,
                            format!(
                                "{row:?} has {} keys for {} dimensions",
                                row.len(),
                                positions.len()
                            ),
                        ));
                    }
                    let mut indices = vec![0i64; sorted.len()];
                    for (key, &pos) in row.iter().zip(&positions) {
                        let d = &multi.dims[pos];
                        let Some(i) = d.def.index_of(&cx, key)? else {
                            return Err(invalid(
                                &multi,
                                format!("dimension {:?} has no key {key:?} (in {row:?})", d.name),
                            ));
                        };
                        let slot = sorted.iter().position(|&p| p == pos).unwrap_or(0);
                        indices[slot] = i;
                    }
                    flat.push(Self::combine(&counts, &indices));
                }
                flat.sort_unstable();
                let duplicated: Vec<String> = flat
                    .windows(2)
                    .filter(|w| w[0] == w[1])
                    .map(|w| {
                        let idx = Self::split_index(&counts, w[0]);
                        let keys: Vec<String> = sorted
                            .iter()
                            .zip(idx)
                            .filter_map(|(&p, i)| multi.dims[p].def.key_at(&cx, i).ok().flatten())
                            .map(|k| k.to_string())
                            .collect();
                        keys.join("|")
                    })
                    .collect();
                if !duplicated.is_empty() {
                    return Err(Error::DuplicateKeys {
                        def: format!("the combinations of {multi}"),
                        keys: duplicated,
                    });
                }
                Source::Listed { counts, rows: flat }
            }
        };
        multi.full = (0..multi.dims.len())
            .filter(|i| !sorted.contains(i))
            .collect();
        multi.relation = Some(Relation {
            dims: sorted,
            source,
        });
        Ok(multi)
    }

    /// Whether only declared combinations exist.
    pub fn is_sparse(&self) -> bool {
        self.relation.is_some()
    }

    /// The names of the combined dimensions of a sparse definition, in name order.
    pub fn combined_dimensions(&self) -> Vec<&str> {
        self.relation.as_ref().map_or_else(Vec::new, |r| {
            r.dims.iter().map(|&i| self.dims[i].name.as_str()).collect()
        })
    }

    /// The dynamic set holding a sparse definition's combinations, when they are dynamic.
    pub fn combination_set(&self) -> Option<&DynamicPartitions> {
        match &self.relation.as_ref()?.source {
            Source::Dynamic(d) => Some(d),
            Source::Listed { .. } => None,
        }
    }

    /// Checks a combination for a sparse definition's dynamic set: one key per combined
    /// dimension, joined with `|` in name order, each an existing key of its dimension.
    pub fn check_combination(&self, cx: &Context<'_>, key: &str) -> Result<(), Error> {
        let Some(r) = &self.relation else {
            return Ok(());
        };
        let parts: Vec<&str> = key.split('|').collect();
        if parts.len() != r.dims.len() {
            return Err(Error::InvalidCombinations {
                def: self.to_string(),
                reason: format!(
                    "{key:?} must join {} keys with '|' (dimensions {:?})",
                    r.dims.len(),
                    self.combined_dimensions()
                ),
            });
        }
        for (part, &pos) in parts.iter().zip(&r.dims) {
            let d = &self.dims[pos];
            if d.def.index_of(cx, part)?.is_none() {
                return Err(Error::InvalidCombinations {
                    def: self.to_string(),
                    reason: format!("dimension {:?} has no key {part:?} (in {key:?})", d.name),
                });
            }
        }
        Ok(())
    }

    /// Per-axis counts: the full dimensions', then the relation's.
    fn axis_counts(&self, cx: &Context<'_>) -> Result<Vec<u64>, Error> {
        let mut out = self
            .full
            .iter()
            .map(|&i| self.dims[i].def.count(cx))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(r) = &self.relation {
            out.push(r.count(cx)?);
        }
        Ok(out)
    }

    /// Whether axis `k` is the relation.
    fn is_relation_axis(&self, k: usize) -> bool {
        k == self.full.len()
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

    /// Per-dimension counts, in dimension order (of each dimension's own definition: a sparse
    /// definition has fewer partitions than their product).
    pub fn counts(&self, cx: &Context<'_>) -> Result<Vec<u64>, Error> {
        self.dims.iter().map(|d| d.def.count(cx)).collect()
    }

    pub fn count(&self, cx: &Context<'_>) -> Result<u64, Error> {
        Ok(self
            .axis_counts(cx)?
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
        let counts = self.axis_counts(cx)?;
        let total = counts.iter().fold(1u64, |a, &c| a.saturating_mul(c));
        if index < 0 || index as u64 >= total {
            return Ok(None);
        }
        let indices = Self::split_index(&counts, index);
        let mut parts = vec![PartitionKey::from(""); self.dims.len()];
        for (&pos, &i) in self.full.iter().zip(&indices) {
            match self.dims[pos].def.key_at(cx, i)? {
                Some(k) => parts[pos] = k,
                None => return Ok(None),
            }
        }
        if let Some(r) = &self.relation {
            let Some(keys) = r.keys_at(self, cx, indices[self.full.len()])? else {
                return Ok(None);
            };
            for (&pos, k) in r.dims.iter().zip(keys) {
                parts[pos] = k;
            }
        }
        Ok(Some(Self::join_key(&parts)))
    }

    pub fn index_of(&self, cx: &Context<'_>, key: &str) -> Result<Option<i64>, Error> {
        if let Some(r) = &self.relation {
            let parts: Vec<&str> = key.split('|').collect();
            if parts.len() != self.dims.len() {
                return Ok(None);
            }
            let mut flat = 0i64;
            for &pos in &self.full {
                let (Some(i), count) = self.dims[pos].def.index_and_count(cx, parts[pos])? else {
                    return Ok(None);
                };
                flat = flat.saturating_mul(count as i64).saturating_add(i);
            }
            let Some(rank) = r.rank_of(self, cx, &parts)? else {
                return Ok(None);
            };
            return Ok(Some(
                flat.saturating_mul(r.count(cx)? as i64)
                    .saturating_add(rank),
            ));
        }
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

    /// The product of per-dimension subsets, as flat indices: of a sparse definition, the
    /// combinations that exist among it. Per-dimension indices outside a full dimension's
    /// existing range become unindexed keys.
    pub fn product(
        &self,
        cx: &Context<'_>,
        parts: &[PartitionSubset],
    ) -> Result<PartitionSubset, Error> {
        let counts = self.axis_counts(cx)?;
        let mut in_range = Vec::with_capacity(counts.len());
        let mut has_outside = false;
        for (&pos, &count) in self.full.iter().zip(&counts) {
            let (inside, outside) = parts[pos].split_existing(count);
            has_outside |= !outside.is_empty();
            in_range.push(inside);
        }
        if let Some(r) = &self.relation {
            in_range.push(r.matching(self, cx, parts)?);
        }
        let mut out = PartitionSubset::empty();
        let strides = strides(&counts);
        // Axes from `k` on all full: a range of axis `k - 1` is one flat range.
        let mut suffix_full = vec![true; counts.len() + 1];
        for k in (0..counts.len()).rev() {
            suffix_full[k] = suffix_full[k + 1] && in_range[k].indices().len() == counts[k];
        }
        fill(&in_range, &strides, &suffix_full, 0, 0, &mut out);
        if has_outside {
            // Combinations touching a nonexistent dimension key: list them as keys.
            let mut combos: Vec<Vec<PartitionKey>> =
                vec![vec![PartitionKey::from(""); self.dims.len()]];
            let mut expand = |positions: &[usize], choices: Vec<Vec<PartitionKey>>| {
                combos = combos
                    .iter()
                    .flat_map(|prefix| {
                        choices.iter().map(move |choice| {
                            let mut next = prefix.clone();
                            for (&pos, k) in positions.iter().zip(choice) {
                                next[pos] = k.clone();
                            }
                            next
                        })
                    })
                    .collect();
            };
            for &pos in &self.full {
                let keys = self.dims[pos].def.subset_keys(cx, &parts[pos])?;
                expand(&[pos], keys.map(|k| vec![k]).collect());
            }
            if let (Some(r), Some(ranks)) = (&self.relation, in_range.last()) {
                let mut rows = Vec::new();
                for rank in ranks.indices().iter() {
                    rows.extend(r.keys_at(self, cx, rank)?);
                }
                expand(&r.dims, rows);
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
        let mut out = vec![PartitionSubset::empty(); self.dims.len()];
        for rect in self.rectangles(cx, subset)? {
            for (slot, part) in out.iter_mut().zip(rect) {
                *slot = slot.union(&part);
            }
        }
        Ok(out)
    }

    /// Splits a subset into rectangles (one subset per dimension, whose product is part of the
    /// subset) so that per-dimension mappings keep the pairing of keys: `{(a, 1), (c, 3)}` must
    /// not become `{a, c} × {1, 3}`. A range costs `O(dimensions)` rectangles; of a sparse
    /// definition, one more per combination it covers.
    pub fn rectangles(
        &self,
        cx: &Context<'_>,
        subset: &PartitionSubset,
    ) -> Result<Vec<Vec<PartitionSubset>>, Error> {
        let counts = self.axis_counts(cx)?;
        let mut out = Vec::new();
        for &(a, b) in subset.indices().ranges() {
            for boxed in boxes(&counts, a, b) {
                let mut rect = vec![PartitionSubset::empty(); self.dims.len()];
                for (k, &(lo, hi)) in boxed.iter().enumerate() {
                    if !self.is_relation_axis(k) {
                        rect[self.full[k]] = PartitionSubset::from_range(lo, hi);
                    }
                }
                let Some(r) = &self.relation else {
                    out.push(rect);
                    continue;
                };
                let (lo, hi) = boxed[self.full.len()];
                for rank in lo..hi {
                    let mut one = rect.clone();
                    for (&pos, part) in r.dims.iter().zip(r.parts_at(self, cx, rank)?) {
                        one[pos] = part;
                    }
                    out.push(one);
                }
            }
        }
        for key in subset.unindexed() {
            let parts = self.split_key(key.as_str())?;
            let mut rect = Vec::with_capacity(self.dims.len());
            for (d, part) in self.dims.iter().zip(parts) {
                // A time part must at least parse: a key with its parts in the wrong order is
                // a caller's mistake to report, not a partition to wait for.
                if let PartitionsDefinition::TimeWindow(tw) = &d.def {
                    tw.parse_key(part)?;
                }
                rect.push(dimension_part(&d.def, cx, part)?);
            }
            out.push(rect);
        }
        Ok(out)
    }

    pub fn validate(&self) -> Result<(), Error> {
        self.dims.iter().try_for_each(|d| d.def.validate())
    }

    /// Whether indices computed at one time hold later (see
    /// [`PartitionsDefinition::indices_stable_over_time`]): only the outermost axis may grow.
    pub(crate) fn indices_stable_over_time(&self) -> bool {
        self.full.iter().enumerate().all(|(k, &pos)| {
            let def = &self.dims[pos].def;
            def.indices_stable_over_time()
                && (k == 0 || !matches!(def, PartitionsDefinition::TimeWindow(_)))
        })
    }

    /// The dynamic sets the definition reads: its dimensions' and its combinations'.
    pub(crate) fn dynamic_sets(&self) -> impl Iterator<Item = &str> {
        self.dims
            .iter()
            .filter_map(|d| match &d.def {
                PartitionsDefinition::Dynamic(d) => Some(d.name()),
                _ => None,
            })
            .chain(self.combination_set().map(DynamicPartitions::name))
    }
}

/// One dimension's key as a subset of that dimension: its index, or the key when it has none.
fn dimension_part(
    def: &PartitionsDefinition,
    cx: &Context<'_>,
    part: &str,
) -> Result<PartitionSubset, Error> {
    Ok(match def.index_of(cx, part)? {
        Some(i) => PartitionSubset::from_range(i, i + 1),
        None => PartitionSubset::empty().with_unindexed([PartitionKey::from(part)]),
    })
}

impl Relation {
    fn count(&self, cx: &Context<'_>) -> Result<u64, Error> {
        Ok(match &self.source {
            Source::Listed { rows, .. } => rows.len() as u64,
            Source::Dynamic(d) => cx.store(d)?.count(d.name()),
        })
    }

    /// The keys of the combination at `rank`, in `dims` order.
    fn keys_at(
        &self,
        multi: &MultiPartitions,
        cx: &Context<'_>,
        rank: i64,
    ) -> Result<Option<Vec<PartitionKey>>, Error> {
        let Ok(r) = u64::try_from(rank) else {
            return Ok(None);
        };
        match &self.source {
            Source::Listed { counts, rows } => {
                let Some(&flat) = usize::try_from(r).ok().and_then(|r| rows.get(r)) else {
                    return Ok(None);
                };
                let mut keys = Vec::with_capacity(self.dims.len());
                for (&pos, i) in self
                    .dims
                    .iter()
                    .zip(MultiPartitions::split_index(counts, flat))
                {
                    match multi.dims[pos].def.key_at(cx, i)? {
                        Some(k) => keys.push(k),
                        None => return Ok(None),
                    }
                }
                Ok(Some(keys))
            }
            Source::Dynamic(d) => {
                let Some(joined) = cx.store(d)?.key_at(d.name(), r) else {
                    return Ok(None);
                };
                let keys: Vec<PartitionKey> =
                    joined.as_str().split('|').map(PartitionKey::from).collect();
                Ok((keys.len() == self.dims.len()).then_some(keys))
            }
        }
    }

    /// The combination at `rank` as one subset per combined dimension.
    fn parts_at(
        &self,
        multi: &MultiPartitions,
        cx: &Context<'_>,
        rank: i64,
    ) -> Result<Vec<PartitionSubset>, Error> {
        if let Source::Listed { counts, rows } = &self.source
            && let Some(&flat) = usize::try_from(rank).ok().and_then(|r| rows.get(r))
        {
            return Ok(MultiPartitions::split_index(counts, flat)
                .into_iter()
                .map(|i| PartitionSubset::from_range(i, i + 1))
                .collect());
        }
        let keys = self.keys_at(multi, cx, rank)?.unwrap_or_default();
        self.dims
            .iter()
            .zip(&keys)
            .map(|(&pos, k)| dimension_part(&multi.dims[pos].def, cx, k.as_str()))
            .collect()
    }

    /// The rank of the combination of a split key (one part per dimension of the definition).
    fn rank_of(
        &self,
        multi: &MultiPartitions,
        cx: &Context<'_>,
        parts: &[&str],
    ) -> Result<Option<i64>, Error> {
        match &self.source {
            Source::Listed { counts, rows } => {
                let mut flat = 0i64;
                for (&pos, &count) in self.dims.iter().zip(counts) {
                    let Some(i) = multi.dims[pos].def.index_of(cx, parts[pos])? else {
                        return Ok(None);
                    };
                    flat = flat * count as i64 + i;
                }
                Ok(rows.binary_search(&flat).ok().map(|r| r as i64))
            }
            Source::Dynamic(d) => {
                let joined: Vec<&str> = self.dims.iter().map(|&pos| parts[pos]).collect();
                Ok(cx
                    .store(d)?
                    .index_of(d.name(), &joined.join("|"))
                    .map(|r| r as i64))
            }
        }
    }

    /// The ranks of the combinations whose every key is in its dimension's part.
    fn matching(
        &self,
        multi: &MultiPartitions,
        cx: &Context<'_>,
        parts: &[PartitionSubset],
    ) -> Result<PartitionSubset, Error> {
        let count = self.count(cx)?;
        let mut all = true;
        for &pos in &self.dims {
            let n = multi.dims[pos].def.count(cx)?;
            let (inside, _) = parts[pos].split_existing(n);
            all &= inside.indices().len() == n;
        }
        if all {
            return Ok(PartitionSubset::from_range(0, count as i64));
        }
        let mut out = PartitionSubset::empty();
        for rank in 0..count as i64 {
            let rect = self.parts_at(multi, cx, rank)?;
            let contained = self.dims.iter().zip(&rect).all(|(&pos, one)| {
                one.indices()
                    .first()
                    .map_or(one.unindexed().is_subset(parts[pos].unindexed()), |i| {
                        parts[pos].contains_index(i)
                    })
            });
            if contained {
                out.insert_index(rank);
            }
        }
        Ok(out)
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
