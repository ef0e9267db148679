//! Hosts, leases and plugin versions in SQLite. One machine shares a SQLite file, but the
//! same bookkeeping runs as on PostgreSQL, so one host behaves alike on both.

use std::collections::BTreeMap;
use std::time::Duration;

use rusqlite::{OptionalExtension, params};

use super::*;
use crate::error::EngineError;

impl ClusterStore for State {
    fn host_heartbeat(&self, id: &str, label: &str, started_at: i64) -> Result<(), EngineError> {
        let now = now_ms();
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO hosts (id, label, started_at, seen_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET seen_at = ?4",
            )?
            .execute(params![id, label, started_at, now])?;
            tx.prepare_cached("DELETE FROM hosts WHERE seen_at < ?1")?
                .execute(params![now.saturating_sub(HOST_FORGOTTEN_MS)])
                .map(drop)
        })
    }

    fn forget_other_hosts(&self, id: &str) -> Result<(), EngineError> {
        self.write(|tx| {
            tx.execute("DELETE FROM hosts WHERE id != ?1", params![id])?;
            tx.execute("DELETE FROM leases WHERE owner != ?1", params![id])
                .map(drop)
        })
    }

    fn hosts(&self, within: Duration) -> Result<Vec<HostRecord>, EngineError> {
        let since = now_ms().saturating_sub(lease_ms(within));
        self.read(|c| {
            c.prepare_cached(
                "SELECT id, label, started_at, seen_at FROM hosts WHERE seen_at >= ?1
                 ORDER BY started_at, id",
            )?
            .query_map(params![since], |r| {
                Ok(HostRecord {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    started_at: r.get(2)?,
                    seen_at: r.get(3)?,
                })
            })?
            .collect()
        })
    }

    fn host_gone(&self, id: &str) -> Result<(), EngineError> {
        self.write(|tx| {
            tx.execute("DELETE FROM hosts WHERE id = ?1", params![id])?;
            tx.execute("DELETE FROM leases WHERE owner = ?1", params![id])
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
        let now = now_ms();
        let until = now.saturating_add(lease_ms(ttl));
        self.write(|tx| {
            let held: Option<(String, i64, i64)> = tx
                .prepare_cached("SELECT owner, until, gen FROM leases WHERE name = ?1")?
                .query_row(params![name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            match held {
                Some((o, _, generation)) if o == owner => {
                    tx.prepare_cached("UPDATE leases SET until = ?2 WHERE name = ?1")?
                        .execute(params![name, until])?;
                    Ok(Some(generation))
                }
                Some((_, expires, generation)) if may_take && expires < now => {
                    tx.prepare_cached(
                        "UPDATE leases SET owner = ?2, until = ?3, gen = ?4 WHERE name = ?1",
                    )?
                    .execute(params![name, owner, until, generation + 1])?;
                    Ok(Some(generation + 1))
                }
                None if may_take => {
                    tx.prepare_cached(
                        "INSERT INTO leases (name, owner, until, gen) VALUES (?1, ?2, ?3, 1)",
                    )?
                    .execute(params![name, owner, until])?;
                    Ok(Some(1))
                }
                _ => Ok(None),
            }
        })
    }

    fn leases(&self) -> Result<Vec<LeaseRecord>, EngineError> {
        self.read(|c| {
            c.prepare_cached("SELECT name, owner, until, gen FROM leases ORDER BY name")?
                .query_map([], |r| {
                    Ok(LeaseRecord {
                        name: r.get(0)?,
                        owner: r.get(1)?,
                        until: r.get(2)?,
                        generation: r.get(3)?,
                    })
                })?
                .collect()
        })
    }

    fn plugin_versions(&self) -> Result<BTreeMap<String, String>, EngineError> {
        self.read(|c| {
            c.prepare_cached("SELECT plugin, version FROM plugin_versions")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
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
        let now = now_ms();
        self.write(|tx| {
            let sql = if replace {
                "INSERT INTO plugin_versions (plugin, version, recorded_by, recorded_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (plugin) DO UPDATE SET version = ?2, recorded_by = ?3, recorded_at = ?4
                 WHERE plugin_versions.version != ?2"
            } else {
                "INSERT INTO plugin_versions (plugin, version, recorded_by, recorded_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (plugin) DO NOTHING"
            };
            Ok(tx.execute(sql, params![plugin, version, host, now])? > 0)
        })
    }
}
