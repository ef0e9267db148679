//! Dynamic partition sets, stored as a log of changes rather than a row per key.
//!
//! A row per key costs two B-tree inserts (the key and its insertion order), about 4 µs each
//! on the machines measured, so a million keys took 3.5 s. Here one change (an add, a remove,
//! or a compaction's full `set`) is one row holding its keys separated by line breaks (keys
//! never hold one). Each process keeps the sets it has read in memory, tagged with the `seq` of
//! the newest change applied, and on the next read replays only the changes after that — a
//! set changed by another process costs the new rows, not the whole set.
//!
//! A log is rewritten as one `set` (split into rows of [`ROW_KEYS`] keys), in the transaction
//! of the change that made it long: more rows than [`COMPACT_AFTER`] and a sixteenth of the
//! set, or more keys than twice the set. Either way a compaction rewrites at most 16 keys per
//! change or half a key per key logged since the last one, so adds stay O(1) amortized
//! however large the set.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, MutexGuard};

use super::DynamicSetStore;
use indexmap::IndexSet;
use rusqlite::{Connection, Transaction, params};

use super::State;
use crate::error::EngineError;

/// Rows a log may always hold before it is rewritten as one `set`.
const COMPACT_AFTER: usize = 256;
/// Keys per stored row, so that no row grows without bound.
const ROW_KEYS: usize = 65_536;
/// Keys the per-process cache holds across all sets before it drops the others.
const CACHE_KEYS: usize = 4_000_000;

/// Where a set's log stands.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Log {
    /// `seq` of the newest change applied (0: none).
    pub(super) version: i64,
    /// Rows since the last compaction.
    changes: usize,
    /// Keys in those rows.
    logged: usize,
}

/// One set as this process last read it.
#[derive(Debug, Clone, Default)]
pub(super) struct DynamicSet {
    pub(super) log: Log,
    pub(super) keys: IndexSet<String>,
}

pub(super) type DynamicCache = HashMap<String, Arc<DynamicSet>>;

/// The sets a write transaction changed, published to the cache only once it commits.
#[derive(Debug)]
pub(super) struct DynamicTx<'a> {
    cache: &'a mut DynamicCache,
    staged: HashMap<String, DynamicSet>,
}

fn bad_row(message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, message.into())
}

/// Brings `set` up to the newest change in the database.
fn catch_up(c: &Connection, name: &str, set: &mut DynamicSet) -> rusqlite::Result<()> {
    let newest: i64 = c
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM dynamic_changes WHERE name = ?1")?
        .query_row(params![name], |r| r.get(0))?;
    if !set.behind(newest) {
        return Ok(());
    }
    let mut q = c.prepare_cached(
        "SELECT seq, op, keys FROM dynamic_changes WHERE name = ?1 AND seq > ?2 ORDER BY seq",
    )?;
    let mut rows = q.query(params![name, set.log.version])?;
    while let Some(row) = rows.next()? {
        set.apply(
            name,
            row.get(0)?,
            row.get_ref(1)?.as_str()?,
            row.get_ref(2)?.as_str()?,
        )
        .map_err(bad_row)?;
    }
    Ok(())
}

impl DynamicSet {
    /// Whether changes up to `newest` (the newest `seq` stored) are missing; forgets
    /// everything when the database went back (restored from a copy).
    pub(super) fn behind(&mut self, newest: i64) -> bool {
        if newest < self.log.version {
            *self = DynamicSet::default();
        }
        newest != self.log.version
    }

    /// Applies one stored change (both backends replay their rows through this).
    pub(super) fn apply(
        &mut self,
        name: &str,
        seq: i64,
        op: &str,
        keys: &str,
    ) -> Result<(), String> {
        let keys: Vec<&str> = keys.split('\n').filter(|k| !k.is_empty()).collect();
        let logged = keys.len();
        match op {
            "add" => {
                for k in keys {
                    if !self.keys.contains(k) {
                        self.keys.insert(k.to_owned());
                    }
                }
            }
            "set" => {
                self.keys.clear();
                self.log.changes = 0;
                self.log.logged = 0;
                self.keys.extend(keys.into_iter().map(str::to_owned));
            }
            "remove" => {
                let gone: HashSet<&str> = keys.into_iter().collect();
                self.keys.retain(|k| !gone.contains(k.as_str()));
            }
            other => {
                return Err(format!(
                    "dynamic set {name:?}: change {seq} has unknown op {other:?}"
                ));
            }
        }
        self.log.version = seq;
        self.log.changes += 1;
        self.log.logged += logged;
        Ok(())
    }

    /// Adds the keys not present yet, in order; returns the new ones' positions.
    pub(super) fn add_keys(&mut self, keys: &[String]) -> std::ops::Range<usize> {
        let before = self.keys.len();
        for k in keys {
            if !self.keys.contains(k.as_str()) {
                self.keys.insert(k.clone());
            }
        }
        before..self.keys.len()
    }

    /// Removes the keys present; returns them (each once).
    pub(super) fn remove_keys<'k>(&mut self, keys: &'k [String]) -> Vec<&'k str> {
        let mut gone: Vec<&str> = Vec::new();
        let mut seen = HashSet::new();
        for k in keys {
            if self.keys.contains(k.as_str()) && seen.insert(k.as_str()) {
                gone.push(k);
            }
        }
        if !gone.is_empty() {
            self.keys.retain(|k| !seen.contains(k.as_str()));
        }
        gone
    }

    /// Whether the log is long enough to be rewritten as one `set`; if so, counts it as
    /// rewritten (the caller deletes the rows and appends the set).
    pub(super) fn compact_now(&mut self) -> bool {
        let len = self.keys.len();
        let many_rows = self.log.changes > COMPACT_AFTER.max(len / 16);
        let many_keys = self.log.logged > 2 * len + ROW_KEYS;
        if many_rows || many_keys {
            self.log.changes = 0;
            self.log.logged = 0;
        }
        many_rows || many_keys
    }
}

/// One change as the rows that store it: (seq, op, keys joined by line breaks), at most
/// [`ROW_KEYS`] keys per row (the first row of a `set` says `set`, the rest `add`).
pub(super) fn change_rows<'k>(
    log: &mut Log,
    op: &'static str,
    keys: impl Iterator<Item = &'k str>,
) -> Vec<(i64, &'static str, String)> {
    let mut keys = keys.peekable();
    let mut out = Vec::new();
    // A `set` of nothing still needs its row, to empty the set.
    while out.is_empty() || keys.peek().is_some() {
        let mut text = String::new();
        for k in keys.by_ref().take(ROW_KEYS) {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(k);
            log.logged += 1;
        }
        let row_op = if out.is_empty() { op } else { "add" };
        log.version += 1;
        log.changes += 1;
        out.push((log.version, row_op, text));
    }
    out
}

/// Appends one change to the log. `total` is the size of the set after the change.
fn append<'k>(
    tx: &Transaction<'_>,
    name: &str,
    log: &mut Log,
    total: usize,
    op: &'static str,
    keys: impl Iterator<Item = &'k str>,
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO dynamic_changes (name, seq, op, keys, total) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (seq, op, text) in change_rows(log, op, keys) {
        insert.execute(params![name, seq, op, text, total as i64])?;
    }
    Ok(())
}

fn compact_if_long(tx: &Transaction<'_>, name: &str, set: &mut DynamicSet) -> rusqlite::Result<()> {
    if !set.compact_now() {
        return Ok(());
    }
    tx.prepare_cached("DELETE FROM dynamic_changes WHERE name = ?1")?
        .execute(params![name])?;
    let total = set.keys.len();
    append(
        tx,
        name,
        &mut set.log,
        total,
        "set",
        set.keys.iter().map(String::as_str),
    )
}

impl DynamicTx<'_> {
    /// The set as of this transaction, taken out of the cache (a failed transaction leaves
    /// it uncached rather than wrong).
    fn take(&mut self, c: &Connection, name: &str) -> rusqlite::Result<DynamicSet> {
        if let Some(set) = self.staged.remove(name) {
            return Ok(set);
        }
        let mut set = take_cached(self.cache, name);
        catch_up(c, name, &mut set)?;
        Ok(set)
    }

    /// Adds keys not present yet, in order; returns how many were new.
    pub(super) fn add(
        &mut self,
        tx: &Transaction<'_>,
        name: &str,
        keys: &[String],
    ) -> rusqlite::Result<u64> {
        let mut set = self.take(tx, name)?;
        let new = set.add_keys(keys);
        let added = new.len();
        if added > 0 {
            let total = set.keys.len();
            let new = set.keys[new].iter().map(String::as_str);
            append(tx, name, &mut set.log, total, "add", new)?;
            compact_if_long(tx, name, &mut set)?;
        }
        self.staged.insert(name.to_string(), set);
        Ok(added as u64)
    }

    /// Removes keys; returns how many existed.
    pub(super) fn remove(
        &mut self,
        tx: &Transaction<'_>,
        name: &str,
        keys: &[String],
    ) -> rusqlite::Result<u64> {
        let mut set = self.take(tx, name)?;
        let gone = set.remove_keys(keys);
        if !gone.is_empty() {
            let total = set.keys.len();
            append(
                tx,
                name,
                &mut set.log,
                total,
                "remove",
                gone.iter().copied(),
            )?;
            compact_if_long(tx, name, &mut set)?;
        }
        let removed = gone.len() as u64;
        self.staged.insert(name.to_string(), set);
        Ok(removed)
    }
}

impl State {
    fn dynamic_cache(&self) -> MutexGuard<'_, DynamicCache> {
        // The cache is only ever replaced whole per set, so a poisoned lock holds sets that
        // are complete (at worst old, and `catch_up` corrects old).
        self.dynamic.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A write transaction that may change dynamic sets; the changed sets enter the cache
    /// after the commit.
    pub(super) fn write_dynamic<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &mut DynamicTx<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, EngineError> {
        let mut conn = self.conn();
        let mut cache = self.dynamic_cache();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let mut dtx = DynamicTx {
            cache: &mut cache,
            staged: HashMap::new(),
        };
        let out = f(&tx, &mut dtx).map_err(|e| self.err(e))?;
        let staged = std::mem::take(&mut dtx.staged);
        tx.commit().map_err(|e| self.err(e))?;
        for (name, set) in staged {
            publish(&mut cache, name, set);
        }
        Ok(out)
    }

    /// A set as committed, through the cache.
    fn dynamic_set(&self, name: &str) -> Result<Arc<DynamicSet>, EngineError> {
        let conn = self.conn();
        let mut cache = self.dynamic_cache();
        let mut set = take_cached(&mut cache, name);
        catch_up(&conn, name, &mut set).map_err(|e| self.err(e))?;
        Ok(publish(&mut cache, name.to_string(), set))
    }
}

impl DynamicSetStore for State {
    fn dynamic_add(&self, name: &str, keys: &[String]) -> Result<u64, EngineError> {
        super::check_dynamic_name(name)?;
        super::check_dynamic_keys(keys)?;
        self.write_dynamic(|tx, d| d.add(tx, name, keys))
    }

    fn dynamic_remove(&self, name: &str, keys: &[String]) -> Result<u64, EngineError> {
        self.write_dynamic(|tx, d| d.remove(tx, name, keys))
    }

    fn dynamic_keys(&self, name: &str) -> Result<Vec<String>, EngineError> {
        Ok(self.dynamic_set(name)?.keys.iter().cloned().collect())
    }

    fn dynamic_names(&self) -> Result<Vec<(String, u64)>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare(
                "SELECT name, total FROM dynamic_changes AS d
                 WHERE seq = (SELECT MAX(seq) FROM dynamic_changes WHERE name = d.name)
                   AND total > 0
                 ORDER BY name",
            )?;
            s.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect()
        })
    }
}

/// A set out of the cache (empty when absent), to update without copying it while nobody
/// else holds it.
pub(super) fn take_cached(cache: &mut DynamicCache, name: &str) -> DynamicSet {
    cache
        .remove(name)
        .map(|a| Arc::try_unwrap(a).unwrap_or_else(|a| (*a).clone()))
        .unwrap_or_default()
}

/// Caches a set, dropping the others when the cache would hold too many keys.
pub(super) fn publish(cache: &mut DynamicCache, name: String, set: DynamicSet) -> Arc<DynamicSet> {
    let held: usize = cache.values().map(|s| s.keys.len()).sum();
    if held + set.keys.len() > CACHE_KEYS {
        cache.clear();
    }
    let set = Arc::new(set);
    cache.insert(name, Arc::clone(&set));
    set
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code")]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    fn open(dir: &tempfile::TempDir) -> State {
        State::open(&dir.path().join("state.db")).unwrap()
    }

    #[test]
    fn adds_keep_order_and_skip_what_is_present() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir);
        assert_eq!(s.dynamic_add("c", &strings(&["b", "a", "b"])).unwrap(), 2);
        assert_eq!(s.dynamic_add("c", &strings(&["a", "c"])).unwrap(), 1);
        assert_eq!(s.dynamic_keys("c").unwrap(), strings(&["b", "a", "c"]));
        assert_eq!(
            s.dynamic_remove("c", &strings(&["a", "x", "a"])).unwrap(),
            1
        );
        assert_eq!(s.dynamic_add("c", &strings(&["a"])).unwrap(), 1);
        assert_eq!(s.dynamic_keys("c").unwrap(), strings(&["b", "c", "a"]));
        assert_eq!(s.dynamic_names().unwrap(), vec![("c".to_string(), 3)]);
        assert_eq!(
            s.dynamic_remove("c", &strings(&["a", "b", "c"])).unwrap(),
            3
        );
        assert!(s.dynamic_names().unwrap().is_empty());
        assert!(s.dynamic_keys("c").unwrap().is_empty());
    }

    #[test]
    fn another_process_sees_changes_and_compactions() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(&dir);
        let b = open(&dir);
        a.dynamic_add("c", &strings(&["x", "y"])).unwrap();
        assert_eq!(b.dynamic_keys("c").unwrap(), strings(&["x", "y"]));
        // Enough single changes from `a` to compact the log more than once, while `b`
        // holds an old copy.
        let mut expected = strings(&["x", "y"]);
        for i in 0..(2 * COMPACT_AFTER + 7) {
            let k = format!("k{i}");
            a.dynamic_add("c", std::slice::from_ref(&k)).unwrap();
            expected.push(k);
            if i % 3 == 0 {
                let gone = expected.remove(0);
                a.dynamic_remove("c", &[gone]).unwrap();
            }
            if i % 97 == 0 {
                assert_eq!(b.dynamic_keys("c").unwrap(), expected);
            }
        }
        assert_eq!(b.dynamic_keys("c").unwrap(), expected);
        assert_eq!(open(&dir).dynamic_keys("c").unwrap(), expected);
        let rows: i64 = a
            .read(|c| c.query_row("SELECT COUNT(*) FROM dynamic_changes", [], |r| r.get(0)))
            .unwrap();
        assert!(rows as usize <= COMPACT_AFTER + 1, "{rows} rows");
    }

    #[test]
    fn a_log_of_churn_is_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir);
        let big: Vec<String> = (0..ROW_KEYS + 10).map(|i| format!("k{i}")).collect();
        for _ in 0..3 {
            s.dynamic_add("c", &big).unwrap();
            s.dynamic_remove("c", &big).unwrap();
        }
        s.dynamic_add("c", &strings(&["last"])).unwrap();
        let logged: i64 = s
            .read(|c| {
                c.query_row(
                    "SELECT COALESCE(SUM(length(keys)), 0) FROM dynamic_changes",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        // Without compaction the log would hold the big list six times over.
        assert!(logged < 3 * 7 * (ROW_KEYS as i64 + 10), "{logged} bytes");
        assert_eq!(open(&dir).dynamic_keys("c").unwrap(), strings(&["last"]));
    }

    #[test]
    fn a_failed_transaction_leaves_no_change_in_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir);
        s.dynamic_add("c", &strings(&["a"])).unwrap();
        let r = s.write_dynamic(|tx, d| {
            d.add(tx, "c", &strings(&["b"]))?;
            Err::<(), _>(rusqlite::Error::InvalidQuery)
        });
        assert!(r.is_err());
        assert_eq!(s.dynamic_keys("c").unwrap(), strings(&["a"]));
        // The same seq reused by another change is read as that change.
        s.dynamic_add("c", &strings(&["z"])).unwrap();
        assert_eq!(s.dynamic_keys("c").unwrap(), strings(&["a", "z"]));
    }

    #[test]
    fn sets_stored_a_row_per_key_migrate_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(super::super::MIGRATIONS[0]).unwrap();
            c.execute_batch(super::super::MIGRATIONS[1]).unwrap();
            c.execute_batch(
                "PRAGMA user_version = 2;
                 INSERT INTO dynamic_partitions (name, key, seq) VALUES
                   ('c', 'zeta', 1), ('c', 'alpha', 2), ('d', 'only', 1), ('c', 'mid', 3);",
            )
            .unwrap();
        }
        let s = State::open(&path).unwrap();
        assert_eq!(
            s.dynamic_keys("c").unwrap(),
            strings(&["zeta", "alpha", "mid"])
        );
        assert_eq!(
            s.dynamic_names().unwrap(),
            vec![("c".to_string(), 3), ("d".to_string(), 1)]
        );
        assert_eq!(s.dynamic_add("c", &strings(&["alpha", "new"])).unwrap(), 1);
    }
}
