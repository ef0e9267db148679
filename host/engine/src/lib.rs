//! Tessera's engine: what was materialized (SQLite), where the bytes are (the IO store), how
//! the assets of all loaded plugins depend on each other, and the machinery that plans and
//! runs work in dependency order — materializations, backfills, sensors, schedules.
//!
//! Nothing above this crate touches SQL; nothing in it touches wasmtime types.

mod engine;
mod error;
pub mod graph;
pub mod io;
pub mod state;

pub use engine::{
    AssetPreview, AssetStatus, Clock, Daemon, DaemonEvent, DaemonLock, Engine, EngineConfig,
    EventSink, Filter, HostView, KeyPage, MAX_CONCURRENCY, Materialization, PartitionDetail,
    PartitionSelection, PartitionStatus, PartitionView, PlanPreview, Preview, Progress,
    QueueSummary, RunPolicy, ScheduleSpec, ScheduleView, SensorOutcome, StaleReason,
    StateDynamicKeys, StatusBins, StatusCounts, StatusQuery, StatusRange, StatusRanges, StatusView,
    Submitted, short_version,
};
pub use error::{BoxError, EngineError, report};
pub use graph::{AssetGraph, AssetNode, Edge};
pub use io::IoStore;
pub use state::{
    BackfillProgress, BackfillRecord, BackfillStatus, BackfillStore, DecodeError, DynamicSetStore,
    PartitionStore, RunEvent, RunFilter, RunRecord, RunScope, RunSelection, RunStatus, RunStore,
    SensorStore, State, Store,
};

/// The storage traits, for calling a [`Store`]'s methods: `use tessera_engine::prelude::*`.
pub mod prelude {
    pub use crate::state::{
        BackfillStore, DynamicSetStore, PartitionStore, RunStore, SensorStore, Store,
    };
}
