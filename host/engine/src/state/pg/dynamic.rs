//! Dynamic partition sets on PostgreSQL: the log of changes of `state/dynamic.rs`, appended
//! under the set's advisory lock (hosts changing one set at once take turns; different sets
//! do not wait for each other).

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::GenericClient;

use super::*;
use crate::state::DynamicSetStore;
use crate::state::dynamic::{DynamicSet, Log, change_rows, publish, take_cached};

/// Brings `set` up to the newest change in the database.
async fn catch_up<C: GenericClient>(
    c: &C,
    name: &str,
    set: &mut DynamicSet,
) -> Result<(), PgError> {
    let newest = row(
        c,
        "SELECT COALESCE(MAX(seq), 0) FROM dynamic_changes WHERE name = $1",
        &[&name],
    )
    .await?
    .int(0)?;
    if !set.behind(newest) {
        return Ok(());
    }
    let changes = rows(
        c,
        "SELECT seq, op, keys FROM dynamic_changes WHERE name = $1 AND seq > $2 ORDER BY seq",
        &[&name, &set.log.version],
    )
    .await?;
    for r in &changes {
        let op: &str = r.try_get(1)?;
        let keys: &str = r.try_get(2)?;
        set.apply(name, r.int(0)?, op, keys).map_err(|e| {
            PgError::Decode(crate::state::decode_error(
                "dynamic_changes",
                name,
                "op",
                op,
                e,
            ))
        })?;
    }
    Ok(())
}

/// Appends one change to the log. `total` is the size of the set after the change.
async fn append<'k, C: GenericClient>(
    tx: &C,
    name: &str,
    log: &mut Log,
    total: usize,
    op: &'static str,
    keys: impl Iterator<Item = &'k str>,
) -> Result<(), PgError> {
    let rows = change_rows(log, op, keys);
    let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let ops: Vec<&str> = rows.iter().map(|r| r.1).collect();
    let texts: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    exec(
        tx,
        "INSERT INTO dynamic_changes (name, seq, op, keys, total)
         SELECT $1, s, o, k, $5 FROM UNNEST($2::bigint[], $3::text[], $4::text[]) AS u(s, o, k)",
        &[&name, &seqs, &ops, &texts, &(total as i64)],
    )
    .await?;
    Ok(())
}

async fn compact_if_long<C: GenericClient>(
    tx: &C,
    name: &str,
    set: &mut DynamicSet,
) -> Result<(), PgError> {
    if !set.compact_now() {
        return Ok(());
    }
    exec(tx, "DELETE FROM dynamic_changes WHERE name = $1", &[&name]).await?;
    let total = set.keys.len();
    append(
        tx,
        name,
        &mut set.log,
        total,
        "set",
        set.keys.iter().map(String::as_str),
    )
    .await
}

/// The sets one write transaction changes, published to the cache once it commits.
#[derive(Debug, Default)]
pub(super) struct PgDynamicTx {
    staged: HashMap<String, DynamicSet>,
}

impl PgDynamicTx {
    /// The set as of this transaction, locked for it.
    async fn take<C: GenericClient>(
        &mut self,
        store: &PgState,
        tx: &C,
        name: &str,
    ) -> Result<DynamicSet, PgError> {
        if let Some(set) = self.staged.remove(name) {
            return Ok(set);
        }
        lock(tx, LOCK_DYNAMIC, name_key(name)).await?;
        let mut set = take_cached(&mut store.dynamic_cache(), name);
        catch_up(tx, name, &mut set).await?;
        Ok(set)
    }

    /// Adds keys not present yet, in order; returns how many were new.
    pub(super) async fn add<C: GenericClient>(
        &mut self,
        store: &PgState,
        tx: &C,
        name: &str,
        keys: &[String],
    ) -> Result<u64, PgError> {
        let mut set = self.take(store, tx, name).await?;
        let new = set.add_keys(keys);
        let added = new.len();
        if added > 0 {
            let total = set.keys.len();
            let new = set.keys[new].iter().map(String::as_str);
            append(tx, name, &mut set.log, total, "add", new).await?;
            compact_if_long(tx, name, &mut set).await?;
        }
        self.staged.insert(name.to_string(), set);
        Ok(added as u64)
    }

    /// Removes keys; returns how many existed.
    pub(super) async fn remove<C: GenericClient>(
        &mut self,
        store: &PgState,
        tx: &C,
        name: &str,
        keys: &[String],
    ) -> Result<u64, PgError> {
        let mut set = self.take(store, tx, name).await?;
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
            )
            .await?;
            compact_if_long(tx, name, &mut set).await?;
        }
        let removed = gone.len() as u64;
        self.staged.insert(name.to_string(), set);
        Ok(removed)
    }
}

impl PgState {
    /// A write transaction that may change dynamic sets; the changed sets enter the cache
    /// after the commit.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "a closure taken by value, as std's APIs do; called by reference, again on a retry"
    )]
    pub(super) fn write_dynamic<T>(
        &self,
        f: impl AsyncFn(&deadpool_postgres::Transaction<'_>, &mut PgDynamicTx) -> Result<T, PgError>,
    ) -> Result<T, EngineError> {
        let (out, staged) = self.write(async |tx| {
            let mut d = PgDynamicTx::default();
            let out = f(tx, &mut d).await?;
            Ok((out, d.staged))
        })?;
        let mut cache = self.dynamic_cache();
        for (name, set) in staged {
            publish(&mut cache, name, set);
        }
        Ok(out)
    }

    /// A set as committed, through the cache.
    fn dynamic_set(&self, name: &str) -> Result<Arc<DynamicSet>, EngineError> {
        let set = self.read(async |c| {
            let mut set = take_cached(&mut self.dynamic_cache(), name);
            catch_up(c, name, &mut set).await?;
            Ok(set)
        })?;
        Ok(publish(&mut self.dynamic_cache(), name.to_string(), set))
    }
}

impl DynamicSetStore for PgState {
    fn dynamic_add(&self, name: &str, keys: &[String]) -> Result<u64, EngineError> {
        crate::state::check_dynamic_name(name)?;
        crate::state::check_dynamic_keys(keys)?;
        self.write_dynamic(async |tx, d| d.add(self, tx, name, keys).await)
    }

    fn dynamic_remove(&self, name: &str, keys: &[String]) -> Result<u64, EngineError> {
        self.write_dynamic(async |tx, d| d.remove(self, tx, name, keys).await)
    }

    fn dynamic_keys(&self, name: &str) -> Result<Vec<String>, EngineError> {
        Ok(self.dynamic_set(name)?.keys.iter().cloned().collect())
    }

    fn dynamic_names(&self) -> Result<Vec<(String, u64)>, EngineError> {
        self.read(async |c| {
            rows(
                c,
                "SELECT DISTINCT ON (name) name, total FROM dynamic_changes
                 ORDER BY name, seq DESC",
                &[],
            )
            .await?
            .iter()
            .filter_map(|r| match (r.text(0), r.int(1)) {
                (Ok(_), Ok(0)) => None,
                (Ok(name), Ok(n)) => Some(Ok((name, n as u64))),
                (Err(e), _) | (_, Err(e)) => Some(Err(e)),
            })
            .collect()
        })
    }
}
