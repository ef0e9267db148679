//! Sensors and schedules: cursors, run keys, ticks.

use rusqlite::{OptionalExtension, params};

use super::*;
use crate::error::EngineError;

impl SensorStore for State {
    fn sensor_state(&self, name: &str) -> Result<SensorState, EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT cursor, last_evaluation, last_skip_reason, last_error, evaluations, disabled
                 FROM sensor_state WHERE name = ?1",
                params![name],
                |r| {
                    Ok(SensorState {
                        cursor: r.get(0)?,
                        last_evaluation: r.get(1)?,
                        last_skip_reason: r.get(2)?,
                        last_error: r.get(3)?,
                        evaluations: r.get::<_, i64>(4)? as u64,
                        disabled: r.get::<_, i64>(5)? != 0,
                    })
                },
            )
            .optional()
            .map(Option::unwrap_or_default)
        })
    }

    fn set_sensor_disabled(&self, name: &str, disabled: bool) -> Result<(), EngineError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sensor_state (name, disabled) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET disabled = ?2",
                params![name, i64::from(disabled)],
            )
            .map(drop)
        })
    }

    fn record_sensor_tick(&self, tick: &SensorTick) -> Result<Vec<String>, EngineError> {
        self.write_dynamic(|tx, d| {
            if let Some(expected) = tick.evaluations {
                let recorded: i64 = tx
                    .query_row(
                        "SELECT evaluations FROM sensor_state WHERE name = ?1",
                        params![tick.sensor],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or(0);
                if recorded as u64 != expected {
                    return Ok(Err(EngineError::TickSuperseded {
                        sensor: tick.sensor.clone(),
                    }));
                }
            }
            for (name, add, delete) in &tick.dynamic {
                d.add(tx, name, add)?;
                d.remove(tx, name, delete)?;
            }
            let mut launched = Vec::new();
            let mut seq: i64 =
                tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM runs", [], |r| r.get(0))?;
            for r in &tick.runs {
                if let Some(key) = &r.run_key {
                    let seen: Option<String> = tx
                        .query_row(
                            "SELECT run_id FROM sensor_run_keys WHERE sensor = ?1 AND run_key = ?2",
                            params![tick.sensor, key],
                            |row| row.get(0),
                        )
                        .optional()?;
                    if seen.is_some() {
                        continue;
                    }
                    tx.execute(
                        "INSERT INTO sensor_run_keys (sensor, run_key, run_id) VALUES (?1, ?2, ?3)",
                        params![tick.sensor, key, r.id],
                    )?;
                }
                seq += 1;
                insert_run(tx, seq, r, tick.at)?;
                launched.push(r.id.clone());
            }
            tx.execute(
                "INSERT INTO sensor_state (name, cursor, last_evaluation, last_skip_reason, last_error, evaluations)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1)
                 ON CONFLICT (name) DO UPDATE SET cursor = ?2, last_evaluation = ?3,
                    last_skip_reason = ?4, last_error = ?5, evaluations = evaluations + 1",
                params![tick.sensor, tick.cursor, tick.at, tick.skip_reason, tick.error],
            )?;
            Ok(Ok(launched))
        })?
    }

    fn sensor_run_key_seen(&self, sensor: &str, run_key: &str) -> Result<bool, EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT 1 FROM sensor_run_keys WHERE sensor = ?1 AND run_key = ?2",
                params![sensor, run_key],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
        })
    }

    fn last_schedule_tick(&self, schedule: &str) -> Result<Option<i64>, EngineError> {
        self.read(|c| {
            c.query_row(
                "SELECT MAX(tick) FROM schedule_ticks WHERE schedule = ?1",
                params![schedule],
                |r| r.get(0),
            )
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
        self.write(|tx| {
            let mut seq: i64 =
                tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM runs", [], |r| r.get(0))?;
            let mut queued = Vec::new();
            for (tick, partition, run) in ticks {
                let recorded: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM schedule_ticks WHERE schedule = ?1 AND tick = ?2",
                        params![schedule, tick],
                        |r| r.get(0),
                    )
                    .optional()?;
                if recorded.is_some() {
                    continue;
                }
                let mut run = run.as_ref();
                if let Some(key) = run.and_then(|r| r.run_key.as_ref()) {
                    let fresh = tx.execute(
                        "INSERT OR IGNORE INTO sensor_run_keys (sensor, run_key, run_id)
                         VALUES (?1, ?2, ?3)",
                        params![namespace, key, run.map(|r| r.id.clone())],
                    )?;
                    if fresh == 0 {
                        run = None;
                    }
                }
                let status = if run.is_some() {
                    "requested"
                } else {
                    "skipped"
                };
                tx.execute(
                    "INSERT INTO schedule_ticks (schedule, tick, partition, run_id, status)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![schedule, tick, partition, run.map(|r| r.id.clone()), status],
                )?;
                if let Some(r) = run {
                    seq += 1;
                    insert_run(tx, seq, r, now)?;
                    queued.push(r.id.clone());
                }
            }
            Ok(queued)
        })
    }
}
