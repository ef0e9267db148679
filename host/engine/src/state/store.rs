//! The storage traits: what the engine asks of its state store, by concern. SQLite's
//! [`State`](super::State) implements them; a second backend (PostgreSQL) implements the
//! same traits without touching planning or execution. Implementations are synchronous: the
//! engine's workers are threads, and each call is one short transaction.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::error::EngineError;

/// Everything the engine stores: one object behind `Arc<dyn Store>`.
pub trait Store:
    RunStore
    + PartitionStore
    + SensorStore
    + BackfillStore
    + DynamicSetStore
    + ClusterStore
    + CheckStore
    + std::fmt::Debug
{
    /// Where the state lives, for messages (a file path, a database URL without password).
    fn location(&self) -> String;

    /// A value that changes whenever anything in the state may have changed (written by this
    /// process or another): caches of derived views compare it.
    fn change_stamp(&self) -> Result<[u64; 2], EngineError>;

    /// How long this process's calls have spent in the database server, summed over its
    /// threads (a client-server store measures it; an embedded one returns `None`): the
    /// benchmarks' share of time in the database.
    fn time_in_database(&self) -> Option<Duration> {
        None
    }
}

/// Runs: the queue, claims and leases, outcomes, logs, stored blobs.
pub trait RunStore: Send + Sync {
    /// Stores runs (and a backfill, when given) in one transaction.
    fn insert_runs(
        &self,
        backfill: Option<&BackfillRecord>,
        runs: &[NewRun],
    ) -> Result<(), EngineError>;

    /// The `seq` range of runs stored together (`first` and `last` of one request).
    fn seq_range(&self, first: &str, last: &str) -> Result<Option<RunScope>, EngineError>;

    /// Claims the oldest queued run whose dependencies all succeeded and whose retry delay has
    /// passed, optionally only among one backfill's runs.
    fn claim_next(&self, owner: &str, scope: &RunScope) -> Result<Option<RunRecord>, EngineError>;

    /// Claims up to `max` such runs in one transaction, oldest first. A run in a pool named
    /// in `pools` is claimed only while fewer than the pool's limit of its runs are running
    /// (across every process sharing the database).
    ///
    /// `served` maps plugins to the version (content hash) this host runs; when not empty, a
    /// plugin's runs are claimed only while the database records that version as current
    /// and no run of the plugin is running under another version (a rollout across hosts
    /// never runs two versions of one asset at once). Each claimed run is stamped with its
    /// version and a new claim number ([`RunRecord::claim`]).
    #[allow(
        clippy::too_many_arguments,
        reason = "one claim's parameters, each plain"
    )]
    fn claim_batch(
        &self,
        owner: &str,
        scope: &RunScope,
        max: u32,
        pools: &BTreeMap<String, usize>,
        lease: Duration,
        served: &BTreeMap<String, String>,
    ) -> Result<Vec<RunRecord>, EngineError>;

    /// Returns claimed runs that were not started to the queue (a stopping worker), each
    /// given as (run id, claim number): a claim taken over since stays with its new owner.
    fn release(&self, runs: &[(String, i64)]) -> Result<(), EngineError>;

    /// Records several successful runs in one transaction (group commit). A run whose claim
    /// is no longer the latest running one (its lease expired and another host took it)
    /// records nothing; its id is returned.
    fn finish_successes(&self, runs: &[Completed]) -> Result<Vec<String>, EngineError>;

    /// Appends log lines to a run's events.
    fn log_many(&self, run_id: &str, lines: &[(String, String)]) -> Result<(), EngineError>;

    /// The bytes of a blob stored in the database.
    fn blob(&self, name: &str) -> Result<Option<Vec<u8>>, EngineError>;

    /// The bytes of several blobs, in order, in one read (a call reading a range's
    /// per-key values reads thousands).
    fn blobs(&self, names: &[&str]) -> Result<Vec<Option<Vec<u8>>>, EngineError>;

    /// When nothing is claimable: the earliest time a queued run's retry delay ends, and
    /// whether any run is queued or running at all (within the backfill, when given).
    fn pending(&self, scope: &RunScope) -> Result<Pending, EngineError>;

    /// Records materializations of a run that is still going (a batch of keys), and the check
    /// results on them (replacing earlier ones). With a claim number, only while that claim is
    /// the run's latest and running ([`EngineError::LeaseLost`] otherwise).
    fn record_progress(
        &self,
        run_id: &str,
        claim: Option<i64>,
        plugin: &str,
        blobs: &[NewBlob],
        materializations: &[NewMaterialization],
        checks: &[NewCheckResults],
    ) -> Result<(), EngineError>;

    /// Records a failed attempt: queued again after `retry_after_ms`, or failed for good
    /// (its partitions marked failed, its dependents canceled). Only by the run's latest
    /// claim ([`EngineError::LeaseLost`] otherwise), as for [`RunStore::finish_waiting`].
    fn finish_failure(
        &self,
        run: &RunRecord,
        error: &str,
        failed_partitions: &[(String, String)],
        retry_after_ms: Option<i64>,
    ) -> Result<(), EngineError>;

    /// Ends a run that found an upstream partition it reads missing: final, not retried, its
    /// partitions left as they were; the runs that wait for it end the same way.
    fn finish_waiting(&self, run: &RunRecord, reason: &str) -> Result<(), EngineError>;

    /// Extends the leases of the claims `owner` is working on, given as (run id, claim
    /// number): its heartbeat. Only those: a claim whose commit reached the database but
    /// whose answer was lost (a dropped connection) is not among them, so it expires and
    /// returns to the queue instead of being renewed forever. Returns how many.
    fn renew_leases(
        &self,
        owner: &str,
        lease: Duration,
        runs: &[(String, i64)],
    ) -> Result<u64, EngineError>;

    /// Puts back in the queue the running runs whose lease expired: their owner stopped (a
    /// crash, `kill -9`, a lost machine) or stalled past its lease. A run from before leases
    /// (no lease recorded) counts as expired. Returns how many.
    fn requeue_expired(&self) -> Result<u64, EngineError>;

    fn run(&self, id: &str) -> Result<Option<RunRecord>, EngineError>;

    fn run_status(&self, id: &str) -> Result<Option<RunStatus>, EngineError>;

    /// The newest runs first.
    fn runs(&self, limit: u32, backfill: Option<&str>) -> Result<Vec<RunRecord>, EngineError>;

    /// The newest runs first that match every condition of `filter`.
    fn runs_matching(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, EngineError>;

    fn run_events(&self, id: &str) -> Result<Vec<RunEvent>, EngineError>;

    fn log(&self, run_id: &str, level: &str, message: &str) -> Result<(), EngineError>;

    /// Keys of a run already materialized by it (a resumed run skips them).
    fn done_in_run(&self, run_id: &str) -> Result<Vec<(String, String)>, EngineError>;

    /// Counts of runs by status, across everything.
    fn run_counts(&self) -> Result<Vec<(String, u64)>, EngineError>;
}

/// Partitions: their latest state, summaries, materialization history.
pub trait PartitionStore: Send + Sync {
    /// The latest state of every recorded partition of an asset.
    fn partitions(&self, asset: &str) -> Result<Vec<PartitionRecord>, EngineError>;

    /// What a status summary and staleness need of every recorded partition: key, state,
    /// latest materialization id, its code version when it is not `code_version`, its input
    /// hash (no metadata, no join).
    fn partition_summaries(
        &self,
        asset: &str,
        code_version: &str,
    ) -> Result<Vec<PartitionSummary>, EngineError>;

    /// The stamp of the latest change to any partition's state (0 before any): a watermark
    /// for [`PartitionStore::partition_changes`].
    fn partition_watermark(&self) -> Result<u64, EngineError>;

    /// Partitions of any asset whose state changed after the watermark `since`, oldest change
    /// first, at most `limit`. A change committed after a watermark was read is listed after
    /// it, never lost (it may also be listed again later).
    fn partition_changes(
        &self,
        since: u64,
        limit: u32,
    ) -> Result<Vec<PartitionChange>, EngineError>;

    /// The latest materialization of every materialized partition of an asset: (key,
    /// materialization id, data version), what its readers' staleness compares against.
    fn latest_data_versions(&self, asset: &str) -> Result<Vec<(String, i64, String)>, EngineError>;

    /// The inputs one materialization listed as read: (upstream asset, key, data version),
    /// `None` when it kept only their hash (or was recorded before data versions).
    #[allow(clippy::type_complexity)]
    fn materialization_inputs(
        &self,
        id: i64,
    ) -> Result<Option<Vec<(String, String, Option<String>)>>, EngineError>;

    /// The latest state of some partitions of an asset (absent ones are left out).
    fn partitions_of(
        &self,
        asset: &str,
        keys: &[String],
    ) -> Result<Vec<PartitionRecord>, EngineError>;

    /// How many partitions of an asset are materialized and failed (without listing them).
    fn partition_counts(&self, asset: &str) -> Result<(u64, u64), EngineError>;

    /// How many materializations of an asset were ever recorded (every run, every attempt).
    fn materialization_count(&self, asset: &str) -> Result<u64, EngineError>;

    /// The newest materialization id (0 when none): a cheap "anything new?" check.
    fn last_materialization(&self) -> Result<i64, EngineError>;

    /// A partition's materializations, newest first (at most `limit`), and how many there are.
    fn materialization_history(
        &self,
        asset: &str,
        partition: &str,
        limit: u32,
    ) -> Result<(Vec<MaterializationRecord>, u64), EngineError>;
}

/// Sensors and schedules: cursors, ticks, run keys.
pub trait SensorStore: Send + Sync {
    fn sensor_state(&self, name: &str) -> Result<SensorState, EngineError>;

    /// Turns a sensor off (the daemon no longer evaluates it) or on again.
    fn set_sensor_disabled(&self, name: &str, disabled: bool) -> Result<(), EngineError>;

    /// Records one sensor evaluation in one transaction: dynamic-partition changes first,
    /// then the runs (deduplicated by run key), then the cursor.
    fn record_sensor_tick(&self, tick: &SensorTick) -> Result<Vec<String>, EngineError>;

    /// Whether a sensor already launched a run for this key.
    fn sensor_run_key_seen(&self, sensor: &str, run_key: &str) -> Result<bool, EngineError>;

    /// The newest recorded tick of a schedule (unix seconds).
    fn last_schedule_tick(&self, schedule: &str) -> Result<Option<i64>, EngineError>;

    /// Records schedule ticks and their runs in one transaction; a tick recorded before (by
    /// another process) is skipped with its run, and so is a run whose run key the schedule
    /// used before (two ticks, or a catch-up after a restart, naming the same partition).
    /// Returns the runs queued.
    fn record_schedule_ticks(
        &self,
        schedule: &str,
        ticks: &[(i64, Option<String>, Option<NewRun>)],
    ) -> Result<Vec<String>, EngineError>;
}

/// Backfills: their records, progress, cancel and resume.
pub trait BackfillStore: Send + Sync {
    fn backfills(&self) -> Result<Vec<BackfillRecord>, EngineError>;

    fn backfill(&self, id: &str) -> Result<Option<BackfillRecord>, EngineError>;

    /// Run counts by status, and partitions materialized, for one backfill.
    fn backfill_progress(&self, id: &str) -> Result<BackfillProgress, EngineError>;

    fn set_backfill_status(&self, id: &str, status: BackfillStatus) -> Result<(), EngineError>;

    /// Cancels a running backfill: its queued runs are canceled; running ones finish their
    /// current partition and stop. A backfill already final keeps its status (a completed
    /// one stays completed). Returns the runs canceled and the backfill's status after.
    fn cancel_backfill(&self, id: &str) -> Result<(u64, BackfillStatus), EngineError>;

    /// Re-queues a canceled or failed backfill's unfinished runs.
    fn reopen_backfill(&self, id: &str) -> Result<u64, EngineError>;

    /// Whether a run was canceled while it ran (checked between partitions).
    fn is_canceled(&self, run: &RunRecord) -> Result<bool, EngineError>;

    /// Marks a canceled run's end (it stopped between partitions).
    fn finish_canceled(&self, run_id: &str) -> Result<(), EngineError>;
}

/// Dynamic partition sets.
pub trait DynamicSetStore: Send + Sync {
    /// Adds keys to a dynamic set, in order; keys already present are left where they are.
    /// Returns how many were new.
    fn dynamic_add(&self, name: &str, keys: &[String]) -> Result<u64, EngineError>;

    /// Removes keys; returns how many existed.
    fn dynamic_remove(&self, name: &str, keys: &[String]) -> Result<u64, EngineError>;

    /// The keys of a set in insertion order.
    fn dynamic_keys(&self, name: &str) -> Result<Vec<String>, EngineError>;

    /// Every set that holds keys, with how many.
    fn dynamic_names(&self) -> Result<Vec<(String, u64)>, EngineError>;
}

/// Hosts sharing one database: who is alive, which host evaluates each sensor, schedule and
/// eager automation (leases), and which version of each plugin is current.
pub trait ClusterStore: Send + Sync {
    /// Records that a host is alive (its heartbeat); rows of hosts gone for a day are
    /// removed.
    fn host_heartbeat(&self, id: &str, label: &str, started_at: i64) -> Result<(), EngineError>;

    /// The hosts seen within `within`, oldest first.
    fn hosts(&self, within: Duration) -> Result<Vec<HostRecord>, EngineError>;

    /// A host stopping cleanly: its row and its leases go, so others take over at once.
    fn host_gone(&self, id: &str) -> Result<(), EngineError>;

    /// Forgets every host but `id`, with their leases: for a host that knows it is the only
    /// one (it holds a SQLite state's daemon lock), so that a predecessor killed a moment ago
    /// does not keep its sensors and schedules for a lease.
    fn forget_other_hosts(&self, id: &str) -> Result<(), EngineError>;

    /// Takes or renews the lease `name` for `owner` until `ttl` from now. Renewing always
    /// works while `owner` holds it; a lease nobody holds, or whose holder let it expire, is
    /// taken only when `may_take`. Returns the lease's generation when `owner` holds it.
    fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
        may_take: bool,
    ) -> Result<Option<i64>, EngineError>;

    /// Every lease, held or expired.
    fn leases(&self) -> Result<Vec<LeaseRecord>, EngineError>;

    /// The version (content hash) recorded as current for each plugin.
    fn plugin_versions(&self) -> Result<BTreeMap<String, String>, EngineError>;

    /// Records `version` as the current one of `plugin` (when `replace`, over another;
    /// else only when none is recorded). Returns whether the record changed.
    fn record_plugin_version(
        &self,
        plugin: &str,
        version: &str,
        host: &str,
        replace: bool,
    ) -> Result<bool, EngineError>;
}

/// Asset checks' results: the latest of each check on each partition.
pub trait CheckStore: Send + Sync {
    /// The latest results of every check on these partitions of `asset`.
    fn check_results(
        &self,
        asset: &str,
        partitions: &[String],
    ) -> Result<Vec<CheckRecord>, EngineError>;

    /// Per check of `asset` (in name order), how many partitions' latest results pass, warn
    /// and fail: counted by the database, whatever the number of partitions.
    fn check_counts(&self, asset: &str) -> Result<Vec<CheckCounts>, EngineError>;

    /// The latest results on `asset` that warn or fail, by partition and check.
    fn check_problems(&self, asset: &str) -> Result<Vec<CheckRecord>, EngineError>;
}
