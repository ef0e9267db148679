//! Runs on PostgreSQL: stored in batches, claimed with `SKIP LOCKED` under a lease, finished.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use deadpool_postgres::GenericClient;

use super::*;
use crate::state::{
    BackfillRecord, Completed, DEFAULT_LEASE, NewBlob, NewCheckResults, NewMaterialization, NewRun,
    Pending, RUN_COLUMNS, RunEvent, RunFilter, RunRecord, RunScope, RunStatus, RunStore,
    decode_error, lease_ms, now_ms, run_from_row,
};

impl RunStore for PgState {
    fn insert_runs(
        &self,
        backfill: Option<&BackfillRecord>,
        runs: &[NewRun],
    ) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(async |tx| {
            lock(tx, LOCK_RUNS, 0).await?;
            if let Some(b) = backfill {
                exec(
                    tx,
                    "INSERT INTO backfills (id, seq, status, assets, description, partitions, created_at)
                     VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM backfills), $2, $3, $4, $5, $6)",
                    &[
                        &b.id,
                        &b.status.as_str(),
                        &json(&b.assets),
                        &b.description,
                        &(b.partitions as i64),
                        &b.created_at,
                    ],
                )
                .await?;
            }
            insert_runs(tx, runs, now).await?;
            if let Some(b) = backfill {
                settle_backfill(tx, &b.id, now).await?;
            }
            Ok(())
        })
    }

    fn seq_range(&self, first: &str, last: &str) -> Result<Option<RunScope>, EngineError> {
        self.read(async |c| {
            let r = row(
                c,
                "SELECT (SELECT seq FROM runs WHERE id = $1), (SELECT seq FROM runs WHERE id = $2)",
                &[&first, &last],
            )
            .await?;
            Ok(match (r.opt_int(0)?, r.opt_int(1)?) {
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
        let (backfill, first, last) = scope.params();
        let max = max.max(1) as usize;
        // With pools, look further ahead: some candidates may have to wait.
        let look = if pools.is_empty() { max } else { max * 8 } as i64;
        self.write(async |tx| {
            let now = now_ms();
            let lease_until = now.saturating_add(lease_ms(lease));
            let blocked = blocked_plugins(tx, served).await?;
            let candidates = rows(
                tx,
                &format!(
                    "SELECT {RUN_COLUMNS}, r.pool FROM runs r
                     WHERE r.status = 'queued' AND r.not_before <= $1
                       AND ($2::text IS NULL OR r.backfill_id = $2)
                       AND r.seq BETWEEN $4 AND $5
                       AND NOT (r.plugin = ANY($6))
                       AND NOT EXISTS (SELECT 1 FROM run_deps d JOIN runs u ON u.id = d.depends_on
                                       WHERE d.run_id = r.id AND u.status <> 'success')
                     ORDER BY r.seq LIMIT $3
                     FOR UPDATE OF r SKIP LOCKED"
                ),
                &[&now, &backfill, &look, &first, &last, &blocked],
            )
            .await?;
            let candidates = candidates
                .iter()
                .map(|r| Ok((run_from_row(r)?, r.opt_text(18)?)))
                .collect::<Result<Vec<_>, PgError>>()?;
            // A pool's running runs are counted under its lock, taken in name order (two
            // hosts never wait for each other's pools crosswise).
            let limited: BTreeSet<&String> = candidates
                .iter()
                .filter_map(|(_, p)| pools.get_key_value(p.as_ref()?).map(|(name, _)| name))
                .collect();
            let mut running: BTreeMap<&str, usize> = BTreeMap::new();
            for name in limited {
                lock(tx, LOCK_POOL, name_key(name)).await?;
                let n = row(
                    tx,
                    "SELECT COUNT(*) FROM runs WHERE pool = $1 AND status = 'running'",
                    &[name],
                )
                .await?
                .int(0)?;
                running.insert(name, n as usize);
            }
            let mut runs = Vec::new();
            for (run, pool) in candidates {
                if runs.len() >= max {
                    break;
                }
                if let Some((name, limit)) = pool.as_ref().and_then(|p| pools.get_key_value(p)) {
                    let busy = running.entry(name.as_str()).or_default();
                    if *busy >= *limit {
                        continue;
                    }
                    *busy += 1;
                }
                runs.push(run);
            }
            let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
            let versions: Vec<Option<&str>> = runs
                .iter()
                .map(|r| served.get(&r.plugin).map(String::as_str))
                .collect();
            exec(
                tx,
                "UPDATE runs r SET status = 'running', owner = $2, attempts = attempts + 1,
                        started_at = COALESCE(started_at, $3), lease_until = $4,
                        lease_gen = lease_gen + 1, plugin_version = c.version
                 FROM UNNEST($1::text[], $5::text[]) AS c(id, version) WHERE r.id = c.id",
                &[&ids, &owner, &now, &lease_until, &versions],
            )
            .await?;
            for run in &mut runs {
                run.status = RunStatus::Running;
                run.attempts += 1;
                run.claim += 1;
            }
            Ok(runs)
        })
    }

    fn release(&self, runs: &[(String, i64)]) -> Result<(), EngineError> {
        let (ids, claims): (Vec<&str>, Vec<i64>) =
            runs.iter().map(|(id, c)| (id.as_str(), *c)).unzip();
        self.write(async |tx| {
            exec(
                tx,
                "UPDATE runs r SET status = 'queued', owner = NULL,
                        attempts = GREATEST(attempts - 1, 0)
                 FROM UNNEST($1::text[], $2::bigint[]) AS c(id, claim)
                 WHERE r.id = c.id AND r.status = 'running' AND r.lease_gen = c.claim",
                &[&ids, &claims],
            )
            .await
            .map(drop)
        })
    }

    fn finish_successes(&self, all: &[Completed]) -> Result<Vec<String>, EngineError> {
        if all.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let (ids, claims): (Vec<&str>, Vec<i64>) =
            all.iter().map(|r| (r.run_id.as_str(), r.claim)).unzip();
        self.write(async |tx| {
            // The runs' rows first, each only by its latest claim: locked from here to the
            // commit, so a host requeueing expired leases waits, then finds them ended.
            let ended: BTreeSet<String> = rows(
                tx,
                "UPDATE runs r SET status = 'success', ended_at = $3, error = NULL, owner = NULL
                 FROM UNNEST($1::text[], $2::bigint[]) AS c(id, claim)
                 WHERE r.id = c.id AND r.status = 'running' AND r.lease_gen = c.claim
                 RETURNING r.id",
                &[&ids, &claims, &now],
            )
            .await?
            .iter()
            .map(|r| r.text(0))
            .collect::<Result<_, _>>()?;
            let runs: Vec<&Completed> = all.iter().filter(|r| ended.contains(&r.run_id)).collect();
            let blobs: Vec<&NewBlob> = runs.iter().flat_map(|r| &r.blobs).collect();
            insert_blobs(tx, &blobs).await?;
            let materializations: Vec<(&str, &str, &NewMaterialization)> = runs
                .iter()
                .flat_map(|r| {
                    r.materializations
                        .iter()
                        .map(|m| (r.run_id.as_str(), r.plugin.as_str(), m))
                })
                .collect();
            record_materializations(tx, &materializations, now).await?;
            let checks: Vec<(&str, &NewCheckResults)> = runs
                .iter()
                .flat_map(|r| r.checks.iter().map(|c| (r.run_id.as_str(), c)))
                .collect();
            super::checks::insert_check_results(tx, &checks, now).await?;
            let logs: Vec<(&str, &str, &str)> = runs
                .iter()
                .flat_map(|r| {
                    r.logs
                        .iter()
                        .map(|(l, m)| (r.run_id.as_str(), l.as_str(), m.as_str()))
                })
                .collect();
            events(tx, &logs, now).await?;
            let backfills: BTreeSet<&str> = runs
                .iter()
                .filter_map(|r| r.backfill_id.as_deref())
                .collect();
            for b in backfills {
                settle_backfill(tx, b, now).await?;
            }
            Ok(all
                .iter()
                .filter(|r| !ended.contains(&r.run_id))
                .map(|r| r.run_id.clone())
                .collect())
        })
    }

    fn log_many(&self, run_id: &str, lines: &[(String, String)]) -> Result<(), EngineError> {
        if lines.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let lines: Vec<(&str, &str, &str)> = lines
            .iter()
            .map(|(l, m)| (run_id, l.as_str(), m.as_str()))
            .collect();
        self.write(async |tx| events(tx, &lines, now).await)
    }

    fn blob(&self, name: &str) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.blobs(&[name])?.pop().flatten())
    }

    fn blobs(&self, names: &[&str]) -> Result<Vec<Option<Vec<u8>>>, EngineError> {
        self.read(async |c| {
            let found = rows(
                c,
                "SELECT name, data FROM blobs WHERE name = ANY($1)",
                &[&names],
            )
            .await?;
            let mut by_name: HashMap<String, Vec<u8>> = HashMap::with_capacity(found.len());
            for r in found {
                by_name.insert(r.try_get(0)?, r.try_get(1)?);
            }
            Ok(names.iter().map(|n| by_name.get(*n).cloned()).collect())
        })
    }

    fn pending(&self, scope: &RunScope) -> Result<Pending, EngineError> {
        let (backfill, first, last) = scope.params();
        self.read(async |c| {
            let r = row(
                c,
                "SELECT COUNT(*) FILTER (WHERE status = 'queued'),
                        COUNT(*) FILTER (WHERE status = 'running'),
                        MIN(not_before) FILTER (WHERE status = 'queued')
                 FROM runs WHERE status IN ('queued', 'running')
                   AND ($1::text IS NULL OR backfill_id = $1) AND seq BETWEEN $2 AND $3",
                &[&backfill, &first, &last],
            )
            .await?;
            Ok(Pending {
                queued: r.int(0)? as u64,
                running: r.int(1)? as u64,
                next_retry_at: r.opt_int(2)?,
            })
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
        let blobs: Vec<&NewBlob> = blobs.iter().collect();
        let checks: Vec<(&str, &NewCheckResults)> = checks.iter().map(|c| (run_id, c)).collect();
        let materializations: Vec<(&str, &str, &NewMaterialization)> = materializations
            .iter()
            .map(|m| (run_id, plugin, m))
            .collect();
        self.write(async |tx| {
            if let Some(claim) = claim
                && !holds_claim(tx, run_id, claim).await?
            {
                return Ok(Err(EngineError::LeaseLost {
                    run: run_id.to_string(),
                }));
            }
            insert_blobs(tx, &blobs).await?;
            record_materializations(tx, &materializations, now).await?;
            super::checks::insert_check_results(tx, &checks, now)
                .await
                .map(Ok)
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
        self.write(async |tx| {
            if !holds_claim(tx, &run.id, run.claim).await? {
                return Ok(Err(EngineError::LeaseLost { run: run.id.clone() }));
            }
            if let Some(delay) = retry_after_ms {
                exec(
                    tx,
                    "UPDATE runs SET status = 'queued', owner = NULL, not_before = $2, error = $3
                     WHERE id = $1",
                    &[&run.id, &(now + delay), &error],
                )
                .await?;
                let message = format!(
                    "attempt {} failed, retrying in {delay} ms: {error}",
                    run.attempts
                );
                return events(tx, &[(&run.id, "warn", &message)], now).await.map(Ok);
            }
            exec(
                tx,
                "UPDATE runs SET status = 'failed', owner = NULL, ended_at = $2, error = $3
                 WHERE id = $1",
                &[&run.id, &now, &error],
            )
            .await?;
            if !failed_partitions.is_empty() {
                // One row per partition: a statement may not upsert a row twice.
                let unique: BTreeSet<(&str, &str)> = failed_partitions
                    .iter()
                    .map(|(a, p)| (a.as_str(), p.as_str()))
                    .collect();
                let (assets, keys): (Vec<&str>, Vec<&str>) = unique.into_iter().unzip();
                let changed = next_change(tx).await?;
                exec(
                    tx,
                    "INSERT INTO partition_status (asset, partition, status, failed_run, error, updated_at, changed)
                     SELECT a, p, 'failed', $3, $4, $5, $6 FROM UNNEST($1::text[], $2::text[]) AS u(a, p)
                     ON CONFLICT (asset, partition) DO UPDATE SET
                        status = 'failed', failed_run = $3, error = $4, updated_at = $5, changed = $6",
                    &[&assets, &keys, &run.id, &error, &now, &changed],
                )
                .await?;
            }
            let message = format!("run failed: {error}");
            events(tx, &[(&run.id, "error", &message)], now).await?;
            end_with_dependents(
                tx,
                &run.id,
                now,
                RunStatus::Canceled,
                &format!("upstream run {} failed", run.id),
            )
            .await
            .map(Ok)
        })?
    }

    fn finish_waiting(&self, run: &RunRecord, reason: &str) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(async |tx| {
            if !holds_claim(tx, &run.id, run.claim).await? {
                return Ok(Err(EngineError::LeaseLost { run: run.id.clone() }));
            }
            exec(
                tx,
                "UPDATE runs SET status = 'waiting_for_upstream', owner = NULL, ended_at = $2, error = $3
                 WHERE id = $1",
                &[&run.id, &now, &reason],
            )
            .await?;
            let message = format!("waiting for upstream: {reason}");
            events(tx, &[(&run.id, "warn", &message)], now).await?;
            end_with_dependents(
                tx,
                &run.id,
                now,
                RunStatus::WaitingForUpstream,
                &format!("upstream run {} is waiting for upstream data", run.id),
            )
            .await
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
        let (ids, claims): (Vec<&str>, Vec<i64>) =
            runs.iter().map(|(id, c)| (id.as_str(), *c)).unzip();
        self.write(async |tx| {
            let until = now_ms().saturating_add(lease_ms(lease));
            exec(
                tx,
                "UPDATE runs r SET lease_until = $2
                 FROM UNNEST($3::text[], $4::bigint[]) AS c(id, claim)
                 WHERE r.id = c.id AND r.lease_gen = c.claim AND r.owner = $1
                   AND r.status = 'running'",
                &[&owner, &until, &ids, &claims],
            )
            .await
        })
    }

    fn requeue_expired(&self) -> Result<u64, EngineError> {
        self.write(async |tx| {
            let now = now_ms();
            let expired = rows(
                tx,
                "UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL,
                        attempts = GREATEST(attempts - 1, 0)
                 WHERE status = 'running' AND (lease_until IS NULL OR lease_until < $1)
                 RETURNING id",
                &[&now],
            )
            .await?;
            let ids: Vec<String> = expired
                .iter()
                .map(|r| r.text(0))
                .collect::<Result<_, _>>()?;
            let message = "its host stopped renewing its lease mid-run; queued again";
            let lines: Vec<(&str, &str, &str)> = ids
                .iter()
                .map(|id| (id.as_str(), "warn", message))
                .collect();
            events(tx, &lines, now).await?;
            Ok(ids.len() as u64)
        })
    }

    fn run(&self, id: &str) -> Result<Option<RunRecord>, EngineError> {
        self.read(async |c| {
            row_opt(
                c,
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"),
                &[&id],
            )
            .await?
            .map(|r| run_from_row(&r))
            .transpose()
        })
    }

    fn run_status(&self, id: &str) -> Result<Option<RunStatus>, EngineError> {
        self.read(async |c| {
            let Some(r) = row_opt(c, "SELECT status FROM runs WHERE id = $1", &[&id]).await? else {
                return Ok(None);
            };
            let s = r.text(0)?;
            RunStatus::parse(&s)
                .map(Some)
                .ok_or_else(|| decode_error("runs", id, "status", &s, "a run status").into())
        })
    }

    fn runs(&self, limit: u32, backfill: Option<&str>) -> Result<Vec<RunRecord>, EngineError> {
        self.read(async |c| {
            rows(
                c,
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE ($2::text IS NULL OR backfill_id = $2)
                     ORDER BY seq DESC LIMIT $1"
                ),
                &[&i64::from(limit), &backfill],
            )
            .await?
            .iter()
            .map(run_from_row)
            .collect()
        })
    }

    fn runs_matching(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, EngineError> {
        self.read(async |c| {
            // The cursor as a sequence number, compared directly (see the SQLite store).
            let before: i64 = match &filter.before {
                None => i64::MAX,
                Some(id) => match row_opt(c, "SELECT seq FROM runs WHERE id = $1", &[id]).await? {
                    Some(r) => r.int(0)?,
                    None => return Ok(Vec::new()),
                },
            };
            rows(
                c,
                &format!(
                    r#"SELECT {RUN_COLUMNS} FROM runs r
                     WHERE r.seq < $7
                       AND ($2::text IS NULL OR r.backfill_id = $2)
                       AND ($3::text IS NULL OR r.status = $3)
                       AND ($4::bigint IS NULL OR r.created_at >= $4)
                       AND ($5::text IS NULL OR r.assets::jsonb ? $5)
                       AND ($6::text IS NULL
                            OR EXISTS (SELECT 1 FROM materializations m
                                       WHERE m.run_id = r.id AND m.partition = $6)
                            OR (r.selection::jsonb -> 'keys') ? $6
                            OR ((r.selection::jsonb ->> 'start') COLLATE "C" <= $6
                                AND (r.selection::jsonb ->> 'end') COLLATE "C" >= $6))
                       AND ($8::bigint IS NULL OR r.created_at < $8)
                     ORDER BY r.seq DESC LIMIT $1"#
                ),
                &[
                    &i64::from(filter.limit),
                    &filter.backfill,
                    &filter.status.map(RunStatus::as_str),
                    &filter.since,
                    &filter.asset,
                    &filter.partition,
                    &before,
                    &filter.until,
                ],
            )
            .await?
            .iter()
            .map(run_from_row)
            .collect()
        })
    }

    fn run_events(&self, id: &str) -> Result<Vec<RunEvent>, EngineError> {
        self.read(async |c| {
            rows(
                c,
                "SELECT seq, at, level, message FROM run_events WHERE run_id = $1 ORDER BY seq",
                &[&id],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(RunEvent {
                    seq: r.int(0)?,
                    at: r.int(1)?,
                    level: r.text(2)?,
                    message: r.text(3)?,
                })
            })
            .collect()
        })
    }

    fn log(&self, run_id: &str, level: &str, message: &str) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(async |tx| events(tx, &[(run_id, level, message)], now).await)
    }

    fn done_in_run(&self, run_id: &str) -> Result<Vec<(String, String)>, EngineError> {
        self.read(async |c| {
            rows(
                c,
                "SELECT asset, partition FROM materializations WHERE run_id = $1",
                &[&run_id],
            )
            .await?
            .iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?)))
            .collect()
        })
    }

    fn run_counts(&self) -> Result<Vec<(String, u64)>, EngineError> {
        self.read(async |c| {
            rows(c, "SELECT status, COUNT(*) FROM runs GROUP BY status", &[])
                .await?
                .iter()
                .map(|r| Ok((r.text(0)?, r.int(1)? as u64)))
                .collect()
        })
    }
}

/// Stores runs and their dependency edges, numbered after every run stored before (the
/// caller holds the runs lock): a few statements however many runs.
pub(super) async fn insert_runs<C: GenericClient>(
    tx: &C,
    runs: &[NewRun],
    created_at: i64,
) -> Result<(), PgError> {
    if runs.is_empty() {
        return Ok(());
    }
    let seq0 = row(tx, "SELECT COALESCE(MAX(seq), 0) FROM runs", &[])
        .await?
        .int(0)?;
    // Chunks keep each statement's arrays (and the server's memory for them) bounded.
    for (c, chunk) in runs.chunks(10_000).enumerate() {
        let base = seq0 + (c * 10_000) as i64;
        let mut cols = RunColumns::default();
        for (i, r) in chunk.iter().enumerate() {
            cols.push(base + i as i64 + 1, r);
        }
        exec(
            tx,
            "INSERT INTO runs (id, seq, status, plugin, computation, assets, selection, partitions,
                               backfill_id, run_key, trigger, tags, max_attempts, created_at, pool)
             SELECT id, seq, 'queued', plugin, computation, assets, selection, partitions,
                    backfill_id, run_key, trigger, tags, max_attempts, $14, pool
             FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[],
                         $12::bigint[], $13::text[])
                  AS u(id, seq, plugin, computation, assets, selection, partitions, backfill_id,
                       run_key, trigger, tags, max_attempts, pool)",
            &[
                &cols.id,
                &cols.seq,
                &cols.plugin,
                &cols.computation,
                &cols.assets,
                &cols.selection,
                &cols.partitions,
                &cols.backfill_id,
                &cols.run_key,
                &cols.trigger,
                &cols.tags,
                &cols.max_attempts,
                &cols.pool,
                &created_at,
            ],
        )
        .await?;
        let (from, to): (Vec<&str>, Vec<&str>) = chunk
            .iter()
            .flat_map(|r| r.depends_on.iter().map(|d| (r.id.as_str(), d.as_str())))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .unzip();
        if !from.is_empty() {
            exec(
                tx,
                "INSERT INTO run_deps (run_id, depends_on)
                 SELECT * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
                &[&from, &to],
            )
            .await?;
        }
    }
    Ok(())
}

/// New runs as one array per column.
#[derive(Default)]
struct RunColumns<'a> {
    id: Vec<&'a str>,
    seq: Vec<i64>,
    plugin: Vec<&'a str>,
    computation: Vec<&'a str>,
    assets: Vec<String>,
    selection: Vec<String>,
    partitions: Vec<i64>,
    backfill_id: Vec<Option<&'a str>>,
    run_key: Vec<Option<&'a str>>,
    trigger: Vec<&'a str>,
    tags: Vec<String>,
    max_attempts: Vec<i64>,
    pool: Vec<Option<&'a str>>,
}

impl<'a> RunColumns<'a> {
    fn push(&mut self, seq: i64, r: &'a NewRun) {
        self.id.push(&r.id);
        self.seq.push(seq);
        self.plugin.push(&r.plugin);
        self.computation.push(&r.computation);
        self.assets.push(json(&r.assets));
        self.selection.push(json(&r.selection));
        self.partitions.push(r.partitions as i64);
        self.backfill_id.push(r.backfill_id.as_deref());
        self.run_key.push(r.run_key.as_deref());
        self.trigger.push(&r.trigger);
        self.tags.push(json(&r.tags));
        self.max_attempts.push(i64::from(r.max_attempts.max(1)));
        self.pool.push(r.pool.as_deref());
    }
}

/// Stores blobs (the last of two with one name wins, as stored one after the other would).
async fn insert_blobs<C: GenericClient>(tx: &C, blobs: &[&NewBlob]) -> Result<(), PgError> {
    if blobs.is_empty() {
        return Ok(());
    }
    let mut last: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for b in blobs {
        last.insert(&b.name, &b.data);
    }
    let (names, data): (Vec<&str>, Vec<&[u8]>) = last.into_iter().unzip();
    exec(
        tx,
        "INSERT INTO blobs (name, data) SELECT * FROM UNNEST($1::text[], $2::bytea[])
         ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data",
        &[&names, &data],
    )
    .await?;
    Ok(())
}

/// Appends events: (run, level, message).
pub(super) async fn events<C: GenericClient>(
    tx: &C,
    lines: &[(&str, &str, &str)],
    at: i64,
) -> Result<(), PgError> {
    if lines.is_empty() {
        return Ok(());
    }
    let runs: Vec<&str> = lines.iter().map(|l| l.0).collect();
    let levels: Vec<&str> = lines.iter().map(|l| l.1).collect();
    let messages: Vec<&str> = lines.iter().map(|l| l.2).collect();
    exec(
        tx,
        "INSERT INTO run_events (run_id, at, level, message)
         SELECT r, $4, l, m FROM UNNEST($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(r, l, m, n)
         ORDER BY n",
        &[&runs, &levels, &messages, &at],
    )
    .await?;
    Ok(())
}

/// Records materializations (run, plugin, materialization) and the partitions' new states.
/// A materialization a run recorded before (a resumed run) is never recorded twice.
async fn record_materializations<C: GenericClient>(
    tx: &C,
    materializations: &[(&str, &str, &NewMaterialization)],
    now: i64,
) -> Result<(), PgError> {
    if materializations.is_empty() {
        return Ok(());
    }
    // The counter first: ids are then taken in commit order too.
    let changed = next_change(tx).await?;
    let mut m = MaterializationColumns::default();
    for (run, plugin, x) in materializations {
        m.push(run, plugin, x);
    }
    let inserted = rows(
        tx,
        "INSERT INTO materializations (asset, partition, run_id, plugin, code_version, data_version,
                                       blob, metadata, started_at, ended_at, input_hash, inputs)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                              $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[], $12::text[])
         ON CONFLICT (run_id, asset, partition) DO NOTHING
         RETURNING id, asset, partition, code_version, data_version, input_hash",
        &[
            &m.asset,
            &m.partition,
            &m.run_id,
            &m.plugin,
            &m.code_version,
            &m.data_version,
            &m.blob,
            &m.metadata,
            &m.started_at,
            &m.ended_at,
            &m.input_hash,
            &m.inputs,
        ],
    )
    .await?;
    // The newest materialization of each partition is its state (one row per partition:
    // a statement may not upsert a row twice).
    /// (id, code version, data version, input hash) of a partition's newest materialization.
    type Newest = (i64, String, String, Option<String>);
    let mut latest: BTreeMap<(String, String), Newest> = BTreeMap::new();
    for r in &inserted {
        let id = r.int(0)?;
        let key = (r.text(1)?, r.text(2)?);
        if latest.get(&key).is_none_or(|l| l.0 < id) {
            latest.insert(key, (id, r.text(3)?, r.text(4)?, r.opt_text(5)?));
        }
    }
    if latest.is_empty() {
        return Ok(());
    }
    let mut s = StatusColumns::default();
    for ((asset, partition), (id, code, data, hash)) in latest {
        s.asset.push(asset);
        s.partition.push(partition);
        s.id.push(id);
        s.code_version.push(code);
        s.data_version.push(data);
        s.input_hash.push(hash);
    }
    exec(
        tx,
        "INSERT INTO partition_status (asset, partition, status, materialization, updated_at,
                                       code_version, data_version, input_hash, changed)
         SELECT a, p, 'materialized', i, $7, c, d, h, $8
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])
              AS u(a, p, i, c, d, h)
         ON CONFLICT (asset, partition) DO UPDATE SET
            status = 'materialized', materialization = EXCLUDED.materialization,
            failed_run = NULL, error = NULL, updated_at = EXCLUDED.updated_at,
            code_version = EXCLUDED.code_version, data_version = EXCLUDED.data_version,
            input_hash = EXCLUDED.input_hash, changed = EXCLUDED.changed",
        &[
            &s.asset,
            &s.partition,
            &s.id,
            &s.code_version,
            &s.data_version,
            &s.input_hash,
            &now,
            &changed,
        ],
    )
    .await?;
    Ok(())
}

#[derive(Default)]
struct MaterializationColumns<'a> {
    asset: Vec<&'a str>,
    partition: Vec<&'a str>,
    run_id: Vec<&'a str>,
    plugin: Vec<&'a str>,
    code_version: Vec<&'a str>,
    data_version: Vec<&'a str>,
    blob: Vec<&'a str>,
    metadata: Vec<String>,
    started_at: Vec<i64>,
    ended_at: Vec<i64>,
    input_hash: Vec<Option<&'a str>>,
    inputs: Vec<Option<String>>,
}

impl<'a> MaterializationColumns<'a> {
    fn push(&mut self, run: &'a str, plugin: &'a str, m: &'a NewMaterialization) {
        self.asset.push(&m.asset);
        self.partition.push(&m.partition);
        self.run_id.push(run);
        self.plugin.push(plugin);
        self.code_version.push(&m.code_version);
        self.data_version.push(&m.data_version);
        self.blob.push(&m.blob);
        self.metadata.push(json(&m.metadata));
        self.started_at.push(m.started_at);
        self.ended_at.push(m.ended_at);
        self.input_hash.push(m.inputs.hash.as_deref());
        self.inputs.push(m.inputs.listed.as_ref().map(json));
    }
}

#[derive(Default)]
struct StatusColumns {
    asset: Vec<String>,
    partition: Vec<String>,
    id: Vec<i64>,
    code_version: Vec<String>,
    data_version: Vec<String>,
    input_hash: Vec<Option<String>>,
}

/// The stamp of this transaction's partition writes, in commit order: the counter row stays
/// locked until this transaction ends, so no later stamp can commit before it.
pub(super) async fn next_change<C: GenericClient>(tx: &C) -> Result<i64, PgError> {
    row(
        tx,
        "UPDATE change_counter SET n = n + 1 WHERE id = 1 RETURNING n",
        &[],
    )
    .await?
    .int(0)
}

/// After `run_id` ended without success: its queued dependents (transitively) end with
/// `status` and `error`, and the backfills of all of them settle, in the same transaction.
async fn end_with_dependents<C: GenericClient>(
    tx: &C,
    run_id: &str,
    now: i64,
    status: RunStatus,
    error: &str,
) -> Result<(), PgError> {
    let ended = rows(
        tx,
        "WITH RECURSIVE down(id) AS (
             SELECT d.run_id FROM run_deps d WHERE d.depends_on = $1
             UNION
             SELECT d.run_id FROM run_deps d JOIN down ON d.depends_on = down.id
         )
         UPDATE runs SET status = $4, ended_at = $2, error = $3
         WHERE id IN (SELECT id FROM down) AND status = 'queued'
         RETURNING id",
        &[&run_id, &now, &error, &status.as_str()],
    )
    .await?;
    let mut ids = vec![run_id.to_string()];
    for r in &ended {
        ids.push(r.text(0)?);
    }
    let backfills = rows(
        tx,
        "SELECT DISTINCT backfill_id FROM runs WHERE id = ANY($1) AND backfill_id IS NOT NULL",
        &[&ids],
    )
    .await?;
    for b in &backfills {
        settle_backfill(tx, &b.text(0)?, now).await?;
    }
    Ok(())
}

/// Marks a running backfill completed (or failed, when a run failed, was canceled or waits
/// for upstream data) once no run of it is queued or running.
pub(super) async fn settle_backfill<C: GenericClient>(
    tx: &C,
    id: &str,
    now: i64,
) -> Result<(), PgError> {
    exec(
        tx,
        "UPDATE backfills SET ended_at = $2,
            status = CASE WHEN EXISTS (SELECT 1 FROM runs WHERE backfill_id = $1
                                       AND status IN ('failed', 'canceled', 'waiting_for_upstream'))
                          THEN 'failed' ELSE 'completed' END
         WHERE id = $1 AND status = 'running'
           AND NOT EXISTS (SELECT 1 FROM runs WHERE backfill_id = $1 AND status IN ('queued', 'running'))",
        &[&id, &now],
    )
    .await?;
    Ok(())
}

/// Whether `claim` is still the run's latest claim and the run is running: only then may its
/// holder record anything. The row stays locked until the transaction ends (at the level the
/// run's own update then takes), so a host requeueing the run waits for this transaction and
/// then finds what it recorded.
async fn holds_claim<C: GenericClient>(c: &C, run_id: &str, claim: i64) -> Result<bool, PgError> {
    Ok(row_opt(
        c,
        "SELECT 1 FROM runs WHERE id = $1 AND status = 'running' AND lease_gen = $2 FOR NO KEY UPDATE",
        &[&run_id, &claim],
    )
    .await?
    .is_some())
}

/// The plugins whose runs a host serving `served` may not claim now (see the SQLite store's
/// twin): a recorded current version other than the served one, or a run going under
/// another version.
async fn blocked_plugins<C: GenericClient>(
    c: &C,
    served: &BTreeMap<String, String>,
) -> Result<Vec<String>, PgError> {
    if served.is_empty() {
        return Ok(Vec::new());
    }
    lock_shared(c, LOCK_VERSIONS, 0).await?;
    let found = rows(
        c,
        "SELECT plugin, version FROM plugin_versions
         UNION
         SELECT DISTINCT plugin, plugin_version FROM runs
         WHERE status = 'running' AND plugin_version IS NOT NULL",
        &[],
    )
    .await?;
    let found = found
        .iter()
        .map(|r| Ok((r.text(0)?, r.text(1)?)))
        .collect::<Result<Vec<_>, PgError>>()?;
    Ok(crate::state::runs::other_versions(served, found))
}
