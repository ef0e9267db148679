//! Execution: workers claim queued runs, call the plugins and record what they produced.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use serde::Serialize;
use tessera_partitions::Context;
use tessera_runtime::{
    CallError, InputData, MaterializeRequest, Resolved, RollupPolicy, Selection,
};

use super::Engine;
use super::staleness::Latest;
use crate::error::{EngineError, report};
use crate::graph::{AssetGraph, AssetNode, Edge};
use crate::io::IoStore;
use crate::state::{
    Completed, InputsRead, NewBlob, NewMaterialization, PartitionRecord, RunRecord, RunScope,
    RunSelection,
};

/// What a call to [`Engine::run_queue`] did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct QueueSummary {
    pub runs_succeeded: u64,
    pub runs_failed: u64,
    pub runs_retried: u64,
    /// Runs that found an upstream partition missing (final, not retried).
    pub runs_waiting_for_upstream: u64,
    pub partitions: u64,
}

/// Progress reported while the queue runs.
#[derive(Debug, Clone)]
pub enum Progress {
    RunStarted {
        run: String,
        assets: Vec<String>,
        selection: String,
    },
    RunFinished {
        run: String,
        ok: bool,
        partitions: u64,
        error: Option<String>,
    },
}

impl Engine {
    /// Executes queued runs with `concurrency` workers until none is left (only the given
    /// backfill's, when set). Other processes may run the same queue at the same time.
    pub fn run_queue(
        &self,
        backfill: Option<&str>,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<QueueSummary, EngineError> {
        let scope = match backfill {
            Some(b) => RunScope::Backfill(b.to_string()),
            None => RunScope::All,
        };
        self.run_scope(&scope, progress)
    }

    /// Executes exactly the runs one request stored (`runs`, in the order `submit` or a sensor
    /// tick returned them) until every one is final, retries included; other queued work is
    /// left to the daemon.
    pub fn run_runs(
        &self,
        runs: &[String],
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<QueueSummary, EngineError> {
        let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
            return Ok(QueueSummary::default());
        };
        match self.state.seq_range(first, last)? {
            Some(scope) => self.run_scope(&scope, progress),
            None => Err(EngineError::UnknownRun(first.clone())),
        }
    }

    /// Executes the queued runs of a scope with `concurrency` workers until none is left.
    ///
    /// Each worker claims a few runs per transaction (as many as it starts within
    /// [`HOLD_BUDGET`] at the recent pace, at most [`CLAIM_BATCH`]: small runs cost few
    /// transactions) and records its successes in one transaction per batch. A monitor keeps
    /// that batching from holding work back: runs a worker claimed but has not started for
    /// twice the budget (it is in a slow run) go back to the queue, where any idle worker of
    /// this or another process takes them, and successes buffered that long are recorded.
    fn run_scope(
        &self,
        scope: &RunScope,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<QueueSummary, EngineError> {
        self.state.requeue_expired()?;
        let workers = self.config.concurrency.clamp(1, MAX_CONCURRENCY);
        let shared = Shared {
            scope,
            progress,
            slots: (0..workers).map(|_| Slot::default()).collect(),
            summary: Mutex::new(QueueSummary::default()),
            first_error: Mutex::new(None),
            abort: std::sync::atomic::AtomicBool::new(false),
            workers_done: std::sync::atomic::AtomicUsize::new(0),
            monitor: (Mutex::new(()), Condvar::new()),
        };
        std::thread::scope(|s| {
            for me in 0..workers {
                let shared = &shared;
                s.spawn(move || {
                    if let Err(e) = self.worker(shared, me) {
                        shared.fail(e);
                    }
                    shared
                        .workers_done
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    {
                        let (lock, ended) = &shared.monitor;
                        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                        ended.notify_all();
                    }
                    self.notify();
                });
            }
            s.spawn(|| self.monitor(&shared));
        });
        // Whatever is still recorded nowhere or claimed goes to the database or back to the
        // queue (a stop, or an error).
        let mut left = Vec::new();
        for w in 0..workers {
            if let Err(e) = self.flush(&shared, w, true) {
                shared.fail(e);
            }
            left.extend(shared.slots[w].take_claimed());
        }
        let released = if left.is_empty() {
            Ok(())
        } else {
            self.release_claims(&left)
        };
        if let Some(e) = shared
            .first_error
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
        {
            return Err(e);
        }
        released?;
        Ok(shared
            .summary
            .into_inner()
            .unwrap_or_else(|p| p.into_inner()))
    }

    /// Hands claimed runs back to the queue; the heartbeat stops renewing them.
    fn release_claims(&self, runs: &[(String, i64)]) -> Result<(), EngineError> {
        self.forget_claims(runs.iter().map(|(id, _)| id.as_str()));
        self.state.release(runs)
    }

    /// Runs this engine no longer works on (ended or handed back).
    fn forget_claims<'a>(&self, runs: impl Iterator<Item = &'a str>) {
        let mut claims = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        for id in runs {
            claims.remove(id);
        }
    }

    pub(super) fn notify(&self) {
        let mut n = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        self.wake.1.notify_all();
    }

    /// Keeps the batching honest while workers are busy: returns to the queue the claimed
    /// runs a worker has not started for twice [`HOLD_BUDGET`], and records successes
    /// buffered longer than the budget (their worker went on to a slow run).
    fn monitor(&self, shared: &Shared<'_>) {
        let workers = shared.slots.len();
        let done = || {
            shared
                .workers_done
                .load(std::sync::atomic::Ordering::SeqCst)
                >= workers
        };
        let mut heartbeat = std::time::Instant::now();
        while !done() {
            // The heartbeat: this engine's claims stay its own while it lives, and claims
            // of engines that stopped renewing theirs return to the queue (for any worker).
            if heartbeat.elapsed() >= self.config.lease / 3 {
                heartbeat = std::time::Instant::now();
                let held: Vec<(String, i64)> = self
                    .claims
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .map(|(id, claim)| (id.clone(), *claim))
                    .collect();
                if let Err(e) = self
                    .state
                    .renew_leases(&self.owner, self.config.lease, &held)
                {
                    tracing::warn!(error = %report(&e), "could not renew the leases of runs");
                }
                match self.state.requeue_expired() {
                    Ok(0) => {}
                    Ok(_) => self.notify(),
                    Err(e) => tracing::warn!(error = %report(&e), "could not requeue runs"),
                }
            }
            let mut stale = Vec::new();
            for slot in &shared.slots {
                let mut c = slot.claimed.lock().unwrap_or_else(|p| p.into_inner());
                if c.at.is_some_and(|at| at.elapsed() > HOLD_BUDGET * 2) && !c.runs.is_empty() {
                    stale.extend(c.runs.drain(..).map(|r| (r.id, r.claim)));
                }
            }
            if !stale.is_empty() {
                match self.release_claims(&stale) {
                    // Idle workers may take them now.
                    Ok(()) => self.notify(),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not return claimed runs to the queue");
                    }
                }
            }
            for w in 0..workers {
                if let Err(e) = self.flush(shared, w, false) {
                    shared.fail(e);
                }
            }
            // Its own wake-up, not the workers': they notify at every batch.
            let (lock, ended) = &shared.monitor;
            let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            if !done() {
                let _ = ended
                    .wait_timeout(guard, HOLD_BUDGET)
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// The worker's next run: its own claimed ones first, else a new claim.
    fn next_run(
        &self,
        shared: &Shared<'_>,
        me: usize,
        pace: Option<Duration>,
    ) -> Result<Option<RunRecord>, EngineError> {
        let slot = &shared.slots[me];
        if let Some(run) = slot
            .claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .runs
            .pop_front()
        {
            return Ok(Some(run));
        }
        // As many runs as this worker starts within the budget at the recent pace (one
        // until the pace is known).
        let batch = match pace {
            Some(p) if !p.is_zero() => (HOLD_BUDGET.as_secs_f64() / p.as_secs_f64()) as u32,
            Some(_) => CLAIM_BATCH,
            None => 1,
        }
        .clamp(1, CLAIM_BATCH);
        let mut runs = self.state.claim_batch(
            &self.owner,
            shared.scope,
            batch,
            &self.config.pools,
            self.config.lease,
            &self.served_versions(),
        )?;
        if runs.is_empty() {
            return Ok(None);
        }
        self.claims
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(runs.iter().map(|r| (r.id.clone(), r.claim)));
        let first = runs.remove(0);
        let mut c = slot.claimed.lock().unwrap_or_else(|p| p.into_inner());
        c.runs.extend(runs);
        c.at = Some(std::time::Instant::now());
        Ok(Some(first))
    }

    /// One worker (`me` indexes its slot).
    fn worker(&self, shared: &Shared<'_>, me: usize) -> Result<(), EngineError> {
        let aborted = || shared.abort.load(std::sync::atomic::Ordering::SeqCst);
        // Moving average of how long this worker's runs take.
        let mut pace: Option<Duration> = None;
        loop {
            if self.is_stopping() || aborted() {
                return self.flush(shared, me, true);
            }
            let seen = *self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(run) = self.next_run(shared, me, pace)? {
                (shared.progress)(&Progress::RunStarted {
                    run: run.id.clone(),
                    assets: run.assets.clone(),
                    selection: run.selection.describe(),
                });
                let started = std::time::Instant::now();
                let outcome = match self.execute(&run) {
                    Ok(o) => o,
                    Err(e) => {
                        // The database failed under the run: hand it back if it still can.
                        let _ = self.release_claims(&[(run.id.clone(), run.claim)]);
                        return Err(e);
                    }
                };
                let took = started.elapsed();
                pace = Some(match pace {
                    Some(p) => p.mul_f64(0.8) + took.mul_f64(0.2),
                    None => took,
                });
                let slot = &shared.slots[me];
                let buffered = {
                    let mut d = slot.done.lock().unwrap_or_else(|p| p.into_inner());
                    let ended = match outcome {
                        Outcome::Success { partitions, done } => {
                            d.completed.push(done);
                            Ended::Succeeded(partitions)
                        }
                        Outcome::Retry { error } => Ended::Retried(error),
                        Outcome::Failed { error } => Ended::Failed(error),
                        Outcome::Waiting { reason } => Ended::Waiting(reason),
                        Outcome::Canceled => Ended::Canceled,
                        Outcome::Lost => Ended::Lost,
                    };
                    d.finished.push((run.id, ended));
                    d.oldest.get_or_insert(started);
                    d.completed.len()
                };
                // The end of the batch, or a full one: record it.
                let batch_done = slot
                    .claimed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .runs
                    .is_empty();
                if batch_done || buffered >= CLAIM_BATCH as usize {
                    self.flush(shared, me, true)?;
                }
                continue;
            }
            self.flush(shared, me, true)?;
            let pending = self.state.pending(shared.scope)?;
            if pending.queued == 0 && pending.running == 0 {
                return Ok(());
            }
            // Nothing claimable: wait for a run to end (it may unblock dependents), a retry
            // delay to pass, or — for runs another process holds — a short while.
            let wait = match pending.next_retry_at {
                Some(at) if pending.running == 0 => {
                    Duration::from_millis((at - crate::state::now_ms()).clamp(1, 60_000) as u64)
                }
                _ => Duration::from_millis(200),
            };
            let guard = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
            if *guard == seen && !aborted() {
                let _ = self
                    .wake
                    .1
                    .wait_timeout(guard, wait)
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// Records a worker's buffered successes in one transaction (group commit: SQLite
    /// commits, not plugin calls, would otherwise bound small runs) and reports what
    /// finished. Unless `now`, only when the oldest has waited [`HOLD_BUDGET`]. On a database
    /// error the successes go back to the queue: they run again, and a materialization is
    /// recorded once per run and partition, so nothing doubles.
    fn flush(&self, shared: &Shared<'_>, worker: usize, now: bool) -> Result<(), EngineError> {
        let Some(slot) = shared.slots.get(worker) else {
            return Ok(());
        };
        let (completed, finished) = {
            let mut d = slot.done.lock().unwrap_or_else(|p| p.into_inner());
            if d.finished.is_empty() || (!now && d.oldest.is_none_or(|t| t.elapsed() < HOLD_BUDGET))
            {
                return Ok(());
            }
            d.oldest = None;
            (
                std::mem::take(&mut d.completed),
                std::mem::take(&mut d.finished),
            )
        };
        let lost: BTreeSet<String> = match self.state.finish_successes(&completed) {
            Ok(lost) => lost.into_iter().collect(),
            Err(e) => {
                let ids: Vec<(String, i64)> = completed
                    .iter()
                    .map(|c| (c.run_id.clone(), c.claim))
                    .collect();
                let _ = self.release_claims(&ids);
                return Err(e);
            }
        };
        self.forget_claims(finished.iter().map(|(run, _)| run.as_str()));
        let mut s = shared.summary.lock().unwrap_or_else(|p| p.into_inner());
        for (run, ended) in finished {
            let ended = if lost.contains(&run) {
                tracing::warn!(run = %run, "lease lost before the success was recorded; dropped");
                Ended::Lost
            } else {
                ended
            };
            let (ok, partitions, error) = match ended {
                Ended::Succeeded(partitions) => {
                    s.runs_succeeded += 1;
                    s.partitions += partitions;
                    (true, partitions, None)
                }
                Ended::Retried(error) => {
                    s.runs_retried += 1;
                    (false, 0, Some(error))
                }
                Ended::Failed(error) => {
                    s.runs_failed += 1;
                    (false, 0, Some(error))
                }
                Ended::Waiting(reason) => {
                    s.runs_waiting_for_upstream += 1;
                    (false, 0, Some(format!("waiting for upstream: {reason}")))
                }
                Ended::Canceled => (false, 0, Some("canceled".into())),
                Ended::Lost => (
                    false,
                    0,
                    Some(
                        "this host's lease expired: another host runs it; nothing recorded".into(),
                    ),
                ),
            };
            (shared.progress)(&Progress::RunFinished {
                run,
                ok,
                partitions,
                error,
            });
        }
        drop(s);
        self.notify();
        Ok(())
    }

    /// Runs one claimed run to its end (or its next retry).
    fn execute(&self, run: &RunRecord) -> Result<Outcome, EngineError> {
        let _span = tracing::info_span!("run", run = %run.id, assets = ?run.assets).entered();
        let result = self.try_execute(run);
        let logs = self
            .logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&run.id)
            .map(|l| l.lines)
            .unwrap_or_default();
        match result {
            Ok(Outcome::Success {
                partitions,
                mut done,
            }) => {
                done.logs = logs;
                Ok(Outcome::Success { partitions, done })
            }
            Ok(outcome) => {
                self.state.log_many(&run.id, &logs)?;
                Ok(outcome)
            }
            Err(failure) if failure.waiting => {
                self.state.log_many(&run.id, &logs)?;
                tracing::info!(reason = %failure.message, "run waits for upstream");
                if let Err(e) = self.state.finish_waiting(run, &failure.message) {
                    return lost(e);
                }
                Ok(Outcome::Waiting {
                    reason: failure.message,
                })
            }
            Err(failure) => {
                self.state.log_many(&run.id, &logs)?;
                let retry = failure.retryable && run.attempts < run.max_attempts;
                let failed_partitions: Vec<(String, String)> = if retry {
                    Vec::new()
                } else {
                    let done: BTreeSet<(String, String)> =
                        self.state.done_in_run(&run.id)?.into_iter().collect();
                    run_keys(&run.selection)
                        .into_iter()
                        .flat_map(|k| run.assets.iter().map(move |a| (a.clone(), k.clone())))
                        .filter(|p| !done.contains(p))
                        .collect()
                };
                let delay = retry.then(|| {
                    let base = self.config.retry_backoff.as_millis() as i64;
                    base.saturating_mul(1 << (run.attempts.saturating_sub(1)).min(10))
                });
                tracing::warn!(error = %failure.message, retry, "run attempt failed");
                if let Err(e) =
                    self.state
                        .finish_failure(run, &failure.message, &failed_partitions, delay)
                {
                    return lost(e);
                }
                Ok(if retry {
                    Outcome::Retry {
                        error: failure.message,
                    }
                } else {
                    Outcome::Failed {
                        error: failure.message,
                    }
                })
            }
        }
    }

    fn try_execute(&self, run: &RunRecord) -> Result<Outcome, Failure> {
        let fatal = |message: String| Failure {
            message,
            retryable: false,
            waiting: false,
        };
        let plugin = self
            .registry
            .get(&run.plugin)
            .ok_or_else(|| fatal(format!("plugin {:?} is not loaded", run.plugin)))?;
        let graph = self.graph().map_err(|e| fatal(report(&e)))?;
        let node = graph
            .asset(run.assets.first().map_or("", String::as_str))
            .ok_or_else(|| fatal(format!("asset {:?} is no longer declared", run.assets)))?
            .clone();
        let dynamic = self
            .dynamic_for(&graph, &node)
            .map_err(|e| fatal(report(&e)))?;
        let now = self.config.clock.now();
        let cx = Context::new(now).with_dynamic(&dynamic);
        // Only a run that was interrupted or retried can have recorded keys already.
        let done: BTreeSet<String> = if run.attempts > 1 || run.partitions > CHECKPOINT_EVERY {
            self.state
                .done_in_run(&run.id)
                .map_err(|e| fatal(report(&e)))?
                .into_iter()
                .map(|(_, k)| k)
                .collect()
        } else {
            BTreeSet::new()
        };
        // Each call's keys and time window, resolved here once and handed to the runtime.
        let def = node.partitions.as_ref();
        let resolve = |selection: Selection| {
            Resolved::of(def, &selection, &cx)
                .map(|r| (selection, r))
                .map_err(fatal)
        };
        // (selection, its resolution, the keys recorded, the label of its blob)
        let mut calls: Vec<(Selection, Resolved, Vec<String>, String)> = Vec::new();
        match &run.selection {
            RunSelection::None => {
                let (selection, resolved) = resolve(Selection::None)?;
                calls.push((selection, resolved, vec![String::new()], String::new()));
            }
            RunSelection::Keys { keys } => {
                for k in keys.iter().filter(|k| !done.contains(*k)) {
                    let (selection, resolved) = resolve(Selection::Key(k.clone()))?;
                    calls.push((selection, resolved, vec![k.clone()], k.clone()));
                }
            }
            RunSelection::Range(range) => {
                let (selection, resolved) = resolve(Selection::Range(range.clone()))?;
                if !resolved.keys.iter().all(|k| done.contains(k)) {
                    let keys = resolved.keys.clone();
                    calls.push((selection, resolved, keys, range.to_string()));
                }
            }
        }
        // A call produces all the run's assets: it gets the longest of their timeouts.
        let timeout = run
            .assets
            .iter()
            .filter_map(|a| {
                self.config
                    .timeouts
                    .get(a)
                    .copied()
                    .or_else(|| graph.asset(a).and_then(|n| n.timeout))
            })
            .max();
        let mut pending: Vec<NewMaterialization> = Vec::new();
        let mut blobs: Vec<NewBlob> = Vec::new();
        let mut checks: Vec<crate::state::NewCheckResults> = Vec::new();
        let mut count = 0u64;
        // One instance for the run's calls (the runtime's isolation rule): a JavaScript or
        // Python plugin starts its engine once per run, not once per partition.
        let mut session = plugin.session();
        for (i, (selection, resolved, keys, label)) in calls.into_iter().enumerate() {
            if i > 0 && (i as u64).is_multiple_of(CHECKPOINT_EVERY) {
                // Checkpoint long runs: a resumed run skips what is recorded, and cancel is
                // noticed between partitions.
                self.state
                    .record_progress(
                        &run.id,
                        Some(run.claim),
                        &run.plugin,
                        &blobs,
                        &pending,
                        &checks,
                    )
                    .map_err(|e| fatal(report(&e)))?;
                pending.clear();
                blobs.clear();
                checks.clear();
                if self.state.is_canceled(run).map_err(|e| fatal(report(&e)))? {
                    self.state
                        .finish_canceled(&run.id)
                        .map_err(|e| fatal(report(&e)))?;
                    return Ok(Outcome::Canceled);
                }
            }
            let (inputs, latest) = self.gather_inputs(&graph, &node, run, &keys, &cx)?;
            let started = crate::state::now_ms();
            let outputs = session
                .materialize(&MaterializeRequest {
                    computation: run.computation.clone(),
                    assets: run.assets.clone(),
                    selection,
                    resolved: Some(resolved),
                    run_id: run.id.clone(),
                    attempt: run.attempts,
                    now,
                    inputs,
                    timeout,
                })
                .map_err(|e| Failure {
                    retryable: retryable(&e),
                    message: report(&e),
                    waiting: false,
                })?;
            let ended = crate::state::now_ms();
            // Recorded with the materializations they describe, not before them.
            checks.extend(run_checks(&plugin, &outputs, &keys, now));
            for o in outputs {
                // An output per key (contract 0.2.0) is that partition's own value, stored and
                // versioned apart; one for the whole call is shared by all its keys.
                let (label, keys) = match &o.partition {
                    Some(k) => (k, std::slice::from_ref(k)),
                    None => (&label, keys.as_slice()),
                };
                let code_version = graph.asset(&o.asset).map_or_else(
                    || plugin.code_version().to_string(),
                    |n| n.code_version.clone(),
                );
                let (blob, data_version) = if o.data.len() <= INLINE_BLOB_BYTES {
                    // Small outputs live in the database, committed with their records.
                    let name = format!("{}/{}/{}", run.id, o.asset, crate::io::escape_key(label));
                    let version = crate::io::data_version(&o.data);
                    blobs.push(NewBlob {
                        name: name.clone(),
                        data: o.data,
                    });
                    (format!("db:{name}"), version)
                } else {
                    let blob = IoStore::blob_name(&o.asset, label, &run.id, run.claim);
                    let version = self.io.write(&blob, &o.data).map_err(|e| Failure {
                        message: report(&e),
                        retryable: true,
                        waiting: false,
                    })?;
                    (blob, version)
                };
                let metadata = serde_json::to_value(&o.metadata).unwrap_or_default();
                let out_node = graph.asset(&o.asset);
                for k in keys {
                    // What this key read, by data version: staleness compares it with the
                    // upstream's versions later.
                    let inputs = match out_node {
                        Some(n) => self
                            .read_now(&graph, n, &cx, &latest, k, true)
                            .map_err(|e| fatal(report(&e)))?
                            .inputs_read(),
                        None => InputsRead::default(),
                    };
                    pending.push(NewMaterialization {
                        inputs,
                        asset: o.asset.clone(),
                        partition: k.clone(),
                        code_version: code_version.clone(),
                        data_version: data_version.clone(),
                        blob: blob.clone(),
                        metadata: metadata.clone(),
                        started_at: started,
                        ended_at: ended,
                    });
                }
            }
            count += keys.len() as u64;
        }
        Ok(Outcome::Success {
            partitions: count,
            done: Completed {
                run_id: run.id.clone(),
                claim: run.claim,
                plugin: run.plugin.clone(),
                backfill_id: run.backfill_id.clone(),
                logs: Vec::new(),
                blobs,
                materializations: pending,
                checks,
            },
        })
    }

    /// The inputs of one call: for each upstream asset, the (key, bytes) of every upstream
    /// partition the call's keys map to, and the materializations they came from.
    fn gather_inputs(
        &self,
        graph: &AssetGraph,
        node: &AssetNode,
        run: &RunRecord,
        keys: &[String],
        cx: &Context<'_>,
    ) -> Result<(Vec<InputData>, HashMap<String, Latest>), Failure> {
        let fatal = |message: String| Failure {
            message,
            retryable: false,
            waiting: false,
        };
        let keys: Vec<String> = keys.iter().filter(|k| !k.is_empty()).cloned().collect();
        let mut inputs: Vec<InputData> = Vec::new();
        let mut read: HashMap<String, Latest> = HashMap::new();
        for asset in &run.assets {
            let Some(n) = graph.asset(asset) else {
                continue;
            };
            for edge in &n.inputs {
                if inputs.iter().any(|i| i.asset == edge.upstream) {
                    continue;
                }
                let up = graph
                    .asset(&edge.upstream)
                    .ok_or_else(|| fatal(format!("upstream {:?} vanished", edge.upstream)))?;
                let (wanted, nonexistent) = self
                    .upstream_keys(cx, node, edge, up.partitions.as_ref(), &keys)
                    .map_err(|e| fatal(report(&e)))?;
                // A roll-up waiting until a deadline runs with what exists once it passed.
                let deadline = rollup_deadline(node, edge, &keys);
                let partial_now =
                    edge.allow_missing || deadline.is_some_and(|d| cx.now().timestamp() >= d);
                if !nonexistent.is_empty() && !partial_now {
                    return Err(fatal(format!(
                        "input {:?} needs partitions that do not exist: {}",
                        edge.upstream,
                        nonexistent.join(", ")
                    )));
                }
                // A blocking check that failed on an upstream partition stops this one (asked
                // only when the upstream has a blocking check: most have none).
                let has_blocking = self.registry.get(&up.plugin).is_some_and(|p| {
                    p.definitions()
                        .checks
                        .iter()
                        .any(|c| c.blocking && c.asset == edge.upstream)
                });
                let blocked = if has_blocking {
                    self.state
                        .check_results(&edge.upstream, &wanted)
                        .map_err(|e| fatal(report(&e)))?
                        .into_iter()
                        .find(|c| c.blocking && c.outcome == "fail")
                } else {
                    None
                };
                if let Some(c) = blocked {
                    return Err(fatal(format!(
                        "upstream partition {}[{}] failed the blocking check {:?}: {}",
                        edge.upstream,
                        c.partition,
                        c.check,
                        c.description.as_deref().unwrap_or("no description")
                    )));
                }
                let records = self
                    .state
                    .partitions_of(&edge.upstream, &wanted)
                    .map_err(|e| fatal(report(&e)))?;
                let by_key: HashMap<&str, &PartitionRecord> =
                    records.iter().map(|r| (r.partition.as_str(), r)).collect();
                // (label, blob) of each value to deliver, then their bytes in one read.
                let mut wanted_blobs: Vec<(String, &str)> = Vec::new();
                let mut blobs_seen = HashSet::new();
                let latest = read.entry(edge.upstream.clone()).or_default();
                for k in &wanted {
                    let Some(m) = by_key
                        .get(k.as_str())
                        .and_then(|r| r.materialization.as_ref())
                    else {
                        if partial_now {
                            continue;
                        }
                        let shown = if k.is_empty() { "(unpartitioned)" } else { k };
                        let until = deadline
                            .and_then(|d| chrono::DateTime::<chrono::Utc>::from_timestamp(d, 0))
                            .map(|d| {
                                format!(
                                    "; the roll-up waits until {} and then runs with what exists",
                                    d.to_rfc3339()
                                )
                            })
                            .unwrap_or_default();
                        // Not a failure of this run, and retrying on a timer would not
                        // help: it ends waiting, and runs again when asked (or eagerly, or
                        // at its roll-up deadline).
                        return Err(Failure {
                            message: format!(
                                "upstream partition {}[{shown}] has not been materialized{until}",
                                edge.upstream
                            ),
                            retryable: false,
                            waiting: true,
                        });
                    };
                    latest.insert(k.clone(), (m.id, m.data_version.clone()));
                    // A range run's value for the whole range is one blob for all its keys:
                    // deliver it once, labelled with the range.
                    if !blobs_seen.insert(m.blob.as_str()) {
                        continue;
                    }
                    let label = m
                        .blob
                        .rsplit_once('/')
                        .map_or_else(|| k.clone(), |(_, f)| IoStore::key_of(f));
                    wanted_blobs.push((label, m.blob.as_str()));
                }
                let partitions = self.read_blobs(wanted_blobs).map_err(|e| Failure {
                    message: report(&e),
                    retryable: true,
                    waiting: false,
                })?;
                inputs.push(InputData {
                    asset: edge.upstream.clone(),
                    partitions,
                });
            }
        }
        Ok((inputs, read))
    }
}

/// Evaluates the plugin's checks on the assets a call just produced, over each key's value.
/// A check that cannot run fails its partitions, so a blocking one still blocks.
fn run_checks(
    plugin: &tessera_runtime::Plugin,
    outputs: &[tessera_runtime::Output],
    keys: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<crate::state::NewCheckResults> {
    let mut out = Vec::new();
    for check in &plugin.definitions().checks {
        if !outputs.iter().any(|o| o.asset == check.asset) {
            continue;
        }
        let mut values: Vec<(String, Vec<u8>)> = Vec::new();
        for o in outputs.iter().filter(|o| o.asset == check.asset) {
            match &o.partition {
                Some(k) => values.push((k.clone(), o.data.clone())),
                None => values.extend(keys.iter().map(|k| (k.clone(), o.data.clone()))),
            }
        }
        let results = match plugin.evaluate_check(&check.name, &values, now) {
            Ok(results) => results
                .into_iter()
                .map(|r| crate::state::NewCheckResult {
                    partition: r.partition,
                    outcome: r.outcome.to_string(),
                    description: r.description,
                    metadata: serde_json::to_value(&r.metadata).unwrap_or_default(),
                })
                .collect(),
            Err(e) => {
                tracing::warn!(check = %check.name, error = %e, "asset check could not run");
                values
                    .iter()
                    .map(|(k, _)| crate::state::NewCheckResult {
                        partition: k.clone(),
                        outcome: "fail".to_string(),
                        description: Some(format!("the check could not run: {}", report(&e))),
                        metadata: serde_json::Value::Null,
                    })
                    .collect::<Vec<_>>()
            }
        };
        out.push(crate::state::NewCheckResults {
            asset: check.asset.clone(),
            check: check.name.clone(),
            blocking: check.blocking,
            results,
        });
    }
    out
}

/// When a `wait_until` roll-up runs with what exists: the deadline after the end of the last
/// downstream window among `keys` (unix seconds); `None` for other policies.
pub(crate) fn rollup_deadline(node: &AssetNode, edge: &Edge, keys: &[String]) -> Option<i64> {
    let RollupPolicy::WaitUntil(after) = edge.rollup else {
        return None;
    };
    let def = node.partitions.as_ref()?;
    let end = keys
        .iter()
        .filter_map(|k| def.time_window_for_key(k).ok())
        .map(|w| w.end)
        .max()?;
    Some(end.saturating_add(i64::try_from(after.as_secs()).unwrap_or(i64::MAX)))
}

/// The most runs one process executes at once: each is a thread and a plugin instance.
pub const MAX_CONCURRENCY: usize = 256;

/// The most runs claimed (and successes recorded) per transaction.
const CLAIM_BATCH: u32 = 32;
/// How long a claimed run may wait for its worker, and a success for its record: the price
/// of batching transactions, never of holding work another worker or process could do.
const HOLD_BUDGET: Duration = Duration::from_millis(20);

/// The executor state one `run_scope` call shares between its workers and its monitor.
struct Shared<'a> {
    scope: &'a RunScope,
    progress: &'a (dyn Fn(&Progress) + Sync),
    /// One per worker.
    slots: Vec<Slot>,
    summary: Mutex<QueueSummary>,
    first_error: Mutex<Option<EngineError>>,
    abort: std::sync::atomic::AtomicBool,
    workers_done: std::sync::atomic::AtomicUsize,
    /// Wakes the monitor when the last worker is done.
    monitor: (Mutex<()>, Condvar),
}

impl Shared<'_> {
    /// Records the first error and stops every worker: the command fails with it instead of
    /// waiting for runs nobody will finish.
    fn fail(&self, e: EngineError) {
        let mut f = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        f.get_or_insert(e);
        self.abort.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A worker's claimed runs and its finished ones: its own, so that workers neither wait for
/// nor free each other's (the monitor steps in only for a worker stuck in a slow run).
#[derive(Default)]
struct Slot {
    claimed: Mutex<Claimed>,
    done: Mutex<Finished>,
}

impl Slot {
    fn take_claimed(&self) -> Vec<(String, i64)> {
        self.claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .runs
            .drain(..)
            .map(|r| (r.id, r.claim))
            .collect()
    }
}

/// Runs claimed but not started, and when they were claimed.
#[derive(Default)]
struct Claimed {
    runs: std::collections::VecDeque<RunRecord>,
    at: Option<std::time::Instant>,
}

/// Runs finished, their successes buffered for one transaction.
#[derive(Default)]
struct Finished {
    completed: Vec<Completed>,
    finished: Vec<(String, Ended)>,
    /// When the oldest of them started.
    oldest: Option<std::time::Instant>,
}
/// Keys of one run between checkpoints.
const CHECKPOINT_EVERY: u64 = 64;
/// Outputs up to this size are stored in the database (a row keyed by name: small rows keep
/// that table compact); larger ones as files.
const INLINE_BLOB_BYTES: usize = 16 << 10;

/// How a run ended, for its progress report (its recorded success is in `Finished`).
enum Ended {
    Succeeded(u64),
    Retried(String),
    Failed(String),
    Waiting(String),
    Canceled,
    /// The host's claim was taken over (its lease expired): nothing of it was recorded.
    Lost,
}

enum Outcome {
    Success { partitions: u64, done: Completed },
    Retry { error: String },
    Failed { error: String },
    Waiting { reason: String },
    Canceled,
    Lost,
}

/// A run's end that could not be recorded: because the claim was taken over (the run's
/// outcome now belongs to its new holder), or an error to pass on.
fn lost(e: EngineError) -> Result<Outcome, EngineError> {
    match e {
        EngineError::LeaseLost { run } => {
            tracing::warn!(run = %run, "lease lost before the run's end was recorded; dropped");
            Ok(Outcome::Lost)
        }
        e => Err(e),
    }
}

struct Failure {
    message: String,
    retryable: bool,
    /// Not a failure: an upstream partition is missing (see `RunStatus::WaitingForUpstream`).
    waiting: bool,
}

/// A failure the plugin reported, a timeout, a trap or a host hiccup may pass on a retry
/// (late data, a flaky source); a contract violation or a missing function will not.
fn retryable(e: &CallError) -> bool {
    !matches!(
        e,
        CallError::UnknownComputation { .. }
            | CallError::UnknownSensor { .. }
            | CallError::InvalidInput { .. }
            | CallError::InvalidResult { .. }
    )
}

pub(crate) fn run_keys(selection: &RunSelection) -> Vec<String> {
    match selection {
        RunSelection::None => vec![String::new()],
        RunSelection::Keys { keys } => keys.clone(),
        RunSelection::Range(r) => vec![r.to_string()],
    }
}
