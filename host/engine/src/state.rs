//! The state store: one SQLite file in WAL mode. Every change that belongs together commits in
//! one transaction, so a crash (even `kill -9`) leaves either all of it or none of it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, Transaction};
use serde::Serialize;

use crate::error::EngineError;

mod dynamic;

mod backfills;
mod checks;
mod cluster;
mod partitions;
pub mod pg;
mod records;
mod runs;
mod schema;
mod sensors;
mod store;

use backfills::*;
pub use pg::PgState;
pub use records::*;
use runs::*;
use schema::*;
pub use store::*;

/// The database. One connection behind a lock: SQLite has one writer anyway, and WAL lets
/// other processes (a CLI beside the daemon) read and queue work at the same time.
#[derive(Debug)]
pub struct State {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Dynamic sets this process has read; always locked after `conn`.
    dynamic: Mutex<dynamic::DynamicCache>,
}

/// How long the row of a host that stopped heartbeating (killed, lost) is kept.
pub(crate) const HOST_FORGOTTEN_MS: i64 = 24 * 3600 * 1000;

/// How long a claim holds without a heartbeat, unless configured.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

pub(crate) fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
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
}

/// Overwrites the schema version of a database file (tests of the newer-schema refusal).
#[doc(hidden)]
pub fn set_schema_version_for_tests(path: &Path, version: i64) -> rusqlite::Result<()> {
    let conn = Connection::open(path)?;
    conn.execute_batch(&format!("PRAGMA user_version = {version}"))
}

impl Store for State {
    fn location(&self) -> String {
        self.path().display().to_string()
    }

    /// SQLite's `data_version` (changes when another connection commits) and the rows this
    /// connection has changed.
    fn change_stamp(&self) -> Result<[u64; 2], EngineError> {
        self.read(|c| {
            let theirs: i64 = c.query_row("PRAGMA data_version", [], |r| r.get(0))?;
            Ok([theirs.cast_unsigned(), c.total_changes()])
        })
    }
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

/// Dynamic keys end up in ranges (`a...b`), listings and logs: the rules of static keys. A `|`
/// is for the engine to judge, which knows the set's use: it joins the keys of a sparse
/// definition's combinations and may appear in no other set's keys (see
/// [`crate::graph::AssetGraph::check_dynamic_keys`]).
pub(crate) fn check_dynamic_keys(keys: &[String]) -> Result<(), EngineError> {
    for k in keys {
        if let Some(why) = bad_key_text(k) {
            return Err(EngineError::Invalid(format!(
                "dynamic partition key {:?} {why}",
                shorten(k)
            )));
        }
    }
    Ok(())
}

/// A dynamic set's name follows the rules of keys.
pub(crate) fn check_dynamic_name(name: &str) -> Result<(), EngineError> {
    match bad_key_text(name) {
        Some(why) => Err(EngineError::Invalid(format!(
            "dynamic partition set name {:?} {why}",
            shorten(name)
        ))),
        None => Ok(()),
    }
}

fn bad_key_text(k: &str) -> Option<&'static str> {
    if k.is_empty() {
        Some("is empty")
    } else if k.contains("...") {
        Some("holds '...' (the range syntax)")
    } else if has_control(k) {
        Some("holds a control character")
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
