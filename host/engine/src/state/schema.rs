//! The schema: versioned migrations, safe creation beside other processes, and the checks
//! that refuse a damaged file.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::EngineError;

/// Schema migrations, applied in order; `PRAGMA user_version` counts the applied ones.
/// Never edit one that has shipped: append a new one.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 4: data versions drive staleness. A materialization records a hash of the inputs it
    // read (each upstream partition's data version) and, when they are few, the list itself
    // (the reasons `show` gives); the latest data version and input hash sit beside each
    // partition's status. Rows from before have no input hash: their staleness falls back to
    // the order of materializations.
    r"
ALTER TABLE materializations ADD COLUMN input_hash TEXT;
ALTER TABLE materializations ADD COLUMN inputs TEXT;
ALTER TABLE partition_status ADD COLUMN data_version TEXT;
ALTER TABLE partition_status ADD COLUMN input_hash TEXT;
UPDATE partition_status SET data_version =
    (SELECT m.data_version FROM materializations m WHERE m.id = partition_status.materialization);
",
    // 5: a sensor can be turned off (the daemon skips it; a tick asked for by hand still runs).
    r"
ALTER TABLE sensor_state ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
",
    // 6: every write of a partition's status stamps it with a number larger than any before
    // (one per transaction), so that a status computed earlier is brought up to date by
    // reading only what changed since (see `PartitionStore::partition_changes`).
    r"
ALTER TABLE partition_status ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX partition_status_by_change ON partition_status(changed);
",
    // 7: several hosts share one database. A claim numbers itself (a fencing token: only
    // the latest claim of a run records its outcome) and stamps the plugin version it runs;
    // hosts heartbeat, hold leases on sensors, schedules and eager automation, and agree on
    // the current version of each plugin.
    r"
ALTER TABLE runs ADD COLUMN lease_gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN plugin_version TEXT;
CREATE TABLE hosts (
    id          TEXT PRIMARY KEY,
    label       TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL
);
CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    owner  TEXT NOT NULL,
    until  INTEGER NOT NULL,
    gen    INTEGER NOT NULL
);
CREATE TABLE plugin_versions (
    plugin       TEXT PRIMARY KEY,
    version      TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  INTEGER NOT NULL
);
",
    // Asset checks: the latest result of each check on each partition.
    r"
CREATE TABLE check_results (
    asset        TEXT NOT NULL,
    check_name   TEXT NOT NULL,
    partition    TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    description  TEXT,
    metadata     TEXT NOT NULL,
    blocking     INTEGER NOT NULL,
    run_id       TEXT NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (asset, partition, check_name)
) WITHOUT ROWID;
",
];

/// An exclusive lock on `<db>.lock` while a process creates or migrates the database.
pub(super) struct SetupLock(std::fs::File);

impl SetupLock {
    pub(super) fn acquire(db: &Path) -> Result<SetupLock, EngineError> {
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
pub(super) fn connect(path: &Path) -> Result<Connection, EngineError> {
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
pub(super) fn create(path: &Path) -> Result<(), EngineError> {
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

pub(super) fn damaged(path: &Path, message: impl Into<String>) -> EngineError {
    EngineError::Damaged {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// An existing database file is not empty and starts like one.
pub(super) fn check_header(path: &Path, meta: &std::fs::Metadata) -> Result<(), EngineError> {
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
pub(super) fn check_tables(conn: &Connection, path: &Path) -> Result<(), EngineError> {
    const TABLES: [&str; 14] = [
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
        "hosts",
        "leases",
        "plugin_versions",
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
pub(super) fn stamp_path(db: &Path) -> PathBuf {
    let mut n = db.as_os_str().to_owned();
    n.push(".checked");
    PathBuf::from(n)
}

/// The file as it is now: size and modification time.
pub(super) fn stamp_of(db: &Path) -> Option<String> {
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
pub(super) fn write_stamp(db: &Path) {
    if let Some(stamp) = stamp_of(db) {
        // Best effort: without a stamp the next open checks again.
        let _ = std::fs::write(stamp_path(db), stamp);
    }
}

/// SQLite's `quick_check` (every page's structure, not index contents; about 2 ms per MiB),
/// skipped when the file is unchanged since it last passed or since a Tessera process left it
/// (the stamp beside it). A file changed by anything else, or left by a crash, is checked.
pub(super) fn quick_check(conn: &Connection, path: &Path) -> Result<(), EngineError> {
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

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), EngineError> {
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
