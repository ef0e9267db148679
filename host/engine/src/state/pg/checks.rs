//! Asset checks' results on PostgreSQL: the latest of each check on each partition.

use super::*;
use crate::state::{CheckRecord, CheckStore, NewCheckResult, now_ms};

impl CheckStore for PgState {
    fn record_check_results(
        &self,
        asset: &str,
        check: &str,
        blocking: bool,
        run_id: &str,
        results: &[NewCheckResult],
    ) -> Result<(), EngineError> {
        let at = now_ms();
        self.write(async |tx| {
            for r in results {
                let metadata = r.metadata.to_string();
                exec(
                    tx,
                    "INSERT INTO check_results
                         (asset, check_name, partition, outcome, description, metadata, blocking, run_id, at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (asset, partition, check_name) DO UPDATE SET
                         outcome = $4, description = $5, metadata = $6, blocking = $7, run_id = $8, at = $9",
                    &[
                        &asset,
                        &check,
                        &r.partition,
                        &r.outcome,
                        &r.description,
                        &metadata,
                        &blocking,
                        &run_id,
                        &at,
                    ],
                )
                .await?;
            }
            Ok(())
        })
    }

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
            let mut out = Vec::with_capacity(found.len());
            for r in &found {
                out.push(CheckRecord {
                    check: r.text(0)?,
                    partition: r.text(1)?,
                    outcome: r.text(2)?,
                    description: r.opt_text(3)?,
                    metadata: serde_json::from_str(&r.text(4)?).unwrap_or(serde_json::Value::Null),
                    blocking: r.bool(5)?,
                    run_id: r.text(6)?,
                    at: r.int(7)?,
                });
            }
            Ok(out)
        })
    }
}
