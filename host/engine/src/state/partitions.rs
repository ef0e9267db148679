//! Partitions: their latest state, summaries, materialization history.

use rusqlite::{OptionalExtension, params};

use super::*;
use crate::error::EngineError;

impl PartitionStore for State {
    fn partitions(&self, asset: &str) -> Result<Vec<PartitionRecord>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT p.partition, p.status, p.failed_run, p.error,
                        m.id, m.run_id, m.plugin, m.code_version, m.data_version, m.blob, m.metadata,
                        m.started_at, m.ended_at, m.input_hash
                 FROM partition_status p LEFT JOIN materializations m ON m.id = p.materialization
                 WHERE p.asset = ?1",
            )?;
            s.query_map(params![asset], |r| partition_from_row(r))?.collect()
        })
    }

    fn partition_summaries(
        &self,
        asset: &str,
        code_version: &str,
    ) -> Result<Vec<PartitionSummary>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT partition, status = 'failed', materialization,
                        CASE WHEN materialization IS NOT NULL AND code_version IS NOT ?2
                             THEN code_version END,
                        input_hash
                 FROM partition_status WHERE asset = ?1",
            )?;
            s.query_map(params![asset, code_version], |r| summary_from_row(r, 0))?
                .collect()
        })
    }

    fn partition_watermark(&self) -> Result<u64, EngineError> {
        self.read(|c| {
            c.prepare_cached("SELECT COALESCE(MAX(changed), 0) FROM partition_status")?
                .query_row([], |r| r.get::<_, i64>(0))
                .map(i64::cast_unsigned)
        })
    }

    fn partition_changes(
        &self,
        since: u64,
        limit: u32,
    ) -> Result<Vec<PartitionChange>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT asset, partition, status = 'failed', materialization, code_version,
                        input_hash
                 FROM partition_status WHERE changed > ?1 ORDER BY changed LIMIT ?2",
            )?;
            s.query_map(params![since.cast_signed(), limit], |r| {
                Ok(PartitionChange {
                    asset: r.get(0)?,
                    summary: summary_from_row(r, 1)?,
                })
            })?
            .collect()
        })
    }

    fn latest_data_versions(&self, asset: &str) -> Result<Vec<(String, i64, String)>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT partition, materialization, data_version FROM partition_status
                 WHERE asset = ?1 AND materialization IS NOT NULL AND data_version IS NOT NULL",
            )?;
            s.query_map(params![asset], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
    }

    #[allow(clippy::type_complexity)]
    fn materialization_inputs(
        &self,
        id: i64,
    ) -> Result<Option<Vec<(String, String, Option<String>)>>, EngineError> {
        self.read(|c| {
            let text: Option<String> = c
                .prepare_cached("SELECT inputs FROM materializations WHERE id = ?1")?
                .query_row(params![id], |r| r.get(0))
                .optional()?
                .flatten();
            match text {
                Some(t) => Ok(Some(decode_json(
                    "materializations",
                    &id.to_string(),
                    (0, "inputs"),
                    &t,
                )?)),
                None => Ok(None),
            }
        })
    }

    fn partitions_of(
        &self,
        asset: &str,
        keys: &[String],
    ) -> Result<Vec<PartitionRecord>, EngineError> {
        self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT p.partition, p.status, p.failed_run, p.error,
                        m.id, m.run_id, m.plugin, m.code_version, m.data_version, m.blob, m.metadata,
                        m.started_at, m.ended_at, m.input_hash
                 FROM partition_status p LEFT JOIN materializations m ON m.id = p.materialization
                 WHERE p.asset = ?1 AND p.partition = ?2",
            )?;
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                if let Some(p) = s
                    .query_row(params![asset, k], |r| partition_from_row(r))
                    .optional()?
                {
                    out.push(p);
                }
            }
            Ok(out)
        })
    }

    fn partition_counts(&self, asset: &str) -> Result<(u64, u64), EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT COALESCE(SUM(status = 'materialized'), 0), COALESCE(SUM(status = 'failed'), 0)
                 FROM partition_status WHERE asset = ?1",
                params![asset],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
        })
    }

    fn materialization_count(&self, asset: &str) -> Result<u64, EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM materializations WHERE asset = ?1",
                params![asset],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
    }

    fn last_materialization(&self) -> Result<i64, EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT COALESCE(MAX(id), 0) FROM materializations",
                [],
                |r| r.get(0),
            )
        })
    }

    fn materialization_history(
        &self,
        asset: &str,
        partition: &str,
        limit: u32,
    ) -> Result<(Vec<MaterializationRecord>, u64), EngineError> {
        self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT id, run_id, plugin, code_version, data_version, blob, metadata,
                        started_at, ended_at, input_hash
                 FROM materializations WHERE asset = ?1 AND partition = ?2
                 ORDER BY id DESC LIMIT ?3",
            )?;
            let rows = s
                .query_map(params![asset, partition, limit], |r| {
                    materialization_from_row(r, 0)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let total: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM materializations WHERE asset = ?1 AND partition = ?2",
                )?
                .query_row(params![asset, partition], |r| r.get(0))?;
            Ok((
                rows,
                decode_count("materializations", partition, (0, "count"), total)?,
            ))
        })
    }
}

/// A [`PartitionSummary`] from five columns starting at `at`: partition, failed, materialization,
/// code version, input hash.
pub(super) fn summary_from_row<R: Columns>(r: &R, at: usize) -> Result<PartitionSummary, R::Error> {
    Ok(PartitionSummary {
        partition: r.text(at)?,
        failed: r.bool(at + 1)?,
        materialization: r.opt_int(at + 2)?,
        code_version: r.opt_text(at + 3)?,
        input_hash: r.opt_text(at + 4)?,
    })
}
