//! Sensors: one evaluation of a plugin's sensor, its dynamic-partition requests and run
//! requests, recorded in one transaction.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_partitions::{Context, MemoryDynamicStore};
use tessera_runtime::{CallError, Selection};

use super::{Engine, new_id};
use crate::error::{EngineError, report};
use crate::state::{NewRun, RunSelection};

impl Engine {
    /// Evaluates one sensor now: applies its dynamic-partition requests, then validates and
    /// queues its run requests (a run key seen before is skipped), and stores the new cursor;
    /// all in one transaction.
    pub fn tick_sensor(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<SensorOutcome, EngineError> {
        let graph = self.graph()?;
        let sensor = graph
            .sensors()
            .get(name)
            .ok_or_else(|| EngineError::UnknownSensor(name.to_string()))?
            .clone();
        let plugin = self
            .registry
            .get(&sensor.plugin)
            .ok_or_else(|| EngineError::UnknownPlugin(sensor.plugin.clone()))?;
        let state = self.state.sensor_state(name)?;
        let at = now.timestamp_millis();
        let request = tessera_runtime::SensorRequest {
            sensor: name.to_string(),
            cursor: state.cursor.clone(),
            last_evaluation: state
                .last_evaluation
                .and_then(DateTime::<Utc>::from_timestamp_millis),
            now,
        };
        let mut tick = crate::state::SensorTick {
            sensor: name.to_string(),
            at,
            evaluations: Some(state.evaluations),
            cursor: state.cursor.clone(),
            skip_reason: None,
            error: None,
            dynamic: Vec::new(),
            runs: Vec::new(),
        };
        let result = match plugin.evaluate_sensor_cancelable(&request, Some(&self.sensor_cancel)) {
            Ok(r) => r,
            Err(e @ CallError::Canceled { .. }) => {
                // Stopping: not the sensor's fault, so nothing is recorded.
                return Err(EngineError::Invalid(format!("sensor {name:?}: {e}")));
            }
            Err(e) => {
                // The cursor stays; the error is shown by `tessera sensor list`.
                tick.error = Some(report(&e));
                self.state.record_sensor_tick(&tick)?;
                return Err(EngineError::Invalid(format!("sensor {name:?}: {e}")));
            }
        };
        tick.skip_reason = result.skip_reason.clone();
        tick.dynamic = result
            .dynamic_partitions
            .iter()
            .map(|d| (d.name.clone(), d.add.clone(), d.delete.clone()))
            .collect();
        for d in &result.dynamic_partitions {
            let checked = crate::state::check_dynamic_name(&d.name)
                .and_then(|()| crate::state::check_dynamic_keys(&d.add));
            if let Err(e) = checked {
                tick.error = Some(report(&e));
                tick.dynamic.clear();
                self.state.record_sensor_tick(&tick)?;
                return Err(EngineError::Invalid(format!("sensor {name:?}: {e}")));
            }
        }
        // Run requests that name partitions are checked against the dynamic sets as they will
        // be after this tick: one pass over each set's keys (a sensor may add a million).
        let mut dynamic = MemoryDynamicStore::new();
        let adds_combinations = result
            .dynamic_partitions
            .iter()
            .any(|d| !d.add.is_empty() && !graph.combination_sets(&d.name).is_empty());
        if adds_combinations
            || result
                .run_requests
                .iter()
                .any(|rr| !matches!(rr.selection, Selection::None))
        {
            let mut names: BTreeSet<String> = self
                .state
                .dynamic_names()?
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            names.extend(result.dynamic_partitions.iter().map(|d| d.name.clone()));
            for set in names {
                let mut keys: indexmap::IndexSet<String> =
                    self.state.dynamic_keys(&set)?.into_iter().collect();
                for d in result.dynamic_partitions.iter().filter(|d| d.name == set) {
                    if !d.delete.is_empty() {
                        let gone: std::collections::HashSet<&str> =
                            d.delete.iter().map(String::as_str).collect();
                        keys.retain(|k| !gone.contains(k.as_str()));
                    }
                    keys.extend(d.add.iter().cloned());
                }
                dynamic.add(&set, keys);
            }
        }
        let cx = Context::new(now).with_dynamic(&dynamic);
        for d in &result.dynamic_partitions {
            if let Err(e) = graph.check_dynamic_keys(&cx, &d.name, &d.add) {
                tick.error = Some(report(&e));
                tick.dynamic.clear();
                self.state.record_sensor_tick(&tick)?;
                return Err(EngineError::Invalid(format!("sensor {name:?}: {e}")));
            }
        }
        let mut skipped = 0;
        for rr in &result.run_requests {
            if let Some(key) = &rr.run_key
                && self.state.sensor_run_key_seen(name, key)?
            {
                skipped += 1;
                continue;
            }
            let Some(first) = rr.assets.first().and_then(|a| graph.asset(a)) else {
                continue;
            };
            let selection = match &rr.selection {
                Selection::None => RunSelection::None,
                Selection::Key(k) => RunSelection::Keys {
                    keys: vec![k.clone()],
                },
                Selection::Range(r) => RunSelection::Range(r.clone()),
            };
            if let Some(def) = &first.partitions {
                match &rr.selection {
                    Selection::Key(k) if !def.has_key(&cx, k)? => {
                        return Err(EngineError::Invalid(format!(
                            "sensor {name:?} requested partition {k:?} of {:?}, which does not exist",
                            first.key
                        )));
                    }
                    Selection::Range(r) => {
                        def.range(&cx, &r.start, &r.end)?;
                    }
                    _ => {}
                }
            }
            tick.runs.push(NewRun {
                id: new_id("r"),
                plugin: first.plugin.clone(),
                computation: first.computation.clone(),
                assets: rr.assets.clone(),
                partitions: match &selection {
                    RunSelection::Keys { keys } => keys.len() as u64,
                    _ => 1,
                },
                selection,
                backfill_id: None,
                run_key: rr.run_key.clone(),
                trigger: format!("sensor:{name}"),
                tags: rr.tags.clone(),
                max_attempts: self.config.max_attempts,
                depends_on: Vec::new(),
                pool: first.pool.clone(),
            });
        }
        tick.cursor = result.cursor.clone().or(state.cursor);
        if self.is_stopping() {
            // Stopping: the tick is not recorded; the next start evaluates the sensor again.
            return Err(EngineError::Invalid(format!(
                "sensor {name:?}: not recorded, the engine is stopping"
            )));
        }
        let launched = self.state.record_sensor_tick(&tick)?;
        let run_keys_skipped = skipped + (tick.runs.len() - launched.len()) as u64;
        Ok(SensorOutcome {
            sensor: name.to_string(),
            runs_queued: launched,
            // Duplicates within this one evaluation are dropped in the transaction.
            run_keys_skipped,
            skip_reason: result.skip_reason,
            cursor: tick.cursor,
            dynamic_partitions: result
                .dynamic_partitions
                .iter()
                .map(|d| (d.name.clone(), d.add.len() as u64, d.delete.len() as u64))
                .collect(),
        })
    }
}

/// What one sensor evaluation did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SensorOutcome {
    pub sensor: String,
    pub runs_queued: Vec<String>,
    pub run_keys_skipped: u64,
    pub skip_reason: Option<String>,
    pub cursor: Option<String>,
    /// (set, keys added, keys deleted)
    pub dynamic_partitions: Vec<(String, u64, u64)>,
}
