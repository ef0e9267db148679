//! Partition mappings: which upstream partitions a downstream partition needs, and back.
//!
//! Every mapping works on [`PartitionSubset`]s in both directions and maps ranges to ranges:
//! a time-window mapping of a ten-million-partition range costs a few tick computations per
//! contiguous run, never a walk over keys. The built-in mappings are data the host evaluates;
//! a [`PluginMapping`] is code a plugin exports, which the host binds to that plugin (an
//! [`ExternalMapping`]) and calls in its sandbox with ranges, never key by key.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::definition::{Context, PartitionsDefinition};
use crate::error::Error;
use crate::key::PartitionKey;
use crate::multi::MultiPartitions;
use crate::subset::PartitionSubset;
use crate::time_window::TimeWindowPartitions;

/// How a downstream asset's partitions depend on an upstream asset's partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionMapping {
    /// Same key upstream and downstream.
    Identity,
    /// Every downstream partition needs every upstream partition.
    All,
    /// Every downstream partition needs the latest upstream partition.
    Last,
    /// Every downstream partition needs these upstream partitions.
    SpecificPartitions(Vec<PartitionKey>),
    /// Explicit pairs of static keys.
    Static(StaticMapping),
    /// Overlapping time windows, widened by offsets counted in downstream partitions.
    TimeWindow(TimeWindowMapping),
    /// One dimension of a multi-dimensional side maps to the single-dimensional other side.
    MultiToSingleDimension {
        /// The dimension; inferred when `None` (the one whose definition equals the other side,
        /// else the only time dimension when the other side is time-windowed).
        dimension: Option<String>,
    },
    /// Per-dimension mappings between two multi-dimensional definitions. Upstream dimensions
    /// not listed depend on every partition of their dimension.
    Multi(BTreeMap<String, DimensionMapping>),
    /// A mapping a plugin exports, by name.
    Plugin(PluginMapping),
}

/// A mapping evaluated outside this crate: a plugin's code, called by the host with ranges.
/// Implementations check what the code answers (see the runtime's resolver).
pub trait ExternalMapping: Send + Sync {
    fn to_upstream(
        &self,
        cx: &Context<'_>,
        subset: &PartitionSubset,
        downstream: &PartitionsDefinition,
        upstream: &PartitionsDefinition,
    ) -> Result<UpstreamPartitions, Error>;

    fn to_downstream(
        &self,
        cx: &Context<'_>,
        subset: &PartitionSubset,
        upstream: &PartitionsDefinition,
        downstream: &PartitionsDefinition,
    ) -> Result<PartitionSubset, Error>;
}

/// A mapping a plugin exports, named by an input; bound to the plugin that exports it when
/// the host builds its asset graph.
#[derive(Clone)]
pub struct PluginMapping {
    name: String,
    bound: Option<Arc<dyn ExternalMapping>>,
}

impl PluginMapping {
    pub fn new(name: impl Into<String>) -> Self {
        PluginMapping {
            name: name.into(),
            bound: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// This mapping evaluated by `code`.
    pub fn bind(&self, code: Arc<dyn ExternalMapping>) -> Self {
        PluginMapping {
            name: self.name.clone(),
            bound: Some(code),
        }
    }

    pub fn is_bound(&self) -> bool {
        self.bound.is_some()
    }

    fn code(&self) -> Result<&dyn ExternalMapping, Error> {
        self.bound.as_deref().ok_or_else(|| Error::UnboundMapping {
            name: self.name.clone(),
        })
    }
}

impl fmt::Debug for PluginMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginMapping")
            .field("name", &self.name)
            .field("bound", &self.bound.is_some())
            .finish()
    }
}

/// Equal when named alike and bound to the same code (or both unbound).
impl PartialEq for PluginMapping {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && match (&self.bound, &other.bound) {
                (None, None) => true,
                (Some(a), Some(b)) => std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b)),
                _ => false,
            }
    }
}

impl Eq for PluginMapping {}

/// Upstream key → the downstream keys that depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMapping {
    pub downstream_by_upstream: BTreeMap<PartitionKey, Vec<PartitionKey>>,
}

/// Time-window mapping parameters (see [`PartitionMapping::TimeWindow`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeWindowMapping {
    /// Moves the start of each downstream window by this many downstream partitions
    /// (-1: "also the previous one").
    pub start_offset: i64,
    /// Moves the end likewise.
    pub end_offset: i64,
    /// Upstream partitions that do not exist are dropped instead of reported.
    pub allow_nonexistent_upstream_partitions: bool,
}

/// The downstream dimension an upstream dimension maps to, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionMapping {
    pub downstream_dimension: String,
    pub mapping: PartitionMapping,
}

/// Result of mapping downstream partitions upstream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpstreamPartitions {
    /// Upstream partitions that exist and are needed.
    pub partitions: PartitionSubset,
    /// Upstream partitions that are needed but do not exist (before the upstream start, after
    /// its end, not complete yet, or keys it lacks), as indices of the upstream definition or
    /// as keys it cannot index.
    pub required_but_nonexistent: PartitionSubset,
}

impl fmt::Display for PartitionMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionMapping::Identity => write!(f, "identity mapping"),
            PartitionMapping::All => write!(f, "all-partitions mapping"),
            PartitionMapping::Last => write!(f, "last-partition mapping"),
            PartitionMapping::SpecificPartitions(keys) => {
                write!(
                    f,
                    "specific-partitions mapping {:?}",
                    keys.iter().map(PartitionKey::as_str).collect::<Vec<_>>()
                )
            }
            PartitionMapping::Static(m) => {
                write!(
                    f,
                    "static mapping of {} upstream keys",
                    m.downstream_by_upstream.len()
                )
            }
            PartitionMapping::TimeWindow(m) => write!(
                f,
                "time-window mapping (start_offset {}, end_offset {}{})",
                m.start_offset,
                m.end_offset,
                if m.allow_nonexistent_upstream_partitions {
                    ", nonexistent allowed"
                } else {
                    ""
                }
            ),
            PartitionMapping::MultiToSingleDimension { dimension } => match dimension {
                Some(d) => write!(f, "multi-to-single-dimension mapping on {d:?}"),
                None => write!(f, "multi-to-single-dimension mapping"),
            },
            PartitionMapping::Plugin(m) => write!(f, "plugin mapping {:?}", m.name),
            PartitionMapping::Multi(dims) => {
                write!(f, "multi-dimension mapping {{")?;
                for (i, (up, d)) in dims.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{up:?} → {:?}: {}", d.downstream_dimension, d.mapping)?;
                }
                write!(f, "}}")
            }
        }
    }
}

/// The mapping used when an input declares none, as Dagster infers it: time windows between
/// two time-window definitions (any cadences), multi-to-single when one side is a dimension of
/// the other, identity between other partitioned pairs, all when either side is unpartitioned.
pub fn infer_mapping(
    upstream: Option<&PartitionsDefinition>,
    downstream: Option<&PartitionsDefinition>,
) -> PartitionMapping {
    let (Some(up), Some(down)) = (upstream, downstream) else {
        return PartitionMapping::All;
    };
    match (up, down) {
        (PartitionsDefinition::TimeWindow(_), PartitionsDefinition::TimeWindow(_)) => {
            PartitionMapping::TimeWindow(TimeWindowMapping::default())
        }
        (PartitionsDefinition::Multi(m), single) | (single, PartitionsDefinition::Multi(m))
            if !matches!(single, PartitionsDefinition::Multi(_))
                && MultiToSingle::infer(m, single).is_ok() =>
        {
            PartitionMapping::MultiToSingleDimension { dimension: None }
        }
        _ => PartitionMapping::Identity,
    }
}

impl PartitionMapping {
    /// Checks that the mapping can relate these definitions (run when definitions load).
    pub fn validate(
        &self,
        upstream: &PartitionsDefinition,
        downstream: Option<&PartitionsDefinition>,
    ) -> Result<(), Error> {
        let incompatible = |reason: String| Error::IncompatibleMapping {
            mapping: self.to_string(),
            upstream: upstream.to_string(),
            downstream: downstream
                .map_or("an unpartitioned asset".to_string(), ToString::to_string),
            reason,
        };
        match self {
            PartitionMapping::All
            | PartitionMapping::Last
            | PartitionMapping::SpecificPartitions(_) => Ok(()),
            PartitionMapping::Identity => {
                let Some(down) = downstream else {
                    return Err(incompatible(
                        "the downstream asset is not partitioned".to_string(),
                    ));
                };
                identity_compatible(upstream, down).map_err(incompatible)
            }
            PartitionMapping::TimeWindow(_) => {
                let down = downstream.ok_or_else(|| {
                    incompatible("the downstream asset is not partitioned".into())
                })?;
                time_window_pair(upstream, down)
                    .map(|_| ())
                    .map_err(incompatible)
            }
            PartitionMapping::Static(m) => {
                let down = downstream.ok_or_else(|| {
                    incompatible("the downstream asset is not partitioned".into())
                })?;
                let (PartitionsDefinition::Static(_), PartitionsDefinition::Static(_)) =
                    (upstream, down)
                else {
                    return Err(incompatible(
                        "both sides must be static partitions".to_string(),
                    ));
                };
                m.check_sources(upstream)?;
                m.check_targets(down)
            }
            PartitionMapping::MultiToSingleDimension { dimension } => {
                let down = downstream.ok_or_else(|| {
                    incompatible("the downstream asset is not partitioned".into())
                })?;
                MultiToSingle::resolve(upstream, down, dimension.as_deref())
                    .map(|_| ())
                    .map_err(incompatible)
            }
            PartitionMapping::Plugin(_) => downstream
                .map(|_| ())
                .ok_or_else(|| incompatible("the downstream asset is not partitioned".into())),
            PartitionMapping::Multi(dims) => {
                let down = downstream.ok_or_else(|| {
                    incompatible("the downstream asset is not partitioned".into())
                })?;
                let (PartitionsDefinition::Multi(up_m), PartitionsDefinition::Multi(down_m)) =
                    (upstream, down)
                else {
                    return Err(incompatible(
                        "both sides must be multi-dimensional".to_string(),
                    ));
                };
                for (up_dim, d) in dims {
                    let up_d = up_m
                        .dimension(up_dim)
                        .ok_or_else(|| Error::UnknownDimension {
                            def: upstream.to_string(),
                            dimension: up_dim.clone(),
                        })?;
                    let down_d = down_m.dimension(&d.downstream_dimension).ok_or_else(|| {
                        Error::UnknownDimension {
                            def: down.to_string(),
                            dimension: d.downstream_dimension.clone(),
                        }
                    })?;
                    d.mapping.validate(&up_d.def, Some(&down_d.def))?;
                }
                Ok(())
            }
        }
    }

    /// The upstream partitions that the given downstream partitions need. `downstream` is
    /// `None` for an unpartitioned downstream asset (then `subset` is ignored).
    pub fn to_upstream(
        &self,
        cx: &Context<'_>,
        subset: &PartitionSubset,
        downstream: Option<&PartitionsDefinition>,
        upstream: &PartitionsDefinition,
    ) -> Result<UpstreamPartitions, Error> {
        let existing_only = |partitions: PartitionSubset| UpstreamPartitions {
            partitions,
            required_but_nonexistent: PartitionSubset::empty(),
        };
        match self {
            PartitionMapping::All => Ok(existing_only(upstream.all(cx)?)),
            PartitionMapping::Last => {
                let count = upstream.count(cx)?;
                Ok(existing_only(if count == 0 {
                    PartitionSubset::empty()
                } else {
                    PartitionSubset::from_range(count as i64 - 1, count as i64)
                }))
            }
            PartitionMapping::SpecificPartitions(keys) => {
                let count = upstream.count(cx)?;
                let mut wanted = PartitionSubset::empty();
                for key in keys {
                    match key_position(cx, upstream, key.as_str())? {
                        Some(i) => wanted.insert_index(i),
                        None => wanted.insert_unindexed(key.clone()),
                    }
                }
                Ok(split(&wanted, count, false))
            }
            PartitionMapping::Identity => {
                // Definitions that differ are refused by `validate` when they load; asked
                // anyway, identity maps key strings, and keys upstream lacks are reported.
                let down = self.partitioned(upstream, downstream)?;
                let translated = translate_identity(cx, subset, down, upstream)?;
                Ok(split(&translated, upstream.count(cx)?, false))
            }
            PartitionMapping::TimeWindow(m) => {
                let down = self.partitioned(upstream, downstream)?;
                let (up_tw, down_tw) = time_window_pair(upstream, down)
                    .map_err(|reason| self.incompatible(upstream, down, reason))?;
                Ok(m.to_upstream(cx, subset, down_tw, up_tw))
            }
            PartitionMapping::Static(m) => {
                let down = self.partitioned(upstream, downstream)?;
                let (PartitionsDefinition::Static(up), PartitionsDefinition::Static(_)) =
                    (upstream, down)
                else {
                    return Err(self.incompatible(
                        upstream,
                        down,
                        "both sides must be static partitions".into(),
                    ));
                };
                m.check_sources(upstream)?;
                let down_keys: Vec<PartitionKey> = down.subset_keys(cx, subset)?.collect();
                let mut out = PartitionSubset::empty();
                for (up_key, targets) in &m.downstream_by_upstream {
                    if targets.iter().any(|t| down_keys.contains(t))
                        && let Some(i) = up.index_of(up_key.as_str())
                    {
                        out.insert_index(i as i64);
                    }
                }
                Ok(existing_only(out))
            }
            PartitionMapping::MultiToSingleDimension { dimension } => {
                let down = self.partitioned(upstream, downstream)?;
                let rule = MultiToSingle::resolve(upstream, down, dimension.as_deref())
                    .map_err(|reason| self.incompatible(upstream, down, reason))?;
                rule.to_upstream(cx, subset, down, upstream)
            }
            PartitionMapping::Multi(dims) => {
                let down = self.partitioned(upstream, downstream)?;
                self.validate(upstream, Some(down))?;
                multi_to_upstream(cx, dims, subset, down, upstream)
            }
            PartitionMapping::Plugin(m) => {
                let down = self.partitioned(upstream, downstream)?;
                m.code()?.to_upstream(cx, subset, down, upstream)
            }
        }
    }

    /// The downstream partitions that depend on the given upstream partitions.
    pub fn to_downstream(
        &self,
        cx: &Context<'_>,
        subset: &PartitionSubset,
        upstream: &PartitionsDefinition,
        downstream: &PartitionsDefinition,
    ) -> Result<PartitionSubset, Error> {
        match self {
            PartitionMapping::All => {
                if subset.is_empty() {
                    Ok(PartitionSubset::empty())
                } else {
                    downstream.all(cx)
                }
            }
            PartitionMapping::Last => {
                let count = upstream.count(cx)?;
                if count > 0 && subset.contains_index(count as i64 - 1) {
                    downstream.all(cx)
                } else {
                    Ok(PartitionSubset::empty())
                }
            }
            PartitionMapping::SpecificPartitions(keys) => {
                for key in keys {
                    if let Some(i) = key_position(cx, upstream, key.as_str())?
                        && subset.contains_index(i)
                    {
                        return downstream.all(cx);
                    }
                    if subset.unindexed().contains(key) {
                        return downstream.all(cx);
                    }
                }
                Ok(PartitionSubset::empty())
            }
            PartitionMapping::Identity => {
                let translated = translate_identity(cx, subset, upstream, downstream)?;
                Ok(split(&translated, downstream.count(cx)?, true).partitions)
            }
            PartitionMapping::TimeWindow(m) => {
                let (up_tw, down_tw) = time_window_pair(upstream, downstream)
                    .map_err(|reason| self.incompatible(upstream, downstream, reason))?;
                Ok(m.to_downstream(cx, subset, up_tw, down_tw))
            }
            PartitionMapping::Static(m) => {
                let (PartitionsDefinition::Static(_), PartitionsDefinition::Static(down)) =
                    (upstream, downstream)
                else {
                    return Err(self.incompatible(
                        upstream,
                        downstream,
                        "both sides must be static partitions".into(),
                    ));
                };
                m.check_targets(downstream)?;
                let up_keys: Vec<PartitionKey> = upstream.subset_keys(cx, subset)?.collect();
                let mut out = PartitionSubset::empty();
                for key in &up_keys {
                    for target in m.downstream_by_upstream.get(key).into_iter().flatten() {
                        if let Some(i) = down.index_of(target.as_str()) {
                            out.insert_index(i as i64);
                        }
                    }
                }
                Ok(out)
            }
            PartitionMapping::MultiToSingleDimension { dimension } => {
                let rule = MultiToSingle::resolve(upstream, downstream, dimension.as_deref())
                    .map_err(|reason| self.incompatible(upstream, downstream, reason))?;
                rule.to_downstream(cx, subset, upstream, downstream)
            }
            PartitionMapping::Multi(dims) => {
                self.validate(upstream, Some(downstream))?;
                multi_to_downstream(cx, dims, subset, upstream, downstream)
            }
            PartitionMapping::Plugin(m) => {
                m.code()?.to_downstream(cx, subset, upstream, downstream)
            }
        }
    }

    fn partitioned<'d>(
        &self,
        upstream: &PartitionsDefinition,
        downstream: Option<&'d PartitionsDefinition>,
    ) -> Result<&'d PartitionsDefinition, Error> {
        downstream.ok_or_else(|| Error::IncompatibleMapping {
            mapping: self.to_string(),
            upstream: upstream.to_string(),
            downstream: "an unpartitioned asset".to_string(),
            reason: "the downstream asset is not partitioned".to_string(),
        })
    }

    fn incompatible(
        &self,
        upstream: &PartitionsDefinition,
        downstream: &PartitionsDefinition,
        reason: String,
    ) -> Error {
        Error::IncompatibleMapping {
            mapping: self.to_string(),
            upstream: upstream.to_string(),
            downstream: downstream.to_string(),
            reason,
        }
    }
}

/// Splits mapped partitions into existing ones and the rest.
fn split(mapped: &PartitionSubset, count: u64, allow_nonexistent: bool) -> UpstreamPartitions {
    let (partitions, missing) = mapped.split_existing(count);
    UpstreamPartitions {
        partitions,
        required_but_nonexistent: if allow_nonexistent {
            PartitionSubset::empty()
        } else {
            missing
        },
    }
}

/// The index a key has in a definition, also for time windows that do not exist (yet).
fn key_position(
    cx: &Context<'_>,
    def: &PartitionsDefinition,
    key: &str,
) -> Result<Option<i64>, Error> {
    match def {
        PartitionsDefinition::TimeWindow(tw) => {
            let window = tw.window_for_key(key)?;
            Ok(tw.index_of_start(window.start))
        }
        _ => def.index_of(cx, key),
    }
}

fn identity_compatible(
    up: &PartitionsDefinition,
    down: &PartitionsDefinition,
) -> Result<(), String> {
    match (up, down) {
        (PartitionsDefinition::Static(_), PartitionsDefinition::Static(_))
        | (PartitionsDefinition::Dynamic(_), PartitionsDefinition::Dynamic(_)) => Ok(()),
        (PartitionsDefinition::TimeWindow(a), PartitionsDefinition::TimeWindow(b)) => {
            if a.schedule() == b.schedule() && a.fmt() == b.fmt() {
                Ok(())
            } else {
                Err("time-window partitions with different schedules, zones or key formats have different keys".to_string())
            }
        }
        (PartitionsDefinition::Multi(a), PartitionsDefinition::Multi(b)) => {
            if a.dimensions().len() != b.dimensions().len() {
                return Err("the multi definitions have different dimensions".to_string());
            }
            for (x, y) in a.dimensions().iter().zip(b.dimensions()) {
                if x.name != y.name {
                    return Err("the multi definitions have different dimension names".to_string());
                }
                identity_compatible(&x.def, &y.def)?;
            }
            Ok(())
        }
        _ => Err(format!(
            "upstream is {} partitions and downstream is {} partitions; identity needs the same kind",
            up.kind(),
            down.kind()
        )),
    }
}

/// Identity: the same keys, re-indexed for the target definition. Equal definitions keep the
/// indices as they are; time windows on one schedule shift by the distance between their
/// starts; anything else goes key by key.
fn translate_identity(
    cx: &Context<'_>,
    subset: &PartitionSubset,
    from: &PartitionsDefinition,
    to: &PartitionsDefinition,
) -> Result<PartitionSubset, Error> {
    if from == to {
        return Ok(subset.clone());
    }
    if let (PartitionsDefinition::TimeWindow(a), PartitionsDefinition::TimeWindow(b)) = (from, to)
        && a.schedule() == b.schedule()
        && a.exclusions() == b.exclusions()
        && let (Some(fa), Some(_)) = (a.first_window_start(), b.first_window_start())
        && let Some(shift) = b.index_of_start(fa)
    {
        let (indices, unindexed) = subset.clone().into_parts();
        return Ok(PartitionSubset::from_indices(indices.shift(shift)).with_unindexed(unindexed));
    }
    let mut out = PartitionSubset::empty();
    for key in from.subset_keys(cx, subset)? {
        let position = match to {
            // The exact key, not the window it parses into: identity maps key strings.
            PartitionsDefinition::TimeWindow(tw) => tw.index_of_key(key.as_str()),
            _ => to.index_of(cx, key.as_str())?,
        };
        match position {
            Some(i) => out.insert_index(i),
            None => out.insert_unindexed(key),
        }
    }
    Ok(out)
}

fn time_window_pair<'a>(
    up: &'a PartitionsDefinition,
    down: &'a PartitionsDefinition,
) -> Result<(&'a TimeWindowPartitions, &'a TimeWindowPartitions), String> {
    let (PartitionsDefinition::TimeWindow(u), PartitionsDefinition::TimeWindow(d)) = (up, down)
    else {
        return Err("time-window mappings need time-window partitions on both sides".to_string());
    };
    if u.timezone() != d.timezone() {
        return Err(format!(
            "time zones {} and {} don't match",
            u.timezone(),
            d.timezone()
        ));
    }
    Ok((u, d))
}

impl TimeWindowMapping {
    /// Downstream windows (each contiguous run of the subset), shifted by the offsets in
    /// downstream partitions, then every upstream window overlapping the result.
    ///
    /// As in Dagster, a negative start offset never reaches before the first upstream window
    /// and a positive end offset never past the last one: the offsets widen the window only
    /// as far as upstream data exists.
    pub fn to_upstream(
        &self,
        cx: &Context<'_>,
        subset: &PartitionSubset,
        down: &TimeWindowPartitions,
        up: &TimeWindowPartitions,
    ) -> UpstreamPartitions {
        let now = cx.now().timestamp();
        let up_count = up.count_at_ts(now);
        let up_bounds = if up_count > 0 {
            up.start_of_index(0)
                .zip(up.window_at(up_count - 1).map(|w| w.end))
        } else {
            None
        };
        let mut mapped = PartitionSubset::empty();
        for &(a, b) in subset.indices().ranges() {
            // The end of the run's last window: with calendar exclusions that is not the start
            // of the next partition.
            let (Some(mut start), Some(mut end)) = (
                down.start_of_index(a + self.start_offset),
                down.window_at(b - 1 + self.end_offset).map(|w| w.end),
            ) else {
                continue;
            };
            if let Some((first, last_end)) = up_bounds {
                if self.start_offset < 0 {
                    start = start.max(first);
                }
                if self.end_offset > 0 {
                    end = end.min(last_end);
                }
            }
            if start >= end {
                continue;
            }
            if let Some((i0, i1)) = up.indices_overlapping(start, end)
                && i0 <= i1
            {
                mapped.insert_range(i0, i1 + 1);
            }
        }
        for key in subset.unindexed() {
            mapped.insert_unindexed(key.clone());
        }
        split(
            &mapped,
            up_count.max(0) as u64,
            self.allow_nonexistent_upstream_partitions,
        )
    }

    /// Downstream windows overlapping each upstream run, widened by the negated offsets, and
    /// kept only where they exist.
    pub fn to_downstream(
        &self,
        cx: &Context<'_>,
        subset: &PartitionSubset,
        up: &TimeWindowPartitions,
        down: &TimeWindowPartitions,
    ) -> PartitionSubset {
        let now = cx.now().timestamp();
        let mut mapped = PartitionSubset::empty();
        for &(a, b) in subset.indices().ranges() {
            let (Some(start), Some(end)) =
                (up.start_of_index(a), up.window_at(b - 1).map(|w| w.end))
            else {
                continue;
            };
            if let Some((i0, i1)) = down.indices_overlapping(start, end) {
                mapped.insert_range(i0 - self.end_offset, i1 + 1 - self.start_offset);
            }
        }
        let count = down.count_at_ts(now).max(0);
        PartitionSubset::from_indices(mapped.indices().clamp(0, count))
    }
}

impl StaticMapping {
    pub fn new<I, U, D>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (U, Vec<D>)>,
        U: Into<PartitionKey>,
        D: Into<PartitionKey>,
    {
        let mut downstream_by_upstream: BTreeMap<PartitionKey, Vec<PartitionKey>> = BTreeMap::new();
        for (up, downs) in pairs {
            downstream_by_upstream
                .entry(up.into())
                .or_default()
                .extend(downs.into_iter().map(Into::into));
        }
        StaticMapping {
            downstream_by_upstream,
        }
    }

    fn check_sources(&self, upstream: &PartitionsDefinition) -> Result<(), Error> {
        let PartitionsDefinition::Static(up) = upstream else {
            return Ok(());
        };
        let unknown: Vec<String> = self
            .downstream_by_upstream
            .keys()
            .filter(|k| !up.has_key(k.as_str()))
            .map(ToString::to_string)
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(Error::UnknownMappingSource {
                upstream: upstream.to_string(),
                keys: unknown,
            })
        }
    }

    fn check_targets(&self, downstream: &PartitionsDefinition) -> Result<(), Error> {
        let PartitionsDefinition::Static(down) = downstream else {
            return Ok(());
        };
        let mut unknown: Vec<String> = self
            .downstream_by_upstream
            .values()
            .flatten()
            .filter(|k| !down.has_key(k.as_str()))
            .map(ToString::to_string)
            .collect();
        unknown.sort();
        unknown.dedup();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(Error::UnknownMappingTarget {
                downstream: downstream.to_string(),
                keys: unknown,
            })
        }
    }
}

/// A resolved multi-to-single-dimension mapping: which side is multi, which dimension, and how
/// that dimension relates to the single side.
struct MultiToSingle<'a> {
    multi: &'a MultiPartitions,
    dimension: usize,
    multi_is_upstream: bool,
    inner: PartitionMapping,
}

impl<'a> MultiToSingle<'a> {
    fn infer(
        multi: &MultiPartitions,
        single: &PartitionsDefinition,
    ) -> Result<(usize, PartitionMapping), String> {
        let equal: Vec<usize> = multi
            .dimensions()
            .iter()
            .enumerate()
            .filter(|(_, d)| &d.def == single)
            .map(|(i, _)| i)
            .collect();
        match equal.as_slice() {
            [i] => return Ok((*i, PartitionMapping::Identity)),
            [] => {}
            _ => {
                return Err(
                    "several dimensions match the single-dimension side; name the dimension"
                        .to_string(),
                );
            }
        }
        if matches!(single, PartitionsDefinition::TimeWindow(_))
            && let Some((i, _)) = multi.time_dimension()
        {
            return Ok((
                i,
                PartitionMapping::TimeWindow(TimeWindowMapping::default()),
            ));
        }
        Err("no dimension of the multi definition matches the other side".to_string())
    }

    fn resolve(
        upstream: &'a PartitionsDefinition,
        downstream: &'a PartitionsDefinition,
        dimension: Option<&str>,
    ) -> Result<MultiToSingle<'a>, String> {
        let (multi, single, multi_is_upstream) = match (upstream, downstream) {
            (PartitionsDefinition::Multi(m), s) if !matches!(s, PartitionsDefinition::Multi(_)) => {
                (m, s, true)
            }
            (s, PartitionsDefinition::Multi(m)) if !matches!(s, PartitionsDefinition::Multi(_)) => {
                (m, s, false)
            }
            _ => {
                return Err("exactly one side must be multi-dimensional".to_string());
            }
        };
        let (dimension, inner) = match dimension {
            None => Self::infer(multi, single)?,
            Some(name) => {
                let i = multi
                    .dimension_index(name)
                    .ok_or_else(|| format!("there is no dimension {name:?}"))?;
                let def = &multi.dimensions()[i].def;
                let inner = if def == single {
                    PartitionMapping::Identity
                } else if matches!(
                    (def, single),
                    (
                        PartitionsDefinition::TimeWindow(_),
                        PartitionsDefinition::TimeWindow(_)
                    )
                ) {
                    PartitionMapping::TimeWindow(TimeWindowMapping::default())
                } else {
                    return Err(format!(
                        "dimension {name:?} is {} partitions unlike the other side",
                        def.kind()
                    ));
                };
                (i, inner)
            }
        };
        Ok(MultiToSingle {
            multi,
            dimension,
            multi_is_upstream,
            inner,
        })
    }

    fn dim_def(&self) -> &'a PartitionsDefinition {
        &self.multi.dimensions()[self.dimension].def
    }

    /// The multi subset made of `part` in the mapped dimension and everything elsewhere.
    fn widen(&self, cx: &Context<'_>, part: &PartitionSubset) -> Result<PartitionSubset, Error> {
        let parts = self
            .multi
            .dimensions()
            .iter()
            .enumerate()
            .map(|(i, d)| {
                if i == self.dimension {
                    Ok(part.clone())
                } else {
                    d.def.all(cx)
                }
            })
            .collect::<Result<Vec<_>, Error>>()?;
        self.multi.product(cx, &parts)
    }

    fn to_upstream(
        &self,
        cx: &Context<'_>,
        subset: &PartitionSubset,
        downstream: &PartitionsDefinition,
        upstream: &PartitionsDefinition,
    ) -> Result<UpstreamPartitions, Error> {
        if self.multi_is_upstream {
            let mapped = self
                .inner
                .to_upstream(cx, subset, Some(downstream), self.dim_def())?;
            Ok(UpstreamPartitions {
                partitions: self.widen(cx, &mapped.partitions)?,
                required_but_nonexistent: self.widen(cx, &mapped.required_but_nonexistent)?,
            })
        } else {
            let projected = self.multi.project(cx, subset)?.swap_remove(self.dimension);
            self.inner
                .to_upstream(cx, &projected, Some(self.dim_def()), upstream)
        }
    }

    fn to_downstream(
        &self,
        cx: &Context<'_>,
        subset: &PartitionSubset,
        upstream: &PartitionsDefinition,
        downstream: &PartitionsDefinition,
    ) -> Result<PartitionSubset, Error> {
        if self.multi_is_upstream {
            let projected = self.multi.project(cx, subset)?.swap_remove(self.dimension);
            self.inner
                .to_downstream(cx, &projected, self.dim_def(), downstream)
        } else {
            let mapped = self
                .inner
                .to_downstream(cx, subset, upstream, self.dim_def())?;
            self.widen(cx, &mapped)
        }
    }
}

fn multi_to_upstream(
    cx: &Context<'_>,
    dims: &BTreeMap<String, DimensionMapping>,
    subset: &PartitionSubset,
    downstream: &PartitionsDefinition,
    upstream: &PartitionsDefinition,
) -> Result<UpstreamPartitions, Error> {
    let (PartitionsDefinition::Multi(up), PartitionsDefinition::Multi(down)) =
        (upstream, downstream)
    else {
        return Ok(UpstreamPartitions::default());
    };
    let mut result = UpstreamPartitions::default();
    for rect in down.rectangles(cx, subset)? {
        let mut existing = Vec::new();
        let mut missing: Vec<Option<PartitionSubset>> = Vec::new();
        for up_dim in up.dimensions() {
            match dims.get(&up_dim.name) {
                Some(d) => {
                    let di = down.dimension_index(&d.downstream_dimension).unwrap_or(0);
                    let down_def = &down.dimensions()[di].def;
                    let mapped =
                        d.mapping
                            .to_upstream(cx, &rect[di], Some(down_def), &up_dim.def)?;
                    existing.push(mapped.partitions);
                    missing.push(Some(mapped.required_but_nonexistent).filter(|m| !m.is_empty()));
                }
                None => {
                    existing.push(up_dim.def.all(cx)?);
                    missing.push(None);
                }
            }
        }
        result.partitions = result.partitions.union(&up.product(cx, &existing)?);
        // A combination is missing when any of its dimension keys is.
        for (i, m) in missing.iter().enumerate() {
            if let Some(m) = m {
                let mut parts = existing.clone();
                parts[i] = m.clone();
                for (j, other) in missing.iter().enumerate() {
                    if j != i
                        && let Some(o) = other
                    {
                        parts[j] = parts[j].union(o);
                    }
                }
                result.required_but_nonexistent = result
                    .required_but_nonexistent
                    .union(&up.product(cx, &parts)?);
            }
        }
    }
    Ok(result)
}

fn multi_to_downstream(
    cx: &Context<'_>,
    dims: &BTreeMap<String, DimensionMapping>,
    subset: &PartitionSubset,
    upstream: &PartitionsDefinition,
    downstream: &PartitionsDefinition,
) -> Result<PartitionSubset, Error> {
    let (PartitionsDefinition::Multi(up), PartitionsDefinition::Multi(down)) =
        (upstream, downstream)
    else {
        return Ok(PartitionSubset::empty());
    };
    let mut result = PartitionSubset::empty();
    for rect in up.rectangles(cx, subset)? {
        let mut parts: Vec<PartitionSubset> = down
            .dimensions()
            .iter()
            .map(|d| d.def.all(cx))
            .collect::<Result<_, _>>()?;
        for (ui, up_dim) in up.dimensions().iter().enumerate() {
            if let Some(d) = dims.get(&up_dim.name) {
                let di = down.dimension_index(&d.downstream_dimension).unwrap_or(0);
                let down_def = &down.dimensions()[di].def;
                parts[di] = d
                    .mapping
                    .to_downstream(cx, &rect[ui], &up_dim.def, down_def)?;
            }
        }
        result = result.union(&down.product(cx, &parts)?);
    }
    Ok(result)
}
