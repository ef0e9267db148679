//! Staleness: which materialized partitions no longer reflect their code or their inputs,
//! and why. Inputs are compared by data version (a content hash of the stored value): an
//! upstream partition re-materialized with identical bytes leaves its readers current.
//!
//! Every materialization records a hash of what it read — each mapped upstream partition
//! with its data version, in mapping order — and the list itself when it is short. A
//! partition is stale when its code version changed or when the same hash over its
//! upstream's current versions differs. Records from before data versions (no hash) fall
//! back to the order of materializations.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};
use tessera_partitions::Context;

use super::{Engine, short_version};
use crate::error::EngineError;
use crate::graph::{AssetGraph, AssetNode};
use crate::state::{InputsRead, PartitionSummary};

/// Why a partition is stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum StaleReason {
    /// Its asset's code version changed since it was materialized.
    CodeVersion { from: String, to: String },
    /// An upstream partition it reads has another data version than the one it read;
    /// `from` is `None` when that partition was missing (or not read) then.
    UpstreamChanged {
        asset: String,
        key: String,
        from: Option<String>,
        to: String,
    },
    /// An upstream partition it reads now is missing (its mapping reads other keys than it
    /// did, or the upstream record is gone).
    UpstreamMissing { asset: String, key: String },
    /// Recorded before data versions: an upstream partition was materialized after it.
    UpstreamNewer { asset: String, key: String },
    /// Its inputs changed; it read too many upstream partitions to list which.
    InputsChanged { read: u64 },
    /// Reasons beyond the ones listed.
    More { count: u64 },
}

impl fmt::Display for StaleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaleReason::CodeVersion { from, to } => write!(
                f,
                "code version changed from {} to {}",
                short_version(from),
                short_version(to)
            ),
            StaleReason::UpstreamChanged {
                asset,
                key,
                from: Some(from),
                to,
            } => write!(
                f,
                "upstream {} has a new data version ({} → {})",
                label(asset, key),
                short_version(from),
                short_version(to)
            ),
            StaleReason::UpstreamChanged {
                asset,
                key,
                from: None,
                to,
            } => write!(
                f,
                "upstream {} was materialized since it was read (data version {})",
                label(asset, key),
                short_version(to)
            ),
            StaleReason::UpstreamMissing { asset, key } => {
                write!(f, "upstream {} is missing", label(asset, key))
            }
            StaleReason::UpstreamNewer { asset, key } => {
                write!(
                    f,
                    "upstream {} was materialized after it",
                    label(asset, key)
                )
            }
            StaleReason::InputsChanged { read } => write!(
                f,
                "its inputs have new data versions (it reads {read} upstream partitions)"
            ),
            StaleReason::More { count } => write!(f, "and {count} more"),
        }
    }
}

/// `asset[key]`, or `asset` for an unpartitioned one.
fn label(asset: &str, key: &str) -> String {
    if key.is_empty() {
        asset.to_string()
    } else {
        format!("{asset}[{key}]")
    }
}

/// Reasons listed per partition at most; the rest are counted.
const MAX_REASONS: usize = 20;

/// The latest materialization of each recorded partition of one asset: key → (id, data
/// version).
pub(super) type Latest = HashMap<String, (i64, String)>;

/// What one partition reads now: the hash a materialization would record, the upstream
/// partitions themselves (when asked), the newest upstream materialization, and the
/// upstream partitions it needs that were never materialized.
#[derive(Debug, Default)]
pub(super) struct ReadNow {
    pub hash: String,
    /// (upstream asset, key, its latest (materialization id, data version))
    #[allow(clippy::type_complexity)]
    pub entries: Vec<(String, String, Option<(i64, String)>)>,
    pub count: u64,
    pub newest: Option<i64>,
    /// Labels of upstream partitions it maps to that are missing, whatever the input's roll-up
    /// policy (at most [`MAX_REASONS`], then "and N more").
    pub missing: Vec<String>,
}

impl ReadNow {
    /// What a materialization made now records as read.
    pub(super) fn inputs_read(&self) -> InputsRead {
        InputsRead {
            hash: Some(self.hash.clone()),
            listed: (self.count as usize <= InputsRead::LISTED).then(|| {
                self.entries
                    .iter()
                    .map(|(a, k, v)| (a.clone(), k.clone(), v.as_ref().map(|(_, d)| d.clone())))
                    .collect()
            }),
        }
    }
}

/// One stale partition.
#[derive(Debug, Clone, Default)]
pub(super) struct Stale {
    /// Why; without details, one reason per kind at most, or none (when only counted).
    pub reasons: Vec<StaleReason>,
    /// Its inputs changed (not only its code version).
    pub inputs_changed: bool,
    /// The newest upstream materialization it reads.
    pub newest_upstream: Option<i64>,
}

impl Engine {
    /// The latest materializations of `node`'s upstream assets: of every recorded partition,
    /// or with `only`, of the ones that partition reads.
    pub(super) fn upstream_latest(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        cx: &Context<'_>,
        only: Option<&str>,
    ) -> Result<HashMap<String, Latest>, EngineError> {
        let mut out: HashMap<String, Latest> = HashMap::new();
        for e in &node.inputs {
            if out.contains_key(&e.upstream) {
                continue;
            }
            let latest: Latest = match only {
                None => self
                    .state
                    .latest_data_versions(&e.upstream)?
                    .into_iter()
                    .map(|(key, id, version)| (key, (id, version)))
                    .collect(),
                Some(key) => {
                    let up = self.node(graph, &e.upstream)?;
                    let (keys, _) = self.upstream_keys(
                        cx,
                        node,
                        e,
                        up.partitions.as_ref(),
                        &[key.to_string()],
                    )?;
                    self.state
                        .partitions_of(&e.upstream, &keys)?
                        .into_iter()
                        .filter_map(|r| {
                            let m = r.materialization?;
                            Some((r.partition, (m.id, m.data_version)))
                        })
                        .collect()
                }
            };
            out.insert(e.upstream.clone(), latest);
        }
        Ok(out)
    }

    /// What partition `key` of `node` reads now, given its upstream's latest
    /// materializations. With `list`, the upstream partitions are kept too.
    pub(super) fn read_now(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        cx: &Context<'_>,
        latest: &HashMap<String, Latest>,
        key: &str,
        list: bool,
    ) -> Result<ReadNow, EngineError> {
        if node.inputs.is_empty() {
            // Nothing read: the same hash for every partition, computed once.
            static NOTHING: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            return Ok(ReadNow {
                hash: NOTHING
                    .get_or_init(|| hex(&Sha256::new().finalize()[..16]))
                    .clone(),
                ..ReadNow::default()
            });
        }
        let mut hash = Sha256::new();
        let mut read = ReadNow::default();
        let mut more_missing = 0u64;
        let empty = Latest::new();
        for e in &node.inputs {
            let up = self.node(graph, &e.upstream)?;
            let (keys, _) = self.upstream_keys(
                cx,
                node,
                e,
                up.partitions.as_ref(),
                std::slice::from_ref(&key.to_string()),
            )?;
            let now = latest.get(&e.upstream).unwrap_or(&empty);
            for k in keys {
                let current = now.get(&k);
                // Fields end with a byte no key, name or hex version contains.
                hash.update(e.upstream.as_bytes());
                hash.update([0]);
                hash.update(k.as_bytes());
                hash.update([0]);
                hash.update(current.map_or("-", |(_, v)| v.as_str()).as_bytes());
                hash.update([b'\n']);
                read.count += 1;
                if let Some((id, _)) = current {
                    read.newest = read.newest.max(Some(*id));
                } else {
                    // Listed whatever the roll-up policy: a window run with what existed
                    // still shows what it ran without.
                    if read.missing.len() < MAX_REASONS {
                        read.missing.push(label(&e.upstream, &k));
                    } else {
                        more_missing += 1;
                    }
                }
                if list {
                    read.entries.push((e.upstream.clone(), k, current.cloned()));
                }
            }
        }
        if more_missing > 0 {
            read.missing.push(format!("and {more_missing} more"));
        }
        read.hash = hex(&hash.finalize()[..16]);
        Ok(read)
    }

    /// Whether one recorded partition is stale and why (`None`: current, failed without an
    /// earlier success, or never materialized). With `detail`, reasons name each upstream
    /// partition that changed (one query for a partition whose inputs changed).
    pub(super) fn judge(
        &self,
        node: &AssetNode,
        record: &PartitionSummary,
        read: &ReadNow,
        detail: bool,
    ) -> Result<Option<Stale>, EngineError> {
        let Some(own) = record.materialization else {
            return Ok(None);
        };
        let mut stale = Stale {
            newest_upstream: read.newest,
            ..Stale::default()
        };
        if let Some(v) = &record.code_version
            && *v != node.code_version
        {
            stale.reasons.push(StaleReason::CodeVersion {
                from: v.clone(),
                to: node.code_version.clone(),
            });
        }
        stale.inputs_changed = match &record.input_hash {
            Some(h) => *h != read.hash,
            // Recorded before data versions.
            None => read.newest.is_some_and(|n| n > own),
        };
        if stale.inputs_changed {
            let mut reasons = if detail {
                self.input_reasons(own, record.input_hash.is_some(), read)?
            } else {
                Vec::new()
            };
            if reasons.is_empty() {
                reasons.push(StaleReason::InputsChanged { read: read.count });
            }
            if reasons.len() > MAX_REASONS {
                let more = (reasons.len() - MAX_REASONS) as u64;
                reasons.truncate(MAX_REASONS);
                reasons.push(StaleReason::More { count: more });
            }
            stale.reasons.extend(reasons);
        }
        Ok((!stale.reasons.is_empty()).then_some(stale))
    }

    /// Which upstream partitions changed since materialization `own` read them: by data
    /// version against its recorded list, else (too many inputs to list, or recorded
    /// before data versions) the ones materialized after it.
    fn input_reasons(
        &self,
        own: i64,
        hashed: bool,
        read: &ReadNow,
    ) -> Result<Vec<StaleReason>, EngineError> {
        let recorded = if hashed {
            self.state.materialization_inputs(own)?
        } else {
            None
        };
        let mut reasons = Vec::new();
        let Some(recorded) = recorded else {
            for (asset, key, current) in &read.entries {
                if current.as_ref().is_some_and(|(id, _)| *id > own) {
                    reasons.push(StaleReason::UpstreamNewer {
                        asset: asset.clone(),
                        key: key.clone(),
                    });
                }
            }
            return Ok(reasons);
        };
        let then: HashMap<(&str, &str), Option<&str>> = recorded
            .iter()
            .map(|(a, k, v)| ((a.as_str(), k.as_str()), v.as_deref()))
            .collect();
        for (asset, key, current) in &read.entries {
            let was = then.get(&(asset.as_str(), key.as_str())).copied().flatten();
            let now = current.as_ref().map(|(_, v)| v.as_str());
            if was == now {
                continue;
            }
            reasons.push(match now {
                Some(to) => StaleReason::UpstreamChanged {
                    asset: asset.clone(),
                    key: key.clone(),
                    from: was.map(str::to_string),
                    to: to.to_string(),
                },
                None => StaleReason::UpstreamMissing {
                    asset: asset.clone(),
                    key: key.clone(),
                },
            });
        }
        Ok(reasons)
    }

    /// The stale partitions among `records` of `node`, with their reasons. Records of keys
    /// outside the definition at `cx` (a removed dynamic key, a date past a shortened end)
    /// are not partitions of the asset now: never stale.
    pub(super) fn stale_partitions(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        records: &[PartitionSummary],
        cx: &Context<'_>,
        detail: bool,
    ) -> Result<HashMap<String, Stale>, EngineError> {
        let mut out = HashMap::new();
        if node.inputs.is_empty() {
            // Only a changed code version can make it stale: no hashing, and without
            // details no reasons built (a status of ten million partitions counts these).
            for r in records {
                let Some(from) = r
                    .code_version
                    .as_ref()
                    .filter(|v| r.materialization.is_some() && **v != node.code_version)
                else {
                    continue;
                };
                if !inside(node, cx, &r.partition) {
                    continue;
                }
                let reasons = if detail {
                    vec![StaleReason::CodeVersion {
                        from: from.clone(),
                        to: node.code_version.clone(),
                    }]
                } else {
                    Vec::new()
                };
                out.insert(
                    r.partition.clone(),
                    Stale {
                        reasons,
                        ..Stale::default()
                    },
                );
            }
            return Ok(out);
        }
        let materialized: Vec<&PartitionSummary> = records
            .iter()
            .filter(|r| r.materialization.is_some() && inside(node, cx, &r.partition))
            .collect();
        if materialized.is_empty() {
            return Ok(out);
        }
        let latest = self.upstream_latest(graph, node, cx, None)?;
        for r in materialized {
            let read = self.read_now(graph, node, cx, &latest, &r.partition, detail)?;
            if let Some(s) = self.judge(node, r, &read, detail)? {
                out.insert(r.partition.clone(), s);
            }
        }
        Ok(out)
    }
}

impl Engine {
    /// [`Engine::stale_partitions`] of a few partitions (without details), reading only the
    /// upstream partitions each maps to rather than every upstream record: what a status
    /// brought up to date after a few changes pays.
    pub(super) fn stale_few(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        records: &[PartitionSummary],
        cx: &Context<'_>,
    ) -> Result<HashMap<String, Stale>, EngineError> {
        if node.inputs.is_empty() {
            return self.stale_partitions(graph, node, records, cx, false);
        }
        let mut out = HashMap::new();
        for r in records
            .iter()
            .filter(|r| r.materialization.is_some() && inside(node, cx, &r.partition))
        {
            let latest = self.upstream_latest(graph, node, cx, Some(&r.partition))?;
            let read = self.read_now(graph, node, cx, &latest, &r.partition, false)?;
            if let Some(s) = self.judge(node, r, &read, false)? {
                out.insert(r.partition.clone(), s);
            }
        }
        Ok(out)
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Whether `key` is a partition of `node` at `cx` (an unpartitioned asset has one, "").
pub(super) fn inside(node: &AssetNode, cx: &Context<'_>, key: &str) -> bool {
    match &node.partitions {
        Some(d) => d.has_key(cx, key).unwrap_or(false),
        None => key.is_empty(),
    }
}
