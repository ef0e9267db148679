//! Typed errors of the engine.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error("state database {path}: {message}")]
    Database { path: PathBuf, message: String },
    #[error(
        "state database {path} has schema version {found}; this tessera knows up to {known} (upgrade tessera)"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("IO store {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("asset graph: {0}")]
    Graph(String),
    #[error("no asset {0:?} (see `tessera assets`)")]
    UnknownAsset(String),
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
    #[error("{0}")]
    Partitions(#[from] tessera_partitions::Error),
    #[error("{0}")]
    Plugins(#[from] tessera_runtime::LoadError),
    #[error("{0}")]
    Invalid(String),
}

impl EngineError {
    pub(crate) fn db(path: &std::path::Path, e: impl std::fmt::Display) -> EngineError {
        EngineError::Database {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}
