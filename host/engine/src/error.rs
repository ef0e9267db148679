//! Typed errors of the engine.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The cause is the source (SQLite's error, an I/O error, a row that does not decode).
    #[error("state database {path}")]
    Database {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error(
        "state database {path} has schema version {found}; this tessera knows up to {known} (upgrade tessera)"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "state database {path} is damaged: {message}. Tessera will not use it: restore it from a backup, or move it (and its -wal file) aside to start with an empty state"
    )]
    Damaged { path: PathBuf, message: String },
    #[error(
        "another `tessera dev` ({holder}) is already running on {storage}; stop it first (the other commands work beside it)"
    )]
    DaemonRunning { storage: PathBuf, holder: String },
    /// The run's claim is no longer this host's: its lease expired and the run went back to
    /// the queue (another host may run it now), so what this host computed is not recorded.
    #[error(
        "run {run}: this host's lease on it expired and the run was queued again; its result is dropped"
    )]
    LeaseLost { run: String },
    /// Another evaluation of the sensor was recorded since this one read the cursor (a host
    /// that stalled past its sensor lease, or a tick by hand at the same moment).
    #[error("sensor {sensor:?}: another evaluation was recorded first; this one is dropped")]
    TickSuperseded { sensor: String },
    #[error("IO store {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("asset graph: {0}")]
    Graph(String),
    #[error("no asset {0:?} (see `tessera assets`)")]
    UnknownAsset(String),
    #[error("asset {asset:?} is unavailable: {reason}")]
    Unavailable { asset: String, reason: String },
    #[error("no plugin {0:?} is loaded")]
    UnknownPlugin(String),
    #[error("no sensor {0:?} (see `tessera sensor list`)")]
    UnknownSensor(String),
    #[error("no backfill {0:?} (see `tessera backfill list`)")]
    UnknownBackfill(String),
    #[error("no run {0:?} (see `tessera runs`)")]
    UnknownRun(String),
    #[error("{asset}: {message}")]
    Selection { asset: String, message: String },
    #[error(
        "{asset}: its backfill policy is {policy}, which does not allow {requested}; \
         ask without it (the policy decides how its partitions are split into runs)"
    )]
    BackfillPolicy {
        asset: String,
        policy: crate::graph::BackfillPolicy,
        requested: String,
    },
    // Transparent: the inner error's message once (not "X: X" when a chain is printed).
    #[error(transparent)]
    Partitions(#[from] tessera_partitions::Error),
    #[error(transparent)]
    Plugins(#[from] tessera_runtime::LoadError),
    #[error("{0}")]
    Invalid(String),
}

impl EngineError {
    pub(crate) fn db(path: &std::path::Path, e: impl Into<BoxError>) -> EngineError {
        EngineError::Database {
            path: path.to_path_buf(),
            source: e.into(),
        }
    }
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error and its causes on one line ("a: b: c"), for messages stored or sent as text (a
/// run's error, a daemon event) where the chain would otherwise be lost.
pub fn report(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        // A transparent wrapper repeats its inner message: say it once.
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}
