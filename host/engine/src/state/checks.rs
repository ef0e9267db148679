//! Asset checks' results on SQLite: the latest of each check on each partition.

use rusqlite::{Transaction, params};

use super::*;
use crate::error::EngineError;

/// Records (replacing earlier ones) check results written by `run_id`, inside the
/// transaction that records the materializations they describe.
pub(super) fn insert_check_results(
    tx: &Transaction<'_>,
    run_id: &str,
    checks: &[NewCheckResults],
    at: i64,
) -> rusqlite::Result<()> {
    if checks.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO check_results
             (asset, check_name, partition, outcome, description, metadata, blocking, run_id, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (asset, partition, check_name) DO UPDATE SET
             outcome = ?4, description = ?5, metadata = ?6, blocking = ?7, run_id = ?8, at = ?9",
    )?;
    for c in checks {
        for r in &c.results {
            insert.execute(params![
                c.asset,
                c.check,
                r.partition,
                r.outcome,
                r.description,
                r.metadata.to_string(),
                i64::from(c.blocking),
                run_id,
                at
            ])?;
        }
    }
    Ok(())
}

impl CheckStore for State {
    fn check_results(
        &self,
        asset: &str,
        partitions: &[String],
    ) -> Result<Vec<CheckRecord>, EngineError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT check_name, partition, outcome, description, metadata, blocking, run_id, at
                 FROM check_results WHERE asset = ?1 AND partition = ?2 ORDER BY check_name",
            )?;
            let mut out = Vec::new();
            for p in partitions {
                let rows = stmt.query_map(params![asset, p], check_record)?;
                for row in rows {
                    out.push(row?);
                }
            }
            Ok(out)
        })
    }

    fn check_counts(&self, asset: &str) -> Result<Vec<CheckCounts>, EngineError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT check_name, outcome, MAX(blocking), COUNT(*) FROM check_results
                 WHERE asset = ?1 GROUP BY check_name, outcome ORDER BY check_name, outcome",
            )?;
            let rows = stmt.query_map(params![asset], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)? != 0,
                    r.get::<_, i64>(3)?.max(0) as u64,
                ))
            })?;
            Ok(fold_check_counts(rows.collect::<Result<Vec<_>, _>>()?))
        })
    }

    fn check_problems(&self, asset: &str) -> Result<Vec<CheckRecord>, EngineError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT check_name, partition, outcome, description, metadata, blocking, run_id, at
                 FROM check_results WHERE asset = ?1 AND outcome <> 'pass'
                 ORDER BY partition, check_name",
            )?;
            let rows = stmt.query_map(params![asset], check_record)?;
            rows.collect::<Result<Vec<_>, _>>()
        })
    }
}

/// A `check_results` row selected as `check_name, partition, outcome, description, metadata,
/// blocking, run_id, at`.
fn check_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<CheckRecord> {
    let metadata: String = r.get(4)?;
    Ok(CheckRecord {
        check: r.get(0)?,
        partition: r.get(1)?,
        outcome: r.get(2)?,
        description: r.get(3)?,
        metadata: serde_json::from_str(&metadata).unwrap_or(serde_json::Value::Null),
        blocking: r.get::<_, i64>(5)? != 0,
        run_id: r.get(6)?,
        at: r.get(7)?,
    })
}
