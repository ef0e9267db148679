//! Backfills: their records, progress, cancel and resume, and how they settle.

use rusqlite::{OptionalExtension, Transaction, params};

use super::*;
use crate::error::EngineError;

impl BackfillStore for State {
    fn backfills(&self) -> Result<Vec<BackfillRecord>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare(
                "SELECT id, status, assets, description, partitions, created_at, ended_at
                 FROM backfills ORDER BY seq DESC",
            )?;
            s.query_map([], |r| backfill_from_row(r))?.collect()
        })
    }

    fn backfill(&self, id: &str) -> Result<Option<BackfillRecord>, EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT id, status, assets, description, partitions, created_at, ended_at
                 FROM backfills WHERE id = ?1",
                params![id],
                |r| backfill_from_row(r),
            )
            .optional()
        })
    }

    fn backfill_progress(&self, id: &str) -> Result<BackfillProgress, EngineError> {
        self.read(|c| {
            let mut p = BackfillProgress::default();
            let mut s = c.prepare_cached(
                "SELECT status, COUNT(*), COALESCE(SUM(partitions), 0) FROM runs WHERE backfill_id = ?1 GROUP BY status",
            )?;
            let rows = s.query_map(params![id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                ))
            })?;
            for row in rows {
                let (status, runs, partitions) = row?;
                p.runs_total += runs;
                p.partitions_total += partitions;
                let status = RunStatus::parse(&status).ok_or_else(|| {
                    undecodable("runs", &format!("of backfill {id}"), (1, "status"), &status, "a run status")
                })?;
                match status {
                    RunStatus::Queued => p.runs_queued += runs,
                    RunStatus::Running => p.runs_running += runs,
                    RunStatus::Success => {
                        p.runs_succeeded += runs;
                        p.partitions_done += partitions;
                    }
                    RunStatus::Failed => {
                        p.runs_failed += runs;
                        p.partitions_failed += partitions;
                    }
                    RunStatus::Canceled => p.runs_canceled += runs,
                    RunStatus::WaitingForUpstream => p.runs_waiting_for_upstream += runs,
                }
            }
            Ok(p)
        })
    }

    fn set_backfill_status(&self, id: &str, status: BackfillStatus) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            let ended = status.is_final().then_some(now);
            tx.execute(
                "UPDATE backfills SET status = ?2, ended_at = ?3 WHERE id = ?1",
                params![id, status.as_str(), ended],
            )?;
            Ok(())
        })
    }

    fn cancel_backfill(&self, id: &str) -> Result<(u64, BackfillStatus), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE backfills SET status = 'canceled', ended_at = ?2
                 WHERE id = ?1 AND status = 'running'",
                params![id, now],
            )?;
            let n = if changed == 0 {
                0
            } else {
                tx.execute(
                    "UPDATE runs SET status = 'canceled', ended_at = ?2
                     WHERE backfill_id = ?1 AND status = 'queued'",
                    params![id, now],
                )?
            };
            let status: String = tx.query_row(
                "SELECT status FROM backfills WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )?;
            let status = BackfillStatus::parse(&status).ok_or_else(|| {
                undecodable("backfills", id, (1, "status"), &status, "a backfill status")
            })?;
            Ok((n as u64, status))
        })
    }

    fn reopen_backfill(&self, id: &str) -> Result<u64, EngineError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE runs SET status = 'queued', ended_at = NULL, error = NULL, attempts = 0, not_before = 0
                 WHERE backfill_id = ?1 AND status IN ('canceled', 'failed')",
                params![id],
            )?;
            tx.execute(
                "UPDATE backfills SET status = 'running', ended_at = NULL WHERE id = ?1",
                params![id],
            )?;
            Ok(n as u64)
        })
    }

    fn is_canceled(&self, run: &RunRecord) -> Result<bool, EngineError> {
        let Some(b) = &run.backfill_id else {
            return Ok(false);
        };
        self.read(|c| {
            c.query_row(
                "SELECT status = 'canceled' FROM backfills WHERE id = ?1",
                params![b],
                |r| r.get(0),
            )
        })
    }

    fn finish_canceled(&self, run_id: &str) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET status = 'canceled', owner = NULL, ended_at = ?2 WHERE id = ?1",
                params![run_id, now],
            )?;
            event(tx, run_id, "warn", "canceled", now)?;
            settle_backfills_of(tx, std::iter::once(run_id), now)
        })
    }
}

/// Settles the backfills of these runs whose runs are all final, in the transaction that
/// made them final: whoever ran them (this command, a daemon, another host), a backfill never
/// stays `running` with nothing left to do.
pub(super) fn settle_backfills_of<'a>(
    tx: &Transaction<'_>,
    runs: impl Iterator<Item = &'a str>,
    now: i64,
) -> rusqlite::Result<()> {
    let mut backfills = std::collections::BTreeSet::new();
    {
        let mut of = tx.prepare_cached("SELECT backfill_id FROM runs WHERE id = ?1")?;
        for id in runs {
            if let Some(Some(b)) = of
                .query_row(params![id], |r| r.get::<_, Option<String>>(0))
                .optional()?
            {
                backfills.insert(b);
            }
        }
    }
    for b in backfills {
        settle_backfill(tx, &b, now)?;
    }
    Ok(())
}

/// Marks a running backfill completed (or failed, when a run failed, was canceled or waits
/// for upstream data) once no run of it is queued or running.
pub(super) fn settle_backfill(tx: &Transaction<'_>, id: &str, now: i64) -> rusqlite::Result<()> {
    let open: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE backfill_id = ?1 AND status IN ('queued', 'running'))",
        )?
        .query_row(params![id], |r| r.get(0))?;
    if open {
        return Ok(());
    }
    let bad: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE backfill_id = ?1 AND status IN ('failed', 'canceled', 'waiting_for_upstream'))",
        )?
        .query_row(params![id], |r| r.get(0))?;
    tx.prepare_cached(
        "UPDATE backfills SET status = ?2, ended_at = ?3 WHERE id = ?1 AND status = 'running'",
    )?
    .execute(params![id, if bad { "failed" } else { "completed" }, now])?;
    Ok(())
}
