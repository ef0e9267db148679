//! Runs: stored, claimed under a lease, finished, their events and logs.

use std::collections::BTreeMap;
use std::time::Duration;

use rusqlite::{OptionalExtension, Transaction, params};

use super::*;
use crate::error::EngineError;

impl RunStore for State {
    fn insert_runs(
        &self,
        backfill: Option<&BackfillRecord>,
        runs: &[NewRun],
    ) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            if let Some(b) = backfill {
                tx.execute(
                    "INSERT INTO backfills (id, seq, status, assets, description, partitions, created_at)
                     VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM backfills), ?2, ?3, ?4, ?5, ?6)",
                    params![b.id, b.status.as_str(), json(&b.assets), b.description, b.partitions as i64, b.created_at],
                )?;
            }
            let mut seq: i64 =
                tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM runs", [], |r| r.get(0))?;
            for r in runs {
                seq += 1;
                insert_run(tx, seq, r, now)?;
            }
            // A backfill that selected nothing is done at once.
            if let Some(b) = backfill {
                settle_backfill(tx, &b.id, now)?;
            }
            Ok(())
        })
    }

    fn seq_range(&self, first: &str, last: &str) -> Result<Option<RunScope>, EngineError> {
        self.read(|c| {
            let seq = |id: &str| -> rusqlite::Result<Option<i64>> {
                c.prepare_cached("SELECT seq FROM runs WHERE id = ?1")?
                    .query_row(params![id], |r| r.get(0))
                    .optional()
            };
            Ok(match (seq(first)?, seq(last)?) {
                (Some(a), Some(b)) => Some(RunScope::Seqs {
                    first: a.min(b),
                    last: a.max(b),
                }),
                _ => None,
            })
        })
    }

    fn claim_next(&self, owner: &str, scope: &RunScope) -> Result<Option<RunRecord>, EngineError> {
        Ok(self
            .claim_batch(
                owner,
                scope,
                1,
                &BTreeMap::new(),
                DEFAULT_LEASE,
                &BTreeMap::new(),
            )?
            .into_iter()
            .next())
    }

    fn claim_batch(
        &self,
        owner: &str,
        scope: &RunScope,
        max: u32,
        pools: &BTreeMap<String, usize>,
        lease: Duration,
        served: &BTreeMap<String, String>,
    ) -> Result<Vec<RunRecord>, EngineError> {
        let now = now_ms();
        let lease_until = now.saturating_add(lease_ms(lease));
        let (backfill, first, last) = scope.params();
        self.write(|tx| {
            let blocked = json(&blocked_plugins(tx, served)?);
            // With pools, look further ahead: some candidates may have to wait.
            let look = if pools.is_empty() { max.max(1) } else { max.max(1) * 8 };
            let sql = format!(
                "SELECT {RUN_COLUMNS}, r.pool FROM runs r
                 WHERE r.status = 'queued' AND r.not_before <= ?1 AND (?2 IS NULL OR r.backfill_id = ?2)
                   AND r.seq BETWEEN ?4 AND ?5
                   AND r.plugin NOT IN (SELECT value FROM json_each(?6))
                   AND NOT EXISTS (SELECT 1 FROM run_deps d JOIN runs u ON u.id = d.depends_on
                                   WHERE d.run_id = r.id AND u.status != 'success')
                 ORDER BY r.seq LIMIT ?3"
            );
            let candidates: Vec<(RunRecord, Option<String>)> = {
                let mut s = tx.prepare_cached(&sql)?;
                s.query_map(params![now, backfill, look, first, last, blocked], |row| {
                    Ok((run_from_row(row)?, row.get(18)?))
                })?
                .collect::<Result<_, _>>()?
            };
            let mut running: BTreeMap<String, usize> = BTreeMap::new();
            let mut runs = Vec::new();
            for (run, pool) in candidates {
                if runs.len() >= max.max(1) as usize {
                    break;
                }
                if let Some((name, limit)) = pool.as_ref().and_then(|p| pools.get_key_value(p)) {
                    let busy = match running.get(name) {
                        Some(n) => *n,
                        None => {
                            let n: i64 = tx
                                .prepare_cached(
                                    "SELECT COUNT(*) FROM runs WHERE pool = ?1 AND status = 'running'",
                                )?
                                .query_row(params![name], |r| r.get(0))?;
                            n as usize
                        }
                    };
                    if busy >= *limit {
                        running.insert(name.clone(), busy);
                        continue;
                    }
                    running.insert(name.clone(), busy + 1);
                }
                runs.push(run);
            }
            let mut claim = tx.prepare_cached(
                "UPDATE runs SET status = 'running', owner = ?2, attempts = attempts + 1,
                        started_at = COALESCE(started_at, ?3), lease_until = ?4,
                        lease_gen = lease_gen + 1, plugin_version = ?5
                 WHERE id = ?1",
            )?;
            for run in &mut runs {
                let version = served.get(&run.plugin);
                claim.execute(params![run.id, owner, now, lease_until, version])?;
                run.status = RunStatus::Running;
                run.attempts += 1;
                run.claim += 1;
            }
            Ok(runs)
        })
    }

    fn release(&self, runs: &[(String, i64)]) -> Result<(), EngineError> {
        self.write(|tx| {
            let mut s = tx.prepare_cached(
                "UPDATE runs SET status = 'queued', owner = NULL, attempts = MAX(attempts - 1, 0)
                 WHERE id = ?1 AND status = 'running' AND lease_gen = ?2",
            )?;
            for (id, claim) in runs {
                s.execute(params![id, claim])?;
            }
            Ok(())
        })
    }

    fn finish_successes(&self, runs: &[Completed]) -> Result<Vec<String>, EngineError> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        self.write(|tx| {
            let mut lost = Vec::new();
            for r in runs {
                if !holds_claim(tx, &r.run_id, r.claim)? {
                    lost.push(r.run_id.clone());
                    continue;
                }
                insert_blobs(tx, &r.blobs)?;
                record_materializations(tx, &r.run_id, &r.plugin, &r.materializations, now)?;
                super::checks::insert_check_results(tx, &r.run_id, &r.checks, now)?;
                tx.prepare_cached(
                    "UPDATE runs SET status = 'success', ended_at = ?2, error = NULL, owner = NULL WHERE id = ?1",
                )?
                .execute(params![r.run_id, now])?;
                for (level, message) in &r.logs {
                    event(tx, &r.run_id, level, message, now)?;
                }
            }
            let backfills: std::collections::BTreeSet<&str> =
                runs.iter().filter_map(|r| r.backfill_id.as_deref()).collect();
            for b in backfills {
                settle_backfill(tx, b, now)?;
            }
            Ok(lost)
        })
    }

    fn log_many(&self, run_id: &str, lines: &[(String, String)]) -> Result<(), EngineError> {
        if lines.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        self.write(|tx| {
            for (level, message) in lines {
                event(tx, run_id, level, message, now)?;
            }
            Ok(())
        })
    }

    fn blob(&self, name: &str) -> Result<Option<Vec<u8>>, EngineError> {
        self.read(|c| {
            c.prepare_cached("SELECT data FROM blobs WHERE name = ?1")?
                .query_row(params![name], |r| r.get(0))
                .optional()
        })
    }

    fn blobs(&self, names: &[&str]) -> Result<Vec<Option<Vec<u8>>>, EngineError> {
        self.read(|c| {
            let mut statement = c.prepare_cached("SELECT data FROM blobs WHERE name = ?1")?;
            names
                .iter()
                .map(|name| statement.query_row(params![name], |r| r.get(0)).optional())
                .collect()
        })
    }

    fn pending(&self, scope: &RunScope) -> Result<Pending, EngineError> {
        let (backfill, first, last) = scope.params();
        self.read(|c| {
            c.query_row(
                "SELECT
                    COALESCE(SUM(status = 'queued'), 0),
                    COALESCE(SUM(status = 'running'), 0),
                    MIN(CASE WHEN status = 'queued' THEN not_before END)
                 FROM runs WHERE status IN ('queued', 'running') AND (?1 IS NULL OR backfill_id = ?1)
                   AND seq BETWEEN ?2 AND ?3",
                params![backfill, first, last],
                |r| {
                    Ok(Pending {
                        queued: r.get::<_, i64>(0)? as u64,
                        running: r.get::<_, i64>(1)? as u64,
                        next_retry_at: r.get(2)?,
                    })
                },
            )
        })
    }

    fn record_progress(
        &self,
        run_id: &str,
        claim: Option<i64>,
        plugin: &str,
        blobs: &[NewBlob],
        materializations: &[NewMaterialization],
        checks: &[NewCheckResults],
    ) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            if let Some(claim) = claim
                && !holds_claim(tx, run_id, claim)?
            {
                return Ok(Err(EngineError::LeaseLost {
                    run: run_id.to_string(),
                }));
            }
            insert_blobs(tx, blobs)?;
            record_materializations(tx, run_id, plugin, materializations, now)?;
            super::checks::insert_check_results(tx, run_id, checks, now).map(Ok)
        })?
    }

    fn finish_failure(
        &self,
        run: &RunRecord,
        error: &str,
        failed_partitions: &[(String, String)],
        retry_after_ms: Option<i64>,
    ) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            if !holds_claim(tx, &run.id, run.claim)? {
                return Ok(Err(EngineError::LeaseLost {
                    run: run.id.clone(),
                }));
            }
            if let Some(delay) = retry_after_ms {
                tx.execute(
                    "UPDATE runs SET status = 'queued', owner = NULL, not_before = ?2, error = ?3 WHERE id = ?1",
                    params![run.id, now + delay, error],
                )?;
                event(
                    tx,
                    &run.id,
                    "warn",
                    &format!("attempt {} failed, retrying in {delay} ms: {error}", run.attempts),
                    now,
                )?;
                return Ok(Ok(()));
            }
            tx.execute(
                "UPDATE runs SET status = 'failed', owner = NULL, ended_at = ?2, error = ?3 WHERE id = ?1",
                params![run.id, now, error],
            )?;
            let mut mark = tx.prepare_cached(
                "INSERT INTO partition_status (asset, partition, status, failed_run, error, updated_at, changed)
                 VALUES (?1, ?2, 'failed', ?3, ?4, ?5, ?6)
                 ON CONFLICT (asset, partition) DO UPDATE SET
                    status = 'failed', failed_run = ?3, error = ?4, updated_at = ?5, changed = ?6",
            )?;
            if !failed_partitions.is_empty() {
                let changed = next_change(tx)?;
                for (asset, partition) in failed_partitions {
                    mark.execute(params![asset, partition, run.id, error, now, changed])?;
                }
            }
            event(tx, &run.id, "error", &format!("run failed: {error}"), now)?;
            end_with_dependents(
                tx,
                &run.id,
                now,
                RunStatus::Canceled,
                &format!("upstream run {} failed", run.id),
            )
            .map(Ok)
        })?
    }

    fn finish_waiting(&self, run: &RunRecord, reason: &str) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            if !holds_claim(tx, &run.id, run.claim)? {
                return Ok(Err(EngineError::LeaseLost {
                    run: run.id.clone(),
                }));
            }
            tx.execute(
                "UPDATE runs SET status = 'waiting_for_upstream', owner = NULL, ended_at = ?2, error = ?3
                 WHERE id = ?1",
                params![run.id, now, reason],
            )?;
            event(tx, &run.id, "warn", &format!("waiting for upstream: {reason}"), now)?;
            end_with_dependents(
                tx,
                &run.id,
                now,
                RunStatus::WaitingForUpstream,
                &format!("upstream run {} is waiting for upstream data", run.id),
            )
            .map(Ok)
        })?
    }

    fn renew_leases(
        &self,
        owner: &str,
        lease: Duration,
        runs: &[(String, i64)],
    ) -> Result<u64, EngineError> {
        if runs.is_empty() {
            return Ok(0);
        }
        let until = now_ms().saturating_add(lease_ms(lease));
        self.write(|tx| {
            let mut renew = tx.prepare_cached(
                "UPDATE runs SET lease_until = ?2
                 WHERE id = ?3 AND lease_gen = ?4 AND owner = ?1 AND status = 'running'",
            )?;
            let mut n = 0;
            for (id, claim) in runs {
                n += renew.execute(params![owner, until, id, claim])?;
            }
            Ok(n as u64)
        })
    }

    fn requeue_expired(&self) -> Result<u64, EngineError> {
        let now = now_ms();
        self.write(|tx| {
            let expired: Vec<String> = {
                let mut s = tx.prepare_cached(
                    "SELECT id FROM runs WHERE status = 'running'
                       AND (lease_until IS NULL OR lease_until < ?1)",
                )?;
                s.query_map(params![now], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            for id in &expired {
                tx.execute(
                    "UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL,
                            attempts = MAX(attempts - 1, 0) WHERE id = ?1",
                    params![id],
                )?;
                event(
                    tx,
                    id,
                    "warn",
                    "its host stopped renewing its lease mid-run; queued again",
                    now,
                )?;
            }
            Ok(expired.len() as u64)
        })
    }

    fn run(&self, id: &str) -> Result<Option<RunRecord>, EngineError> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                params![id],
                |r| run_from_row(r),
            )
            .optional()
        })
    }

    fn run_status(&self, id: &str) -> Result<Option<RunStatus>, EngineError> {
        self.read(|c| {
            c.query_row("SELECT status FROM runs WHERE id = ?1", params![id], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .map(|s| {
                RunStatus::parse(&s)
                    .ok_or_else(|| undecodable("runs", id, (1, "status"), &s, "a run status"))
            })
            .transpose()
        })
    }

    fn runs(&self, limit: u32, backfill: Option<&str>) -> Result<Vec<RunRecord>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE (?2 IS NULL OR backfill_id = ?2) ORDER BY seq DESC LIMIT ?1"
            ))?;
            s.query_map(params![limit, backfill], |r| run_from_row(r))?
                .collect()
        })
    }

    fn runs_matching(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, EngineError> {
        self.read(|c| {
            // The cursor as a sequence number, compared directly (not under an OR) so that
            // a page deep in the history starts at its place in the index.
            let before: i64 = match &filter.before {
                None => i64::MAX,
                Some(id) => {
                    match c
                        .query_row("SELECT seq FROM runs WHERE id = ?1", params![id], |r| {
                            r.get(0)
                        })
                        .optional()?
                    {
                        Some(seq) => seq,
                        None => return Ok(Vec::new()),
                    }
                }
            };
            // A run touches a partition when it recorded it, names it, or its range holds it
            // (range ends compared as text: exact for the time formats keys use).
            let mut s = c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs r
                 WHERE r.seq < ?7
                   AND (?2 IS NULL OR r.backfill_id = ?2)
                   AND (?3 IS NULL OR r.status = ?3)
                   AND (?4 IS NULL OR r.created_at >= ?4)
                   AND (?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(r.assets) WHERE value = ?5))
                   AND (?6 IS NULL
                        OR EXISTS (SELECT 1 FROM materializations m
                                   WHERE m.run_id = r.id AND m.partition = ?6)
                        OR EXISTS (SELECT 1 FROM json_each(r.selection, '$.keys') WHERE value = ?6)
                        OR (json_extract(r.selection, '$.start') <= ?6
                            AND json_extract(r.selection, '$.end') >= ?6))
                   AND (?8 IS NULL OR r.created_at < ?8)
                 ORDER BY r.seq DESC LIMIT ?1"
            ))?;
            s.query_map(
                params![
                    filter.limit,
                    filter.backfill,
                    filter.status.map(RunStatus::as_str),
                    filter.since,
                    filter.asset,
                    filter.partition,
                    before,
                    filter.until
                ],
                |r| run_from_row(r),
            )?
            .collect()
        })
    }

    fn run_events(&self, id: &str) -> Result<Vec<RunEvent>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare(
                "SELECT seq, at, level, message FROM run_events WHERE run_id = ?1 ORDER BY seq",
            )?;
            s.query_map(params![id], |r| {
                Ok(RunEvent {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    level: r.get(2)?,
                    message: r.get(3)?,
                })
            })?
            .collect()
        })
    }

    fn log(&self, run_id: &str, level: &str, message: &str) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| event(tx, run_id, level, message, now))
    }

    fn done_in_run(&self, run_id: &str) -> Result<Vec<(String, String)>, EngineError> {
        self.read(|c| {
            let mut s =
                c.prepare("SELECT asset, partition FROM materializations WHERE run_id = ?1")?;
            s.query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    fn run_counts(&self) -> Result<Vec<(String, u64)>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare("SELECT status, COUNT(*) FROM runs GROUP BY status")?;
            s.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect()
        })
    }
}

pub(super) fn insert_run(
    tx: &Transaction<'_>,
    seq: i64,
    r: &NewRun,
    created_at: i64,
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO runs (id, seq, status, plugin, computation, assets, selection, partitions,
                           backfill_id, run_key, trigger, tags, max_attempts, created_at, pool)
         VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    insert.execute(params![
        r.id,
        seq,
        r.plugin,
        r.computation,
        json(&r.assets),
        json(&r.selection),
        r.partitions as i64,
        r.backfill_id,
        r.run_key,
        r.trigger,
        json(&r.tags),
        i64::from(r.max_attempts.max(1)),
        created_at,
        r.pool,
    ])?;
    let mut dep =
        tx.prepare_cached("INSERT OR IGNORE INTO run_deps (run_id, depends_on) VALUES (?1, ?2)")?;
    for d in &r.depends_on {
        dep.execute(params![r.id, d])?;
    }
    Ok(())
}

pub(super) fn insert_blobs(tx: &Transaction<'_>, blobs: &[NewBlob]) -> rusqlite::Result<()> {
    if blobs.is_empty() {
        return Ok(());
    }
    let mut s = tx.prepare_cached(
        "INSERT INTO blobs (name, data) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET data = ?2",
    )?;
    for b in blobs {
        s.execute(params![b.name, b.data])?;
    }
    Ok(())
}

pub(super) fn event(
    tx: &Transaction<'_>,
    run_id: &str,
    level: &str,
    message: &str,
    at: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO run_events (run_id, seq, at, level, message)
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_events WHERE run_id = ?1), ?2, ?3, ?4)",
    )?
    .execute(params![run_id, at, level, message])?;
    Ok(())
}

pub(super) fn record_materializations(
    tx: &Transaction<'_>,
    run_id: &str,
    plugin: &str,
    materializations: &[NewMaterialization],
    now: i64,
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO materializations (asset, partition, run_id, plugin, code_version, data_version, blob, metadata, started_at, ended_at, input_hash, inputs)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (run_id, asset, partition) DO NOTHING",
    )?;
    let mut status = tx.prepare_cached(
        "INSERT INTO partition_status (asset, partition, status, materialization, updated_at, code_version, data_version, input_hash, changed)
         VALUES (?1, ?2, 'materialized', ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (asset, partition) DO UPDATE SET
            status = 'materialized', materialization = ?3, failed_run = NULL, error = NULL,
            updated_at = ?4, code_version = ?5, data_version = ?6, input_hash = ?7, changed = ?8",
    )?;
    let mut changed = None;
    for m in materializations {
        let inserted = insert.execute(params![
            m.asset,
            m.partition,
            run_id,
            plugin,
            m.code_version,
            m.data_version,
            m.blob,
            json(&m.metadata),
            m.started_at,
            m.ended_at,
            m.inputs.hash,
            m.inputs.listed.as_ref().map(json),
        ])?;
        if inserted == 0 {
            // Recorded before (a resumed run): never twice.
            continue;
        }
        status.execute(params![
            m.asset,
            m.partition,
            tx.last_insert_rowid(),
            now,
            m.code_version,
            m.data_version,
            m.inputs.hash,
            match changed {
                Some(c) => c,
                None => *changed.insert(next_change(tx)?),
            },
        ])?;
    }
    Ok(())
}

/// The stamp of this transaction's writes to `partition_status`: larger than any stamp
/// committed before (writers are serialized; one index lookup).
pub(super) fn next_change(tx: &Transaction<'_>) -> rusqlite::Result<i64> {
    tx.prepare_cached("SELECT COALESCE(MAX(changed), 0) + 1 FROM partition_status")?
        .query_row([], |r| r.get(0))
}

/// Cancels every queued run downstream of a failed one; returns their ids.
/// After `run_id` ended without success: its queued dependents end with `status` and
/// `error`, and the backfills of all of them settle, in the same transaction.
fn end_with_dependents(
    tx: &Transaction<'_>,
    run_id: &str,
    now: i64,
    status: RunStatus,
    error: &str,
) -> rusqlite::Result<()> {
    let ended = end_dependents(tx, run_id, now, status, error)?;
    settle_backfills_of(
        tx,
        std::iter::once(run_id).chain(ended.iter().map(String::as_str)),
        now,
    )
}

/// Ends every queued run downstream of `run_id` with `status` and `error`; returns them.
pub(super) fn end_dependents(
    tx: &Transaction<'_>,
    run_id: &str,
    now: i64,
    status: RunStatus,
    error: &str,
) -> rusqlite::Result<Vec<String>> {
    // Breadth-first over the dependency edges: everything downstream of a run that did not
    // succeed can never start.
    let mut canceled = Vec::new();
    let mut frontier = vec![run_id.to_string()];
    while let Some(id) = frontier.pop() {
        let dependents: Vec<String> = {
            let mut s = tx.prepare_cached(
                "SELECT d.run_id FROM run_deps d JOIN runs r ON r.id = d.run_id
                 WHERE d.depends_on = ?1 AND r.status = 'queued'",
            )?;
            s.query_map(params![id], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        for d in dependents {
            tx.execute(
                "UPDATE runs SET status = ?4, ended_at = ?2, error = ?3 WHERE id = ?1",
                params![d, now, error, status.as_str()],
            )?;
            canceled.push(d.clone());
            frontier.push(d);
        }
    }
    Ok(canceled)
}

/// Whether `claim` is still the run's latest claim and the run is running: only then may
/// its holder record anything (the write transaction is exclusive, so this holds until it
/// commits).
fn holds_claim(tx: &Transaction<'_>, run_id: &str, claim: i64) -> rusqlite::Result<bool> {
    tx.prepare_cached("SELECT 1 FROM runs WHERE id = ?1 AND status = 'running' AND lease_gen = ?2")?
        .query_row(params![run_id, claim], |_| Ok(()))
        .optional()
        .map(|o| o.is_some())
}

/// The plugins whose runs a host serving `served` may not claim now: those whose recorded
/// current version differs from the one it serves, and those with a run going under
/// another version (a rollout waits for the old version's runs to end).
pub(super) fn blocked_plugins(
    tx: &Transaction<'_>,
    served: &BTreeMap<String, String>,
) -> rusqlite::Result<Vec<String>> {
    if served.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<(String, String)> = tx
        .prepare_cached(
            "SELECT plugin, version FROM plugin_versions
             UNION
             SELECT DISTINCT plugin, plugin_version FROM runs
             WHERE status = 'running' AND plugin_version IS NOT NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(other_versions(served, found))
}

/// The plugins among `found` (plugin, version: the recorded current ones and those of runs
/// going) that run under a version other than the one `served` names: a claim skips their
/// runs. Both stores decide with this.
pub(super) fn other_versions(
    served: &BTreeMap<String, String>,
    found: impl IntoIterator<Item = (String, String)>,
) -> Vec<String> {
    let blocked: std::collections::BTreeSet<String> = found
        .into_iter()
        .filter(|(plugin, version)| served.get(plugin).is_some_and(|v| v != version))
        .map(|(plugin, _)| plugin)
        .collect();
    blocked.into_iter().collect()
}
