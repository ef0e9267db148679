//! Automation: eager policies queue partitions whose upstream changed.

use chrono::{DateTime, Utc};
use tessera_partitions::Context;

use super::{Engine, new_id};
use crate::error::EngineError;
use crate::graph::AssetNode;
use crate::state::{NewRun, RunFilter, RunSelection, RunStatus};
use tessera_runtime::RollupPolicy;

impl Engine {
    /// For every asset with the eager policy: queues its materialized partitions whose
    /// upstream partitions have new data versions since (late-arriving data). Cheap when
    /// nothing was materialized since the last call. A partition is queued once per upstream
    /// change (the run key names the newest upstream materialization).
    pub fn queue_eager(&self, now: DateTime<Utc>) -> Result<Vec<String>, EngineError> {
        let newest = self.state.last_materialization()?;
        {
            let seen = self.eager_seen.lock().unwrap_or_else(|p| p.into_inner());
            if *seen == newest {
                return Ok(Vec::new());
            }
        }
        let graph = self.graph()?;
        let dynamic = self.dynamic_snapshot()?;
        let cx = Context::new(now).with_dynamic(&dynamic);
        let mut queued = Vec::new();
        for node in graph.assets().filter(|n| n.eager && !n.inputs.is_empty()) {
            let records = self
                .state
                .partition_summaries(&node.key, &node.code_version)?;
            // Inputs with new data versions, not a changed code version (that is a
            // deployment's to decide) nor an upstream re-materialized with the same bytes.
            let mut stale: Vec<(String, i64)> = self
                .stale_partitions(&graph, node, &records, &cx, false)?
                .into_iter()
                .filter(|(_, s)| s.inputs_changed)
                .filter_map(|(k, s)| Some((k, s.newest_upstream?)))
                .collect();
            stale.sort();
            let mut tick = crate::state::SensorTick::automation(
                format!("eager:{}", node.key),
                now.timestamp_millis(),
            );
            for (key, upstream_id) in stale {
                let run_key = format!("{key}@{upstream_id}");
                tick.runs.push(self.automated_run(
                    node,
                    vec![node.key.clone()],
                    RunSelection::Keys { keys: vec![key] },
                    1,
                    run_key,
                    "eager",
                ));
            }
            if !tick.runs.is_empty() {
                queued.extend(self.state.record_sensor_tick(&tick)?);
            }
        }
        *self.eager_seen.lock().unwrap_or_else(|p| p.into_inner()) = newest;
        Ok(queued)
    }

    /// For every asset with a `wait_until` roll-up input: queues again each run that ended
    /// waiting for upstream partitions once its deadline has passed, so the window runs with
    /// what exists. Once per waiting run (the run key names it).
    pub fn queue_due_rollups(&self, now: DateTime<Utc>) -> Result<Vec<String>, EngineError> {
        let graph = self.graph()?;
        let mut queued = Vec::new();
        for node in graph.assets() {
            let waiting_inputs: Vec<&crate::graph::Edge> = node
                .inputs
                .iter()
                .filter(|e| matches!(e.rollup, RollupPolicy::WaitUntil(_)))
                .collect();
            if waiting_inputs.is_empty() {
                continue;
            }
            let runs = self.state.runs_matching(&RunFilter {
                limit: 1000,
                asset: Some(node.key.clone()),
                status: Some(RunStatus::WaitingForUpstream),
                ..RunFilter::default()
            })?;
            let mut tick = crate::state::SensorTick::automation(
                format!("rollup:{}", node.key),
                now.timestamp_millis(),
            );
            for run in runs {
                let keys = super::execute::run_keys(&run.selection);
                // Due when every waiting input's deadline has passed: the others' partitions
                // are then all materialized, or the run would wait again.
                let due = waiting_inputs.iter().all(|e| {
                    super::execute::rollup_deadline(node, e, &keys)
                        .is_some_and(|d| now.timestamp() >= d)
                });
                let run_key = format!("after:{}", run.id);
                // Queued on an earlier tick: nothing to record (the daemon asks every second).
                if !due || self.state.sensor_run_key_seen(&tick.sensor, &run_key)? {
                    continue;
                }
                tick.runs.push(self.automated_run(
                    node,
                    run.assets,
                    run.selection,
                    run.partitions,
                    run_key,
                    "rollup deadline",
                ));
            }
            if !tick.runs.is_empty() {
                queued.extend(self.state.record_sensor_tick(&tick)?);
            }
        }
        Ok(queued)
    }

    /// A run of `node`'s computation that an automation step queues (no backfill, no
    /// dependencies): deduplicated by `run_key` within the step's ticks.
    fn automated_run(
        &self,
        node: &AssetNode,
        assets: Vec<String>,
        selection: RunSelection,
        partitions: u64,
        run_key: String,
        trigger: &str,
    ) -> NewRun {
        NewRun {
            id: new_id("r"),
            plugin: node.plugin.clone(),
            computation: node.computation.clone(),
            assets,
            selection,
            partitions,
            backfill_id: None,
            run_key: Some(run_key),
            trigger: trigger.into(),
            tags: Vec::new(),
            max_attempts: self.config.max_attempts,
            depends_on: Vec::new(),
            pool: node.pool.clone(),
        }
    }
}
