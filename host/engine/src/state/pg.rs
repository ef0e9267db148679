//! The state store on PostgreSQL: the storage traits SQLite's [`State`](super::State)
//! implements, with the same semantics, for several hosts sharing one database.
//!
//! What SQLite gets from having one writer, PostgreSQL gets from locks taken inside the
//! transactions that need them:
//! - runs are stored under one advisory lock, so that the runs of one request have
//!   consecutive `seq` (a [`RunScope::Seqs`] names them);
//! - queued runs are claimed with `FOR UPDATE SKIP LOCKED`, so hosts claiming at once take
//!   different runs without waiting for each other; a pool's limit is counted under that
//!   pool's advisory lock;
//! - every transaction that writes partition states or materializations first increments
//!   the one row of `change_counter` and holds its lock until it commits, so the stamps of
//!   partition changes and materialization ids are in commit order (a plain sequence is not:
//!   a later number may commit first, and a reader of changes "after N" would miss it);
//! - a dynamic set's changes are appended under that set's advisory lock.
//!
//! The driver is asynchronous (tokio-postgres, pooled by deadpool); the store traits are not.
//! A small runtime of this store's own drives the connections, and each call waits for its
//! queries on the calling thread, so a call works the same from an engine worker, a
//! `spawn_blocking` thread or (blocking it) an async task. A call that loses its connection
//! (the server restarted, a network cut) is tried again on a new connection for up to
//! [`RECONNECT_FOR`].

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::dynamic::DynamicCache;
use super::{Columns, DecodeError, Store};
use crate::error::EngineError;

mod backfills;
mod checks;
mod cluster;
mod dynamic;
mod partitions;
mod runs;
mod schema;
mod sensors;

/// How long a call keeps trying to reach the server after losing it.
pub const RECONNECT_FOR: Duration = Duration::from_secs(30);

/// Connections per process: the engine's workers, its heartbeat and daemon loops, and the
/// API's readers.
const POOL_SIZE: usize = 16;

/// Advisory lock classes (the first key of `pg_advisory_xact_lock(int, int)`).
const LOCK_RUNS: i32 = 0x7e55_0001;
const LOCK_POOL: i32 = 0x7e55_0002;
const LOCK_DYNAMIC: i32 = 0x7e55_0003;
/// Claims that follow plugin versions hold it shared, a change of version exclusively: a
/// claim reads the versions and the running runs, and commits its own, before a new version
/// is current or after (never two versions of one plugin running at once).
const LOCK_VERSIONS: i32 = 0x7e55_0005;
const LOCK_SCHEMA: i64 = 0x7e55_0004;

/// The state in a PostgreSQL database.
pub struct PgState {
    /// The database URL without its password, for messages.
    location: String,
    /// Nanoseconds this process's calls spent waiting on the server (see
    /// [`Store::time_in_database`]).
    busy: std::sync::atomic::AtomicU64,
    pool: Pool,
    /// Drives the connections (their sockets and timers); shut down without waiting.
    runtime: Option<tokio::runtime::Runtime>,
    /// Dynamic sets this process has read (see `state/dynamic.rs`).
    dynamic: Mutex<DynamicCache>,
}

impl std::fmt::Debug for PgState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgState")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Drop for PgState {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime (an API handler
        // may hold the last reference).
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// What a query can fail with.
#[derive(Debug, thiserror::Error)]
pub(super) enum PgError {
    #[error(transparent)]
    Pg(#[from] tokio_postgres::Error),
    #[error("cannot get a connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("schema version {found} is newer than this tessera knows ({known})")]
    TooNew { found: i64, known: i64 },
}

impl PgError {
    /// Whether trying again on a new connection may succeed: the connection was lost or
    /// could not be made, the server is starting or shutting down, or the transaction lost a
    /// deadlock or serialization conflict.
    fn is_transient(&self) -> bool {
        match self {
            PgError::Pg(e) => pg_transient(e),
            PgError::Pool(deadpool_postgres::PoolError::Backend(e)) => pg_transient(e),
            PgError::Pool(deadpool_postgres::PoolError::Timeout(_)) => true,
            _ => false,
        }
    }
}

fn pg_transient(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let c = code.code();
        return c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03" | "40001" | "40P01");
    }
    // No server error: a socket error (refused, reset) is transient; a value that does not
    // convert is not.
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

impl Columns for Row {
    type Error = PgError;
    fn text(&self, i: usize) -> Result<String, PgError> {
        Ok(self.try_get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, PgError> {
        Ok(self.try_get(i)?)
    }
    fn int(&self, i: usize) -> Result<i64, PgError> {
        Ok(self.try_get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, PgError> {
        Ok(self.try_get(i)?)
    }
    fn bool(&self, i: usize) -> Result<bool, PgError> {
        Ok(self.try_get(i)?)
    }
    fn undecodable(&self, _index: usize, e: DecodeError) -> PgError {
        PgError::Decode(e)
    }
}

/// Query parameters.
pub(super) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Every row of a statement (prepared once per connection).
pub(super) async fn rows<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<Row>, PgError> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query(&statement, params).await?)
}

/// The one row of a statement.
pub(super) async fn row<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Row, PgError> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_one(&statement, params).await?)
}

/// The row of a statement, if any.
pub(super) async fn row_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<Row>, PgError> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&statement, params).await?)
}

/// Runs a statement; returns how many rows it changed.
pub(super) async fn exec<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<u64, PgError> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.execute(&statement, params).await?)
}

/// Takes a transaction-scoped advisory lock.
pub(super) async fn lock<C: GenericClient>(c: &C, class: i32, key: i32) -> Result<(), PgError> {
    exec(c, "SELECT pg_advisory_xact_lock($1, $2)", &[&class, &key]).await?;
    Ok(())
}

/// Takes a transaction-scoped advisory lock shared with other holders of the same.
pub(super) async fn lock_shared<C: GenericClient>(
    c: &C,
    class: i32,
    key: i32,
) -> Result<(), PgError> {
    exec(
        c,
        "SELECT pg_advisory_xact_lock_shared($1, $2)",
        &[&class, &key],
    )
    .await?;
    Ok(())
}

/// A lock key for a name (a pool, a dynamic set).
pub(super) fn name_key(name: &str) -> i32 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(name.as_bytes());
    i32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

impl PgState {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`, or the
    /// `key=value` form) and brings its schema up to date; several hosts may do so at once.
    pub fn open(url: &str) -> Result<PgState, EngineError> {
        let location = redact(url);
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            EngineError::db(Path::new(&location), format!("not a PostgreSQL URL: {e}"))
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tessera-pg")
            .enable_all()
            .build()
            .map_err(|e| {
                EngineError::db(
                    Path::new(&location),
                    format!("cannot start its driver: {e}"),
                )
            })?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _entered = runtime.enter();
            Pool::builder(manager)
                .max_size(POOL_SIZE)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(RECONNECT_FOR))
                .create_timeout(Some(Duration::from_secs(10)))
                .build()
                .map_err(|e| EngineError::db(Path::new(&location), e))?
        };
        let state = PgState {
            location,
            busy: std::sync::atomic::AtomicU64::new(0),
            pool,
            runtime: Some(runtime),
            dynamic: Mutex::default(),
        };
        state.block(async || {
            let mut client = state.pool.get().await?;
            schema::migrate(&mut client).await
        })?;
        Ok(state)
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(&self.location)
    }

    fn err(&self, e: PgError) -> EngineError {
        match e {
            PgError::TooNew { found, known } => EngineError::SchemaTooNew {
                path: self.path(),
                found,
                known,
            },
            e => EngineError::db(&self.path(), e),
        }
    }

    pub(super) fn dynamic_cache(&self) -> MutexGuard<'_, DynamicCache> {
        self.dynamic.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `op` to its end on this thread, trying again while the failure is transient.
    fn block<T>(&self, op: impl AsyncFn() -> Result<T, PgError>) -> Result<T, EngineError> {
        let Some(runtime) = &self.runtime else {
            return Err(EngineError::db(&self.path(), "the store is closed"));
        };
        let _entered = runtime.enter();
        let started = Instant::now();
        let _busy = Busy(&self.busy, started);
        let deadline = started + RECONNECT_FOR;
        let mut delay = Duration::from_millis(20);
        loop {
            match futures_executor::block_on(op()) {
                Ok(v) => return Ok(v),
                Err(e) if e.is_transient() && Instant::now() < deadline => {
                    tracing::warn!(database = %self.location, error = %e, "state database unreachable; trying again");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(self.err(e)),
            }
        }
    }

    /// Runs `f` in one transaction (read committed), committed when it returns `Ok`.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "a closure taken by value, as std's APIs do; called by reference, again on a retry"
    )]
    pub(super) fn write<T>(
        &self,
        f: impl AsyncFn(&deadpool_postgres::Transaction<'_>) -> Result<T, PgError>,
    ) -> Result<T, EngineError> {
        self.block(async || {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let out = f(&tx).await?;
            tx.commit().await?;
            Ok(out)
        })
    }

    /// Runs `f` on one connection, each statement on its own.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "a closure taken by value, as std's APIs do; called by reference, again on a retry"
    )]
    pub(super) fn read<T>(
        &self,
        f: impl AsyncFn(&deadpool_postgres::Client) -> Result<T, PgError>,
    ) -> Result<T, EngineError> {
        self.block(async || {
            let client = self.pool.get().await?;
            f(&client).await
        })
    }

    /// Removes every table of the store (tests that start from an empty database).
    #[doc(hidden)]
    pub fn drop_all_for_tests(&self) -> Result<(), EngineError> {
        self.write(async |tx| schema::drop_all(tx).await)
    }
}

/// Adds the time since it was made to a counter when dropped (however the call ends).
struct Busy<'a>(&'a std::sync::atomic::AtomicU64, Instant);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let nanos = u64::try_from(self.1.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.0
            .fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `url` without its password.
fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _password)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Store for PgState {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn time_in_database(&self) -> Option<Duration> {
        Some(Duration::from_nanos(
            self.busy.load(std::sync::atomic::Ordering::Relaxed),
        ))
    }

    /// The server's current snapshot: it changes whenever a transaction that writes starts
    /// or ends, on any host.
    fn change_stamp(&self) -> Result<[u64; 2], EngineError> {
        self.read(async |c| {
            let r = row(c, "SELECT pg_current_snapshot()::text", &[]).await?;
            let text: String = r.try_get(0)?;
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            text.hash(&mut h);
            Ok([h.finish(), 0])
        })
    }
}

/// A JSON text column.
pub(super) fn json<T: serde::Serialize>(v: &T) -> String {
    super::json(v)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn urls_lose_their_password_in_messages() {
        assert_eq!(
            redact("postgres://me:secret@db:5432/t"),
            "postgres://me:***@db:5432/t"
        );
        assert_eq!(redact("postgres://me@db/t"), "postgres://me@db/t");
        assert_eq!(
            redact("host=db user=me password=secret"),
            "host=db user=me password=***"
        );
    }
}
