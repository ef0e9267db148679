//! Partition mappings written as plugin code: the host calls a plugin's `map-partitions` in its
//! sandbox with ranges of keys (never key by key), checks the answer against the laws every
//! built-in mapping keeps, and caches it per plugin version and subset.
//!
//! The laws, checked here so that a broken mapping is refused with its plugin named instead of
//! planning wrong work:
//! - every key returned is a key of the other side's definition (one that does not exist yet
//!   is reported as required but nonexistent, like a time window after `now`);
//! - downstream of upstream contains the original: the downstream partitions of what
//!   `to-upstream` answers include every partition asked about (checked on the first
//!   question whose answer exists in full); and what `to-downstream` answers maps back onto
//!   some of what was asked (upstream partitions may have no downstream ones).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tessera_partitions::{
    Context, Error, ExternalMapping, PartitionSubset, PartitionsDefinition, UpstreamPartitions,
};

use crate::bindings::mappings as wit;
use crate::error::CallError;
use crate::host::CallScope;
use crate::plugin::Plugin;

/// Answers kept per mapping bound to an input; past this many, the cache starts afresh.
const CACHE_ENTRIES: usize = 4096;

/// Which way a question goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    ToUpstream,
    ToDownstream,
}

/// A question: its direction, the subset asked about, and how many partitions the other side
/// has (the answer's split into existing and not-yet-existing partitions depends on it).
type CacheKey = (Direction, PartitionSubset, u64);

/// One plugin mapping bound to one input (a downstream asset reading an upstream one).
pub struct PluginMappingCode {
    plugin: Arc<Plugin>,
    mapping: String,
    upstream_asset: String,
    downstream_asset: String,
    cache: Mutex<HashMap<CacheKey, UpstreamPartitions>>,
    checked_up: AtomicBool,
    checked_down: AtomicBool,
    /// Why the mapping was refused: once it breaks a law, every later question gets that
    /// answer (a law checked once must not pass by being asked again).
    refused: Mutex<Option<Error>>,
}

impl std::fmt::Debug for PluginMappingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginMappingCode")
            .field("plugin", &self.plugin.name())
            .field("mapping", &self.mapping)
            .field("upstream_asset", &self.upstream_asset)
            .field("downstream_asset", &self.downstream_asset)
            .finish_non_exhaustive()
    }
}

impl PluginMappingCode {
    /// `mapping` of `plugin`, for `downstream_asset` reading `upstream_asset`.
    pub fn new(
        plugin: Arc<Plugin>,
        mapping: impl Into<String>,
        upstream_asset: impl Into<String>,
        downstream_asset: impl Into<String>,
    ) -> Self {
        PluginMappingCode {
            plugin,
            mapping: mapping.into(),
            upstream_asset: upstream_asset.into(),
            downstream_asset: downstream_asset.into(),
            cache: Mutex::new(HashMap::new()),
            checked_up: AtomicBool::new(false),
            checked_down: AtomicBool::new(false),
            refused: Mutex::new(None),
        }
    }

    /// Forgets every cached answer (benchmarks measure the call this way).
    pub fn clear_cache(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    fn broken(&self, reason: String) -> Error {
        Error::PluginMapping {
            mapping: self.mapping.clone(),
            plugin: self.plugin.name().to_string(),
            reason,
        }
    }

    /// The error it was refused with, if it was.
    fn refusal(&self) -> Result<(), Error> {
        match self.refused.lock().ok().and_then(|r| r.clone()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Keeps a law's violation for every later question, and returns it.
    fn refuse(&self, e: Error) -> Error {
        if let Ok(mut r) = self.refused.lock() {
            *r = Some(e.clone());
        }
        e
    }

    fn cached(&self, key: &CacheKey) -> Option<UpstreamPartitions> {
        self.cache.lock().ok()?.get(key).cloned()
    }

    fn remember(&self, key: CacheKey, answer: &UpstreamPartitions) {
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_ENTRIES {
                c.clear();
            }
            c.insert(key, answer.clone());
        }
    }

    /// Asks the plugin: `subset` of `from` mapped `direction`, resolved in `to`.
    fn ask(
        &self,
        cx: &Context<'_>,
        direction: Direction,
        subset: &PartitionSubset,
        from: &PartitionsDefinition,
        to: &PartitionsDefinition,
    ) -> Result<UpstreamPartitions, Error> {
        let to_count = to.count(cx)?;
        let key = (direction, subset.clone(), to_count);
        if let Some(answer) = self.cached(&key) {
            return Ok(answer);
        }
        let mut ranges = Vec::with_capacity(subset.indices().range_count());
        for &(a, b) in subset.indices().ranges() {
            let (Some(first), Some(last)) = (from.key_at(cx, a)?, from.key_at(cx, b - 1)?) else {
                continue;
            };
            ranges.push(wit::KeyRange {
                first: first.to_string(),
                last: last.to_string(),
            });
        }
        ranges.extend(subset.unindexed().iter().map(|k| wit::KeyRange {
            first: k.to_string(),
            last: k.to_string(),
        }));
        if ranges.is_empty() {
            return Ok(UpstreamPartitions::default());
        }
        let request = wit::MappingRequest {
            mapping: self.mapping.clone(),
            direction: match direction {
                Direction::ToUpstream => wit::MappingDirection::ToUpstream,
                Direction::ToDownstream => wit::MappingDirection::ToDownstream,
            },
            upstream_asset: self.upstream_asset.clone(),
            downstream_asset: self.downstream_asset.clone(),
            ranges,
        };
        let answer = self
            .plugin
            .map_partitions(&request)
            .map_err(|e| self.broken(e.to_string()))?;
        let mut mapped = PartitionSubset::empty();
        for r in &answer {
            let (a, b) = self.resolve(cx, to, r).map_err(|e| self.refuse(e))?;
            mapped.insert_range(a, b + 1);
        }
        let (partitions, missing) = mapped.split_existing(to_count);
        let result = UpstreamPartitions {
            partitions,
            required_but_nonexistent: missing,
        };
        self.remember(key, &result);
        Ok(result)
    }

    /// The indices of a returned range in `def`: its keys must be keys of `def` (time windows
    /// also before the start or after `now`: those are required but nonexistent).
    fn resolve(
        &self,
        cx: &Context<'_>,
        def: &PartitionsDefinition,
        r: &wit::KeyRange,
    ) -> Result<(i64, i64), Error> {
        let position = |key: &str| -> Result<i64, Error> {
            let found = match def {
                PartitionsDefinition::TimeWindow(tw) => tw.index_of_key(key),
                _ => def.index_of(cx, key)?,
            };
            found.ok_or_else(|| {
                self.broken(format!("it returned {key:?}, which is no key of {def}"))
            })
        };
        let (a, b) = (position(&r.first)?, position(&r.last)?);
        if a > b {
            return Err(self.broken(format!(
                "it returned the range {:?}...{:?}, whose end comes before its start",
                r.first, r.last
            )));
        }
        Ok((a, b))
    }

    /// Downstream of upstream contains the original: mapping a `to-upstream` answer back
    /// covers what was asked.
    fn check_round_trip(
        &self,
        asked: &PartitionSubset,
        back: &PartitionSubset,
        what: &str,
    ) -> Result<(), Error> {
        let lost = asked.difference(back);
        if lost.is_empty() {
            return Ok(());
        }
        Err(self.broken(format!(
            "{what} does not give back {} of the {} partitions asked about (first index {}); a \
             mapping must map its answers back onto what it was asked",
            lost.len(),
            asked.len(),
            lost.indices().first().unwrap_or_default()
        )))
    }
}

impl ExternalMapping for PluginMappingCode {
    fn to_upstream(
        &self,
        cx: &Context<'_>,
        subset: &PartitionSubset,
        downstream: &PartitionsDefinition,
        upstream: &PartitionsDefinition,
    ) -> Result<UpstreamPartitions, Error> {
        self.refusal()?;
        let up = self.ask(cx, Direction::ToUpstream, subset, downstream, upstream)?;
        if up.required_but_nonexistent.is_empty()
            && !up.partitions.is_empty()
            && !self.checked_up.load(Ordering::Relaxed)
        {
            let back = self.ask(
                cx,
                Direction::ToDownstream,
                &up.partitions,
                upstream,
                downstream,
            )?;
            let asked = subset.intersection(&PartitionSubset::from_range(
                0,
                downstream.count(cx)? as i64,
            ));
            self.check_round_trip(
                &asked,
                &back.partitions,
                "mapping its upstream partitions back downstream",
            )
            .map_err(|e| self.refuse(e))?;
            self.checked_up.store(true, Ordering::Relaxed);
        }
        Ok(up)
    }

    fn to_downstream(
        &self,
        cx: &Context<'_>,
        subset: &PartitionSubset,
        upstream: &PartitionsDefinition,
        downstream: &PartitionsDefinition,
    ) -> Result<PartitionSubset, Error> {
        self.refusal()?;
        let down = self.ask(cx, Direction::ToDownstream, subset, upstream, downstream)?;
        if down.required_but_nonexistent.is_empty()
            && !down.partitions.is_empty()
            && !self.checked_down.load(Ordering::Relaxed)
        {
            let back = self.ask(
                cx,
                Direction::ToUpstream,
                &down.partitions,
                downstream,
                upstream,
            )?;
            // Upstream partitions may have no downstream partition (days after the last
            // fiscal year), so the answer need not map back onto all of them; it must map
            // back onto some, or it answered another question.
            let reached = back.partitions.union(&back.required_but_nonexistent);
            if reached.intersection(subset).is_empty() {
                return Err(self.refuse(self.broken(format!(
                    "mapping its {} downstream partitions back upstream reaches none of the {} \
                     partitions asked about",
                    down.partitions.len(),
                    subset.len()
                ))));
            }
            self.checked_down.store(true, Ordering::Relaxed);
        }
        Ok(down.partitions)
    }
}

impl Plugin {
    /// One call of the plugin's `map-partitions`, in a fresh instance within its limits.
    pub(crate) fn map_partitions(
        &self,
        request: &wit::MappingRequest,
    ) -> Result<Vec<wit::KeyRange>, CallError> {
        let limits = self.limits(None);
        let result = self.call(
            CallScope::default(),
            &limits,
            None,
            async |this, store, instance| {
                let func = this
                    .exports()
                    .map_partitions(store, &instance)
                    .ok_or_else(|| this.missing_export("map-partitions"))?;
                let (result,) = func
                    .call_async(&mut *store, (request,))
                    .await
                    .map_err(|e| this.trap(&e, &limits))?;
                Ok(result)
            },
        )?;
        let ranges = result.map_err(|e| self.plugin_error(e))?;
        if ranges.len() as u64 > limits.max_definition_keys {
            return Err(CallError::InvalidResult {
                plugin: self.name().to_string(),
                message: format!(
                    "mapping {:?} returned {} ranges, over max_definition_keys",
                    request.mapping,
                    ranges.len()
                ),
            });
        }
        Ok(ranges)
    }
}
