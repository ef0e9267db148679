//! Sensors and schedules on PostgreSQL: cursors, run keys, ticks. A run key or a tick is
//! claimed by inserting it (`ON CONFLICT DO NOTHING`): of two hosts recording the same one,
//! the second waits for the first to commit and then records nothing.

use super::runs::insert_runs;
use super::*;
use crate::state::{NewRun, SensorState, SensorStore, SensorTick, now_ms};

impl SensorStore for PgState {
    fn sensor_state(&self, name: &str) -> Result<SensorState, EngineError> {
        self.read(async |c| {
            let Some(r) = row_opt(
                c,
                "SELECT cursor, last_evaluation, last_skip_reason, last_error, evaluations, disabled
                 FROM sensor_state WHERE name = $1",
                &[&name],
            )
            .await?
            else {
                return Ok(SensorState::default());
            };
            Ok(SensorState {
                cursor: r.opt_text(0)?,
                last_evaluation: r.opt_int(1)?,
                last_skip_reason: r.opt_text(2)?,
                last_error: r.opt_text(3)?,
                evaluations: r.int(4)? as u64,
                disabled: r.bool(5)?,
            })
        })
    }

    fn set_sensor_disabled(&self, name: &str, disabled: bool) -> Result<(), EngineError> {
        self.write(async |tx| {
            exec(
                tx,
                "INSERT INTO sensor_state (name, disabled) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET disabled = $2",
                &[&name, &disabled],
            )
            .await
            .map(drop)
        })
    }

    fn record_sensor_tick(&self, tick: &SensorTick) -> Result<Vec<String>, EngineError> {
        self.write_dynamic(async |tx, d| {
            if let Some(expected) = tick.evaluations {
                // The sensor's row, locked to the commit: of two evaluations that read the
                // same count, the second waits here and then finds it moved on.
                exec(
                    tx,
                    "INSERT INTO sensor_state (name) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[&tick.sensor],
                )
                .await?;
                let recorded = row(
                    tx,
                    "SELECT evaluations FROM sensor_state WHERE name = $1 FOR UPDATE",
                    &[&tick.sensor],
                )
                .await?
                .int(0)?;
                if recorded as u64 != expected {
                    return Ok(Err(EngineError::TickSuperseded {
                        sensor: tick.sensor.clone(),
                    }));
                }
            }
            for (name, add, delete) in &tick.dynamic {
                d.add(self, tx, name, add).await?;
                d.remove(self, tx, name, delete).await?;
            }
            let mut launched = Vec::new();
            for r in &tick.runs {
                if let Some(key) = &r.run_key {
                    let fresh = exec(
                        tx,
                        "INSERT INTO sensor_run_keys (sensor, run_key, run_id) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                        &[&tick.sensor, key, &r.id],
                    )
                    .await?;
                    if fresh == 0 {
                        continue;
                    }
                }
                launched.push(r);
            }
            lock(tx, LOCK_RUNS, 0).await?;
            let runs: Vec<NewRun> = launched.iter().map(|r| (*r).clone()).collect();
            insert_runs(tx, &runs, tick.at).await?;
            exec(
                tx,
                "INSERT INTO sensor_state (name, cursor, last_evaluation, last_skip_reason, last_error, evaluations)
                 VALUES ($1, $2, $3, $4, $5, 1)
                 ON CONFLICT (name) DO UPDATE SET cursor = $2, last_evaluation = $3,
                    last_skip_reason = $4, last_error = $5,
                    evaluations = sensor_state.evaluations + 1",
                &[&tick.sensor, &tick.cursor, &tick.at, &tick.skip_reason, &tick.error],
            )
            .await?;
            Ok(Ok(runs.into_iter().map(|r| r.id).collect()))
        })?
    }

    fn sensor_run_key_seen(&self, sensor: &str, run_key: &str) -> Result<bool, EngineError> {
        self.read(async |c| {
            Ok(row_opt(
                c,
                "SELECT 1 FROM sensor_run_keys WHERE sensor = $1 AND run_key = $2",
                &[&sensor, &run_key],
            )
            .await?
            .is_some())
        })
    }

    fn last_schedule_tick(&self, schedule: &str) -> Result<Option<i64>, EngineError> {
        self.read(async |c| {
            row(
                c,
                "SELECT MAX(tick) FROM schedule_ticks WHERE schedule = $1",
                &[&schedule],
            )
            .await?
            .opt_int(0)
        })
    }

    fn record_schedule_ticks(
        &self,
        schedule: &str,
        ticks: &[(i64, Option<String>, Option<NewRun>)],
    ) -> Result<Vec<String>, EngineError> {
        let now = now_ms();
        // Run keys share the sensors' table, in the schedule's own namespace.
        let namespace = format!("schedule:{schedule}");
        self.write(async |tx| {
            let mut queued: Vec<NewRun> = Vec::new();
            for (tick, partition, run) in ticks {
                let fresh = exec(
                    tx,
                    "INSERT INTO schedule_ticks (schedule, tick, partition, status)
                     VALUES ($1, $2, $3, 'skipped') ON CONFLICT DO NOTHING",
                    &[&schedule, tick, partition],
                )
                .await?;
                if fresh == 0 {
                    continue;
                }
                let mut run = run.as_ref();
                if let Some(r) = run
                    && let Some(key) = &r.run_key
                {
                    let new_key = exec(
                        tx,
                        "INSERT INTO sensor_run_keys (sensor, run_key, run_id) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                        &[&namespace, key, &r.id],
                    )
                    .await?;
                    if new_key == 0 {
                        run = None;
                    }
                }
                if let Some(r) = run {
                    exec(
                        tx,
                        "UPDATE schedule_ticks SET status = 'requested', run_id = $3
                         WHERE schedule = $1 AND tick = $2",
                        &[&schedule, tick, &r.id],
                    )
                    .await?;
                    queued.push(r.clone());
                }
            }
            lock(tx, LOCK_RUNS, 0).await?;
            insert_runs(tx, &queued, now).await?;
            Ok(queued.into_iter().map(|r| r.id).collect())
        })
    }
}
