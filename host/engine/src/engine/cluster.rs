//! Several hosts on one database: each heartbeats, takes a fair share of the leases on
//! sensors, schedules and eager automation (a tick is evaluated by the lease's holder only),
//! and agrees with the others on the current version of each plugin. None of it needs a
//! coordinator: every decision is one conditional write on one row.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;

use super::Engine;
use crate::error::{EngineError, report};
use crate::state::HostRecord;

/// A live host and what it evaluates.
#[derive(Debug, Clone, Serialize)]
pub struct HostView {
    #[serde(flatten)]
    pub host: HostRecord,
    /// The leases it holds: `sensor:<name>`, `schedule:<name>`, `eager`.
    pub leases: Vec<String>,
}

/// The lease that lets one host queue eager work.
pub(super) const EAGER_LEASE: &str = "eager";

impl Engine {
    /// What this host serves, plugin by plugin (name → content hash), when it follows the
    /// versions the database records as current; empty otherwise (a one-off command).
    pub(super) fn served_versions(&self) -> BTreeMap<String, String> {
        if !self.versions_agreed.load(Ordering::Relaxed) {
            return BTreeMap::new();
        }
        self.registry
            .plugins()
            .iter()
            .map(|p| (p.name().to_string(), p.code_version().to_string()))
            .collect()
    }

    /// Records the versions this host loaded as current and from then on claims a plugin's
    /// runs only under the current version. `replace`: a version this host just loaded (a
    /// hot reload) replaces the recorded one, so a rollout goes live when the first host
    /// sees the new file; at start, only plugins with no recorded version are recorded —
    /// except that a version no other live host could be serving (none is alive) is
    /// replaced too, so a fleet restarted with new files does not wait for itself.
    pub fn agree_plugin_versions(&self, replace: bool) -> Result<(), EngineError> {
        let alone = self
            .state
            .hosts(self.config.lease)?
            .iter()
            .all(|h| h.id == self.owner);
        for p in self.registry.plugins() {
            self.state.record_plugin_version(
                p.name(),
                p.code_version(),
                &self.owner,
                replace || alone,
            )?;
        }
        self.versions_agreed.store(true, Ordering::Relaxed);
        self.notify();
        Ok(())
    }

    /// One round of membership: the heartbeat, then this host's share of `names` (leases
    /// renewed, free ones taken while it holds fewer than its share, extras given up when
    /// more hosts joined). Returns the names it holds now; on a database error, none (better
    /// no tick than a tick a host may not own).
    pub fn take_shards(&self, names: &[String], label: &str, started_at: i64) -> BTreeSet<String> {
        match self.try_take_shards(names, label, started_at) {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %report(&e), "could not renew this host's leases");
                BTreeSet::new()
            }
        }
    }

    fn try_take_shards(
        &self,
        names: &[String],
        label: &str,
        started_at: i64,
    ) -> Result<BTreeSet<String>, EngineError> {
        let ttl = self.config.lease;
        self.state.host_heartbeat(&self.owner, label, started_at)?;
        let live = self.state.hosts(ttl)?.len().max(1);
        let share = names.len().div_ceil(live);
        let mut held = BTreeSet::new();
        // Renew first: what this host holds stays its own before it looks at free ones.
        let leases = self.state.leases()?;
        let mine: BTreeSet<&str> = leases
            .iter()
            .filter(|l| l.owner == self.owner)
            .map(|l| l.name.as_str())
            .collect();
        for name in names.iter().filter(|n| mine.contains(n.as_str())) {
            if held.len() >= share {
                // More hosts than when it was taken: hand it over now (a lease renewed
                // until now is free at once).
                self.state
                    .acquire_lease(name, &self.owner, Duration::ZERO, false)?;
                continue;
            }
            if self
                .state
                .acquire_lease(name, &self.owner, ttl, false)?
                .is_some()
            {
                held.insert(name.clone());
            }
        }
        for name in names.iter().filter(|n| !mine.contains(n.as_str())) {
            if held.len() >= share {
                break;
            }
            if self
                .state
                .acquire_lease(name, &self.owner, ttl, true)?
                .is_some()
            {
                held.insert(name.clone());
            }
        }
        Ok(held)
    }

    /// The hosts alive now (seen within a lease), each with the leases it holds.
    pub fn hosts(&self) -> Result<Vec<HostView>, EngineError> {
        let now = crate::state::now_ms();
        let leases = self.state.leases()?;
        Ok(self
            .state
            .hosts(self.config.lease)?
            .into_iter()
            .map(|host| HostView {
                leases: leases
                    .iter()
                    .filter(|l| l.owner == host.id && l.until >= now)
                    .map(|l| l.name.clone())
                    .collect(),
                host,
            })
            .collect())
    }

    /// The version recorded as current for each plugin (hosts serve only that one).
    pub fn current_plugin_versions(&self) -> Result<BTreeMap<String, String>, EngineError> {
        self.state.plugin_versions()
    }

    /// Claims every lease for this host, whoever held it: only for a host that knows it is
    /// the only one (the holder of a SQLite state's daemon lock).
    pub fn sole_host(&self) -> Result<(), EngineError> {
        self.state.forget_other_hosts(&self.owner)
    }

    /// A host leaving cleanly: its leases and its row go, so the others take over at once.
    pub fn leave_cluster(&self) {
        if let Err(e) = self.state.host_gone(&self.owner) {
            tracing::warn!(error = %report(&e), "could not hand this host's leases over");
        }
    }
}
