//! Partitions on PostgreSQL: their latest state, summaries, materialization history.

use super::*;
use crate::state::{
    MaterializationRecord, PartitionChange, PartitionRecord, PartitionStore, PartitionSummary,
    materialization_from_row, partition_from_row, partitions::summary_from_row,
};

const PARTITION_COLUMNS: &str = "p.partition, p.status, p.failed_run, p.error,
    m.id, m.run_id, m.plugin, m.code_version, m.data_version, m.blob, m.metadata,
    m.started_at, m.ended_at, m.input_hash
    FROM partition_status p LEFT JOIN materializations m ON m.id = p.materialization";

impl PartitionStore for PgState {
    fn partitions(&self, asset: &str) -> Result<Vec<PartitionRecord>, EngineError> {
        self.read(async |c| {
            rows(
                c,
                &format!("SELECT {PARTITION_COLUMNS} WHERE p.asset = $1"),
                &[&asset],
            )
            .await?
            .iter()
            .map(partition_from_row)
            .collect()
        })
    }

    fn partition_summaries(
        &self,
        asset: &str,
        code_version: &str,
    ) -> Result<Vec<PartitionSummary>, EngineError> {
        self.read(async |c| {
            rows(
                c,
                "SELECT partition, status = 'failed', materialization,
                        CASE WHEN materialization IS NOT NULL AND code_version IS DISTINCT FROM $2
                             THEN code_version END,
                        input_hash
                 FROM partition_status WHERE asset = $1",
                &[&asset, &code_version],
            )
            .await?
            .iter()
            .map(|r| summary_from_row(r, 0))
            .collect()
        })
    }

    fn partition_watermark(&self) -> Result<u64, EngineError> {
        self.read(async |c| {
            Ok(row(c, "SELECT n FROM change_counter WHERE id = 1", &[])
                .await?
                .int(0)?
                .cast_unsigned())
        })
    }

    fn partition_changes(
        &self,
        since: u64,
        limit: u32,
    ) -> Result<Vec<PartitionChange>, EngineError> {
        self.read(async |c| {
            rows(
                c,
                "SELECT asset, partition, status = 'failed', materialization, code_version, input_hash
                 FROM partition_status WHERE changed > $1 ORDER BY changed LIMIT $2",
                &[&since.cast_signed(), &i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(PartitionChange {
                    asset: r.text(0)?,
                    summary: summary_from_row(r, 1)?,
                })
            })
            .collect()
        })
    }

    fn latest_data_versions(&self, asset: &str) -> Result<Vec<(String, i64, String)>, EngineError> {
        self.read(async |c| {
            rows(
                c,
                "SELECT partition, materialization, data_version FROM partition_status
                 WHERE asset = $1 AND materialization IS NOT NULL AND data_version IS NOT NULL",
                &[&asset],
            )
            .await?
            .iter()
            .map(|r| Ok((r.text(0)?, r.int(1)?, r.text(2)?)))
            .collect()
        })
    }

    fn materialization_inputs(
        &self,
        id: i64,
    ) -> Result<Option<Vec<(String, String, Option<String>)>>, EngineError> {
        self.read(async |c| {
            match row_opt(
                c,
                "SELECT inputs FROM materializations WHERE id = $1",
                &[&id],
            )
            .await?
            {
                Some(r) if r.opt_text(0)?.is_some() => Ok(Some(r.json(
                    "materializations",
                    &id.to_string(),
                    (0, "inputs"),
                )?)),
                _ => Ok(None),
            }
        })
    }

    fn partitions_of(
        &self,
        asset: &str,
        keys: &[String],
    ) -> Result<Vec<PartitionRecord>, EngineError> {
        self.read(async |c| {
            let found = rows(
                c,
                &format!("SELECT {PARTITION_COLUMNS} WHERE p.asset = $1 AND p.partition = ANY($2)"),
                &[&asset, &keys],
            )
            .await?
            .iter()
            .map(partition_from_row)
            .collect::<Result<Vec<_>, _>>()?;
            // In the order asked, as SQLite's store gives them.
            let mut by_key: std::collections::HashMap<String, PartitionRecord> = found
                .into_iter()
                .map(|p| (p.partition.clone(), p))
                .collect();
            Ok(keys.iter().filter_map(|k| by_key.remove(k)).collect())
        })
    }

    fn partition_counts(&self, asset: &str) -> Result<(u64, u64), EngineError> {
        self.read(async |c| {
            let r = row(
                c,
                "SELECT COUNT(*) FILTER (WHERE status = 'materialized'),
                        COUNT(*) FILTER (WHERE status = 'failed')
                 FROM partition_status WHERE asset = $1",
                &[&asset],
            )
            .await?;
            Ok((r.int(0)? as u64, r.int(1)? as u64))
        })
    }

    fn materialization_count(&self, asset: &str) -> Result<u64, EngineError> {
        self.read(async |c| {
            Ok(row(
                c,
                "SELECT COUNT(*) FROM materializations WHERE asset = $1",
                &[&asset],
            )
            .await?
            .int(0)? as u64)
        })
    }

    fn last_materialization(&self) -> Result<i64, EngineError> {
        self.read(async |c| {
            row(c, "SELECT COALESCE(MAX(id), 0) FROM materializations", &[])
                .await?
                .int(0)
        })
    }

    fn materialization_history(
        &self,
        asset: &str,
        partition: &str,
        limit: u32,
    ) -> Result<(Vec<MaterializationRecord>, u64), EngineError> {
        self.read(async |c| {
            let history = rows(
                c,
                "SELECT id, run_id, plugin, code_version, data_version, blob, metadata,
                        started_at, ended_at, input_hash
                 FROM materializations WHERE asset = $1 AND partition = $2
                 ORDER BY id DESC LIMIT $3",
                &[&asset, &partition, &i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| materialization_from_row(r, 0))
            .collect::<Result<Vec<_>, _>>()?;
            let total = row(
                c,
                "SELECT COUNT(*) FROM materializations WHERE asset = $1 AND partition = $2",
                &[&asset, &partition],
            )
            .await?
            .count("materializations", partition, (0, "count"))?;
            Ok((history, total))
        })
    }
}
