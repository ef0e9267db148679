//! Status: counts and health bars of an asset's partitions, and their listing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_partitions::Context;

use super::{Engine, KeyPage, StaleReason};
use crate::error::EngineError;
use crate::graph::{AssetGraph, AssetNode};
use crate::state::PartitionState;

/// The health of one asset's partitions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssetStatus {
    pub asset: String,
    pub plugin: String,
    pub partitions_kind: String,
    pub total: u64,
    pub materialized: u64,
    pub failed: u64,
    pub missing: u64,
    pub stale: u64,
    /// Recorded partitions that are not partitions of the asset now (a removed dynamic key, a
    /// date after a shortened end or after `now`): kept, shown apart, counted nowhere else.
    pub outside: u64,
    /// One character per bucket of partitions, in key order: `█` all materialized, `▓` some,
    /// `x` any failed, `·` none (missing); at most `width` buckets.
    pub bar: String,
    /// The asset's checks: how many partitions' latest results pass, warn and fail.
    pub checks: Vec<crate::state::CheckCounts>,
}

/// A recorded partition's state in listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartitionStatus {
    /// Never materialized.
    Missing,
    Materialized,
    Stale,
    Failed,
    /// Recorded, but not a partition of the asset now.
    OutsideDefinition,
}

impl PartitionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PartitionStatus::Missing => "missing",
            PartitionStatus::Materialized => "materialized",
            PartitionStatus::Stale => "stale",
            PartitionStatus::Failed => "failed",
            PartitionStatus::OutsideDefinition => "outside the definition",
        }
    }
}

impl std::fmt::Display for PartitionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Consecutive partitions (by their index in the definition at `now`) in one state: the
/// status of any number of partitions in as many entries as the state changes, for a health
/// bar drawn at any zoom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatusRange {
    /// Indices, both ends included.
    pub from: u64,
    pub to: u64,
    pub state: PartitionStatus,
    /// The keys at both ends (empty for an unpartitioned asset).
    pub from_key: String,
    pub to_key: String,
}

/// An asset's partitions as [`StatusRange`]s covering every index from 0 to `total - 1`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusRanges {
    pub asset: String,
    pub total: u64,
    pub ranges: Vec<StatusRange>,
}

/// Counts of an asset's partitions per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatusCounts {
    pub materialized: u64,
    pub failed: u64,
    pub stale: u64,
    pub missing: u64,
}

impl StatusCounts {
    fn of(&mut self, state: PartitionStatus) -> &mut u64 {
        match state {
            PartitionStatus::Materialized => &mut self.materialized,
            PartitionStatus::Failed => &mut self.failed,
            PartitionStatus::Stale => &mut self.stale,
            // Spans never hold records outside the definition; counted as missing if they did.
            PartitionStatus::Missing | PartitionStatus::OutsideDefinition => &mut self.missing,
        }
    }
}

/// Which part of an asset's status [`Engine::status_view`] returns.
#[derive(Debug, Clone, Copy)]
pub struct StatusQuery {
    /// The window's first index.
    pub from: u64,
    /// The window's last index (the last partition when `None`).
    pub to: Option<u64>,
    /// Only ranges in this state (ranges mode only).
    pub state: Option<PartitionStatus>,
    /// Ranges returned at most; more become bins.
    pub max_ranges: usize,
    /// How many bins when the ranges are too many.
    pub bins: usize,
    /// A status computed at most this long ago may serve though the state changed since
    /// (zero: always the state as it is).
    pub max_age: Duration,
}

impl Default for StatusQuery {
    fn default() -> Self {
        StatusQuery {
            from: 0,
            to: None,
            state: None,
            max_ranges: 2000,
            bins: 1000,
            max_age: Duration::ZERO,
        }
    }
}

/// A window of an asset's status: exact ranges, or bins when the ranges would be too many.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusView {
    pub asset: String,
    pub total: u64,
    /// Over the whole asset, not only the window.
    pub counts: StatusCounts,
    /// The window, both ends included.
    pub from: u64,
    pub to: u64,
    /// Whether `ranges` is the window's status exactly (else `bins` summarizes it).
    pub exact: bool,
    pub ranges: Vec<StatusRange>,
    pub bins: Option<StatusBins>,
}

/// Equal bins of a window: bin `b` covers indices `from + ceil(b·len/count)` up to the next
/// bin's start; each array holds one count per bin (missing is the rest of the bin).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusBins {
    pub count: usize,
    pub materialized: Vec<u64>,
    pub failed: Vec<u64>,
    pub stale: Vec<u64>,
}

/// One partition's state, for listings.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionView {
    pub key: String,
    pub state: PartitionStatus,
    pub run_id: Option<String>,
    pub data_version: Option<String>,
    pub code_version: Option<String>,
    pub error: Option<String>,
    /// Why it is stale (empty unless it is).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale_reasons: Vec<StaleReason>,
}

impl Engine {
    /// The asset's partitions as ranges of one state each, in index order, gaps included as
    /// missing. Costs the recorded partitions (sorted by index), never the definition's size:
    /// an asset of ten million partitions with ten thousand recorded answers in as many
    /// ranges as its state changes. Records outside the definition are left out (see
    /// [`AssetStatus::outside`]).
    pub fn status_ranges(
        &self,
        graph: &AssetGraph,
        asset: &str,
        now: DateTime<Utc>,
    ) -> Result<StatusRanges, EngineError> {
        let node = self.node(graph, asset)?;
        let dynamic = self.dynamic_for(graph, node)?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        let (total, spans) = self.cached_spans(graph, node, &cx, now, Duration::ZERO)?;
        let ranges = spans
            .iter()
            .map(|&s| range_with_keys(node, &cx, s))
            .collect::<Result<_, EngineError>>()?;
        Ok(StatusRanges {
            asset: asset.to_string(),
            total,
            ranges,
        })
    }

    /// A window of the asset's status for a screen or a page: counts over all of it, and the
    /// window's ranges when at most `max_ranges` of them (keys computed for those alone), else
    /// `bins` equal bins with each state's count (a health bar at pixel resolution). Costs the
    /// recorded partitions plus what it returns.
    pub fn status_view(
        &self,
        graph: &AssetGraph,
        asset: &str,
        now: DateTime<Utc>,
        query: &StatusQuery,
    ) -> Result<StatusView, EngineError> {
        let node = self.node(graph, asset)?;
        let dynamic = self.dynamic_for(graph, node)?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        let (total, spans) = self.cached_spans(graph, node, &cx, now, query.max_age)?;
        let mut counts = StatusCounts::default();
        for &(from, to, state) in spans.iter() {
            *counts.of(state) += to - from + 1;
        }
        let last = total.saturating_sub(1);
        let from = query.from.min(last);
        let to = query.to.unwrap_or(last).clamp(from, last);
        // The spans meeting the window, clipped to it.
        let first = spans.partition_point(|&(_, end, _)| end < from);
        let clipped = spans[first..]
            .iter()
            .take_while(|&&(start, _, _)| start <= to)
            .map(|&(a, b, s)| (a.max(from), b.min(to), s))
            .filter(|&(_, _, s)| query.state.is_none_or(|q| q == s));
        let mut exact = Vec::new();
        let mut too_many = false;
        for span in clipped {
            if exact.len() == query.max_ranges {
                too_many = true;
                break;
            }
            exact.push(span);
        }
        let (ranges, bins) = if total == 0 {
            (Vec::new(), None)
        } else if !too_many {
            let ranges = exact
                .into_iter()
                .map(|s| range_with_keys(node, &cx, s))
                .collect::<Result<_, EngineError>>()?;
            (ranges, None)
        } else {
            (Vec::new(), Some(bin(&spans[first..], from, to, query.bins)))
        };
        Ok(StatusView {
            asset: asset.to_string(),
            total,
            counts,
            from,
            to,
            exact: bins.is_none(),
            ranges,
            bins,
        })
    }

    /// Up to `limit` keys of `asset` in `state`, from the key `from` on (the first when
    /// `None`), in index order; computed from the status ranges, never listing the rest.
    pub fn partition_keys_in_state(
        &self,
        graph: &AssetGraph,
        asset: &str,
        state: PartitionStatus,
        from: Option<&str>,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<KeyPage, EngineError> {
        let node = self.node(graph, asset)?;
        let dynamic = self.dynamic_for(graph, node)?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        let (_, offset) = super::inspect::page_start(node, &cx, from)?;
        let (total, spans) = self.cached_spans(graph, node, &cx, now, Duration::ZERO)?;
        let mut indices = Vec::new();
        let start = spans.partition_point(|&(_, end, _)| end < offset);
        'spans: for &(a, b, s) in &spans[start..] {
            if s != state {
                continue;
            }
            for i in a.max(offset)..=b {
                if indices.len() as u64 > limit {
                    break 'spans;
                }
                indices.push(i);
            }
        }
        let next = if indices.len() as u64 > limit {
            indices.pop()
        } else {
            None
        };
        let key = |i: u64| key_at(node, &cx, i);
        Ok(KeyPage {
            asset: asset.to_string(),
            total,
            // The index of the first key listed (where the scan began when none is).
            offset: indices.first().copied().unwrap_or(offset),
            keys: indices.into_iter().map(key).collect::<Result<_, _>>()?,
            next: next.map(key).transpose()?,
        })
    }

    /// [`Engine::status_spans`], from the cache while the state, the plugins and the second
    /// of `now` are those it was computed for: a screen zooming into one asset, or many
    /// clients watching it, pay the computation once per change. With a `max_age`, a status
    /// computed that recently serves even though the state has changed since (plugins and
    /// `now` still must match): a screen watching a busy backfill asks for that, so that
    /// its requests do not recompute the status at every commit. After a change, the cached
    /// status is brought up to date from the partitions that changed when it can be
    /// ([`Engine::refresh_spans`]), and computed again only when it cannot.
    fn cached_spans(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        cx: &Context<'_>,
        now: DateTime<Utc>,
        max_age: Duration,
    ) -> Result<(u64, Arc<Vec<Span>>), EngineError> {
        let stamp = (
            self.state.change_stamp()?,
            self.registry.generation(),
            now.timestamp(),
        );
        let previous = {
            let cache = self.status_cache.lock().unwrap_or_else(|p| p.into_inner());
            match cache.get(&node.key) {
                Some(c)
                    if c.stamp == stamp
                        || (c.stamp.1 == stamp.1
                            && c.stamp.2 == stamp.2
                            && c.computed.elapsed() < max_age) =>
                {
                    return Ok((c.status.total, Arc::clone(&c.status.spans)));
                }
                Some(c) => Some(c.status.clone()),
                None => None,
            }
        };
        let computed = Instant::now();
        let refreshed = match previous {
            Some(p) => self.refresh_spans(graph, node, cx, p)?,
            None => None,
        };
        let status = match refreshed {
            Some(s) => s,
            None => {
                // The watermark first: a change committed while the rows are read is applied
                // again by the next refresh, never missed.
                let watermark = self.state.partition_watermark()?;
                let (total, spans, outside) = self.status_spans(graph, node, cx)?;
                ComputedStatus {
                    total,
                    spans: Arc::new(spans),
                    watermark,
                    generation: stamp.1,
                    now: cx.now(),
                    outside,
                }
            }
        };
        let out = (status.total, Arc::clone(&status.spans));
        let mut cache = self.status_cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= STATUS_CACHE_ASSETS {
            cache.clear();
        }
        cache.insert(
            node.key.clone(),
            CachedStatus {
                stamp,
                computed,
                status,
            },
        );
        Ok(out)
    }

    /// A status computed earlier, brought up to `cx`'s time and the partitions changed since,
    /// at the cost of those changes and one pass over its spans; `None` when it cannot be:
    /// the plugins changed (a definition or code version may have), the asset reads dynamic
    /// sets (their changes move indices), an upstream asset changed (staleness), `now` went
    /// back or moves indices, or too much changed.
    fn refresh_spans(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        cx: &Context<'_>,
        previous: ComputedStatus,
    ) -> Result<Option<ComputedStatus>, EngineError> {
        let now = cx.now();
        if previous.generation != self.registry.generation() || super::involves_dynamic(graph, node)
        {
            return Ok(None);
        }
        if now != previous.now
            && (now < previous.now
                || previous.outside > 0
                || !node
                    .partitions
                    .as_ref()
                    .is_none_or(|d| d.indices_stable_over_time()))
        {
            return Ok(None);
        }
        let watermark = self.state.partition_watermark()?;
        let changes = if watermark == previous.watermark {
            Vec::new()
        } else {
            self.state
                .partition_changes(previous.watermark, REFRESH_CHANGES)?
        };
        if changes.len() >= REFRESH_CHANGES as usize
            || changes
                .iter()
                .any(|c| node.inputs.iter().any(|e| e.upstream == c.asset))
        {
            return Ok(None);
        }
        let records: Vec<_> = changes
            .into_iter()
            .filter(|c| c.asset == node.key)
            .map(|c| c.summary_for(&node.code_version))
            .collect();
        let total = match &node.partitions {
            Some(d) => d.count(cx)?,
            None => 1,
        };
        if total < previous.total {
            return Ok(None);
        }
        let stale = self.stale_few(graph, node, &records, cx)?;
        let mut outside = previous.outside;
        let mut updates = Vec::with_capacity(records.len());
        for r in &records {
            match index_within(node, cx, &r.partition, total) {
                Some(i) => updates.push((i, state_of(r, &stale))),
                // Counted again if it was before: more than there are only sends the next
                // change of `now` to a full computation.
                None => outside += 1,
            }
        }
        let spans = if updates.is_empty() && total == previous.total {
            previous.spans
        } else {
            Arc::new(apply_updates(
                &previous.spans,
                previous.total,
                total,
                updates,
            ))
        };
        Ok(Some(ComputedStatus {
            total,
            spans,
            watermark,
            now,
            outside,
            ..previous
        }))
    }

    /// Every partition's state as `(from, to, state)` index spans covering `0..total`, sorted;
    /// consecutive indices in one state are merged, gaps are missing. Also how many recorded
    /// partitions are outside the definition.
    fn status_spans(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        cx: &Context<'_>,
    ) -> Result<(u64, Vec<Span>, usize), EngineError> {
        let records = self
            .state
            .partition_summaries(&node.key, &node.code_version)?;
        let stale = self.stale_partitions(graph, node, &records, cx, false)?;
        let total = match &node.partitions {
            Some(d) => d.count(cx)?,
            None => 1,
        };
        let mut states: Vec<(u64, PartitionStatus)> = Vec::with_capacity(records.len());
        for r in &records {
            if let Some(i) = index_within(node, cx, &r.partition, total) {
                states.push((i, state_of(r, &stale)));
            }
        }
        let outside = records.len() - states.len();
        states.sort_unstable_by_key(|(i, _)| *i);
        let mut spans: Vec<Span> = Vec::new();
        let mut next = 0u64;
        for (i, state) in states {
            if i > next {
                spans.push((next, i - 1, PartitionStatus::Missing));
            }
            push_span(&mut spans, (i, i, state));
            next = i + 1;
        }
        if next < total {
            spans.push((next, total - 1, PartitionStatus::Missing));
        }
        Ok((total, spans, outside))
    }

    /// Counts and a health bar of `width` buckets for one asset; with `list`, also every
    /// recorded partition with its details.
    pub fn asset_status(
        &self,
        graph: &AssetGraph,
        asset: &str,
        width: usize,
        now: DateTime<Utc>,
        list: bool,
    ) -> Result<(AssetStatus, Vec<PartitionView>), EngineError> {
        let node = self.node(graph, asset)?;
        let dynamic = self.dynamic_for(graph, node)?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        let records = self.state.partition_summaries(asset, &node.code_version)?;
        let mut stale = self.stale_partitions(graph, node, &records, &cx, list)?;
        let (total, kind) = match &node.partitions {
            Some(d) => (d.count(&cx)?, d.kind().to_string()),
            None => (1, "unpartitioned".to_string()),
        };
        let width = width.max(1).min(total.max(1) as usize);
        let mut buckets = vec![(0u64, 0u64); width];
        let mut materialized = 0;
        let mut failed = 0;
        let mut outside = BTreeSet::new();
        for r in &records {
            let Some(i) = index_within(node, &cx, &r.partition, total) else {
                outside.insert(r.partition.as_str());
                continue;
            };
            let b = ((i as u128 * width as u128) / total.max(1) as u128) as usize;
            let bucket = &mut buckets[b.min(width - 1)];
            if r.failed {
                failed += 1;
                bucket.1 += 1;
            } else {
                materialized += 1;
                bucket.0 += 1;
            }
        }
        let stale_count = stale.len() as u64;
        let views = if list {
            self.state
                .partitions(asset)?
                .into_iter()
                .map(|r| {
                    let reasons = match r.status {
                        PartitionState::Materialized => stale.remove(&r.partition),
                        PartitionState::Failed => None,
                    };
                    (r, reasons)
                })
                .map(|(r, reasons)| PartitionView {
                    state: match r.status {
                        _ if outside.contains(r.partition.as_str()) => {
                            PartitionStatus::OutsideDefinition
                        }
                        PartitionState::Failed => PartitionStatus::Failed,
                        PartitionState::Materialized if reasons.is_some() => PartitionStatus::Stale,
                        PartitionState::Materialized => PartitionStatus::Materialized,
                    },
                    stale_reasons: reasons.map(|s| s.reasons).unwrap_or_default(),
                    run_id: r.materialization.as_ref().map(|m| m.run_id.clone()),
                    data_version: r.materialization.as_ref().map(|m| m.data_version.clone()),
                    code_version: r.materialization.as_ref().map(|m| m.code_version.clone()),
                    error: r.error.clone(),
                    key: r.partition,
                })
                .collect()
        } else {
            Vec::new()
        };
        let bar: String = buckets
            .iter()
            .enumerate()
            .map(|(b, &(ok, bad))| {
                let lo = (b as u128 * total as u128 / width as u128) as u64;
                let hi = ((b as u128 + 1) * total as u128 / width as u128) as u64;
                let size = hi.saturating_sub(lo).max(1);
                if bad > 0 {
                    'x'
                } else if ok >= size {
                    '█'
                } else if ok > 0 {
                    '▓'
                } else {
                    '·'
                }
            })
            .collect();
        Ok((
            AssetStatus {
                asset: asset.to_string(),
                plugin: node.plugin.clone(),
                partitions_kind: kind,
                total,
                materialized,
                failed,
                missing: total.saturating_sub(materialized + failed),
                stale: stale_count,
                outside: outside.len() as u64,
                bar,
                checks: self.check_counts(asset)?,
            },
            views,
        ))
    }
}

/// Consecutive partition indices `(from, to)`, both included, in one state.
type Span = (u64, u64, PartitionStatus);

/// What a cached status was computed for: the state's change stamp, the registry's
/// generation, and the second of `now`.
type StatusStamp = ([u64; 2], u64, i64);

/// One asset's status, as computed for a stamp at an instant.
#[derive(Debug)]
pub(super) struct CachedStatus {
    stamp: StatusStamp,
    computed: Instant,
    status: ComputedStatus,
}

/// An asset's status and what it was computed from: what lets later changes be applied to
/// it rather than everything read again.
#[derive(Debug, Clone)]
pub(super) struct ComputedStatus {
    total: u64,
    spans: Arc<Vec<Span>>,
    /// Every partition change up to this watermark is in the spans.
    watermark: u64,
    /// The registry's generation and `now` it was computed for.
    generation: u64,
    now: DateTime<Utc>,
    /// Recorded partitions outside the definition then (at least).
    outside: usize,
}

/// Changes read at most to bring a status up to date; more are computed afresh.
const REFRESH_CHANGES: u32 = 20_000;

/// A recorded partition's state: failed, stale (in `stale`), or materialized.
fn state_of(
    r: &crate::state::PartitionSummary,
    stale: &std::collections::HashMap<String, super::staleness::Stale>,
) -> PartitionStatus {
    if r.failed {
        PartitionStatus::Failed
    } else if stale.contains_key(&r.partition) {
        PartitionStatus::Stale
    } else {
        PartitionStatus::Materialized
    }
}

/// Appends a span, merged into the last one when it continues it in the same state.
fn push_span(spans: &mut Vec<Span>, (a, b, state): Span) {
    if a > b {
        return;
    }
    match spans.last_mut() {
        Some((_, to, s)) if *s == state && *to + 1 == a => *to = b,
        _ => spans.push((a, b, state)),
    }
}

/// Spans covering `0..old_total` extended to `0..total` (the new partitions missing), with
/// each update `(index, state)` applied, later updates of one index winning: one pass.
fn apply_updates(
    spans: &[Span],
    old_total: u64,
    total: u64,
    mut updates: Vec<(u64, PartitionStatus)>,
) -> Vec<Span> {
    // Stable: of several updates of one index, the last stays last.
    updates.sort_by_key(|&(i, _)| i);
    let mut out: Vec<Span> = Vec::with_capacity(spans.len() + 2 * updates.len() + 1);
    let mut pending = updates.into_iter().peekable();
    let grown = (old_total < total).then_some((old_total, total - 1, PartitionStatus::Missing));
    for &(a, b, state) in spans.iter().chain(grown.as_ref()) {
        let mut at = a;
        while let Some(&(i, new)) = pending.peek() {
            if i > b {
                break;
            }
            pending.next();
            if pending.peek().is_some_and(|&(j, _)| j == i) {
                continue;
            }
            if i > at {
                push_span(&mut out, (at, i - 1, state));
            }
            push_span(&mut out, (i, i, new));
            at = i + 1;
        }
        if at <= b {
            push_span(&mut out, (at, b, state));
        }
    }
    out
}

/// Status spans by asset.
pub(super) type StatusCache = std::collections::HashMap<String, CachedStatus>;

/// Assets whose status is kept at most.
const STATUS_CACHE_ASSETS: usize = 256;

/// The key at index `i` of the asset's definition (empty for an unpartitioned asset).
fn key_at(node: &AssetNode, cx: &Context<'_>, i: u64) -> Result<String, EngineError> {
    Ok(match &node.partitions {
        Some(d) => d
            .key_at(cx, i64::try_from(i).unwrap_or(i64::MAX))?
            .map(|k| k.to_string())
            .unwrap_or_default(),
        None => String::new(),
    })
}

fn range_with_keys(
    node: &AssetNode,
    cx: &Context<'_>,
    (from, to, state): (u64, u64, PartitionStatus),
) -> Result<StatusRange, EngineError> {
    Ok(StatusRange {
        from_key: key_at(node, cx, from)?,
        to_key: key_at(node, cx, to)?,
        from,
        to,
        state,
    })
}

/// Each state's count in `n` equal bins of `from..=to`, from sorted spans starting at or
/// before the window: O(spans + bins), whatever the window's size.
fn bin(spans: &[(u64, u64, PartitionStatus)], from: u64, to: u64, n: usize) -> StatusBins {
    let len = u128::from(to - from + 1);
    let n = (n.max(1) as u128).min(len) as usize;
    let mut bins = StatusBins {
        count: n,
        materialized: vec![0; n],
        failed: vec![0; n],
        stale: vec![0; n],
    };
    // The bin of index i, and where bin b starts.
    let bin_of = |i: u64| ((u128::from(i - from) * n as u128) / len) as usize;
    let start_of = |b: usize| from + ((b as u128 * len).div_ceil(n as u128)) as u64;
    for &(a, b, state) in spans {
        if a > to {
            break;
        }
        let column = match state {
            PartitionStatus::Materialized => &mut bins.materialized,
            PartitionStatus::Failed => &mut bins.failed,
            PartitionStatus::Stale => &mut bins.stale,
            PartitionStatus::Missing | PartitionStatus::OutsideDefinition => continue,
        };
        let (a, b) = (a.max(from), b.min(to));
        if a > b {
            continue;
        }
        let (first, last) = (bin_of(a), bin_of(b));
        for (k, count) in column.iter_mut().enumerate().take(last + 1).skip(first) {
            let lo = a.max(start_of(k));
            let hi = if k + 1 < n {
                b.min(start_of(k + 1) - 1)
            } else {
                b
            };
            *count += hi - lo + 1;
        }
    }
    bins
}

/// The index of a recorded partition in its asset's definition at `cx`'s time, when it is one
/// of the `total` partitions there (`None`: outside the definition).
fn index_within(node: &AssetNode, cx: &Context<'_>, partition: &str, total: u64) -> Option<u64> {
    let index = match &node.partitions {
        Some(d) => d.index_of(cx, partition).ok().flatten(),
        None => partition.is_empty().then_some(0),
    };
    index
        .and_then(|i| u64::try_from(i).ok())
        .filter(|i| *i < total)
}

#[cfg(test)]
mod tests {
    use super::{PartitionStatus as S, Span, apply_updates, bin};

    /// Spans covering `0..total` from a seed: random lengths and states.
    fn spans(seed: u64, total: u64) -> Vec<Span> {
        let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut out = Vec::new();
        let mut at = 0;
        while at < total {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let len = (x >> 33) % 50 + 1;
            let state =
                [S::Missing, S::Materialized, S::Failed, S::Stale][((x >> 20) % 4) as usize];
            let to = (at + len - 1).min(total - 1);
            out.push((at, to, state));
            at = to + 1;
        }
        out
    }

    /// Spans expanded to one state per index.
    fn expand(spans: &[Span]) -> Vec<S> {
        spans
            .iter()
            .flat_map(|&(a, b, s)| (a..=b).map(move |_| s))
            .collect()
    }

    #[test]
    fn updates_applied_to_spans_are_the_spans_of_the_updated_states() {
        let states = [S::Missing, S::Materialized, S::Failed, S::Stale];
        for seed in 0..300u64 {
            let old_total = 1 + seed * 37 % 500;
            let total = old_total + seed % 3 * (seed % 17);
            let before = spans(seed, old_total);
            let updates: Vec<(u64, S)> = (0..seed % 40)
                .map(|k| {
                    let x = (seed + 1)
                        .wrapping_mul(2_654_435_761)
                        .wrapping_add(k * 40_503);
                    (x % total, states[(x >> 7) as usize % 4])
                })
                .collect();
            let mut expect = expand(&before);
            expect.resize(total as usize, S::Missing);
            for &(i, s) in &updates {
                expect[i as usize] = s;
            }
            let after = apply_updates(&before, old_total, total, updates);
            assert_eq!(expand(&after), expect, "seed {seed}");
            // Merged: no two neighbours in one state.
            assert!(
                after
                    .windows(2)
                    .all(|w| w[0].2 != w[1].2 || w[0].1 + 1 != w[1].0)
            );
        }
    }

    #[test]
    fn bins_count_every_partition_of_the_window_once() {
        for seed in 0..200u64 {
            let total = 1 + seed * 37 % 3_000;
            let spans = spans(seed, total);
            let from = seed * 13 % total;
            let to = from + (seed * 101 % (total - from));
            for n in [1, 3, 7, 64, 1_000, 5_000] {
                let b = bin(&spans, from, to, n);
                let len = to - from + 1;
                assert_eq!(b.count as u64, (n as u64).min(len));
                let mut expect = [0u64; 3];
                for &(a, z, s) in &spans {
                    let overlap = z.min(to).saturating_sub(a.max(from)) + 1;
                    if a > to || z < from {
                        continue;
                    }
                    match s {
                        S::Materialized => expect[0] += overlap,
                        S::Failed => expect[1] += overlap,
                        S::Stale => expect[2] += overlap,
                        _ => {}
                    }
                }
                let sum = |v: &[u64]| v.iter().sum::<u64>();
                assert_eq!(
                    [sum(&b.materialized), sum(&b.failed), sum(&b.stale)],
                    expect,
                    "seed {seed}, window {from}..={to}, {n} bins"
                );
                // No bin holds more than its size.
                for k in 0..b.count {
                    let start = from + (k as u128 * len as u128).div_ceil(b.count as u128) as u64;
                    let end =
                        from + ((k as u128 + 1) * len as u128).div_ceil(b.count as u128) as u64;
                    let held = b.materialized[k] + b.failed[k] + b.stale[k];
                    assert!(held <= end - start, "bin {k}: {held} > {}", end - start);
                }
            }
        }
    }
}
