//! Hosts, leases and plugin versions on PostgreSQL: each a single statement on one row, so
//! two hosts taking the same lease serialize on that row and exactly one gets it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::state::{ClusterStore, HOST_FORGOTTEN_MS, HostRecord, LeaseRecord, lease_ms, now_ms};

impl ClusterStore for PgState {
    fn host_heartbeat(&self, id: &str, label: &str, started_at: i64) -> Result<(), EngineError> {
        self.write(async |tx| {
            exec(
                tx,
                "INSERT INTO hosts (id, label, started_at, seen_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET seen_at = $4",
                &[&id, &label, &started_at, &now_ms()],
            )
            .await?;
            exec(
                tx,
                "DELETE FROM hosts WHERE seen_at < $1",
                &[&now_ms().saturating_sub(HOST_FORGOTTEN_MS)],
            )
            .await
            .map(drop)
        })
    }

    fn forget_other_hosts(&self, id: &str) -> Result<(), EngineError> {
        self.write(async |tx| {
            exec(tx, "DELETE FROM hosts WHERE id <> $1", &[&id]).await?;
            exec(tx, "DELETE FROM leases WHERE owner <> $1", &[&id])
                .await
                .map(drop)
        })
    }

    fn hosts(&self, within: Duration) -> Result<Vec<HostRecord>, EngineError> {
        let since = now_ms().saturating_sub(lease_ms(within));
        self.read(async |c| {
            rows(
                c,
                "SELECT id, label, started_at, seen_at FROM hosts WHERE seen_at >= $1
                 ORDER BY started_at, id",
                &[&since],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(HostRecord {
                    id: r.text(0)?,
                    label: r.text(1)?,
                    started_at: r.int(2)?,
                    seen_at: r.int(3)?,
                })
            })
            .collect()
        })
    }

    fn host_gone(&self, id: &str) -> Result<(), EngineError> {
        self.write(async |tx| {
            exec(tx, "DELETE FROM hosts WHERE id = $1", &[&id]).await?;
            exec(tx, "DELETE FROM leases WHERE owner = $1", &[&id])
                .await
                .map(drop)
        })
    }

    fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
        may_take: bool,
    ) -> Result<Option<i64>, EngineError> {
        self.write(async |tx| {
            let now = now_ms();
            let until = now.saturating_add(lease_ms(ttl));
            let got = if may_take {
                row_opt(
                    tx,
                    "INSERT INTO leases AS l (name, owner, until, gen) VALUES ($1, $2, $3, 1)
                     ON CONFLICT (name) DO UPDATE SET owner = $2, until = $3,
                        gen = CASE WHEN l.owner = $2 THEN l.gen ELSE l.gen + 1 END
                     WHERE l.owner = $2 OR l.until < $4
                     RETURNING gen",
                    &[&name, &owner, &until, &now],
                )
                .await?
            } else {
                row_opt(
                    tx,
                    "UPDATE leases SET until = $3 WHERE name = $1 AND owner = $2 RETURNING gen",
                    &[&name, &owner, &until],
                )
                .await?
            };
            got.map(|r| r.int(0)).transpose()
        })
    }

    fn leases(&self) -> Result<Vec<LeaseRecord>, EngineError> {
        self.read(async |c| {
            rows(
                c,
                "SELECT name, owner, until, gen FROM leases ORDER BY name",
                &[],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(LeaseRecord {
                    name: r.text(0)?,
                    owner: r.text(1)?,
                    until: r.int(2)?,
                    generation: r.int(3)?,
                })
            })
            .collect()
        })
    }

    fn plugin_versions(&self) -> Result<BTreeMap<String, String>, EngineError> {
        self.read(async |c| {
            rows(c, "SELECT plugin, version FROM plugin_versions", &[])
                .await?
                .iter()
                .map(|r| Ok((r.text(0)?, r.text(1)?)))
                .collect()
        })
    }

    fn record_plugin_version(
        &self,
        plugin: &str,
        version: &str,
        host: &str,
        replace: bool,
    ) -> Result<bool, EngineError> {
        let sql = if replace {
            "INSERT INTO plugin_versions AS p (plugin, version, recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (plugin) DO UPDATE SET version = $2, recorded_by = $3, recorded_at = $4
             WHERE p.version <> $2"
        } else {
            "INSERT INTO plugin_versions (plugin, version, recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (plugin) DO NOTHING"
        };
        self.write(async |tx| {
            lock(tx, LOCK_VERSIONS, 0).await?;
            Ok(exec(tx, sql, &[&plugin, &version, &host, &now_ms()]).await? > 0)
        })
    }
}
