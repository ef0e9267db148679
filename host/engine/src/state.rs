//! The state store: one SQLite file in WAL mode. Every change that belongs together commits in
//! one transaction, so a crash (even `kill -9`) leaves either all of it or none of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::error::EngineError;

mod dynamic;

/// Schema migrations, applied in order; `PRAGMA user_version` counts the applied ones.
/// Never edit one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    seq           INTEGER NOT NULL UNIQUE,
    status        TEXT NOT NULL,
    plugin        TEXT NOT NULL,
    computation   TEXT NOT NULL,
    assets        TEXT NOT NULL,
    selection     TEXT NOT NULL,
    partitions    INTEGER NOT NULL,
    backfill_id   TEXT,
    run_key       TEXT,
    trigger       TEXT NOT NULL,
    tags          TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    not_before    INTEGER NOT NULL DEFAULT 0,
    owner         TEXT,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    ended_at      INTEGER,
    error         TEXT
);
CREATE INDEX runs_by_status ON runs(status, seq);
CREATE INDEX runs_by_backfill ON runs(backfill_id, status);
CREATE TABLE run_deps (
    run_id      TEXT NOT NULL,
    depends_on  TEXT NOT NULL,
    PRIMARY KEY (run_id, depends_on)
) WITHOUT ROWID;
CREATE INDEX run_deps_by_dependency ON run_deps(depends_on);
CREATE TABLE run_events (
    run_id   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    level    TEXT NOT NULL,
    message  TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE materializations (
    id            INTEGER PRIMARY KEY,
    asset         TEXT NOT NULL,
    partition     TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    plugin        TEXT NOT NULL,
    code_version  TEXT NOT NULL,
    data_version  TEXT NOT NULL,
    blob          TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER NOT NULL,
    UNIQUE (run_id, asset, partition)
);
CREATE TABLE blobs (
    name  TEXT PRIMARY KEY,
    data  BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE partition_status (
    asset             TEXT NOT NULL,
    partition         TEXT NOT NULL,
    status            TEXT NOT NULL,
    materialization   INTEGER,
    failed_run        TEXT,
    error             TEXT,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (asset, partition)
) WITHOUT ROWID;
CREATE TABLE dynamic_partitions (
    name  TEXT NOT NULL,
    key   TEXT NOT NULL,
    seq   INTEGER NOT NULL,
    PRIMARY KEY (name, key)
) WITHOUT ROWID;
CREATE UNIQUE INDEX dynamic_partitions_order ON dynamic_partitions(name, seq);
CREATE TABLE sensor_state (
    name             TEXT PRIMARY KEY,
    cursor           TEXT,
    last_evaluation  INTEGER,
    last_skip_reason TEXT,
    last_error       TEXT,
    evaluations      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE sensor_run_keys (
    sensor   TEXT NOT NULL,
    run_key  TEXT NOT NULL,
    run_id   TEXT NOT NULL,
    PRIMARY KEY (sensor, run_key)
) WITHOUT ROWID;
CREATE TABLE schedule_ticks (
    schedule   TEXT NOT NULL,
    tick       INTEGER NOT NULL,
    partition  TEXT,
    run_id     TEXT,
    status     TEXT NOT NULL,
    PRIMARY KEY (schedule, tick)
) WITHOUT ROWID;
CREATE TABLE backfills (
    id           TEXT PRIMARY KEY,
    seq          INTEGER NOT NULL UNIQUE,
    status       TEXT NOT NULL,
    assets       TEXT NOT NULL,
    description  TEXT NOT NULL,
    partitions   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    ended_at     INTEGER
);
",
    r"
ALTER TABLE runs ADD COLUMN pool TEXT;
CREATE INDEX runs_by_pool ON runs(pool, status);
",
    // Dynamic sets as a log of changes, one row per change (see `state/dynamic.rs`), and the
    // code version of each partition's materialization beside its status.
    r"
CREATE TABLE dynamic_changes (
    name   TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    op     TEXT NOT NULL CHECK (op IN ('add', 'remove', 'set')),
    keys   TEXT NOT NULL,
    total  INTEGER NOT NULL,
    PRIMARY KEY (name, seq)
);
INSERT INTO dynamic_changes (name, seq, op, keys, total)
    SELECT name, 1, 'set', group_concat(key, char(10) ORDER BY seq), COUNT(*)
    FROM dynamic_partitions GROUP BY name;
DROP TABLE dynamic_partitions;
-- The code version beside the status, so that a status summary needs no join.
ALTER TABLE partition_status ADD COLUMN code_version TEXT;
UPDATE partition_status SET code_version =
    (SELECT m.code_version FROM materializations m WHERE m.id = partition_status.materialization);
",
    // 3: a running run's owner holds it by a lease it renews (a heartbeat); an expired lease
    // puts the run back in the queue, on any machine (no process table needed).
    // And a partition's materialization history is read newest first by `show`.
    r"
ALTER TABLE runs ADD COLUMN lease_until INTEGER;
CREATE INDEX materializations_by_partition ON materializations(asset, partition, id);
",
];

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
            RunSelection::Range { start, end } => format!("{start}...{end}"),
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
    fn params(&self) -> (Option<&str>, i64, i64) {
        match self {
            RunScope::All => (None, i64::MIN, i64::MAX),
            RunScope::Backfill(b) => (Some(b.as_str()), i64::MIN, i64::MAX),
            RunScope::Seqs { first, last } => (None, *first, *last),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Success,
    Failed,
    Canceled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
            RunStatus::Canceled => "canceled",
        }
    }

    fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "queued" => RunStatus::Queued,
            "running" => RunStatus::Running,
            "success" => RunStatus::Success,
            "failed" => RunStatus::Failed,
            "canceled" => RunStatus::Canceled,
            _ => return None,
        })
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Success | RunStatus::Failed | RunStatus::Canceled
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
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub id: String,
    pub status: RunStatus,
    pub plugin: String,
    pub computation: String,
    pub assets: Vec<String>,
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
    pub plugin: String,
    /// The backfill the run belongs to, settled in the same transaction when this was its
    /// last open run.
    pub backfill_id: Option<String>,
    /// The plugin's log lines during the run: (level, message).
    pub logs: Vec<(String, String)>,
    pub blobs: Vec<NewBlob>,
    pub materializations: Vec<NewMaterialization>,
}

/// One partition's state, without its materialization's details.
#[derive(Debug, Clone)]
pub struct PartitionSummary {
    pub partition: String,
    pub failed: bool,
    pub materialization: Option<i64>,
    /// Materialized with a code version other than the one asked about.
    pub code_changed: bool,
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
}

#[derive(Debug, Clone, Serialize)]
pub struct RunEvent {
    pub seq: i64,
    pub at: i64,
    pub level: String,
    pub message: String,
}

/// Where a backfill is: running until its last run is final, then completed (every run
/// succeeded) or failed (a run failed or was canceled); canceled when asked before that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

    fn parse(s: &str) -> Option<BackfillStatus> {
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
            format!("{s:?} is not a run status: queued, running, success, failed or canceled")
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

/// The row-decoding error for a value that does not decode.
fn undecodable(
    table: &'static str,
    row: &str,
    (index, column): (usize, &'static str),
    value: &str,
    expected: impl Into<String>,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        rusqlite::types::Type::Text,
        Box::new(DecodeError {
            table,
            row: format!("{row:?}"),
            column,
            value: shorten(value),
            expected: expected.into(),
        }),
    )
}

/// A JSON column, strictly: a value that does not decode is an error naming the row.
fn decode_json<T: for<'de> Deserialize<'de>>(
    table: &'static str,
    row: &str,
    column: (usize, &'static str),
    text: &str,
) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        undecodable(
            table,
            row,
            column,
            text,
            format!("valid JSON of the expected shape ({e})"),
        )
    })
}

/// A count column: never negative.
fn decode_count(
    table: &'static str,
    row: &str,
    column: (usize, &'static str),
    value: i64,
) -> rusqlite::Result<u64> {
    u64::try_from(value).map_err(|_| undecodable(table, row, column, &value.to_string(), "a count"))
}

#[derive(Debug, Clone, Serialize)]
pub struct BackfillRecord {
    pub id: String,
    pub status: BackfillStatus,
    pub assets: Vec<String>,
    pub description: String,
    pub partitions: u64,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SensorState {
    pub cursor: Option<String>,
    pub last_evaluation: Option<i64>,
    pub last_skip_reason: Option<String>,
    pub last_error: Option<String>,
    pub evaluations: u64,
}

/// The database. One connection behind a lock: SQLite has one writer anyway, and WAL lets
/// other processes (a CLI beside the daemon) read and queue work at the same time.
#[derive(Debug)]
pub struct State {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Dynamic sets this process has read; always locked after `conn`.
    dynamic: Mutex<dynamic::DynamicCache>,
}

/// How long a claim holds without a heartbeat, unless configured.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

const RUN_COLUMNS: &str = "id, status, plugin, computation, assets, selection, partitions, backfill_id, run_key, trigger, tags, attempts, max_attempts, created_at, started_at, ended_at, error";

fn run_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    let id: String = row.get(0)?;
    let status: String = row.get(1)?;
    let assets: String = row.get(4)?;
    let selection: String = row.get(5)?;
    let tags: String = row.get(10)?;
    let small = |column: (usize, &'static str), v: i64| {
        u32::try_from(v).map_err(|_| undecodable("runs", &id, column, &v.to_string(), "a count"))
    };
    Ok(RunRecord {
        status: RunStatus::parse(&status).ok_or_else(|| {
            undecodable(
                "runs",
                &id,
                (1, "status"),
                &status,
                "a run status (queued, running, success, failed, canceled)",
            )
        })?,
        plugin: row.get(2)?,
        computation: row.get(3)?,
        assets: decode_json("runs", &id, (4, "assets"), &assets)?,
        selection: decode_json("runs", &id, (5, "selection"), &selection)?,
        partitions: decode_count("runs", &id, (6, "partitions"), row.get(6)?)?,
        backfill_id: row.get(7)?,
        run_key: row.get(8)?,
        trigger: row.get(9)?,
        tags: decode_json("runs", &id, (10, "tags"), &tags)?,
        attempts: small((11, "attempts"), row.get(11)?)?,
        max_attempts: small((12, "max_attempts"), row.get(12)?)?,
        created_at: row.get(13)?,
        started_at: row.get(14)?,
        ended_at: row.get(15)?,
        error: row.get(16)?,
        id,
    })
}

impl State {
    /// Opens (creating when needed) the database and brings its schema up to date.
    ///
    /// Safe when several processes start at once on a fresh directory: set-up (creation,
    /// migrations) happens under an exclusive lock on `<db>.lock`, and a new database is
    /// built under a temporary name and renamed into place, so `state.db` either does not
    /// exist or is a complete database. A file that is empty, not a database, missing a table,
    /// or fails SQLite's quick check is refused with what to do.
    pub fn open(path: &Path) -> Result<State, EngineError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| EngineError::db(path, e))?;
        }
        let setup = SetupLock::acquire(path)?;
        let existed = match std::fs::metadata(path) {
            Ok(meta) => {
                check_header(path, &meta)?;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create(path)?;
                false
            }
            Err(e) => return Err(EngineError::db(path, e)),
        };
        let mut conn = connect(path)?;
        migrate(&mut conn, path)?;
        check_tables(&conn, path)?;
        if existed {
            quick_check(&conn, path)?;
        }
        drop(setup);
        Ok(State {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            dynamic: Mutex::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back on
        // drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, e: rusqlite::Error) -> EngineError {
        // A row that does not decode is the cause itself: SQLite's wrapper would repeat it.
        match e {
            rusqlite::Error::FromSqlConversionFailure(_, _, inner) if inner.is::<DecodeError>() => {
                EngineError::db(&self.path, inner)
            }
            e => EngineError::db(&self.path, e),
        }
    }

    /// Runs `f` in one write transaction.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, EngineError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let out = f(&tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, EngineError> {
        let conn = self.conn();
        f(&conn).map_err(|e| self.err(e))
    }

    // ---- runs ----------------------------------------------------------------------------

    /// Stores runs (and a backfill, when given) in one transaction.
    pub fn insert_runs(
        &self,
        backfill: Option<&BackfillRecord>,
        runs: &[NewRun],
    ) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            if let Some(b) = backfill {
                tx.execute(
                    "INSERT INTO backfills (id, seq, status, assets, description, partitions, created_at)
                     VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM backfills), ?2, ?3, ?4, ?5, ?6)",
                    params![b.id, b.status.as_str(), json(&b.assets), b.description, b.partitions as i64, b.created_at],
                )?;
            }
            let mut seq: i64 =
                tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM runs", [], |r| r.get(0))?;
            for r in runs {
                seq += 1;
                insert_run(tx, seq, r, now)?;
            }
            // A backfill that selected nothing is done at once.
            if let Some(b) = backfill {
                settle_backfill(tx, &b.id, now)?;
            }
            Ok(())
        })
    }

    /// The `seq` range of runs stored together (`first` and `last` of one request).
    pub fn seq_range(&self, first: &str, last: &str) -> Result<Option<RunScope>, EngineError> {
        self.read(|c| {
            let seq = |id: &str| -> rusqlite::Result<Option<i64>> {
                c.prepare_cached("SELECT seq FROM runs WHERE id = ?1")?
                    .query_row(params![id], |r| r.get(0))
                    .optional()
            };
            Ok(match (seq(first)?, seq(last)?) {
                (Some(a), Some(b)) => Some(RunScope::Seqs {
                    first: a.min(b),
                    last: a.max(b),
                }),
                _ => None,
            })
        })
    }

    /// Claims the oldest queued run whose dependencies all succeeded and whose retry delay has
    /// passed, optionally only among one backfill's runs.
    pub fn claim_next(
        &self,
        owner: &str,
        scope: &RunScope,
    ) -> Result<Option<RunRecord>, EngineError> {
        Ok(self
            .claim_batch(owner, scope, 1, &BTreeMap::new(), DEFAULT_LEASE)?
            .into_iter()
            .next())
    }

    /// Claims up to `max` such runs in one transaction, oldest first. A run in a pool named
    /// in `pools` is claimed only while fewer than the pool's limit of its runs are running
    /// (across every process sharing the database).
    pub fn claim_batch(
        &self,
        owner: &str,
        scope: &RunScope,
        max: u32,
        pools: &BTreeMap<String, usize>,
        lease: Duration,
    ) -> Result<Vec<RunRecord>, EngineError> {
        let now = now_ms();
        let lease_until = now.saturating_add(lease_ms(lease));
        let (backfill, first, last) = scope.params();
        self.write(|tx| {
            // With pools, look further ahead: some candidates may have to wait.
            let look = if pools.is_empty() { max.max(1) } else { max.max(1) * 8 };
            let sql = format!(
                "SELECT {RUN_COLUMNS}, r.pool FROM runs r
                 WHERE r.status = 'queued' AND r.not_before <= ?1 AND (?2 IS NULL OR r.backfill_id = ?2)
                   AND r.seq BETWEEN ?4 AND ?5
                   AND NOT EXISTS (SELECT 1 FROM run_deps d JOIN runs u ON u.id = d.depends_on
                                   WHERE d.run_id = r.id AND u.status != 'success')
                 ORDER BY r.seq LIMIT ?3"
            );
            let candidates: Vec<(RunRecord, Option<String>)> = {
                let mut s = tx.prepare_cached(&sql)?;
                s.query_map(params![now, backfill, look, first, last], |row| {
                    Ok((run_from_row(row)?, row.get(17)?))
                })?
                .collect::<Result<_, _>>()?
            };
            let mut running: BTreeMap<String, usize> = BTreeMap::new();
            let mut runs = Vec::new();
            for (run, pool) in candidates {
                if runs.len() >= max.max(1) as usize {
                    break;
                }
                if let Some((name, limit)) = pool.as_ref().and_then(|p| pools.get_key_value(p)) {
                    let busy = match running.get(name) {
                        Some(n) => *n,
                        None => {
                            let n: i64 = tx
                                .prepare_cached(
                                    "SELECT COUNT(*) FROM runs WHERE pool = ?1 AND status = 'running'",
                                )?
                                .query_row(params![name], |r| r.get(0))?;
                            n as usize
                        }
                    };
                    if busy >= *limit {
                        running.insert(name.clone(), busy);
                        continue;
                    }
                    running.insert(name.clone(), busy + 1);
                }
                runs.push(run);
            }
            let mut claim = tx.prepare_cached(
                "UPDATE runs SET status = 'running', owner = ?2, attempts = attempts + 1,
                        started_at = COALESCE(started_at, ?3), lease_until = ?4 WHERE id = ?1",
            )?;
            for run in &mut runs {
                claim.execute(params![run.id, owner, now, lease_until])?;
                run.status = RunStatus::Running;
                run.attempts += 1;
            }
            Ok(runs)
        })
    }

    /// Returns claimed runs that were not started to the queue (a stopping worker).
    pub fn release(&self, run_ids: &[String]) -> Result<(), EngineError> {
        self.write(|tx| {
            let mut s = tx.prepare_cached(
                "UPDATE runs SET status = 'queued', owner = NULL, attempts = MAX(attempts - 1, 0)
                 WHERE id = ?1 AND status = 'running'",
            )?;
            for id in run_ids {
                s.execute(params![id])?;
            }
            Ok(())
        })
    }

    /// Records several successful runs in one transaction (group commit).
    pub fn finish_successes(&self, runs: &[Completed]) -> Result<(), EngineError> {
        if runs.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        self.write(|tx| {
            for r in runs {
                insert_blobs(tx, &r.blobs)?;
                record_materializations(tx, &r.run_id, &r.plugin, &r.materializations, now)?;
                tx.prepare_cached(
                    "UPDATE runs SET status = 'success', ended_at = ?2, error = NULL, owner = NULL WHERE id = ?1",
                )?
                .execute(params![r.run_id, now])?;
                for (level, message) in &r.logs {
                    event(tx, &r.run_id, level, message, now)?;
                }
            }
            let backfills: std::collections::BTreeSet<&str> =
                runs.iter().filter_map(|r| r.backfill_id.as_deref()).collect();
            for b in backfills {
                settle_backfill(tx, b, now)?;
            }
            Ok(())
        })
    }

    /// Appends log lines to a run's events.
    pub fn log_many(&self, run_id: &str, lines: &[(String, String)]) -> Result<(), EngineError> {
        if lines.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        self.write(|tx| {
            for (level, message) in lines {
                event(tx, run_id, level, message, now)?;
            }
            Ok(())
        })
    }

    /// The bytes of a blob stored in the database.
    pub fn blob(&self, name: &str) -> Result<Option<Vec<u8>>, EngineError> {
        self.read(|c| {
            c.prepare_cached("SELECT data FROM blobs WHERE name = ?1")?
                .query_row(params![name], |r| r.get(0))
                .optional()
        })
    }

    /// When nothing is claimable: the earliest time a queued run's retry delay ends, and
    /// whether any run is queued or running at all (within the backfill, when given).
    pub fn pending(&self, scope: &RunScope) -> Result<Pending, EngineError> {
        let (backfill, first, last) = scope.params();
        self.read(|c| {
            c.query_row(
                "SELECT
                    COALESCE(SUM(status = 'queued'), 0),
                    COALESCE(SUM(status = 'running'), 0),
                    MIN(CASE WHEN status = 'queued' THEN not_before END)
                 FROM runs WHERE status IN ('queued', 'running') AND (?1 IS NULL OR backfill_id = ?1)
                   AND seq BETWEEN ?2 AND ?3",
                params![backfill, first, last],
                |r| {
                    Ok(Pending {
                        queued: r.get::<_, i64>(0)? as u64,
                        running: r.get::<_, i64>(1)? as u64,
                        next_retry_at: r.get(2)?,
                    })
                },
            )
        })
    }

    /// Records materializations of a run that is still going (a batch of keys).
    pub fn record_progress(
        &self,
        run_id: &str,
        plugin: &str,
        blobs: &[NewBlob],
        materializations: &[NewMaterialization],
    ) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            insert_blobs(tx, blobs)?;
            record_materializations(tx, run_id, plugin, materializations, now)
        })
    }

    /// Records a failed attempt: queued again after `retry_after_ms`, or failed for good
    /// (its partitions marked failed, its dependents canceled).
    pub fn finish_failure(
        &self,
        run: &RunRecord,
        error: &str,
        failed_partitions: &[(String, String)],
        retry_after_ms: Option<i64>,
    ) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            if let Some(delay) = retry_after_ms {
                tx.execute(
                    "UPDATE runs SET status = 'queued', owner = NULL, not_before = ?2, error = ?3 WHERE id = ?1",
                    params![run.id, now + delay, error],
                )?;
                event(
                    tx,
                    &run.id,
                    "warn",
                    &format!("attempt {} failed, retrying in {delay} ms: {error}", run.attempts),
                    now,
                )?;
                return Ok(());
            }
            tx.execute(
                "UPDATE runs SET status = 'failed', owner = NULL, ended_at = ?2, error = ?3 WHERE id = ?1",
                params![run.id, now, error],
            )?;
            let mut mark = tx.prepare_cached(
                "INSERT INTO partition_status (asset, partition, status, failed_run, error, updated_at)
                 VALUES (?1, ?2, 'failed', ?3, ?4, ?5)
                 ON CONFLICT (asset, partition) DO UPDATE SET
                    status = 'failed', failed_run = ?3, error = ?4, updated_at = ?5",
            )?;
            for (asset, partition) in failed_partitions {
                mark.execute(params![asset, partition, run.id, error, now])?;
            }
            event(tx, &run.id, "error", &format!("run failed: {error}"), now)?;
            let canceled = cancel_dependents(tx, &run.id, now)?;
            settle_backfills_of(
                tx,
                std::iter::once(run.id.as_str()).chain(canceled.iter().map(String::as_str)),
                now,
            )
        })
    }

    /// Puts runs left `running` by a dead owner back in the queue.
    /// Extends the leases of the runs `owner` holds (its heartbeat). Returns how many.
    pub fn renew_leases(&self, owner: &str, lease: Duration) -> Result<u64, EngineError> {
        let until = now_ms().saturating_add(lease_ms(lease));
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE runs SET lease_until = ?2 WHERE owner = ?1 AND status = 'running'",
                )?
                .execute(params![owner, until])?;
            Ok(n as u64)
        })
    }

    /// Puts back in the queue the running runs whose lease expired: their owner stopped (a
    /// crash, `kill -9`, a lost machine) or stalled past its lease. A run from before leases
    /// (no lease recorded) counts as expired. Returns how many.
    pub fn requeue_expired(&self) -> Result<u64, EngineError> {
        let now = now_ms();
        self.write(|tx| {
            let expired: Vec<String> = {
                let mut s = tx.prepare_cached(
                    "SELECT id FROM runs WHERE status = 'running'
                       AND (lease_until IS NULL OR lease_until < ?1)",
                )?;
                s.query_map(params![now], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            for id in &expired {
                tx.execute(
                    "UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL,
                            attempts = MAX(attempts - 1, 0) WHERE id = ?1",
                    params![id],
                )?;
                event(
                    tx,
                    id,
                    "warn",
                    "its host stopped renewing its lease mid-run; queued again",
                    now,
                )?;
            }
            Ok(expired.len() as u64)
        })
    }

    pub fn run(&self, id: &str) -> Result<Option<RunRecord>, EngineError> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                params![id],
                run_from_row,
            )
            .optional()
        })
    }

    pub fn run_status(&self, id: &str) -> Result<Option<RunStatus>, EngineError> {
        self.read(|c| {
            c.query_row("SELECT status FROM runs WHERE id = ?1", params![id], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .map(|s| {
                RunStatus::parse(&s)
                    .ok_or_else(|| undecodable("runs", id, (1, "status"), &s, "a run status"))
            })
            .transpose()
        })
    }

    /// The newest runs first.
    pub fn runs(&self, limit: u32, backfill: Option<&str>) -> Result<Vec<RunRecord>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE (?2 IS NULL OR backfill_id = ?2) ORDER BY seq DESC LIMIT ?1"
            ))?;
            s.query_map(params![limit, backfill], run_from_row)?
                .collect()
        })
    }

    /// The newest runs first that match every condition of `filter`.
    pub fn runs_matching(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, EngineError> {
        self.read(|c| {
            // A run touches a partition when it recorded it, names it, or its range holds it
            // (range ends compared as text: exact for the time formats keys use).
            let mut s = c.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs r
                 WHERE (?2 IS NULL OR r.backfill_id = ?2)
                   AND (?3 IS NULL OR r.status = ?3)
                   AND (?4 IS NULL OR r.created_at >= ?4)
                   AND (?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(r.assets) WHERE value = ?5))
                   AND (?6 IS NULL
                        OR EXISTS (SELECT 1 FROM materializations m
                                   WHERE m.run_id = r.id AND m.partition = ?6)
                        OR EXISTS (SELECT 1 FROM json_each(r.selection, '$.keys') WHERE value = ?6)
                        OR (json_extract(r.selection, '$.start') <= ?6
                            AND json_extract(r.selection, '$.end') >= ?6))
                 ORDER BY r.seq DESC LIMIT ?1"
            ))?;
            s.query_map(
                params![
                    filter.limit,
                    filter.backfill,
                    filter.status.map(RunStatus::as_str),
                    filter.since,
                    filter.asset,
                    filter.partition
                ],
                run_from_row,
            )?
            .collect()
        })
    }

    /// A partition's materializations, newest first (at most `limit`), and how many there are.
    pub fn materialization_history(
        &self,
        asset: &str,
        partition: &str,
        limit: u32,
    ) -> Result<(Vec<MaterializationRecord>, u64), EngineError> {
        self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT id, run_id, plugin, code_version, data_version, blob, metadata,
                        started_at, ended_at
                 FROM materializations WHERE asset = ?1 AND partition = ?2
                 ORDER BY id DESC LIMIT ?3",
            )?;
            let rows = s
                .query_map(params![asset, partition, limit], |r| {
                    let id: i64 = r.get(0)?;
                    let metadata: String = r.get(6)?;
                    Ok(MaterializationRecord {
                        id,
                        run_id: r.get(1)?,
                        plugin: r.get(2)?,
                        code_version: r.get(3)?,
                        data_version: r.get(4)?,
                        blob: r.get(5)?,
                        metadata: decode_json(
                            "materializations",
                            &id.to_string(),
                            (6, "metadata"),
                            &metadata,
                        )?,
                        started_at: r.get(7)?,
                        ended_at: r.get(8)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let total: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM materializations WHERE asset = ?1 AND partition = ?2",
                )?
                .query_row(params![asset, partition], |r| r.get(0))?;
            Ok((
                rows,
                decode_count("materializations", partition, (0, "count"), total)?,
            ))
        })
    }

    pub fn run_events(&self, id: &str) -> Result<Vec<RunEvent>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare(
                "SELECT seq, at, level, message FROM run_events WHERE run_id = ?1 ORDER BY seq",
            )?;
            s.query_map(params![id], |r| {
                Ok(RunEvent {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    level: r.get(2)?,
                    message: r.get(3)?,
                })
            })?
            .collect()
        })
    }

    pub fn log(&self, run_id: &str, level: &str, message: &str) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| event(tx, run_id, level, message, now))
    }

    /// Keys of a run already materialized by it (a resumed run skips them).
    pub fn done_in_run(&self, run_id: &str) -> Result<Vec<(String, String)>, EngineError> {
        self.read(|c| {
            let mut s =
                c.prepare("SELECT asset, partition FROM materializations WHERE run_id = ?1")?;
            s.query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    // ---- partitions ----------------------------------------------------------------------

    /// The latest state of every recorded partition of an asset.
    pub fn partitions(&self, asset: &str) -> Result<Vec<PartitionRecord>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT p.partition, p.status, p.failed_run, p.error,
                        m.id, m.run_id, m.plugin, m.code_version, m.data_version, m.blob, m.metadata,
                        m.started_at, m.ended_at
                 FROM partition_status p LEFT JOIN materializations m ON m.id = p.materialization
                 WHERE p.asset = ?1",
            )?;
            s.query_map(params![asset], partition_from_row)?.collect()
        })
    }

    /// What a status summary needs of every recorded partition: key, state, latest
    /// materialization id and code version (no metadata).
    pub fn partition_summaries(
        &self,
        asset: &str,
        code_version: &str,
    ) -> Result<Vec<PartitionSummary>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT partition, status = 'failed', materialization,
                        materialization IS NOT NULL AND code_version IS NOT ?2
                 FROM partition_status WHERE asset = ?1",
            )?;
            s.query_map(params![asset, code_version], |r| {
                Ok(PartitionSummary {
                    partition: r.get(0)?,
                    failed: r.get(1)?,
                    materialization: r.get(2)?,
                    code_changed: r.get(3)?,
                })
            })?
            .collect()
        })
    }

    /// The latest state of some partitions of an asset (absent ones are left out).
    pub fn partitions_of(
        &self,
        asset: &str,
        keys: &[String],
    ) -> Result<Vec<PartitionRecord>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT p.partition, p.status, p.failed_run, p.error,
                        m.id, m.run_id, m.plugin, m.code_version, m.data_version, m.blob, m.metadata,
                        m.started_at, m.ended_at
                 FROM partition_status p LEFT JOIN materializations m ON m.id = p.materialization
                 WHERE p.asset = ?1 AND p.partition = ?2",
            )?;
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                if let Some(p) = s
                    .query_row(params![asset, k], partition_from_row)
                    .optional()?
                {
                    out.push(p);
                }
            }
            Ok(out)
        })
    }

    /// How many partitions of an asset are materialized and failed (without listing them).
    pub fn partition_counts(&self, asset: &str) -> Result<(u64, u64), EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT COALESCE(SUM(status = 'materialized'), 0), COALESCE(SUM(status = 'failed'), 0)
                 FROM partition_status WHERE asset = ?1",
                params![asset],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
        })
    }

    /// How many materializations of an asset were ever recorded (every run, every attempt).
    pub fn materialization_count(&self, asset: &str) -> Result<u64, EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM materializations WHERE asset = ?1",
                params![asset],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
    }

    /// The newest materialization id (0 when none): a cheap "anything new?" check.
    pub fn last_materialization(&self) -> Result<i64, EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT COALESCE(MAX(id), 0) FROM materializations",
                [],
                |r| r.get(0),
            )
        })
    }

    // ---- sensors -------------------------------------------------------------------------

    pub fn sensor_state(&self, name: &str) -> Result<SensorState, EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT cursor, last_evaluation, last_skip_reason, last_error, evaluations
                 FROM sensor_state WHERE name = ?1",
                params![name],
                |r| {
                    Ok(SensorState {
                        cursor: r.get(0)?,
                        last_evaluation: r.get(1)?,
                        last_skip_reason: r.get(2)?,
                        last_error: r.get(3)?,
                        evaluations: r.get::<_, i64>(4)? as u64,
                    })
                },
            )
            .optional()
            .map(Option::unwrap_or_default)
        })
    }

    /// Records one sensor evaluation in one transaction: dynamic-partition changes first,
    /// then the runs (deduplicated by run key), then the cursor.
    pub fn record_sensor_tick(&self, tick: &SensorTick) -> Result<Vec<String>, EngineError> {
        self.write_dynamic(|tx, d| {
            for (name, add, delete) in &tick.dynamic {
                d.add(tx, name, add)?;
                d.remove(tx, name, delete)?;
            }
            let mut launched = Vec::new();
            let mut seq: i64 =
                tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM runs", [], |r| r.get(0))?;
            for r in &tick.runs {
                if let Some(key) = &r.run_key {
                    let seen: Option<String> = tx
                        .query_row(
                            "SELECT run_id FROM sensor_run_keys WHERE sensor = ?1 AND run_key = ?2",
                            params![tick.sensor, key],
                            |row| row.get(0),
                        )
                        .optional()?;
                    if seen.is_some() {
                        continue;
                    }
                    tx.execute(
                        "INSERT INTO sensor_run_keys (sensor, run_key, run_id) VALUES (?1, ?2, ?3)",
                        params![tick.sensor, key, r.id],
                    )?;
                }
                seq += 1;
                insert_run(tx, seq, r, tick.at)?;
                launched.push(r.id.clone());
            }
            tx.execute(
                "INSERT INTO sensor_state (name, cursor, last_evaluation, last_skip_reason, last_error, evaluations)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1)
                 ON CONFLICT (name) DO UPDATE SET cursor = ?2, last_evaluation = ?3,
                    last_skip_reason = ?4, last_error = ?5, evaluations = evaluations + 1",
                params![tick.sensor, tick.cursor, tick.at, tick.skip_reason, tick.error],
            )?;
            Ok(launched)
        })
    }

    /// Whether a sensor already launched a run for this key.
    pub fn sensor_run_key_seen(&self, sensor: &str, run_key: &str) -> Result<bool, EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT 1 FROM sensor_run_keys WHERE sensor = ?1 AND run_key = ?2",
                params![sensor, run_key],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
        })
    }

    // ---- schedules -----------------------------------------------------------------------

    /// The newest recorded tick of a schedule (unix seconds).
    pub fn last_schedule_tick(&self, schedule: &str) -> Result<Option<i64>, EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT MAX(tick) FROM schedule_ticks WHERE schedule = ?1",
                params![schedule],
                |r| r.get(0),
            )
        })
    }

    /// Records schedule ticks and their runs in one transaction; a tick recorded before (by
    /// another process) is skipped with its run, and so is a run whose run key the schedule
    /// used before (two ticks, or a catch-up after a restart, naming the same partition).
    /// Returns the runs queued.
    pub fn record_schedule_ticks(
        &self,
        schedule: &str,
        ticks: &[(i64, Option<String>, Option<NewRun>)],
    ) -> Result<Vec<String>, EngineError> {
        let now = now_ms();
        // Run keys share the sensors' table, in the schedule's own namespace.
        let namespace = format!("schedule:{schedule}");
        self.write(|tx| {
            let mut seq: i64 =
                tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM runs", [], |r| r.get(0))?;
            let mut queued = Vec::new();
            for (tick, partition, run) in ticks {
                let recorded: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM schedule_ticks WHERE schedule = ?1 AND tick = ?2",
                        params![schedule, tick],
                        |r| r.get(0),
                    )
                    .optional()?;
                if recorded.is_some() {
                    continue;
                }
                let mut run = run.as_ref();
                if let Some(key) = run.and_then(|r| r.run_key.as_ref()) {
                    let fresh = tx.execute(
                        "INSERT OR IGNORE INTO sensor_run_keys (sensor, run_key, run_id)
                         VALUES (?1, ?2, ?3)",
                        params![namespace, key, run.map(|r| r.id.clone())],
                    )?;
                    if fresh == 0 {
                        run = None;
                    }
                }
                let status = if run.is_some() {
                    "requested"
                } else {
                    "skipped"
                };
                tx.execute(
                    "INSERT INTO schedule_ticks (schedule, tick, partition, run_id, status)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![schedule, tick, partition, run.map(|r| r.id.clone()), status],
                )?;
                if let Some(r) = run {
                    seq += 1;
                    insert_run(tx, seq, r, now)?;
                    queued.push(r.id.clone());
                }
            }
            Ok(queued)
        })
    }

    // ---- backfills -----------------------------------------------------------------------

    pub fn backfills(&self) -> Result<Vec<BackfillRecord>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare(
                "SELECT id, status, assets, description, partitions, created_at, ended_at
                 FROM backfills ORDER BY seq DESC",
            )?;
            s.query_map([], backfill_from_row)?.collect()
        })
    }

    pub fn backfill(&self, id: &str) -> Result<Option<BackfillRecord>, EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT id, status, assets, description, partitions, created_at, ended_at
                 FROM backfills WHERE id = ?1",
                params![id],
                backfill_from_row,
            )
            .optional()
        })
    }

    /// Run counts by status, and partitions materialized, for one backfill.
    pub fn backfill_progress(&self, id: &str) -> Result<BackfillProgress, EngineError> {
        self.read(|c| {
            let mut p = BackfillProgress::default();
            let mut s = c.prepare_cached(
                "SELECT status, COUNT(*), COALESCE(SUM(partitions), 0) FROM runs WHERE backfill_id = ?1 GROUP BY status",
            )?;
            let rows = s.query_map(params![id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                ))
            })?;
            for row in rows {
                let (status, runs, partitions) = row?;
                p.runs_total += runs;
                p.partitions_total += partitions;
                let status = RunStatus::parse(&status).ok_or_else(|| {
                    undecodable("runs", &format!("of backfill {id}"), (1, "status"), &status, "a run status")
                })?;
                match status {
                    RunStatus::Queued => p.runs_queued += runs,
                    RunStatus::Running => p.runs_running += runs,
                    RunStatus::Success => {
                        p.runs_succeeded += runs;
                        p.partitions_done += partitions;
                    }
                    RunStatus::Failed => {
                        p.runs_failed += runs;
                        p.partitions_failed += partitions;
                    }
                    RunStatus::Canceled => p.runs_canceled += runs,
                }
            }
            Ok(p)
        })
    }

    pub fn set_backfill_status(&self, id: &str, status: BackfillStatus) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            let ended = status.is_final().then_some(now);
            tx.execute(
                "UPDATE backfills SET status = ?2, ended_at = ?3 WHERE id = ?1",
                params![id, status.as_str(), ended],
            )?;
            Ok(())
        })
    }

    /// Cancels a running backfill: its queued runs are canceled; running ones finish their
    /// current partition and stop. A backfill already final keeps its status (a completed
    /// one stays completed). Returns the runs canceled and the backfill's status after.
    pub fn cancel_backfill(&self, id: &str) -> Result<(u64, BackfillStatus), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE backfills SET status = 'canceled', ended_at = ?2
                 WHERE id = ?1 AND status = 'running'",
                params![id, now],
            )?;
            let n = if changed == 0 {
                0
            } else {
                tx.execute(
                    "UPDATE runs SET status = 'canceled', ended_at = ?2
                     WHERE backfill_id = ?1 AND status = 'queued'",
                    params![id, now],
                )?
            };
            let status: String = tx.query_row(
                "SELECT status FROM backfills WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )?;
            let status = BackfillStatus::parse(&status).ok_or_else(|| {
                undecodable("backfills", id, (1, "status"), &status, "a backfill status")
            })?;
            Ok((n as u64, status))
        })
    }

    /// Re-queues a canceled or failed backfill's unfinished runs.
    pub fn reopen_backfill(&self, id: &str) -> Result<u64, EngineError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE runs SET status = 'queued', ended_at = NULL, error = NULL, attempts = 0, not_before = 0
                 WHERE backfill_id = ?1 AND status IN ('canceled', 'failed')",
                params![id],
            )?;
            tx.execute(
                "UPDATE backfills SET status = 'running', ended_at = NULL WHERE id = ?1",
                params![id],
            )?;
            Ok(n as u64)
        })
    }

    /// Whether a run was canceled while it ran (checked between partitions).
    pub fn is_canceled(&self, run: &RunRecord) -> Result<bool, EngineError> {
        let Some(b) = &run.backfill_id else {
            return Ok(false);
        };
        self.read(|c| {
            c.query_row(
                "SELECT status = 'canceled' FROM backfills WHERE id = ?1",
                params![b],
                |r| r.get(0),
            )
        })
    }

    /// Marks a canceled run's end (it stopped between partitions).
    pub fn finish_canceled(&self, run_id: &str) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET status = 'canceled', owner = NULL, ended_at = ?2 WHERE id = ?1",
                params![run_id, now],
            )?;
            event(tx, run_id, "warn", "canceled", now)?;
            settle_backfills_of(tx, std::iter::once(run_id), now)
        })
    }

    /// Counts of runs by status, across everything.
    pub fn run_counts(&self) -> Result<Vec<(String, u64)>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare("SELECT status, COUNT(*) FROM runs GROUP BY status")?;
            s.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect()
        })
    }
}

/// Overwrites the schema version of a database file (tests of the newer-schema refusal).
#[doc(hidden)]
pub fn set_schema_version_for_tests(path: &Path, version: i64) -> rusqlite::Result<()> {
    let conn = Connection::open(path)?;
    conn.execute_batch(&format!("PRAGMA user_version = {version}"))
}

/// What is left to do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pending {
    pub queued: u64,
    pub running: u64,
    pub next_retry_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct BackfillProgress {
    pub runs_total: u64,
    pub runs_queued: u64,
    pub runs_running: u64,
    pub runs_succeeded: u64,
    pub runs_failed: u64,
    pub runs_canceled: u64,
    pub partitions_total: u64,
    pub partitions_done: u64,
    pub partitions_failed: u64,
}

/// One sensor evaluation's effects, recorded together.
#[derive(Debug, Clone)]
pub struct SensorTick {
    pub sensor: String,
    pub at: i64,
    pub cursor: Option<String>,
    pub skip_reason: Option<String>,
    pub error: Option<String>,
    /// (set name, keys to add, keys to delete)
    pub dynamic: Vec<(String, Vec<String>, Vec<String>)>,
    pub runs: Vec<NewRun>,
}

/// An exclusive lock on `<db>.lock` while a process creates or migrates the database.
struct SetupLock(std::fs::File);

impl SetupLock {
    fn acquire(db: &Path) -> Result<SetupLock, EngineError> {
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(PathBuf::from(name))
            .map_err(|e| EngineError::db(db, format!("cannot open its lock file: {e}")))?;
        file.lock()
            .map_err(|e| EngineError::db(db, format!("cannot lock its lock file: {e}")))?;
        Ok(SetupLock(file))
    }
}

impl Drop for SetupLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// One connection with the settings every connection uses.
fn connect(path: &Path) -> Result<Connection, EngineError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
            | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| EngineError::db(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| EngineError::db(path, e))?;
    // WAL: readers never block the writer; NORMAL sync is durable across process crashes
    // (a power loss may drop the last commits, never corrupt). Checkpoints every 32 MiB of
    // log rather than 4: the same hot pages (the run queue's) are copied back less often,
    // which took 13 % off a backfill of small runs.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 8192;",
    )
    .map_err(|e| EngineError::db(path, e))?;
    // Plans made once per statement: without this SQLite re-prepares some cached statements
    // whenever a parameter is bound again (10 % of a chained backfill).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(|e| EngineError::db(path, e))?;
    Ok(conn)
}

/// Builds a new database under a temporary name and renames it into place: a crash leaves no
/// database or a complete one, so an empty `state.db` always means damage.
fn create(path: &Path) -> Result<(), EngineError> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".new-{}", std::process::id()));
    let tmp = PathBuf::from(name);
    let built = (|| {
        let conn = Connection::open(&tmp).map_err(|e| EngineError::db(path, e))?;
        conn.execute_batch("PRAGMA journal_mode = WAL;")
            .map_err(|e| EngineError::db(path, e))?;
        let mut conn = conn;
        migrate(&mut conn, path)?;
        // Closing checkpoints the log into the file and removes it.
        conn.close().map_err(|(_, e)| EngineError::db(path, e))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| EngineError::db(path, e))?;
        // A log left beside a database that is gone (deleted by hand) belongs to no database
        // now; SQLite would replay it into the new one.
        for suffix in ["-wal", "-shm"] {
            let mut n = path.as_os_str().to_owned();
            n.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(n));
        }
        std::fs::rename(&tmp, path).map_err(|e| EngineError::db(path, e))
    })();
    if built.is_err() {
        for suffix in ["", "-wal", "-shm"] {
            let mut n = tmp.as_os_str().to_owned();
            n.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(n));
        }
    }
    built
}

fn damaged(path: &Path, message: impl Into<String>) -> EngineError {
    EngineError::Damaged {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// An existing database file is not empty and starts like one.
fn check_header(path: &Path, meta: &std::fs::Metadata) -> Result<(), EngineError> {
    if !meta.is_file() {
        return Err(damaged(path, "it is not a regular file"));
    }
    if meta.len() == 0 {
        return Err(damaged(path, "it is empty (0 bytes)"));
    }
    let mut header = [0u8; 16];
    let read = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .map_err(|e| damaged(path, format!("cannot read its header: {e}")));
    if read.is_err() || &header != b"SQLite format 3\0" {
        return Err(damaged(path, "it is not an SQLite database"));
    }
    Ok(())
}

/// Every table of the schema exists (a table dropped by hand fails here, not mid-run).
fn check_tables(conn: &Connection, path: &Path) -> Result<(), EngineError> {
    const TABLES: [&str; 11] = [
        "runs",
        "run_deps",
        "run_events",
        "materializations",
        "blobs",
        "partition_status",
        "sensor_state",
        "sensor_run_keys",
        "schedule_ticks",
        "backfills",
        "dynamic_changes",
    ];
    let present: std::collections::BTreeSet<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| damaged(path, e.to_string()))?;
    let missing: Vec<&str> = TABLES
        .into_iter()
        .filter(|t| !present.contains(*t))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(damaged(
            path,
            format!("its table(s) {} are missing", missing.join(", ")),
        ))
    }
}

/// Where the stamp of a database's last passed check is kept.
fn stamp_path(db: &Path) -> PathBuf {
    let mut n = db.as_os_str().to_owned();
    n.push(".checked");
    PathBuf::from(n)
}

/// The file as it is now: size and modification time.
fn stamp_of(db: &Path) -> Option<String> {
    let meta = std::fs::metadata(db).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(format!("{} {modified}\n", meta.len()))
}

/// Records that the file, as it is now, is known whole.
fn write_stamp(db: &Path) {
    if let Some(stamp) = stamp_of(db) {
        // Best effort: without a stamp the next open checks again.
        let _ = std::fs::write(stamp_path(db), stamp);
    }
}

/// SQLite's `quick_check` (every page's structure, not index contents; about 2 ms per MiB),
/// skipped when the file is unchanged since it last passed or since a Tessera process left it
/// (the stamp beside it). A file changed by anything else, or left by a crash, is checked.
fn quick_check(conn: &Connection, path: &Path) -> Result<(), EngineError> {
    if stamp_of(path).is_some_and(|now| {
        std::fs::read_to_string(stamp_path(path)).ok().as_deref() == Some(now.as_str())
    }) {
        return Ok(());
    }
    let problems: Vec<String> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| damaged(path, e.to_string()))?;
    if problems != ["ok"] {
        return Err(damaged(
            path,
            format!("SQLite's quick check failed: {}", problems.join("; ")),
        ));
    }
    write_stamp(path);
    Ok(())
}

impl Drop for State {
    /// Leaves the file stamped as known whole when everything this process wrote is in it
    /// (the log checkpointed): the next command need not check it again. Closing the last
    /// connection afterwards only removes the (empty) log.
    fn drop(&mut self) {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let checkpoint = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        });
        if let Ok((0, log, done)) = checkpoint
            && log == done
        {
            write_stamp(&self.path);
        }
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), EngineError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| EngineError::db(path, e))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(EngineError::SchemaTooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| EngineError::db(path, e))?;
        // Another process may have migrated between our read and the lock.
        let now: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| EngineError::db(path, e))?;
        if now > i as i64 {
            continue;
        }
        tx.execute_batch(sql)
            .and_then(|()| tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1)))
            .and_then(|()| tx.commit())
            .map_err(|e| EngineError::db(path, format!("migration {}: {e}", i + 1)))?;
    }
    Ok(())
}

fn insert_run(tx: &Transaction<'_>, seq: i64, r: &NewRun, created_at: i64) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO runs (id, seq, status, plugin, computation, assets, selection, partitions,
                           backfill_id, run_key, trigger, tags, max_attempts, created_at, pool)
         VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    insert.execute(params![
        r.id,
        seq,
        r.plugin,
        r.computation,
        json(&r.assets),
        json(&r.selection),
        r.partitions as i64,
        r.backfill_id,
        r.run_key,
        r.trigger,
        json(&r.tags),
        i64::from(r.max_attempts.max(1)),
        created_at,
        r.pool,
    ])?;
    let mut dep =
        tx.prepare_cached("INSERT OR IGNORE INTO run_deps (run_id, depends_on) VALUES (?1, ?2)")?;
    for d in &r.depends_on {
        dep.execute(params![r.id, d])?;
    }
    Ok(())
}

fn insert_blobs(tx: &Transaction<'_>, blobs: &[NewBlob]) -> rusqlite::Result<()> {
    if blobs.is_empty() {
        return Ok(());
    }
    let mut s = tx.prepare_cached(
        "INSERT INTO blobs (name, data) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET data = ?2",
    )?;
    for b in blobs {
        s.execute(params![b.name, b.data])?;
    }
    Ok(())
}

fn event(
    tx: &Transaction<'_>,
    run_id: &str,
    level: &str,
    message: &str,
    at: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO run_events (run_id, seq, at, level, message)
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_events WHERE run_id = ?1), ?2, ?3, ?4)",
    )?
    .execute(params![run_id, at, level, message])?;
    Ok(())
}

fn record_materializations(
    tx: &Transaction<'_>,
    run_id: &str,
    plugin: &str,
    materializations: &[NewMaterialization],
    now: i64,
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO materializations (asset, partition, run_id, plugin, code_version, data_version, blob, metadata, started_at, ended_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (run_id, asset, partition) DO NOTHING",
    )?;
    let mut status = tx.prepare_cached(
        "INSERT INTO partition_status (asset, partition, status, materialization, updated_at, code_version)
         VALUES (?1, ?2, 'materialized', ?3, ?4, ?5)
         ON CONFLICT (asset, partition) DO UPDATE SET
            status = 'materialized', materialization = ?3, failed_run = NULL, error = NULL,
            updated_at = ?4, code_version = ?5",
    )?;
    for m in materializations {
        let inserted = insert.execute(params![
            m.asset,
            m.partition,
            run_id,
            plugin,
            m.code_version,
            m.data_version,
            m.blob,
            json(&m.metadata),
            m.started_at,
            m.ended_at,
        ])?;
        if inserted == 0 {
            // Recorded before (a resumed run): never twice.
            continue;
        }
        status.execute(params![
            m.asset,
            m.partition,
            tx.last_insert_rowid(),
            now,
            m.code_version
        ])?;
    }
    Ok(())
}

/// Cancels every queued run downstream of a failed one; returns their ids.
fn cancel_dependents(
    tx: &Transaction<'_>,
    run_id: &str,
    now: i64,
) -> rusqlite::Result<Vec<String>> {
    // Breadth-first over the dependency edges: everything downstream of a failed run can
    // never start.
    let mut canceled = Vec::new();
    let mut frontier = vec![run_id.to_string()];
    while let Some(id) = frontier.pop() {
        let dependents: Vec<String> = {
            let mut s = tx.prepare_cached(
                "SELECT d.run_id FROM run_deps d JOIN runs r ON r.id = d.run_id
                 WHERE d.depends_on = ?1 AND r.status = 'queued'",
            )?;
            s.query_map(params![id], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        for d in dependents {
            tx.execute(
                "UPDATE runs SET status = 'canceled', ended_at = ?2, error = ?3 WHERE id = ?1",
                params![d, now, format!("upstream run {run_id} failed")],
            )?;
            canceled.push(d.clone());
            frontier.push(d);
        }
    }
    Ok(canceled)
}

/// Settles the backfills of these runs whose runs are all final, in the transaction that
/// made them final: whoever ran them (this command, a daemon, another host), a backfill never
/// stays `running` with nothing left to do.
fn settle_backfills_of<'a>(
    tx: &Transaction<'_>,
    runs: impl Iterator<Item = &'a str>,
    now: i64,
) -> rusqlite::Result<()> {
    let mut backfills = std::collections::BTreeSet::new();
    {
        let mut of = tx.prepare_cached("SELECT backfill_id FROM runs WHERE id = ?1")?;
        for id in runs {
            if let Some(Some(b)) = of
                .query_row(params![id], |r| r.get::<_, Option<String>>(0))
                .optional()?
            {
                backfills.insert(b);
            }
        }
    }
    for b in backfills {
        settle_backfill(tx, &b, now)?;
    }
    Ok(())
}

/// Marks a running backfill completed (or failed, when a run failed or was canceled) once no
/// run of it is queued or running.
fn settle_backfill(tx: &Transaction<'_>, id: &str, now: i64) -> rusqlite::Result<()> {
    let open: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE backfill_id = ?1 AND status IN ('queued', 'running'))",
        )?
        .query_row(params![id], |r| r.get(0))?;
    if open {
        return Ok(());
    }
    let bad: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE backfill_id = ?1 AND status IN ('failed', 'canceled'))",
        )?
        .query_row(params![id], |r| r.get(0))?;
    tx.prepare_cached(
        "UPDATE backfills SET status = ?2, ended_at = ?3 WHERE id = ?1 AND status = 'running'",
    )?
    .execute(params![id, if bad { "failed" } else { "completed" }, now])?;
    Ok(())
}

/// Dynamic keys end up in multi-partition keys (joined by `|`), in ranges (`a...b`), in
/// listings and logs: the rules of static keys, and no `|`.
pub(crate) fn check_dynamic_keys(keys: &[String]) -> Result<(), EngineError> {
    for k in keys {
        if let Some(why) = bad_key_text(k, true) {
            return Err(EngineError::Invalid(format!(
                "dynamic partition key {:?} {why}",
                shorten(k)
            )));
        }
    }
    Ok(())
}

/// A dynamic set's name follows the rules of keys (it may hold `|`: it never joins keys).
pub(crate) fn check_dynamic_name(name: &str) -> Result<(), EngineError> {
    match bad_key_text(name, false) {
        Some(why) => Err(EngineError::Invalid(format!(
            "dynamic partition set name {:?} {why}",
            shorten(name)
        ))),
        None => Ok(()),
    }
}

fn bad_key_text(k: &str, key: bool) -> Option<&'static str> {
    if k.is_empty() {
        Some("is empty")
    } else if k.contains("...") {
        Some("holds '...' (the range syntax)")
    } else if has_control(k) {
        Some("holds a control character")
    } else if key && k.contains('|') {
        Some("holds '|' (it joins the keys of multi-dimensional partitions)")
    } else {
        None
    }
}

/// Whether a key holds a control character: bytes for ASCII (a million keys in a tick), chars
/// otherwise (C1 controls are two bytes in UTF-8).
fn has_control(k: &str) -> bool {
    if k.is_ascii() {
        k.bytes().any(|b| b < 0x20 || b == 0x7f)
    } else {
        k.chars().any(char::is_control)
    }
}

/// A key for a message: long ones cut.
fn shorten(k: &str) -> String {
    if k.len() <= 80 {
        return k.to_string();
    }
    let head: String = k.chars().take(60).collect();
    format!("{head}… ({} bytes)", k.len())
}

fn partition_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PartitionRecord> {
    let partition: String = r.get(0)?;
    let status: String = r.get(1)?;
    let id: Option<i64> = r.get(4)?;
    let materialization = match id {
        Some(id) => {
            let metadata: String = r.get(10)?;
            Some(MaterializationRecord {
                id,
                run_id: r.get(5)?,
                plugin: r.get(6)?,
                code_version: r.get(7)?,
                data_version: r.get(8)?,
                blob: r.get(9)?,
                metadata: decode_json(
                    "materializations",
                    &format!("{id}"),
                    (10, "metadata"),
                    &metadata,
                )?,
                started_at: r.get(11)?,
                ended_at: r.get(12)?,
            })
        }
        None => None,
    };
    Ok(PartitionRecord {
        status: match status.as_str() {
            "failed" => PartitionState::Failed,
            "materialized" => PartitionState::Materialized,
            _ => {
                return Err(undecodable(
                    "partition_status",
                    &partition,
                    (1, "status"),
                    &status,
                    "a partition status (materialized, failed)",
                ));
            }
        },
        partition,
        materialization,
        failed_run: r.get(2)?,
        error: r.get(3)?,
    })
}

fn backfill_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BackfillRecord> {
    let id: String = r.get(0)?;
    let status: String = r.get(1)?;
    let assets: String = r.get(2)?;
    Ok(BackfillRecord {
        status: BackfillStatus::parse(&status).ok_or_else(|| {
            undecodable(
                "backfills",
                &id,
                (1, "status"),
                &status,
                "a backfill status (running, completed, failed, canceled)",
            )
        })?,
        assets: decode_json("backfills", &id, (2, "assets"), &assets)?,
        description: r.get(3)?,
        partitions: decode_count("backfills", &id, (4, "partitions"), r.get(4)?)?,
        id,
        created_at: r.get(5)?,
        ended_at: r.get(6)?,
    })
}
