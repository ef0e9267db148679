//! Schedules: cron ticks request the latest complete partition of an asset.

use chrono::{DateTime, Utc};
use tessera_partitions::{Context, PartitionKey};

use super::{Engine, new_id};
use crate::error::EngineError;
use crate::graph::AssetGraph;
use crate::state::{NewRun, RunSelection};

impl Engine {
    /// Requests the latest complete partition of the schedule's asset for every cron tick
    /// since the last recorded one (at most `catch_up` of them, newest kept), with the
    /// partition key as run key. On the first call only the latest tick counts.
    pub fn tick_schedule(
        &self,
        spec: &ScheduleSpec,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, EngineError> {
        let bad = |m: String| EngineError::Invalid(format!("schedule {:?}: {m}", spec.name));
        let schedule = spec.schedule()?;
        let graph = self.graph()?;
        let node = self.node(&graph, &spec.asset)?;
        let def = node
            .partitions
            .as_ref()
            .ok_or_else(|| bad(format!("asset {:?} is not partitioned", spec.asset)))?;
        let now_s = now.timestamp();
        let mut ticks: Vec<i64> = Vec::new();
        match self.state.last_schedule_tick(&spec.name)? {
            Some(last) => {
                for t in schedule.iter_from(last + 1) {
                    if t > now_s {
                        break;
                    }
                    ticks.push(t);
                    if ticks.len() > spec.catch_up.max(1) as usize {
                        ticks.remove(0);
                    }
                }
            }
            None => {
                if let Some(t) = schedule.prev(now_s + 1) {
                    ticks.push(t);
                }
            }
        }
        let dynamic = self.dynamic_snapshot()?;
        let mut rows = Vec::new();
        for t in ticks {
            let at = DateTime::<Utc>::from_timestamp(t, 0).unwrap_or(now);
            let cx = Context::new(at).with_dynamic(&dynamic);
            let key = def.last_key(&cx)?.map(PartitionKey::into_string);
            let run = key.as_ref().map(|k| NewRun {
                id: new_id("r"),
                plugin: node.plugin.clone(),
                computation: node.computation.clone(),
                assets: vec![node.key.clone()],
                selection: RunSelection::Keys {
                    keys: vec![k.clone()],
                },
                partitions: 1,
                backfill_id: None,
                run_key: Some(k.clone()),
                trigger: format!("schedule:{}", spec.name),
                tags: vec![("schedule".into(), spec.name.clone())],
                max_attempts: self.config.max_attempts,
                depends_on: Vec::new(),
                pool: node.pool.clone(),
            });
            rows.push((t, key, run));
        }
        self.state.record_schedule_ticks(&spec.name, &rows)
    }
}

/// A cron schedule over a partitioned asset.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    pub name: String,
    pub asset: String,
    pub cron: String,
    pub timezone: String,
    pub catch_up: u32,
}

impl ScheduleSpec {
    /// The cron schedule in its time zone: an error names the schedule and what is wrong
    /// (checked when the configuration loads, not at the first tick).
    pub fn schedule(&self) -> Result<tessera_partitions::Schedule, EngineError> {
        let bad = |m: String| EngineError::Invalid(format!("schedule {:?}: {m}", self.name));
        let cron = tessera_partitions::cron::Cron::parse(&self.cron)
            .map_err(|e| bad(format!("cron {:?}: {e}", self.cron)))?;
        let zone = tessera_partitions::Zone::new(&self.timezone)
            .map_err(|e| bad(format!("timezone {:?}: {e}", self.timezone)))?;
        tessera_partitions::Schedule::new(cron, zone).map_err(|e| bad(e.to_string()))
    }

    /// The schedule's target in a graph: a partitioned asset.
    pub fn check_target(&self, graph: &AssetGraph) -> Result<(), EngineError> {
        let bad = |m: String| EngineError::Invalid(format!("schedule {:?}: {m}", self.name));
        match graph.asset(&self.asset) {
            None => Err(bad(format!(
                "its asset {:?} is not declared by any loaded plugin (see `tessera assets`)",
                self.asset
            ))),
            Some(n) if n.partitions.is_none() => Err(bad(format!(
                "its asset {:?} is not partitioned",
                self.asset
            ))),
            Some(_) => Ok(()),
        }
    }
}
