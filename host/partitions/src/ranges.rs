//! Range-encoded sets of `i64` partition indices.
//!
//! A definition may have ten million partitions, and a subset of them ("everything but a
//! thousand failed runs") must cost kilobytes, not megabytes. [`RangeSet`] therefore stores runs
//! of consecutive indices as half-open ranges `[start, end)` and does every set operation by
//! walking ranges, never individual values: cost grows with the number of *runs*, not with the
//! number of partitions.
//!
//! Indices are `i64` because negative indices are meaningful (time windows before a definition's
//! start, reported as "required but nonexistent").
//!
//! # Representation and the one value that cannot be stored
//!
//! The ranges are kept canonical: every range is non-empty (`start < end`), ranges are sorted,
//! and consecutive ranges leave a gap (`prev.end < next.start`) — touching ranges are merged.
//! Canonical form makes equality and hashing structural, and bounds memory by the number of runs.
//!
//! Because ends are exclusive `i64`s, the largest storable value is `i64::MAX - 1`
//! ([`RangeSet::MAX_VALUE`]): `i64::MAX` would need an end of `i64::MAX + 1`. Operations that
//! are handed `i64::MAX` as a *value* ignore it (`insert(i64::MAX)` is a no-op, `from_values`
//! skips it, `contains(i64::MAX)` is always false). As a range *end* `i64::MAX` is fine.
//!
//! # Formats
//!
//! * serde: a flat array of alternating starts and ends, `[0,10,20,25]`; deserializing checks
//!   the canonical-form invariant and rejects anything else with a serde error.
//! * [`Display`](fmt::Display): `{0..10, 20..25}` (half-open, for logs and debugging).
//! * [`RangeSet::to_compact_string`] / [`RangeSet::parse_compact`]: `0-9,20-24` (inclusive
//!   ends, for people: CLI arguments, UI). Negative values are allowed: `-3--1`.

use std::cmp::{max, min};
use std::fmt;
use std::num::ParseIntError;
use std::ops::{BitAnd, BitOr, BitXor, Sub};

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A set of `i64` stored as sorted, disjoint, non-adjacent half-open ranges `[start, end)`.
///
/// Invariant (checked by the tests after every operation, and by deserialization): every
/// range has `start < end`, ranges are sorted, and `prev.end < next.start` for consecutive
/// ranges. See the [module docs](self) for why `i64::MAX` itself is not storable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RangeSet {
    ranges: Vec<(i64, i64)>,
}

/// Number of values in `[start, end)`. `abs_diff` is exact for any pair of `i64`s (the widest
/// range, `[i64::MIN, i64::MAX)`, holds `u64::MAX` values), so no widening is needed.
fn range_len(start: i64, end: i64) -> u64 {
    end.abs_diff(start)
}

/// Appends `[start, end)` to ranges that are sorted by start and canonical so far, where
/// `start` is not below the last range's start. Merges on overlap *or adjacency*; this is the
/// single place where coalescing happens for all linear merges.
fn push_merged(out: &mut Vec<(i64, i64)>, start: i64, end: i64) {
    if start >= end {
        return;
    }
    match out.last_mut() {
        Some(last) if start <= last.1 => last.1 = max(last.1, end),
        _ => out.push((start, end)),
    }
}

/// Wraps ranges built by a merge. Merges reserve for the worst case (`n + m` ranges), which a
/// union of two "all but a thousand" sets overshoots a thousandfold; give the slack back so
/// that a set's footprint follows its range count, not the history of how it was built.
fn from_built(mut ranges: Vec<(i64, i64)>) -> RangeSet {
    if ranges.capacity() > 2 * ranges.len() + 8 {
        ranges.shrink_to_fit();
    }
    RangeSet { ranges }
}

/// Whether `ranges` satisfies the `RangeSet` invariant.
fn is_canonical(ranges: &[(i64, i64)]) -> bool {
    ranges.iter().all(|&(s, e)| s < e) && ranges.windows(2).all(|w| w[0].1 < w[1].0)
}

impl RangeSet {
    /// The largest value a `RangeSet` can hold (`i64::MAX - 1`; ends are exclusive).
    pub const MAX_VALUE: i64 = i64::MAX - 1;

    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The values `[start, end)`; empty if `end <= start`.
    pub fn from_range(start: i64, end: i64) -> Self {
        if start < end {
            RangeSet {
                ranges: vec![(start, end)],
            }
        } else {
            Self::new()
        }
    }

    /// The union of half-open ranges given in any order; empty and reversed ranges
    /// (`end <= start`) contribute nothing, overlapping and touching ones are merged.
    pub fn from_ranges<I: IntoIterator<Item = (i64, i64)>>(it: I) -> Self {
        let mut ranges: Vec<(i64, i64)> = it.into_iter().filter(|&(s, e)| s < e).collect();
        if is_canonical(&ranges) {
            // Already canonical (e.g. produced by another RangeSet): keep it as it is.
            return RangeSet { ranges };
        }
        ranges.sort_unstable();
        let mut out = Vec::with_capacity(ranges.len());
        for (s, e) in ranges {
            push_merged(&mut out, s, e);
        }
        from_built(out)
    }

    /// The set of the given values, in any order, duplicates allowed. Sorted input is
    /// consumed in one pass with no sort; unsorted input is compressed into runs as far as its
    /// order allows, then sorted and merged once. `i64::MAX` is not storable and is skipped.
    pub fn from_values<I: IntoIterator<Item = i64>>(it: I) -> Self {
        let mut ranges: Vec<(i64, i64)> = Vec::new();
        let mut sorted = true;
        for v in it {
            let Some(next) = v.checked_add(1) else {
                continue;
            };
            match ranges.last_mut() {
                // Inside or directly after the current run: extend it (or do nothing).
                Some(last) if last.0 <= v && v <= last.1 => last.1 = max(last.1, next),
                Some(last) if v > last.1 => ranges.push((v, next)),
                Some(_) => {
                    // Out of order: record a run anyway and normalise at the end.
                    sorted = false;
                    ranges.push((v, next));
                }
                None => ranges.push((v, next)),
            }
        }
        if sorted {
            RangeSet { ranges }
        } else {
            Self::from_ranges(ranges)
        }
    }

    /// Adds `v`. `i64::MAX` is not storable, so inserting it does nothing.
    pub fn insert(&mut self, v: i64) {
        if let Some(next) = v.checked_add(1) {
            self.insert_range(v, next);
        }
    }

    /// Adds every value of `[start, end)` (nothing if `end <= start`). O(log n) to find the
    /// place, plus the cost of shifting the vector when ranges are added or swallowed.
    pub fn insert_range(&mut self, start: i64, end: i64) {
        if start >= end {
            return;
        }
        // Ranges in lo..hi overlap or touch [start, end] and are merged with it into one.
        let lo = self.ranges.partition_point(|&(_, e)| e < start);
        let hi = self.ranges.partition_point(|&(s, _)| s <= end);
        let (mut new_start, mut new_end) = (start, end);
        if lo < hi {
            new_start = min(new_start, self.ranges[lo].0);
            new_end = max(new_end, self.ranges[hi - 1].1);
        }
        self.ranges.splice(lo..hi, [(new_start, new_end)]);
    }

    /// Removes `v` if present.
    pub fn remove(&mut self, v: i64) {
        // i64::MAX is never a member, so there is nothing to remove when v + 1 overflows.
        if let Some(next) = v.checked_add(1) {
            self.remove_range(v, next);
        }
    }

    /// Removes every value of `[start, end)` (nothing if `end <= start`). A range that
    /// straddles the hole is split in two, which is how "all but a thousand" stays at a
    /// thousand and one ranges.
    pub fn remove_range(&mut self, start: i64, end: i64) {
        if start >= end {
            return;
        }
        // Ranges in lo..hi share at least one value with [start, end).
        let lo = self.ranges.partition_point(|&(_, e)| e <= start);
        let hi = self.ranges.partition_point(|&(s, _)| s < end);
        if lo >= hi {
            return;
        }
        let first_start = self.ranges[lo].0;
        let last_end = self.ranges[hi - 1].1;
        let left = (first_start < start).then_some((first_start, start));
        let right = (last_end > end).then_some((end, last_end));
        self.ranges.splice(lo..hi, left.into_iter().chain(right));
    }

    /// Whether `v` is in the set. O(log n) in the number of ranges.
    pub fn contains(&self, v: i64) -> bool {
        let idx = self.ranges.partition_point(|&(s, _)| s <= v);
        idx > 0 && v < self.ranges[idx - 1].1
    }

    /// Number of values. O(number of ranges); computed on demand so it can never go stale.
    /// Cannot overflow: disjoint ranges inside `[i64::MIN, i64::MAX)` hold at most `u64::MAX`
    /// values in total.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|&(s, e)| range_len(s, e)).sum()
    }

    /// Whether the set has no values.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of maximal runs of consecutive values.
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    /// The smallest value.
    pub fn first(&self) -> Option<i64> {
        self.ranges.first().map(|&(s, _)| s)
    }

    /// The largest value.
    pub fn last(&self) -> Option<i64> {
        // end > start >= i64::MIN, so end - 1 cannot underflow.
        self.ranges.last().map(|&(_, e)| e - 1)
    }

    /// The canonical ranges: sorted, non-empty, half-open, with gaps between them.
    pub fn ranges(&self) -> &[(i64, i64)] {
        &self.ranges
    }

    /// The values in ascending order, produced lazily (never materialised).
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.ranges.iter().flat_map(|&(s, e)| s..e)
    }

    /// `self ∪ other`, by one linear merge: O(n + m) in the number of ranges.
    pub fn union(&self, other: &Self) -> Self {
        let (a, b) = (&self.ranges, &other.ranges);
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        // Feed ranges to push_merged in order of start; it coalesces overlap and adjacency.
        while i < a.len() || j < b.len() {
            let take_a = j >= b.len() || (i < a.len() && a[i].0 <= b[j].0);
            let (s, e) = if take_a { a[i] } else { b[j] };
            if take_a {
                i += 1;
            } else {
                j += 1;
            }
            push_merged(&mut out, s, e);
        }
        from_built(out)
    }

    /// `self ∩ other`: O(n + m). The pieces come out canonical without merging: two pieces
    /// are always separated by a gap of one of the inputs.
    pub fn intersection(&self, other: &Self) -> Self {
        let (a, b) = (&self.ranges, &other.ranges);
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let lo = max(a[i].0, b[j].0);
            let hi = min(a[i].1, b[j].1);
            if lo < hi {
                out.push((lo, hi));
            }
            // The range that ends first cannot meet anything further in the other input.
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        RangeSet { ranges: out }
    }

    /// `self \ other`: O(n + m).
    pub fn difference(&self, other: &Self) -> Self {
        let b = &other.ranges;
        let mut out = Vec::with_capacity(self.ranges.len());
        let mut j = 0;
        for &(s, e) in &self.ranges {
            // Ranges of `other` that end at or before `s` cannot touch this or later ranges.
            while j < b.len() && b[j].1 <= s {
                j += 1;
            }
            let mut cur = s;
            while j < b.len() && b[j].0 < e {
                if b[j].0 > cur {
                    out.push((cur, b[j].0));
                }
                cur = max(cur, b[j].1);
                if cur >= e {
                    // b[j] may reach into the next range of self: keep j on it.
                    break;
                }
                j += 1;
            }
            if cur < e {
                out.push((cur, e));
            }
        }
        from_built(out)
    }

    /// Values in exactly one of the two sets: O(n + m).
    pub fn symmetric_difference(&self, other: &Self) -> Self {
        // The two differences are disjoint, but may touch ([0,5) ⊕ [5,9) = [0,9)); union
        // merges them.
        self.difference(other).union(&other.difference(self))
    }

    /// Whether every value of `self` is in `other`: O(n + m).
    pub fn is_subset(&self, other: &Self) -> bool {
        let b = &other.ranges;
        let mut j = 0;
        self.ranges.iter().all(|&(s, e)| {
            while j < b.len() && b[j].1 <= s {
                j += 1;
            }
            // `other` has gaps between its ranges, so a run of `self` must fit inside one.
            j < b.len() && b[j].0 <= s && e <= b[j].1
        })
    }

    /// Whether the sets share no value: O(n + m).
    pub fn is_disjoint(&self, other: &Self) -> bool {
        let (a, b) = (&self.ranges, &other.ranges);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if max(a[i].0, b[j].0) < min(a[i].1, b[j].1) {
                return false;
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        true
    }

    /// `[start, end) \ self`: the values of the window that are *not* in the set (e.g. the
    /// missing partitions of a definition with `end` partitions). O(log n + k), k = number of
    /// ranges inside the window.
    pub fn complement_within(&self, start: i64, end: i64) -> Self {
        if start >= end {
            return Self::new();
        }
        let lo = self.ranges.partition_point(|&(_, e)| e <= start);
        let mut out = Vec::new();
        let mut cur = start;
        for &(s, e) in &self.ranges[lo..] {
            if s >= end {
                break;
            }
            if s > cur {
                out.push((cur, s));
            }
            cur = max(cur, e);
        }
        if cur < end {
            out.push((cur, end));
        }
        RangeSet { ranges: out }
    }

    /// `self ∩ [start, end)`: O(log n + k), k = number of ranges inside the window.
    pub fn clamp(&self, start: i64, end: i64) -> Self {
        if start >= end {
            return Self::new();
        }
        let lo = self.ranges.partition_point(|&(_, e)| e <= start);
        let hi = self.ranges.partition_point(|&(s, _)| s < end);
        let ranges = self.ranges[lo..max(lo, hi)]
            .iter()
            .map(|&(s, e)| (max(s, start), min(e, end)))
            .collect();
        RangeSet { ranges }
    }

    /// Every value moved by `delta`, **saturating**: range ends are clamped to
    /// `[i64::MIN, i64::MAX]`, so values whose shifted position would fall outside the
    /// storable domain `[i64::MIN, i64::MAX - 1]` are dropped rather than wrapped (and
    /// `len` shrinks accordingly). Shifting by an amount that keeps every value in the domain
    /// — the normal case — is exact.
    pub fn shift(&self, delta: i64) -> Self {
        // Saturating addition is monotone, so order is kept; a clamped half-open range is
        // exactly the in-domain part of the shifted range. Ranges pushed against a bound
        // collapse to empty and are dropped by push_merged.
        let mut out = Vec::with_capacity(self.ranges.len());
        for &(s, e) in &self.ranges {
            push_merged(&mut out, s.saturating_add(delta), e.saturating_add(delta));
        }
        from_built(out)
    }

    /// The `n`-th smallest value, 0-based (`nth(0) == first()`). O(number of ranges).
    pub fn nth(&self, n: u64) -> Option<i64> {
        let mut n = n;
        for &(s, e) in &self.ranges {
            let len = range_len(s, e);
            if n < len {
                // s + n < e, so this cannot overflow; checked_ keeps it provably panic-free.
                return s.checked_add_unsigned(n);
            }
            n -= len;
        }
        None
    }

    /// Number of values strictly less than `v` — the inverse of [`nth`](Self::nth): for a
    /// member `v`, `nth(rank(v)) == Some(v)`. O(number of ranges).
    pub fn rank(&self, v: i64) -> u64 {
        let mut rank = 0u64;
        for &(s, e) in &self.ranges {
            if e <= v {
                rank += range_len(s, e);
            } else {
                if s < v {
                    rank += range_len(s, v);
                }
                break;
            }
        }
        rank
    }

    /// Values in ascending order starting at the `offset`-th (0-based), at most `limit` of
    /// them: one page of a listing. Locating the offset walks ranges, not values, so deep pages
    /// are as cheap as the first.
    pub fn page(&self, offset: u64, limit: usize) -> impl Iterator<Item = i64> + '_ {
        // Find the range holding the offset-th value, and that value.
        let mut skip = offset;
        let mut found = None;
        for (idx, &(s, e)) in self.ranges.iter().enumerate() {
            let len = range_len(s, e);
            if skip < len {
                found = s.checked_add_unsigned(skip).map(|first| (idx, first));
                break;
            }
            skip -= len;
        }
        let (tail, first) = match found {
            Some((idx, first)) => (&self.ranges[idx..], first),
            None => (&self.ranges[..0], 0),
        };
        tail.iter()
            .enumerate()
            .flat_map(move |(k, &(s, e))| (if k == 0 { first } else { s })..e)
            .take(limit)
    }

    /// Approximate heap bytes used: the ranges vector's allocation (its capacity, since that is
    /// what is actually held).
    pub fn heap_bytes(&self) -> usize {
        self.ranges.capacity() * size_of::<(i64, i64)>()
    }

    /// The compact, human-oriented form: inclusive runs separated by commas, a single value
    /// without a dash, e.g. `0-9,20-24` or `-3--1,5`. The empty set is the empty string.
    pub fn to_compact_string(&self) -> String {
        CompactDisplay(self).to_string()
    }

    /// Parses the form written by [`to_compact_string`](Self::to_compact_string).
    ///
    /// Lenient where it is harmless: whitespace around items and around the dash is ignored,
    /// and items may come in any order and overlap (they are unioned). Strict where input is
    /// probably a mistake: empty items (`1,,2`, a trailing comma), reversed runs (`9-0`),
    /// non-numbers, and `i64::MAX` (not storable) are errors.
    pub fn parse_compact(s: &str) -> Result<Self, RangeParseError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Self::new());
        }
        let mut ranges = Vec::new();
        for (index, item) in s.split(',').enumerate() {
            let item = item.trim();
            if item.is_empty() {
                return Err(RangeParseError::EmptyItem { index });
            }
            let (lo_text, hi_text) = split_compact_item(item);
            let lo = parse_endpoint(lo_text, item)?;
            let hi = match hi_text {
                Some(text) => parse_endpoint(text, item)?,
                None => lo,
            };
            if lo > hi {
                return Err(RangeParseError::Reversed { start: lo, end: hi });
            }
            let end = hi
                .checked_add(1)
                .ok_or(RangeParseError::OutOfRange { value: hi })?;
            ranges.push((lo, end));
        }
        Ok(Self::from_ranges(ranges))
    }
}

/// Splits a compact item at its range dash. The dash is the first `-` after a digit: a `-`
/// before any digit is the lower bound's sign, and one right after the range dash is the upper
/// bound's sign (`-3--1` → `-3`, `-1`).
fn split_compact_item(item: &str) -> (&str, Option<&str>) {
    let mut seen_digit = false;
    for (i, c) in item.char_indices() {
        if c.is_ascii_digit() {
            seen_digit = true;
        } else if c == '-' && seen_digit {
            return (&item[..i], Some(&item[i + 1..]));
        }
    }
    (item, None)
}

fn parse_endpoint(text: &str, item: &str) -> Result<i64, RangeParseError> {
    let text = text.trim();
    text.parse::<i64>()
        .map_err(|source| RangeParseError::InvalidNumber {
            item: item.to_owned(),
            text: text.to_owned(),
            source,
        })
}

/// Why [`RangeSet::parse_compact`] rejected its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeParseError {
    /// An empty item: two commas in a row, or a leading or trailing comma.
    #[error("empty item at position {index} (0-based) in range list")]
    EmptyItem { index: usize },
    /// An endpoint that is not an `i64`.
    #[error("invalid number {text:?} in range item {item:?}")]
    InvalidNumber {
        item: String,
        text: String,
        #[source]
        source: ParseIntError,
    },
    /// A run whose start is after its (inclusive) end.
    #[error("reversed range {start}-{end}: the start must not exceed the end")]
    Reversed { start: i64, end: i64 },
    /// A value that a `RangeSet` cannot hold (`i64::MAX`).
    #[error("value {value} is out of range: a range set holds values up to i64::MAX - 1")]
    OutOfRange { value: i64 },
}

/// Display adapter behind [`RangeSet::to_compact_string`].
#[derive(Debug)]
struct CompactDisplay<'a>(&'a RangeSet);

impl fmt::Display for CompactDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(s, e)) in self.0.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            // Inclusive upper bound; e > s >= i64::MIN so e - 1 cannot underflow.
            let hi = e - 1;
            if s == hi {
                write!(f, "{s}")?;
            } else {
                write!(f, "{s}-{hi}")?;
            }
        }
        Ok(())
    }
}

/// `{0..10, 20..25}`: half-open ranges, as stored.
impl fmt::Display for RangeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, &(s, e)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{s}..{e}")?;
        }
        f.write_str("}")
    }
}

impl FromIterator<i64> for RangeSet {
    fn from_iter<I: IntoIterator<Item = i64>>(iter: I) -> Self {
        Self::from_values(iter)
    }
}

impl Extend<i64> for RangeSet {
    /// Builds the new values into a set first and merges once, so extending by many values
    /// costs one linear merge rather than one vector shift per value.
    fn extend<I: IntoIterator<Item = i64>>(&mut self, iter: I) {
        let added = Self::from_values(iter);
        if self.is_empty() {
            *self = added;
        } else if !added.is_empty() {
            *self = self.union(&added);
        }
    }
}

impl BitOr for &RangeSet {
    type Output = RangeSet;
    fn bitor(self, rhs: Self) -> RangeSet {
        self.union(rhs)
    }
}

impl BitAnd for &RangeSet {
    type Output = RangeSet;
    fn bitand(self, rhs: Self) -> RangeSet {
        self.intersection(rhs)
    }
}

impl Sub for &RangeSet {
    type Output = RangeSet;
    fn sub(self, rhs: Self) -> RangeSet {
        self.difference(rhs)
    }
}

impl BitXor for &RangeSet {
    type Output = RangeSet;
    fn bitxor(self, rhs: Self) -> RangeSet {
        self.symmetric_difference(rhs)
    }
}

/// Serialized as a flat array of alternating starts and ends: `[0,10,20,25]`. Flat rather
/// than `[[0,10],[20,25]]` because it is the smallest JSON for the same information.
impl Serialize for RangeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.ranges.len() * 2))?;
        for &(s, e) in &self.ranges {
            seq.serialize_element(&s)?;
            seq.serialize_element(&e)?;
        }
        seq.end()
    }
}

/// Accepts only the canonical form [`Serialize`] writes: an even number of endpoints, each
/// range non-empty, and each range strictly after the previous one's end (a gap between them).
/// Anything else is a serde error, so a corrupted or hand-edited document cannot produce a
/// `RangeSet` that breaks the invariant the set algorithms rely on.
impl<'de> Deserialize<'de> for RangeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(EndpointsVisitor)
    }
}

/// Upper bound on ranges preallocated from a length hint: the hint comes from the input, which
/// must not be able to make us reserve gigabytes up front.
const MAX_PREALLOCATED_RANGES: usize = 4096;

#[derive(Debug)]
struct EndpointsVisitor;

impl<'de> Visitor<'de> for EndpointsVisitor {
    type Value = RangeSet;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a flat array of alternating range starts and (exclusive) ends, \
             sorted, non-empty, non-overlapping and non-adjacent",
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RangeSet, A::Error> {
        let hint = seq.size_hint().unwrap_or(0) / 2;
        let mut ranges: Vec<(i64, i64)> = Vec::with_capacity(min(hint, MAX_PREALLOCATED_RANGES));
        let mut endpoints = 0usize;
        while let Some(start) = seq.next_element::<i64>()? {
            endpoints += 1;
            let Some(end) = seq.next_element::<i64>()? else {
                return Err(de::Error::invalid_length(endpoints, &self));
            };
            endpoints += 1;
            if start >= end {
                return Err(de::Error::custom(format_args!(
                    "range set: empty or reversed range [{start}, {end})"
                )));
            }
            if let Some(&(prev_start, prev_end)) = ranges.last()
                && start <= prev_end
            {
                return Err(de::Error::custom(format_args!(
                    "range set: range [{start}, {end}) does not start after the end of \
                     [{prev_start}, {prev_end}) (ranges must be sorted, non-overlapping and \
                     non-adjacent)"
                )));
            }
            ranges.push((start, end));
        }
        Ok(RangeSet { ranges })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    const LO: i64 = -50;
    const HI: i64 = 50;

    fn model(set: &RangeSet) -> BTreeSet<i64> {
        set.iter().collect()
    }

    fn assert_canonical(set: &RangeSet) {
        assert!(
            is_canonical(set.ranges()),
            "not canonical: {:?}",
            set.ranges()
        );
    }

    /// Small-domain sets with both scattered values and long runs, so that every kind of
    /// overlap and adjacency between two of them is likely.
    fn small_set() -> impl Strategy<Value = RangeSet> {
        prop_oneof![
            prop::collection::vec(LO..HI, 0..30).prop_map(RangeSet::from_values),
            prop::collection::vec((LO..HI, 0i64..25), 0..6).prop_map(|rs| {
                RangeSet::from_ranges(rs.into_iter().map(|(s, l)| (s, min(s + l, HI))))
            }),
        ]
    }

    /// Values biased towards the ends of the `i64` domain and zero.
    fn edge_i64() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            Just(i64::MIN),
            Just(i64::MAX),
            i64::MIN..i64::MIN + 4,
            i64::MAX - 4..=i64::MAX,
            -4i64..4,
        ]
    }

    /// Sets anywhere in the `i64` domain, often touching its ends.
    fn wide_set() -> impl Strategy<Value = RangeSet> {
        prop::collection::vec((edge_i64(), edge_i64()), 0..6).prop_map(RangeSet::from_ranges)
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(i64),
        Remove(i64),
        InsertRange(i64, i64),
        RemoveRange(i64, i64),
        Extend(Vec<i64>),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (LO..HI).prop_map(Op::Insert),
            (LO..HI).prop_map(Op::Remove),
            (LO..HI, LO..HI).prop_map(|(a, b)| Op::InsertRange(a, b)),
            (LO..HI, LO..HI).prop_map(|(a, b)| Op::RemoveRange(a, b)),
            prop::collection::vec(LO..HI, 0..8).prop_map(Op::Extend),
        ]
    }

    proptest! {
        #[test]
        fn from_values_matches_model(values in prop::collection::vec(LO..HI, 0..60)) {
            let set = RangeSet::from_values(values.iter().copied());
            assert_canonical(&set);
            let expected: BTreeSet<i64> = values.iter().copied().collect();
            prop_assert_eq!(&model(&set), &expected);
            // Sorted input takes the fast path; it must give the same set.
            prop_assert_eq!(&RangeSet::from_values(expected.iter().copied()), &set);
            prop_assert_eq!(&values.iter().copied().collect::<RangeSet>(), &set);
        }

        #[test]
        fn from_ranges_matches_model(rs in prop::collection::vec((LO..HI, LO..HI), 0..8)) {
            let set = RangeSet::from_ranges(rs.iter().copied());
            assert_canonical(&set);
            let expected: BTreeSet<i64> = rs.iter().flat_map(|&(s, e)| s..e).collect();
            prop_assert_eq!(model(&set), expected);
        }

        #[test]
        fn mutations_match_model(start in small_set(), ops in prop::collection::vec(op(), 0..25)) {
            let mut set = start;
            let mut m = model(&set);
            for op in ops {
                match &op {
                    Op::Insert(v) => { set.insert(*v); m.insert(*v); }
                    Op::Remove(v) => { set.remove(*v); m.remove(v); }
                    Op::InsertRange(a, b) => { set.insert_range(*a, *b); m.extend(*a..*b); }
                    Op::RemoveRange(a, b) => {
                        set.remove_range(*a, *b);
                        m.retain(|v| !(*a..*b).contains(v));
                    }
                    Op::Extend(vs) => { set.extend(vs.iter().copied()); m.extend(vs.iter().copied()); }
                }
                assert_canonical(&set);
                prop_assert_eq!(model(&set), m.clone(), "after {:?}", op);
            }
        }

        #[test]
        fn binary_ops_match_model(a in small_set(), b in small_set()) {
            let (ma, mb) = (model(&a), model(&b));
            let checks = [
                (a.union(&b), ma.union(&mb).copied().collect::<BTreeSet<_>>()),
                (a.intersection(&b), ma.intersection(&mb).copied().collect()),
                (a.difference(&b), ma.difference(&mb).copied().collect()),
                (a.symmetric_difference(&b), ma.symmetric_difference(&mb).copied().collect()),
                (&a | &b, ma.union(&mb).copied().collect()),
                (&a & &b, ma.intersection(&mb).copied().collect()),
                (&a - &b, ma.difference(&mb).copied().collect()),
                (&a ^ &b, ma.symmetric_difference(&mb).copied().collect()),
            ];
            for (got, want) in checks {
                assert_canonical(&got);
                prop_assert_eq!(model(&got), want);
            }
            prop_assert_eq!(a.is_subset(&b), ma.is_subset(&mb));
            prop_assert_eq!(b.is_subset(&a), mb.is_subset(&ma));
            prop_assert_eq!(a.is_disjoint(&b), ma.is_disjoint(&mb));
        }

        #[test]
        fn queries_match_model(a in small_set()) {
            let m = model(&a);
            let sorted: Vec<i64> = m.iter().copied().collect();
            prop_assert_eq!(a.len(), m.len() as u64);
            prop_assert_eq!(a.is_empty(), m.is_empty());
            prop_assert_eq!(a.first(), m.first().copied());
            prop_assert_eq!(a.last(), m.last().copied());
            prop_assert_eq!(&a.iter().collect::<Vec<_>>(), &sorted);
            for v in LO - 3..HI + 3 {
                prop_assert_eq!(a.contains(v), m.contains(&v));
                prop_assert_eq!(a.rank(v), m.range(..v).count() as u64);
            }
            for n in 0..sorted.len() as u64 + 3 {
                prop_assert_eq!(a.nth(n), sorted.get(n as usize).copied());
                if let Some(v) = a.nth(n) {
                    prop_assert_eq!(a.rank(v), n);
                }
            }
            for offset in 0..sorted.len() as u64 + 2 {
                for limit in [0usize, 1, 3, 7, usize::MAX] {
                    let want: Vec<i64> =
                        sorted.iter().copied().skip(offset as usize).take(limit).collect();
                    prop_assert_eq!(a.page(offset, limit).collect::<Vec<_>>(), want);
                }
            }
        }

        #[test]
        fn windows_match_model(a in small_set(), s in LO - 5..HI + 5, e in LO - 5..HI + 5) {
            let m = model(&a);
            let comp = a.complement_within(s, e);
            let clamped = a.clamp(s, e);
            assert_canonical(&comp);
            assert_canonical(&clamped);
            prop_assert_eq!(model(&comp), (s..e).filter(|v| !m.contains(v)).collect::<BTreeSet<_>>());
            prop_assert_eq!(model(&clamped), m.iter().copied().filter(|v| (s..e).contains(v)).collect::<BTreeSet<_>>());
        }

        #[test]
        fn shift_matches_model(a in small_set(), delta in -120i64..120) {
            let shifted = a.shift(delta);
            assert_canonical(&shifted);
            prop_assert_eq!(model(&shifted), model(&a).iter().map(|v| v + delta).collect::<BTreeSet<_>>());
            prop_assert_eq!(shifted.shift(-delta), a);
        }

        #[test]
        fn shift_saturates_at_domain_ends(a in wide_set(), delta in edge_i64()) {
            let shifted = a.shift(delta);
            assert_canonical(&shifted);
            // Exactly the values whose shifted position is storable survive.
            let expected = RangeSet::from_ranges(a.ranges().iter().map(|&(s, e)| {
                let s = (i128::from(s) + i128::from(delta)).clamp(i128::from(i64::MIN), i128::from(i64::MAX));
                let e = (i128::from(e) + i128::from(delta)).clamp(i128::from(i64::MIN), i128::from(i64::MAX));
                (s as i64, e as i64)
            }));
            prop_assert_eq!(shifted, expected);
        }

        #[test]
        fn formats_round_trip(a in prop_oneof![small_set(), wide_set()]) {
            let json = serde_json::to_string(&a).unwrap();
            let back: RangeSet = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back, &a);
            let compact = a.to_compact_string();
            prop_assert_eq!(&RangeSet::parse_compact(&compact).unwrap(), &a);
            // Display lists exactly the stored ranges.
            let shown = a.to_string();
            prop_assert!(shown.starts_with('{') && shown.ends_with('}'), "{}", shown);
            prop_assert_eq!(shown.matches("..").count(), a.range_count());
        }

        /// Deserialization accepts exactly the canonical endpoint lists and never panics.
        #[test]
        fn deserialize_validates(endpoints in prop::collection::vec(prop_oneof![LO..HI, edge_i64()], 0..8)) {
            let json = serde_json::to_string(&endpoints).unwrap();
            let result: Result<RangeSet, _> = serde_json::from_str(&json);
            let pairs: Vec<(i64, i64)> = endpoints.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0], c[1])).collect();
            let valid = endpoints.len() % 2 == 0 && is_canonical(&pairs);
            prop_assert_eq!(result.is_ok(), valid, "{} -> {:?}", json, result);
            if let Ok(set) = result {
                prop_assert_eq!(set.ranges(), &pairs[..]);
            }
        }

        /// Arbitrary text never panics the parser; whatever it accepts round-trips.
        #[test]
        fn parse_compact_total(text in "[-0-9, ]{0,24}") {
            if let Ok(set) = RangeSet::parse_compact(&text) {
                assert_canonical(&set);
                prop_assert_eq!(RangeSet::parse_compact(&set.to_compact_string()).unwrap(), set);
            }
        }

        // ---- algebra laws, in a small domain and across the whole i64 domain ----

        #[test]
        fn laws_small(a in small_set(), b in small_set(), c in small_set()) {
            check_laws(&a, &b, &c, (LO - 1, HI + 1))?;
        }

        #[test]
        fn laws_wide(a in wide_set(), b in wide_set(), c in wide_set()) {
            check_laws(&a, &b, &c, (i64::MIN, i64::MAX))?;
        }
    }

    /// Set-algebra laws; `universe` is a window containing all three sets.
    fn check_laws(
        a: &RangeSet,
        b: &RangeSet,
        c: &RangeSet,
        universe: (i64, i64),
    ) -> Result<(), TestCaseError> {
        let (u0, u1) = universe;
        let comp = |x: &RangeSet| x.complement_within(u0, u1);
        // Commutativity and associativity.
        prop_assert_eq!(a | b, b | a);
        prop_assert_eq!(a & b, b & a);
        prop_assert_eq!(a ^ b, b ^ a);
        prop_assert_eq!(&(a | b) | c, a | &(b | c));
        prop_assert_eq!(&(a & b) & c, a & &(b & c));
        prop_assert_eq!(&(a ^ b) ^ c, a ^ &(b ^ c));
        // Distributivity, both ways.
        prop_assert_eq!(a & &(b | c), &(a & b) | &(a & c));
        prop_assert_eq!(a | &(b & c), &(a | b) & &(a | c));
        // De Morgan within the universe.
        prop_assert_eq!(comp(&(a | b)), &comp(a) & &comp(b));
        prop_assert_eq!(comp(&(a & b)), &comp(a) | &comp(b));
        // Difference is intersection with the complement; symmetric difference is union minus
        // intersection; double complement is the identity.
        prop_assert_eq!(a - b, a & &comp(b));
        prop_assert_eq!(a ^ b, &(a | b) - &(a & b));
        prop_assert_eq!(comp(&comp(a)), a.clone());
        // Inclusion–exclusion, summed in u128: two full-domain sets overflow u64.
        let (la, lb) = (u128::from(a.len()), u128::from(b.len()));
        prop_assert_eq!(
            u128::from((a | b).len()) + u128::from((a & b).len()),
            la + lb
        );
        prop_assert_eq!(
            u128::from(comp(a).len()) + la,
            u128::from(RangeSet::from_range(u0, u1).len())
        );
        // Order relations.
        prop_assert!((a & b).is_subset(a));
        prop_assert!(a.is_subset(&(a | b)));
        prop_assert!((a - b).is_disjoint(b));
        prop_assert_eq!(a.is_subset(b), (a - b).is_empty());
        prop_assert_eq!(a.is_disjoint(b), (a & b).is_empty());
        prop_assert_eq!(a.clamp(u0, u1), a.clone());
        for s in [a | b, a & b, a - b, a ^ b, comp(a)] {
            assert_canonical(&s);
        }
        Ok(())
    }

    // ---- examples and edges ----

    #[test]
    fn adjacency_merges() {
        let a = RangeSet::from_range(0, 5);
        let b = RangeSet::from_range(5, 9);
        assert_eq!((&a | &b).ranges(), &[(0, 9)]);
        assert_eq!((&a ^ &b).ranges(), &[(0, 9)]);
        assert_eq!(RangeSet::from_ranges([(5, 9), (0, 5)]).ranges(), &[(0, 9)]);
        assert_eq!(RangeSet::from_values([3, 1, 2, 0, 4]).ranges(), &[(0, 5)]);
        let mut s = RangeSet::from_values([0, 2]);
        s.insert(1);
        assert_eq!(s.ranges(), &[(0, 3)]);
        s.insert_range(3, 7);
        assert_eq!(s.ranges(), &[(0, 7)]);
        s.remove(3);
        assert_eq!(s.ranges(), &[(0, 3), (4, 7)]);
        s.remove_range(-10, 100);
        assert!(s.is_empty());
    }

    #[test]
    fn empty_and_reversed_inputs() {
        assert!(RangeSet::from_range(5, 5).is_empty());
        assert!(RangeSet::from_range(6, 5).is_empty());
        assert!(RangeSet::from_ranges([(3, 3), (9, 1)]).is_empty());
        let mut s = RangeSet::from_range(0, 10);
        s.insert_range(20, 15);
        s.remove_range(8, 2);
        assert_eq!(s.ranges(), &[(0, 10)]);
        assert!(s.complement_within(5, 5).is_empty());
        assert!(s.clamp(9, 3).is_empty());
        assert_eq!(s.complement_within(-2, 12).ranges(), &[(-2, 0), (10, 12)]);
        let e = RangeSet::new();
        assert_eq!(
            (e.len(), e.first(), e.last(), e.nth(0), e.rank(7)),
            (0, None, None, None, 0)
        );
        assert_eq!(e.page(0, 10).count(), 0);
        assert!(e.is_subset(&s) && e.is_disjoint(&s) && !s.is_subset(&e));
    }

    #[test]
    fn i64_extremes() {
        let mut s = RangeSet::new();
        s.insert(i64::MAX); // not storable: a no-op
        assert!(s.is_empty());
        assert!(!s.contains(i64::MAX));
        s.insert(RangeSet::MAX_VALUE);
        s.insert(i64::MIN);
        assert_eq!(
            s.ranges(),
            &[(i64::MIN, i64::MIN + 1), (i64::MAX - 1, i64::MAX)]
        );
        assert_eq!((s.first(), s.last()), (Some(i64::MIN), Some(i64::MAX - 1)));
        assert_eq!(s.len(), 2);
        assert_eq!(s.nth(1), Some(i64::MAX - 1));
        assert_eq!(s.rank(i64::MAX), 2);
        s.remove(i64::MAX);
        s.remove(i64::MIN);
        assert_eq!(s.ranges(), &[(i64::MAX - 1, i64::MAX)]);

        let full = RangeSet::from_range(i64::MIN, i64::MAX);
        assert_eq!(full.len(), u64::MAX);
        assert_eq!(full.nth(u64::MAX - 1), Some(i64::MAX - 1));
        assert_eq!(full.nth(u64::MAX), None);
        assert_eq!(full.rank(i64::MAX), u64::MAX);
        assert_eq!(full.rank(0), 1 << 63);
        assert_eq!(
            full.page(u64::MAX - 2, 5).collect::<Vec<_>>(),
            [i64::MAX - 2, i64::MAX - 1]
        );
        assert!(full.complement_within(i64::MIN, i64::MAX).is_empty());
        assert_eq!((&full | &full).len(), u64::MAX);
        assert_eq!(
            RangeSet::from_values([i64::MAX, i64::MAX - 1, i64::MAX]).len(),
            1
        );

        // Saturating shifts drop what would leave the domain instead of wrapping.
        assert_eq!(full.shift(10).ranges(), &[(i64::MIN + 10, i64::MAX)]);
        assert_eq!(full.shift(-10).ranges(), &[(i64::MIN, i64::MAX - 10)]);
        assert!(RangeSet::from_range(0, 10).shift(i64::MAX).is_empty());
        assert_eq!(
            RangeSet::from_range(-10, 10).shift(i64::MAX).ranges(),
            &[(i64::MAX - 10, i64::MAX)]
        );
        assert!(RangeSet::from_range(-10, 0).shift(i64::MIN).is_empty());
        assert_eq!(
            RangeSet::from_range(-10, 10).shift(i64::MIN).ranges(),
            &[(i64::MIN, i64::MIN + 10)]
        );

        // Formats at the extremes.
        let s = RangeSet::from_ranges([(i64::MIN, i64::MIN + 2), (i64::MAX - 1, i64::MAX)]);
        let compact = s.to_compact_string();
        assert_eq!(
            compact,
            "-9223372036854775808--9223372036854775807,9223372036854775806"
        );
        assert_eq!(RangeSet::parse_compact(&compact).unwrap(), s);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<RangeSet>(&json).unwrap(), s);
    }

    #[test]
    fn formats() {
        let s = RangeSet::from_ranges([(20, 25), (0, 10)]);
        assert_eq!(s.to_string(), "{0..10, 20..25}");
        assert_eq!(RangeSet::new().to_string(), "{}");
        assert_eq!(serde_json::to_string(&s).unwrap(), "[0,10,20,25]");
        assert_eq!(serde_json::from_str::<RangeSet>("[0,10,20,25]").unwrap(), s);
        assert_eq!(serde_json::to_string(&RangeSet::new()).unwrap(), "[]");
        assert_eq!(
            serde_json::from_str::<RangeSet>("[]").unwrap(),
            RangeSet::new()
        );
        assert_eq!(s.to_compact_string(), "0-9,20-24");
        assert_eq!(
            RangeSet::from_values([-3, -2, -1, 5]).to_compact_string(),
            "-3--1,5"
        );
        assert_eq!(RangeSet::new().to_compact_string(), "");
        assert_eq!(RangeSet::parse_compact("").unwrap(), RangeSet::new());
        assert_eq!(RangeSet::parse_compact("0-9,20-24").unwrap(), s);
        assert_eq!(
            RangeSet::parse_compact(" 20 - 24 , 0-4,5-9 ").unwrap(),
            s,
            "whitespace, order and adjacency are normalised"
        );
        assert_eq!(
            RangeSet::parse_compact("-3--1").unwrap().ranges(),
            &[(-3, 0)]
        );
        assert_eq!(
            RangeSet::parse_compact("-3-1").unwrap().ranges(),
            &[(-3, 2)]
        );
        assert_eq!(RangeSet::parse_compact("-7").unwrap().ranges(), &[(-7, -6)]);
    }

    #[test]
    fn deserialize_rejects_bad_input() {
        for bad in [
            "[0]",                      // odd length
            "[0,10,20]",                // odd length
            "[5,5]",                    // empty range
            "[9,1]",                    // reversed
            "[20,25,0,10]",             // unsorted
            "[0,10,5,15]",              // overlapping
            "[0,5,5,9]",                // adjacent: not coalesced
            "[0,1.5]",                  // not integers
            "[0,99999999999999999999]", // out of i64
            "{\"a\":1}",                // not an array
            "[\"0\",\"1\"]",            // strings
        ] {
            assert!(
                serde_json::from_str::<RangeSet>(bad).is_err(),
                "accepted {bad}"
            );
        }
        let err = serde_json::from_str::<RangeSet>("[0,10,5,15]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("non-overlapping"), "{err}");
    }

    #[test]
    fn parse_compact_errors() {
        use RangeParseError as E;
        assert_eq!(
            RangeSet::parse_compact("1,,2"),
            Err(E::EmptyItem { index: 1 })
        );
        assert_eq!(
            RangeSet::parse_compact("1,"),
            Err(E::EmptyItem { index: 1 })
        );
        assert_eq!(
            RangeSet::parse_compact(",1"),
            Err(E::EmptyItem { index: 0 })
        );
        assert_eq!(
            RangeSet::parse_compact("9-0"),
            Err(E::Reversed { start: 9, end: 0 })
        );
        assert_eq!(
            RangeSet::parse_compact("9223372036854775807"),
            Err(E::OutOfRange { value: i64::MAX })
        );
        for bad in [
            "a",
            "1-",
            "-",
            "1-2-3",
            "--1",
            "1..3",
            "99999999999999999999",
            "1 2",
        ] {
            let err = RangeSet::parse_compact(bad).unwrap_err();
            assert!(matches!(err, E::InvalidNumber { .. }), "{bad}: {err:?}");
        }
        let msg = RangeSet::parse_compact("0-x").unwrap_err().to_string();
        assert_eq!(msg, "invalid number \"x\" in range item \"0-x\"");
    }

    #[test]
    fn extend_and_collect() {
        let mut s: RangeSet = [5, 1, 2, 3].into_iter().collect();
        assert_eq!(s.ranges(), &[(1, 4), (5, 6)]);
        s.extend([4, 10]);
        assert_eq!(s.ranges(), &[(1, 6), (10, 11)]);
        s.extend(std::iter::empty());
        assert_eq!(s.range_count(), 2);
    }

    /// "Ten million partitions but a thousand" costs a thousand and one ranges, and operations
    /// on two such sets walk ranges, never values.
    #[test]
    fn scale_ten_million_with_holes() {
        let holes = |offset: i64| (0..1000).map(move |i| i * 10_000 + offset);
        let mut a = RangeSet::from_range(0, 10_000_000);
        for h in holes(5_000) {
            a.remove(h);
        }
        assert_eq!(a.range_count(), 1001);
        assert_eq!(a.len(), 9_999_000);
        assert!(
            a.heap_bytes() < 32 * 1024,
            "heap_bytes = {}",
            a.heap_bytes()
        );
        assert!(!a.contains(5_000) && a.contains(5_001) && a.contains(9_999_999));
        assert_eq!(a.nth(5_000), Some(5_001));
        assert_eq!(a.rank(9_999_999), 9_998_999);
        assert_eq!(
            a.page(9_998_998, 10).collect::<Vec<_>>(),
            [9_999_998, 9_999_999]
        );

        // Built the other way: the full range minus a set of holes.
        let b =
            RangeSet::from_range(0, 10_000_000).difference(&RangeSet::from_values(holes(7_000)));
        assert_eq!(b.range_count(), 1001);
        assert!(b.heap_bytes() < 32 * 1024);

        let both = a.intersection(&b);
        assert_eq!(both.range_count(), 2001);
        assert_eq!(both.len(), 9_998_000);
        assert!(both.heap_bytes() < 64 * 1024);
        let all = &a | &b;
        assert_eq!(all.ranges(), &[(0, 10_000_000)]);
        assert!(
            all.heap_bytes() < 1024,
            "a one-range union keeps no merge slack"
        );
        assert_eq!((&a ^ &b).len(), 2000);
        assert_eq!(
            a.complement_within(0, 10_000_000),
            RangeSet::from_values(holes(5_000))
        );
        assert!(both.is_subset(&a) && both.is_subset(&b));
    }
}
