//! What the state store holds and returns, and how rows decode (strictly: a value that does
//! not decode is an error naming its row).

use serde::{Deserialize, Serialize};
use tessera_partitions::KeyRange;

/// The partitions one run covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RunSelection {
    /// An unpartitioned asset.
    #[default]
    None,
    /// One call per key.
    Keys { keys: Vec<String> },
    /// One call over the whole range (both ends included).
    Range(KeyRange),
}

/// [`RunSelection`] as JSON, for the API's schema (its range variant holds a type of the
/// partitions crate, which knows nothing of schemas).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[schema(as = RunSelection)]
#[allow(dead_code, reason = "describes RunSelection's JSON; never built")]
pub enum RunSelectionSchema {
    None,
    Keys { keys: Vec<String> },
    Range { start: String, end: String },
}

impl RunSelection {
    pub fn describe(&self) -> String {
        match self {
            RunSelection::None => "-".to_string(),
            RunSelection::Keys { keys } => match keys.as_slice() {
                [one] => one.clone(),
                [first, .., last] => format!("{first} … {last} ({} keys)", keys.len()),
                [] => "(none)".to_string(),
            },
            RunSelection::Range(r) => r.to_string(),
        }
    }
}

/// Which queued runs an executor takes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RunScope {
    /// Every queued run (the daemon).
    #[default]
    All,
    /// One backfill's runs.
    Backfill(String),
    /// The runs stored by one request: one transaction stores them with consecutive `seq`.
    Seqs { first: i64, last: i64 },
}

impl RunScope {
    /// (backfill, first seq, last seq) as query parameters.
    pub(super) fn params(&self) -> (Option<&str>, i64, i64) {
        match self {
            RunScope::All => (None, i64::MIN, i64::MAX),
            RunScope::Backfill(b) => (Some(b.as_str()), i64::MIN, i64::MAX),
            RunScope::Seqs { first, last } => (None, *first, *last),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Success,
    Failed,
    Canceled,
    /// Final without a failure: an upstream partition it reads is not materialized (and no
    /// run of its request will produce it). Not retried; its partitions stay as they were.
    WaitingForUpstream,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
            RunStatus::Canceled => "canceled",
            RunStatus::WaitingForUpstream => "waiting_for_upstream",
        }
    }

    pub(super) fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "queued" => RunStatus::Queued,
            "running" => RunStatus::Running,
            "success" => RunStatus::Success,
            "failed" => RunStatus::Failed,
            "canceled" => RunStatus::Canceled,
            "waiting_for_upstream" => RunStatus::WaitingForUpstream,
            _ => return None,
        })
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Success
                | RunStatus::Failed
                | RunStatus::Canceled
                | RunStatus::WaitingForUpstream
        )
    }
}

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: String,
    pub plugin: String,
    pub computation: String,
    pub assets: Vec<String>,
    pub selection: RunSelection,
    pub partitions: u64,
    pub backfill_id: Option<String>,
    pub run_key: Option<String>,
    pub trigger: String,
    pub tags: Vec<(String, String)>,
    pub max_attempts: u32,
    /// Runs (already stored or in the same batch) that must succeed first.
    pub depends_on: Vec<String>,
    /// The concurrency pool its asset belongs to, if any.
    pub pool: Option<String>,
}

/// A stored run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunRecord {
    pub id: String,
    pub status: RunStatus,
    pub plugin: String,
    pub computation: String,
    pub assets: Vec<String>,
    #[schema(value_type = RunSelectionSchema)]
    pub selection: RunSelection,
    pub partitions: u64,
    pub backfill_id: Option<String>,
    pub run_key: Option<String>,
    pub trigger: String,
    pub tags: Vec<(String, String)>,
    pub attempts: u32,
    pub max_attempts: u32,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub error: Option<String>,
    /// How many times the run was claimed: a claim's fencing token. Only the claim holding
    /// the latest number (and still running) may record the run's outcome, so a host that
    /// stalled past its lease while another took the run over records nothing.
    pub claim: i64,
}

/// One asset partition produced by a run.
#[derive(Debug, Clone)]
pub struct NewMaterialization {
    pub asset: String,
    pub partition: String,
    pub code_version: String,
    pub data_version: String,
    pub blob: String,
    pub metadata: serde_json::Value,
    pub started_at: i64,
    pub ended_at: i64,
    /// What it read: see [`InputsRead`].
    pub inputs: InputsRead,
}

/// The upstream partitions one materialization read, by data version: what staleness
/// compares against the upstream's current versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputsRead {
    /// A hash of every (upstream asset, key, data version) read, in mapping order; `None`
    /// leaves staleness to the order of materializations (as before data versions).
    pub hash: Option<String>,
    /// The list itself when it is short (at most [`InputsRead::LISTED`] entries): the
    /// reasons name which upstream changed. A version of `None` is an upstream partition
    /// that was missing when read (allowed by its input).
    pub listed: Option<Vec<(String, String, Option<String>)>>,
}

impl InputsRead {
    /// Inputs listed per materialization at most; longer lists keep only their hash.
    pub const LISTED: usize = 100;
}

/// Output bytes stored in the database itself (small outputs): written in the transaction
/// that records their materializations. A materialization's `blob` is then `db:<name>`.
#[derive(Debug, Clone)]
pub struct NewBlob {
    pub name: String,
    pub data: Vec<u8>,
}

/// A run that succeeded, ready to be recorded.
#[derive(Debug, Clone)]
pub struct Completed {
    pub run_id: String,
    /// The claim that ran it ([`RunRecord::claim`]): recorded only if still the latest.
    pub claim: i64,
    pub plugin: String,
    /// The backfill the run belongs to, settled in the same transaction when this was its
    /// last open run.
    pub backfill_id: Option<String>,
    /// The plugin's log lines during the run: (level, message).
    pub logs: Vec<(String, String)>,
    pub blobs: Vec<NewBlob>,
    pub materializations: Vec<NewMaterialization>,
    /// Check results on those materializations, recorded in the same transaction.
    pub checks: Vec<NewCheckResults>,
}

/// One partition's state, without its materialization's details.
#[derive(Debug, Clone)]
pub struct PartitionSummary {
    pub partition: String,
    pub failed: bool,
    pub materialization: Option<i64>,
    /// The latest materialization's code version, only when it differs from the one asked
    /// about (a status of many current partitions reads no text for it).
    pub code_version: Option<String>,
    /// The hash of the inputs the latest materialization read.
    pub input_hash: Option<String>,
}

/// A partition whose state changed after a watermark ([`PartitionStore::partition_changes`]).
#[derive(Debug, Clone)]
pub struct PartitionChange {
    pub asset: String,
    /// Its state now, with the code version as recorded (whatever the asset's is).
    pub summary: PartitionSummary,
}

impl PartitionChange {
    /// The summary as [`PartitionStore::partition_summaries`] gives it for `code_version`.
    pub fn summary_for(mut self, code_version: &str) -> PartitionSummary {
        if self.summary.materialization.is_none()
            || self.summary.code_version.as_deref() == Some(code_version)
        {
            self.summary.code_version = None;
        }
        self.summary
    }
}

/// The latest state of one partition.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionRecord {
    pub partition: String,
    pub status: PartitionState,
    /// The latest successful materialization, if any (kept when a later attempt failed).
    pub materialization: Option<MaterializationRecord>,
    pub failed_run: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionState {
    Materialized,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaterializationRecord {
    /// Grows with every materialization: orders them without trusting clocks.
    pub id: i64,
    pub run_id: String,
    pub plugin: String,
    pub code_version: String,
    pub data_version: String,
    pub blob: String,
    pub metadata: serde_json::Value,
    pub started_at: i64,
    pub ended_at: i64,
    /// The hash of the inputs it read (see [`InputsRead`]); `None` before data versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_hash: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunEvent {
    pub seq: i64,
    pub at: i64,
    pub level: String,
    pub message: String,
}

/// Where a backfill is: running until its last run is final, then completed (every run
/// succeeded) or failed (a run failed or was canceled); canceled when asked before that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackfillStatus {
    Running,
    Completed,
    Failed,
    Canceled,
}

impl BackfillStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BackfillStatus::Running => "running",
            BackfillStatus::Completed => "completed",
            BackfillStatus::Failed => "failed",
            BackfillStatus::Canceled => "canceled",
        }
    }

    pub(super) fn parse(s: &str) -> Option<BackfillStatus> {
        Some(match s {
            "running" => BackfillStatus::Running,
            "completed" => BackfillStatus::Completed,
            "failed" => BackfillStatus::Failed,
            "canceled" => BackfillStatus::Canceled,
            _ => return None,
        })
    }

    pub fn is_final(self) -> bool {
        self != BackfillStatus::Running
    }
}

impl std::fmt::Display for BackfillStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RunStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<RunStatus, String> {
        RunStatus::parse(s).ok_or_else(|| {
            format!("{s:?} is not a run status: queued, running, success, failed, canceled or waiting_for_upstream")
        })
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which runs `State::runs_matching` returns; `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub limit: u32,
    pub asset: Option<String>,
    pub partition: Option<String>,
    pub status: Option<RunStatus>,
    pub backfill: Option<String>,
    /// Created at or after (unix milliseconds).
    pub since: Option<i64>,
    /// Created before (unix milliseconds).
    pub until: Option<i64>,
    /// Only runs older than this run (a page's cursor: the last run of the previous page).
    pub before: Option<String>,
}

/// A stored value this version cannot read: names the table, the row and the column.
#[derive(Debug, thiserror::Error)]
#[error("{table} row {row}: column {column} holds {value:?}, which is not {expected}")]
pub struct DecodeError {
    pub table: &'static str,
    pub row: String,
    pub column: &'static str,
    pub value: String,
    pub expected: String,
}

/// The error for a value that does not decode.
pub(super) fn decode_error(
    table: &'static str,
    row: &str,
    column: &'static str,
    value: &str,
    expected: impl Into<String>,
) -> DecodeError {
    DecodeError {
        table,
        row: format!("{row:?}"),
        column,
        value: shorten(value),
        expected: expected.into(),
    }
}

/// SQLite's row-decoding error for a value that does not decode.
pub(super) fn undecodable(
    table: &'static str,
    row: &str,
    (index, column): (usize, &'static str),
    value: &str,
    expected: impl Into<String>,
) -> rusqlite::Error {
    sqlite_decode_error(index, decode_error(table, row, column, value, expected))
}

fn sqlite_decode_error(index: usize, e: DecodeError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
}

/// A JSON value, strictly: a value that does not decode is an error naming the row.
fn json_value<T: for<'de> Deserialize<'de>>(
    table: &'static str,
    row: &str,
    column: &'static str,
    text: &str,
) -> Result<T, DecodeError> {
    serde_json::from_str(text).map_err(|e| {
        decode_error(
            table,
            row,
            column,
            text,
            format!("valid JSON of the expected shape ({e})"),
        )
    })
}

/// A count: never negative.
fn count_value(
    table: &'static str,
    row: &str,
    column: &'static str,
    value: i64,
) -> Result<u64, DecodeError> {
    u64::try_from(value)
        .map_err(|_| decode_error(table, row, column, &value.to_string(), "a count"))
}

/// A JSON column of a SQLite row, strictly.
pub(super) fn decode_json<T: for<'de> Deserialize<'de>>(
    table: &'static str,
    row: &str,
    (index, column): (usize, &'static str),
    text: &str,
) -> rusqlite::Result<T> {
    json_value(table, row, column, text).map_err(|e| sqlite_decode_error(index, e))
}

/// A count column of a SQLite row: never negative.
pub(super) fn decode_count(
    table: &'static str,
    row: &str,
    (index, column): (usize, &'static str),
    value: i64,
) -> rusqlite::Result<u64> {
    count_value(table, row, column, value).map_err(|e| sqlite_decode_error(index, e))
}

/// A result row of either backend, as the decoders below read it: columns by index, and the
/// backend's error for a value that does not decode.
pub(super) trait Columns {
    type Error;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn bool(&self, i: usize) -> Result<bool, Self::Error>;
    fn undecodable(&self, index: usize, e: DecodeError) -> Self::Error;

    /// A JSON column, strictly.
    fn json<T: for<'de> Deserialize<'de>>(
        &self,
        table: &'static str,
        row: &str,
        (index, column): (usize, &'static str),
    ) -> Result<T, Self::Error> {
        let text = self.text(index)?;
        json_value(table, row, column, &text).map_err(|e| self.undecodable(index, e))
    }

    /// A count column: never negative.
    fn count(
        &self,
        table: &'static str,
        row: &str,
        (index, column): (usize, &'static str),
    ) -> Result<u64, Self::Error> {
        let value = self.int(index)?;
        count_value(table, row, column, value).map_err(|e| self.undecodable(index, e))
    }
}

impl Columns for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }
    fn bool(&self, i: usize) -> rusqlite::Result<bool> {
        self.get(i)
    }
    fn undecodable(&self, index: usize, e: DecodeError) -> rusqlite::Error {
        sqlite_decode_error(index, e)
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BackfillRecord {
    pub id: String,
    pub status: BackfillStatus,
    pub assets: Vec<String>,
    pub description: String,
    pub partitions: u64,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SensorState {
    pub cursor: Option<String>,
    pub last_evaluation: Option<i64>,
    pub last_skip_reason: Option<String>,
    pub last_error: Option<String>,
    pub evaluations: u64,
    /// Turned off: the daemon does not evaluate it (a tick asked for by hand still runs).
    pub disabled: bool,
}

pub(super) const RUN_COLUMNS: &str = "id, status, plugin, computation, assets, selection, partitions, backfill_id, run_key, trigger, tags, attempts, max_attempts, created_at, started_at, ended_at, error, lease_gen";

pub(super) fn run_from_row<R: Columns>(row: &R) -> Result<RunRecord, R::Error> {
    let id = row.text(0)?;
    let status = row.text(1)?;
    let small = |column: (usize, &'static str), v: i64| {
        u32::try_from(v).map_err(|_| {
            row.undecodable(
                column.0,
                decode_error("runs", &id, column.1, &v.to_string(), "a count"),
            )
        })
    };
    Ok(RunRecord {
        status: RunStatus::parse(&status).ok_or_else(|| {
            row.undecodable(
                1,
                decode_error(
                    "runs",
                    &id,
                    "status",
                    &status,
                    "a run status (queued, running, success, failed, canceled, waiting_for_upstream)",
                ),
            )
        })?,
        plugin: row.text(2)?,
        computation: row.text(3)?,
        assets: row.json("runs", &id, (4, "assets"))?,
        selection: row.json("runs", &id, (5, "selection"))?,
        partitions: row.count("runs", &id, (6, "partitions"))?,
        backfill_id: row.opt_text(7)?,
        run_key: row.opt_text(8)?,
        trigger: row.text(9)?,
        tags: row.json("runs", &id, (10, "tags"))?,
        attempts: small((11, "attempts"), row.int(11)?)?,
        max_attempts: small((12, "max_attempts"), row.int(12)?)?,
        created_at: row.int(13)?,
        started_at: row.opt_int(14)?,
        ended_at: row.opt_int(15)?,
        error: row.opt_text(16)?,
        claim: row.int(17)?,
        id,
    })
}

/// What is left to do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pending {
    pub queued: u64,
    pub running: u64,
    pub next_retry_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct BackfillProgress {
    pub runs_total: u64,
    pub runs_queued: u64,
    pub runs_running: u64,
    pub runs_succeeded: u64,
    pub runs_failed: u64,
    pub runs_canceled: u64,
    pub runs_waiting_for_upstream: u64,
    pub partitions_total: u64,
    pub partitions_done: u64,
    pub partitions_failed: u64,
}

/// One sensor evaluation's effects, recorded together.
#[derive(Debug, Clone)]
pub struct SensorTick {
    pub sensor: String,
    pub at: i64,
    /// The sensor's evaluation count read before evaluating: the tick is recorded only if no
    /// other was recorded since (else [`crate::EngineError::TickSuperseded`]). `None` for
    /// evaluations that need no such guard (eager automation: its run keys dedupe).
    pub evaluations: Option<u64>,
    pub cursor: Option<String>,
    pub skip_reason: Option<String>,
    pub error: Option<String>,
    /// (set name, keys to add, keys to delete)
    pub dynamic: Vec<(String, Vec<String>, Vec<String>)>,
    pub runs: Vec<NewRun>,
}

impl SensorTick {
    /// A tick of the engine's own automation (eager policies, roll-up deadlines): no
    /// evaluation guard, cursor or dynamic changes, only runs deduplicated by their keys.
    pub fn automation(sensor: String, at: i64) -> SensorTick {
        SensorTick {
            sensor,
            at,
            evaluations: None,
            cursor: None,
            skip_reason: None,
            error: None,
            dynamic: Vec::new(),
            runs: Vec::new(),
        }
    }
}

/// A key for a message: long ones cut.
pub(super) fn shorten(k: &str) -> String {
    if k.len() <= 80 {
        return k.to_string();
    }
    let head: String = k.chars().take(60).collect();
    format!("{head}… ({} bytes)", k.len())
}

/// A materialization from its columns `id, run_id, plugin, code_version, data_version, blob,
/// metadata, started_at, ended_at, input_hash`, starting at column `at`.
pub(super) fn materialization_from_row<R: Columns>(
    r: &R,
    at: usize,
) -> Result<MaterializationRecord, R::Error> {
    let id = r.int(at)?;
    Ok(MaterializationRecord {
        id,
        run_id: r.text(at + 1)?,
        plugin: r.text(at + 2)?,
        code_version: r.text(at + 3)?,
        data_version: r.text(at + 4)?,
        blob: r.text(at + 5)?,
        metadata: r.json("materializations", &id.to_string(), (at + 6, "metadata"))?,
        started_at: r.int(at + 7)?,
        ended_at: r.int(at + 8)?,
        input_hash: r.opt_text(at + 9)?,
    })
}

/// A partition's state from its columns `partition, status, failed_run, error` and its
/// materialization's (see [`materialization_from_row`]; all null when it has none).
pub(super) fn partition_from_row<R: Columns>(r: &R) -> Result<PartitionRecord, R::Error> {
    let partition = r.text(0)?;
    let status = r.text(1)?;
    let materialization = match r.opt_int(4)? {
        Some(_) => Some(materialization_from_row(r, 4)?),
        None => None,
    };
    Ok(PartitionRecord {
        status: match status.as_str() {
            "failed" => PartitionState::Failed,
            "materialized" => PartitionState::Materialized,
            _ => {
                return Err(r.undecodable(
                    1,
                    decode_error(
                        "partition_status",
                        &partition,
                        "status",
                        &status,
                        "a partition status (materialized, failed)",
                    ),
                ));
            }
        },
        partition,
        materialization,
        failed_run: r.opt_text(2)?,
        error: r.opt_text(3)?,
    })
}

pub(super) fn backfill_from_row<R: Columns>(r: &R) -> Result<BackfillRecord, R::Error> {
    let id = r.text(0)?;
    let status = r.text(1)?;
    Ok(BackfillRecord {
        status: BackfillStatus::parse(&status).ok_or_else(|| {
            r.undecodable(
                1,
                decode_error(
                    "backfills",
                    &id,
                    "status",
                    &status,
                    "a backfill status (running, completed, failed, canceled)",
                ),
            )
        })?,
        assets: r.json("backfills", &id, (2, "assets"))?,
        description: r.text(3)?,
        partitions: r.count("backfills", &id, (4, "partitions"))?,
        created_at: r.int(5)?,
        ended_at: r.opt_int(6)?,
        id,
    })
}

/// A host sharing the database, as its last heartbeat left it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostRecord {
    /// The host's engine id (the owner of its claims and leases).
    pub id: String,
    /// Machine name and process id, for people.
    pub label: String,
    pub started_at: i64,
    pub seen_at: i64,
}

/// Who evaluates a sensor, a schedule or eager automation, and until when.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeaseRecord {
    /// `sensor:<name>`, `schedule:<name>` or `eager`.
    pub name: String,
    pub owner: String,
    pub until: i64,
    /// Taken over this many times (a fencing token).
    pub generation: i64,
}

/// One check result to record.
#[derive(Debug, Clone)]
pub struct NewCheckResult {
    pub partition: String,
    /// `pass`, `warn` or `fail`.
    pub outcome: String,
    pub description: Option<String>,
    pub metadata: serde_json::Value,
}

/// One check's results on the partitions a call produced: recorded with their
/// materializations, in one transaction, so that no result describes a value that never
/// landed (a later call of the run failed, or its lease was lost).
#[derive(Debug, Clone)]
pub struct NewCheckResults {
    pub asset: String,
    pub check: String,
    pub blocking: bool,
    pub results: Vec<NewCheckResult>,
}

/// How one check's latest results on an asset's partitions stand: partitions per outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CheckCounts {
    pub check: String,
    pub blocking: bool,
    pub pass: u64,
    pub warn: u64,
    pub fail: u64,
}

impl CheckCounts {
    /// Adds `n` partitions with `outcome` (`pass`, `warn`, `fail`; anything else counts as a
    /// failure: a result the engine did not write is not a pass).
    pub fn add(&mut self, outcome: &str, n: u64) {
        match outcome {
            "pass" => self.pass += n,
            "warn" => self.warn += n,
            _ => self.fail += n,
        }
    }
}

/// Folds (check, outcome, blocking, partitions) rows, in check order, into counts per check.
pub(crate) fn fold_check_counts(
    rows: impl IntoIterator<Item = (String, String, bool, u64)>,
) -> Vec<CheckCounts> {
    let mut out: Vec<CheckCounts> = Vec::new();
    for (check, outcome, blocking, n) in rows {
        if out.last().is_none_or(|c| c.check != check) {
            out.push(CheckCounts {
                check,
                ..CheckCounts::default()
            });
        }
        if let Some(c) = out.last_mut() {
            c.blocking |= blocking;
            c.add(&outcome, n);
        }
    }
    out
}

/// The latest result of a check on a partition.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CheckRecord {
    pub check: String,
    pub partition: String,
    /// `pass`, `warn` or `fail`.
    pub outcome: String,
    pub description: Option<String>,
    pub metadata: serde_json::Value,
    pub blocking: bool,
    pub run_id: String,
    /// Unix milliseconds.
    pub at: i64,
}
