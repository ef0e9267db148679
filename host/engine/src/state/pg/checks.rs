//! Asset checks' results on PostgreSQL: the latest of each check on each partition.

use super::*;
use crate::state::{CheckCounts, CheckRecord, CheckStore, NewCheckResults, fold_check_counts};

/// Records (replacing earlier ones) check results written by each run, inside the
/// transaction that records the materializations they describe: (run id, results).
pub(super) async fn insert_check_results<C: GenericClient>(
    tx: &C,
    checks: &[(&str, &NewCheckResults)],
    at: i64,
) -> Result<(), PgError> {
    for (run_id, c) in checks {
        for r in &c.results {
            let metadata = r.metadata.to_string();
            exec(
                tx,
                "INSERT INTO check_results
                     (asset, check_name, partition, outcome, description, metadata, blocking, run_id, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (asset, partition, check_name) DO UPDATE SET
                     outcome = $4, description = $5, metadata = $6, blocking = $7, run_id = $8, at = $9",
                &[
                    &c.asset,
                    &c.check,
                    &r.partition,
                    &r.outcome,
                    &r.description,
                    &metadata,
                    &c.blocking,
                    run_id,
                    &at,
                ],
            )
            .await?;
        }
    }
    Ok(())
}

impl CheckStore for PgState {
    fn check_results(
        &self,
        asset: &str,
        partitions: &[String],
    ) -> Result<Vec<CheckRecord>, EngineError> {
        self.read(async |c| {
            let found = rows(
                c,
                "SELECT check_name, partition, outcome, description, metadata, blocking, run_id, at
                 FROM check_results WHERE asset = $1 AND partition = ANY($2)
                 ORDER BY partition, check_name",
                &[&asset, &partitions],
            )
            .await?;
            found.iter().map(check_record).collect()
        })
    }

    fn check_counts(&self, asset: &str) -> Result<Vec<CheckCounts>, EngineError> {
        self.read(async |c| {
            let found = rows(
                c,
                "SELECT check_name, outcome, bool_or(blocking), COUNT(*) FROM check_results
                 WHERE asset = $1 GROUP BY check_name, outcome ORDER BY check_name, outcome",
                &[&asset],
            )
            .await?;
            let mut counted = Vec::with_capacity(found.len());
            for r in &found {
                counted.push((r.text(0)?, r.text(1)?, r.bool(2)?, r.int(3)?.max(0) as u64));
            }
            Ok(fold_check_counts(counted))
        })
    }

    fn check_problems(&self, asset: &str) -> Result<Vec<CheckRecord>, EngineError> {
        self.read(async |c| {
            let found = rows(
                c,
                "SELECT check_name, partition, outcome, description, metadata, blocking, run_id, at
                 FROM check_results WHERE asset = $1 AND outcome <> 'pass'
                 ORDER BY partition, check_name",
                &[&asset],
            )
            .await?;
            found.iter().map(check_record).collect()
        })
    }
}

/// A `check_results` row selected as `check_name, partition, outcome, description, metadata,
/// blocking, run_id, at`.
fn check_record(r: &Row) -> Result<CheckRecord, PgError> {
    Ok(CheckRecord {
        check: r.text(0)?,
        partition: r.text(1)?,
        outcome: r.text(2)?,
        description: r.opt_text(3)?,
        metadata: serde_json::from_str(&r.text(4)?).unwrap_or(serde_json::Value::Null),
        blocking: r.bool(5)?,
        run_id: r.text(6)?,
        at: r.int(7)?,
    })
}
