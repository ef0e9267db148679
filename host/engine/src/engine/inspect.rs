//! Inspection: one partition in full (`show`), a page of a definition's keys, filtered runs,
//! and the schedules' state. Read-only.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_partitions::{Context, PartitionKey, PartitionsDefinition};
use tessera_runtime::RollupPolicy;

use super::status::PartitionStatus;
use super::{Engine, StaleReason};
use crate::error::EngineError;
use crate::graph::{AssetGraph, AssetNode};
use crate::state::{
    BackfillProgress, BackfillRecord, BackfillStatus, CheckCounts, CheckRecord,
    MaterializationRecord, PartitionRecord, PartitionState, PartitionSummary, RunEvent, RunFilter,
    RunRecord, SensorState,
};

/// The bytes of a stored value `show` reads at most.
const PREVIEW_READ: usize = 64 << 10;
/// The characters of text or JSON `show` prints at most.
const PREVIEW_CHARS: usize = 4000;

/// One partition in full.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartitionDetail {
    pub asset: String,
    pub key: String,
    pub state: PartitionStatus,
    /// The asset's code version now (the one a new run would record).
    pub code_version: String,
    pub latest: Option<Materialization>,
    /// The latest attempt's failure, when it failed.
    pub failure: Option<Failure>,
    /// Why it is stale (empty when it is not).
    pub stale_reasons: Vec<StaleReason>,
    /// Upstream partitions it reads that were never materialized.
    pub upstream_missing: Vec<String>,
    /// Inputs with missing upstream partitions or a roll-up policy: how much of the window
    /// exists, and when it runs.
    pub rollups: Vec<RollupView>,
    /// Materialized while some upstream partition it reads was missing (a partial window).
    pub partial: bool,
    /// The latest result of each asset check on it.
    pub checks: Vec<crate::state::CheckRecord>,
    pub preview: Option<Preview>,
    /// Newest first, at most the limit asked for.
    pub history: Vec<Materialization>,
    pub history_total: u64,
}

/// One input of a partition, seen as a roll-up: its upstream partitions and its policy.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RollupView {
    pub input: String,
    /// `wait_all`, `wait_until(+Ns)` or `run_partial`.
    pub policy: String,
    /// Upstream partitions it maps to, and how many of them are materialized.
    pub upstream: u64,
    pub materialized: u64,
    /// For `wait_until`: when it runs with what exists (RFC 3339).
    pub deadline: Option<String>,
}

/// One materialization, for people.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Materialization {
    pub id: i64,
    pub run_id: String,
    pub code_version: String,
    pub data_version: String,
    pub metadata: serde_json::Value,
    pub started_at: i64,
    pub ended_at: i64,
    pub duration_ms: i64,
}

impl From<MaterializationRecord> for Materialization {
    fn from(m: MaterializationRecord) -> Materialization {
        Materialization {
            id: m.id,
            duration_ms: m.ended_at - m.started_at,
            run_id: m.run_id,
            code_version: m.code_version,
            data_version: m.data_version,
            metadata: m.metadata,
            started_at: m.started_at,
            ended_at: m.ended_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Failure {
    pub run_id: Option<String>,
    pub error: Option<String>,
}

/// The start of a stored value: JSON pretty-printed, text as it is, binary as its size.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// `json`, `text` or `binary`.
    pub kind: &'static str,
    pub bytes: u64,
    /// SHA-256 of the whole value (its data version).
    pub sha256: String,
    pub text: Option<String>,
    /// Whether `text` shows only the start.
    pub truncated: bool,
}

/// A page of a definition's keys.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyPage {
    pub asset: String,
    pub total: u64,
    /// The index of the first key of the page.
    pub offset: u64,
    pub keys: Vec<String>,
    /// The key the next page starts with, if any.
    pub next: Option<String>,
}

/// A schedule's state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    pub name: String,
    pub asset: String,
    pub cron: String,
    pub timezone: String,
    /// Unix seconds of the last recorded tick.
    pub last_tick: Option<i64>,
    /// Unix seconds of the next tick after `now`.
    pub next_tick: Option<i64>,
    pub error: Option<String>,
}

impl Engine {
    /// One partition of `asset` in full: its state, latest materialization and failure,
    /// staleness reasons, a preview of the stored value, and the newest `history` of its
    /// materializations.
    pub fn show_partition(
        &self,
        graph: &AssetGraph,
        asset: &str,
        key: &str,
        now: DateTime<Utc>,
        history: u32,
    ) -> Result<PartitionDetail, EngineError> {
        let node = self.node(graph, asset)?;
        if node.partitions.is_none() && !key.is_empty() {
            return Err(EngineError::Selection {
                asset: asset.to_string(),
                message: "the asset is not partitioned; show it without a key".into(),
            });
        }
        let dynamic = self.dynamic_for(graph, node)?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        let inside = super::staleness::inside(node, &cx, key);
        let record = self
            .state
            .partitions_of(asset, &[key.to_string()])?
            .into_iter()
            .next();
        if record.is_none() && !inside {
            return Err(EngineError::Selection {
                asset: asset.to_string(),
                message: format!(
                    "no partition {key:?} as of {now}, and none recorded (see `tessera partitions {asset} --keys`)"
                ),
            });
        }
        let (reasons, upstream_missing, rollups) = if inside {
            let latest = self.upstream_latest(graph, node, &cx, Some(key))?;
            let read = self.read_now(graph, node, &cx, &latest, key, true)?;
            let stale = match &record {
                Some(r) if r.status == PartitionState::Materialized => {
                    self.judge(node, &summary_of(r), &read, true)?
                }
                _ => None,
            };
            let mut rollups = Vec::new();
            for edge in &node.inputs {
                let entries = read.entries.iter().filter(|(a, _, _)| *a == edge.upstream);
                let (upstream, materialized) = entries.fold((0u64, 0u64), |(n, m), (_, _, v)| {
                    (n + 1, m + u64::from(v.is_some()))
                });
                if upstream == materialized && edge.rollup == RollupPolicy::WaitAll {
                    continue;
                }
                let deadline = super::execute::rollup_deadline(node, edge, &[key.to_string()])
                    .and_then(|d| DateTime::<Utc>::from_timestamp(d, 0))
                    .map(|d| d.to_rfc3339());
                rollups.push(RollupView {
                    input: edge.upstream.clone(),
                    policy: edge.rollup.to_string(),
                    upstream,
                    materialized,
                    deadline,
                });
            }
            (
                stale.map(|s| s.reasons).unwrap_or_default(),
                read.missing,
                rollups,
            )
        } else {
            (Vec::new(), Vec::new(), Vec::new())
        };
        let partial = record.as_ref().is_some_and(|r| r.materialization.is_some())
            && !upstream_missing.is_empty();
        let state = match &record {
            None => PartitionStatus::Missing,
            Some(_) if !inside => PartitionStatus::OutsideDefinition,
            Some(r) if r.status == PartitionState::Failed => PartitionStatus::Failed,
            Some(_) if !reasons.is_empty() => PartitionStatus::Stale,
            Some(_) => PartitionStatus::Materialized,
        };
        let preview = match record.as_ref().and_then(|r| r.materialization.as_ref()) {
            Some(m) => Some(self.value_preview(&m.blob, &m.data_version)?),
            None => None,
        };
        let (past, history_total) = self.state.materialization_history(asset, key, history)?;
        let checks = self.state.check_results(asset, &[key.to_string()])?;
        Ok(PartitionDetail {
            asset: asset.to_string(),
            key: key.to_string(),
            state,
            code_version: node.code_version.clone(),
            latest: record
                .as_ref()
                .and_then(|r| r.materialization.clone())
                .map(Materialization::from),
            failure: record
                .as_ref()
                .filter(|r| r.status == PartitionState::Failed)
                .map(|r| Failure {
                    run_id: r.failed_run.clone(),
                    error: r.error.clone(),
                }),
            stale_reasons: reasons,
            upstream_missing,
            rollups,
            partial,
            checks,
            preview,
            history: past.into_iter().map(Materialization::from).collect(),
            history_total,
        })
    }

    fn value_preview(&self, blob: &str, data_version: &str) -> Result<Preview, EngineError> {
        let (head, bytes) = match blob.strip_prefix("db:") {
            Some(_) => {
                let data = self.read_blob(blob)?;
                let n = data.len() as u64;
                (data.into_iter().take(PREVIEW_READ).collect::<Vec<u8>>(), n)
            }
            None => self.io.read_prefix(blob, PREVIEW_READ)?,
        };
        let (kind, text, truncated) = describe(&head, bytes);
        Ok(Preview {
            kind,
            bytes,
            sha256: data_version.to_string(),
            text,
            truncated,
        })
    }

    /// `limit` keys of `asset`'s definition from `from` (a key; the first when `None`),
    /// computed, never enumerating the rest.
    pub fn partition_keys(
        &self,
        graph: &AssetGraph,
        asset: &str,
        from: Option<&str>,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<KeyPage, EngineError> {
        let node = self.node(graph, asset)?;
        let dynamic = self.dynamic_for(graph, node)?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        let (def, offset) = page_start(node, &cx, from)?;
        let total = def.count(&cx)?;
        let keys: Vec<String> = def
            .keys_from(&cx, offset, limit.saturating_add(1))?
            .map(PartitionKey::into_string)
            .collect();
        let (keys, next) = if keys.len() as u64 > limit {
            let mut keys = keys;
            let next = keys.pop();
            (keys, next)
        } else {
            (keys, None)
        };
        Ok(KeyPage {
            asset: asset.to_string(),
            total,
            offset,
            keys,
            next,
        })
    }

    /// The runs matching a filter, newest first.
    /// Per check of `asset`, how many partitions' latest results pass, warn and fail.
    pub fn check_counts(&self, asset: &str) -> Result<Vec<CheckCounts>, EngineError> {
        self.state.check_counts(asset)
    }

    /// The latest check results on `asset` that warn or fail, by partition and check.
    pub fn check_problems(&self, asset: &str) -> Result<Vec<CheckRecord>, EngineError> {
        self.state.check_problems(asset)
    }

    pub fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, EngineError> {
        self.state.runs_matching(filter)
    }

    /// How many runs are in each status.
    pub fn run_counts(&self) -> Result<Vec<(String, u64)>, EngineError> {
        self.state.run_counts()
    }

    /// One run, if it exists.
    pub fn run(&self, id: &str) -> Result<Option<RunRecord>, EngineError> {
        self.state.run(id)
    }

    /// A run's events and plugin log lines, oldest first.
    pub fn run_events(&self, id: &str) -> Result<Vec<RunEvent>, EngineError> {
        self.state.run_events(id)
    }

    /// Every backfill, newest first.
    pub fn backfills(&self) -> Result<Vec<BackfillRecord>, EngineError> {
        self.state.backfills()
    }

    /// How far a backfill has come.
    pub fn backfill_progress(&self, id: &str) -> Result<BackfillProgress, EngineError> {
        self.state.backfill_progress(id)
    }

    /// Cancels a backfill's queued runs (running runs stop after their current partition);
    /// returns how many were canceled and the backfill's status after.
    pub fn cancel_backfill(&self, id: &str) -> Result<(u64, BackfillStatus), EngineError> {
        self.state.cancel_backfill(id)
    }

    /// One backfill, if it exists.
    pub fn backfill(&self, id: &str) -> Result<Option<BackfillRecord>, EngineError> {
        self.state.backfill(id)
    }

    /// Reopens a backfill that ended without completing (failed, canceled) so that its
    /// remaining runs can run again, and says how far it has come; `None` when there is no
    /// such backfill.
    pub fn resume_backfill(&self, id: &str) -> Result<Option<BackfillProgress>, EngineError> {
        let Some(b) = self.state.backfill(id)? else {
            return Ok(None);
        };
        if b.status != BackfillStatus::Running {
            self.state.reopen_backfill(id)?;
        }
        self.state.backfill_progress(id).map(Some)
    }

    /// Turns a sensor of the graph off or on: the daemon skips a sensor that is off.
    pub fn set_sensor_enabled(&self, name: &str, enabled: bool) -> Result<(), EngineError> {
        if !self.graph()?.sensors().contains_key(name) {
            return Err(EngineError::UnknownSensor(name.to_string()));
        }
        self.state.set_sensor_disabled(name, !enabled)
    }

    /// A sensor's cursor, last evaluation and recent ticks.
    pub fn sensor_state(&self, name: &str) -> Result<SensorState, EngineError> {
        self.state.sensor_state(name)
    }

    /// Each schedule with its last and next tick (and what is wrong with it, if anything).
    pub fn schedules(
        &self,
        specs: &[super::ScheduleSpec],
        now: DateTime<Utc>,
    ) -> Result<Vec<ScheduleView>, EngineError> {
        let graph = self.graph()?;
        let mut out = Vec::new();
        for spec in specs {
            let (next_tick, mut error) = match spec.schedule() {
                Ok(s) => (s.iter_from(now.timestamp() + 1).next(), None),
                Err(e) => (None, Some(e.to_string())),
            };
            if let Err(e) = spec.check_target(&graph) {
                error.get_or_insert(e.to_string());
            }
            out.push(ScheduleView {
                name: spec.name.clone(),
                asset: spec.asset.clone(),
                cron: spec.cron.clone(),
                timezone: spec.timezone.clone(),
                last_tick: self.state.last_schedule_tick(&spec.name)?,
                next_tick,
                error,
            });
        }
        Ok(out)
    }
}

/// What the start of a value is — `json` (whole and valid: pretty-printed), `text` (UTF-8
/// without control characters, a character cut at the end forgiven) or `binary` — with the
/// text to show and whether it is only the start.
fn describe(head: &[u8], bytes: u64) -> (&'static str, Option<String>, bool) {
    let whole = head.len() as u64 == bytes;
    let cut = |text: &str| -> (String, bool) {
        match text.char_indices().nth(PREVIEW_CHARS) {
            Some((i, _)) => (text[..i].to_string(), true),
            None => (text.to_string(), !whole),
        }
    };
    if whole && let Ok(v) = serde_json::from_slice::<serde_json::Value>(head) {
        let pretty = serde_json::to_string_pretty(&v).unwrap_or_default();
        let (t, more) = cut(&pretty);
        return ("json", Some(t), more);
    }
    let valid = match std::str::from_utf8(head) {
        Ok(t) => Some(t),
        Err(e) if !whole && head.len() - e.valid_up_to() < 4 => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    match valid.filter(|t| !t.chars().any(|c| c.is_control() && !c.is_whitespace())) {
        Some(t) => {
            let (t, more) = cut(t);
            ("text", Some(t), more)
        }
        None => ("binary", None, false),
    }
}

/// A partition's record as staleness reads it.
fn summary_of(r: &PartitionRecord) -> PartitionSummary {
    let m = r.materialization.as_ref();
    PartitionSummary {
        partition: r.partition.clone(),
        failed: r.status == PartitionState::Failed,
        materialization: m.map(|m| m.id),
        code_version: m.map(|m| m.code_version.clone()),
        input_hash: m.and_then(|m| m.input_hash.clone()),
    }
}

/// Where a page of an asset's keys begins: its definition, and the index of the key `from`
/// (the first key when `None`). An unpartitioned asset, or a key that is not a partition at
/// the context's `now`, is a selection error.
pub(super) fn page_start<'a>(
    node: &'a AssetNode,
    cx: &Context<'_>,
    from: Option<&str>,
) -> Result<(&'a PartitionsDefinition, u64), EngineError> {
    let Some(def) = &node.partitions else {
        return Err(EngineError::Selection {
            asset: node.key.clone(),
            message: "the asset is not partitioned: it has no keys".into(),
        });
    };
    let offset = match from {
        None => 0,
        Some(k) => def
            .index_of(cx, k)?
            .and_then(|i| u64::try_from(i).ok())
            .ok_or_else(|| EngineError::Selection {
                asset: node.key.clone(),
                message: format!("no partition {k:?} as of {}", cx.now()),
            })?,
    };
    Ok((def, offset))
}

#[cfg(test)]
mod tests {
    use super::{PREVIEW_CHARS, describe};

    #[test]
    fn values_are_described_by_what_they_hold() {
        let (kind, text, more) = describe(br#"{"b":1,"a":[1,2]}"#, 17);
        assert_eq!((kind, more), ("json", false));
        assert!(text.unwrap().contains("\n  \"b\": 1"));
        assert_eq!(
            describe(b"day,total\n", 10),
            ("text", Some("day,total\n".into()), false)
        );
        assert_eq!(describe(&[0, 159, 146, 150], 4), ("binary", None, false));
        // The start of a longer value: "é" cut after its first byte is still text.
        let (kind, text, more) = describe("abcé".as_bytes().get(..4).unwrap_or_default(), 100);
        assert_eq!((kind, text.as_deref(), more), ("text", Some("abc"), true));
        let long = "x".repeat(PREVIEW_CHARS + 10);
        let (_, text, more) = describe(long.as_bytes(), long.len() as u64);
        assert_eq!((text.map(|t| t.len()), more), (Some(PREVIEW_CHARS), true));
        // JSON is recognised only whole.
        assert_eq!(describe(b"[1,2", 100).0, "text");
    }
}
