//! Backfills on PostgreSQL: their records, progress, cancel and resume.

use super::runs::{events, settle_backfill};
use super::*;
use crate::state::{
    BackfillProgress, BackfillRecord, BackfillStatus, BackfillStore, RunRecord, RunStatus,
    backfill_from_row, decode_error, now_ms,
};

const BACKFILL_COLUMNS: &str =
    "id, status, assets, description, partitions, created_at, ended_at FROM backfills";

impl BackfillStore for PgState {
    fn backfills(&self) -> Result<Vec<BackfillRecord>, EngineError> {
        self.read(async |c| {
            rows(
                c,
                &format!("SELECT {BACKFILL_COLUMNS} ORDER BY seq DESC"),
                &[],
            )
            .await?
            .iter()
            .map(backfill_from_row)
            .collect()
        })
    }

    fn backfill(&self, id: &str) -> Result<Option<BackfillRecord>, EngineError> {
        self.read(async |c| {
            row_opt(
                c,
                &format!("SELECT {BACKFILL_COLUMNS} WHERE id = $1"),
                &[&id],
            )
            .await?
            .map(|r| backfill_from_row(&r))
            .transpose()
        })
    }

    fn backfill_progress(&self, id: &str) -> Result<BackfillProgress, EngineError> {
        self.read(async |c| {
            let mut p = BackfillProgress::default();
            let counts = rows(
                c,
                "SELECT status, COUNT(*), COALESCE(SUM(partitions), 0)::bigint FROM runs
                 WHERE backfill_id = $1 GROUP BY status",
                &[&id],
            )
            .await?;
            for r in &counts {
                let status = r.text(0)?;
                let runs = r.int(1)? as u64;
                let partitions = r.int(2)? as u64;
                p.runs_total += runs;
                p.partitions_total += partitions;
                let status = RunStatus::parse(&status).ok_or_else(|| {
                    decode_error(
                        "runs",
                        &format!("of backfill {id}"),
                        "status",
                        &status,
                        "a run status",
                    )
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
        let ended = status.is_final().then(now_ms);
        self.write(async |tx| {
            exec(
                tx,
                "UPDATE backfills SET status = $2, ended_at = $3 WHERE id = $1",
                &[&id, &status.as_str(), &ended],
            )
            .await
            .map(drop)
        })
    }

    fn cancel_backfill(&self, id: &str) -> Result<(u64, BackfillStatus), EngineError> {
        let now = now_ms();
        self.write(async |tx| {
            let changed = exec(
                tx,
                "UPDATE backfills SET status = 'canceled', ended_at = $2
                 WHERE id = $1 AND status = 'running'",
                &[&id, &now],
            )
            .await?;
            let n = if changed == 0 {
                0
            } else {
                exec(
                    tx,
                    "UPDATE runs SET status = 'canceled', ended_at = $2
                     WHERE backfill_id = $1 AND status = 'queued'",
                    &[&id, &now],
                )
                .await?
            };
            let status = row(tx, "SELECT status FROM backfills WHERE id = $1", &[&id])
                .await?
                .text(0)?;
            let status = BackfillStatus::parse(&status).ok_or_else(|| {
                decode_error("backfills", id, "status", &status, "a backfill status")
            })?;
            Ok((n, status))
        })
    }

    fn reopen_backfill(&self, id: &str) -> Result<u64, EngineError> {
        self.write(async |tx| {
            let n = exec(
                tx,
                "UPDATE runs SET status = 'queued', ended_at = NULL, error = NULL, attempts = 0, not_before = 0
                 WHERE backfill_id = $1 AND status IN ('canceled', 'failed')",
                &[&id],
            )
            .await?;
            exec(
                tx,
                "UPDATE backfills SET status = 'running', ended_at = NULL WHERE id = $1",
                &[&id],
            )
            .await?;
            Ok(n)
        })
    }

    fn is_canceled(&self, run: &RunRecord) -> Result<bool, EngineError> {
        let Some(b) = &run.backfill_id else {
            return Ok(false);
        };
        self.read(async |c| {
            Ok(row_opt(
                c,
                "SELECT status = 'canceled' FROM backfills WHERE id = $1",
                &[b],
            )
            .await?
            .map(|r| r.bool(0))
            .transpose()?
            .unwrap_or(false))
        })
    }

    fn finish_canceled(&self, run_id: &str) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(async |tx| {
            let backfill = row_opt(
                tx,
                "UPDATE runs SET status = 'canceled', owner = NULL, ended_at = $2 WHERE id = $1
                 RETURNING backfill_id",
                &[&run_id, &now],
            )
            .await?;
            events(tx, &[(run_id, "warn", "canceled")], now).await?;
            if let Some(b) = backfill.map(|r| r.opt_text(0)).transpose()?.flatten() {
                settle_backfill(tx, &b, now).await?;
            }
            Ok(())
        })
    }
}
