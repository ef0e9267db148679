//! Set-ups the benchmarks share: an engine over a project of test guests, the 10,000-day
//! backfill of the end-to-end benchmarks, and many materializations scattered over a
//! minutely asset.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use tessera_engine::state::NewMaterialization;
use tessera_engine::{
    Clock, Engine, EngineConfig, Filter, PartitionSelection, RunPolicy, Submitted,
};
use tessera_runtime::RuntimeConfig;

use crate::{components, shared_dir};

/// An engine over a fresh project in `dir` holding the test guests named, with its clock
/// fixed at `now` and the shared artifact cache (no guest is compiled twice per machine).
pub fn engine_with(dir: &Path, guests: &[&str], now: DateTime<Utc>) -> Engine {
    engine_on(dir, guests, now, None)
}

/// Submits a backfill of `assets` over the 10,000 days from 2000-01-01 (the end-to-end
/// benchmarks' workload; the probe's `bench_*` assets start then).
pub fn submit_10k_days(
    engine: &Engine,
    assets: &[&str],
    policy: RunPolicy,
    now: DateTime<Utc>,
) -> Submitted {
    let assets: Vec<String> = assets.iter().map(|s| (*s).to_string()).collect();
    engine
        .submit(
            &assets,
            &PartitionSelection::Range(tessera_partitions::KeyRange::new(
                "2000-01-01",
                "2027-05-18",
            )),
            Filter::Any,
            policy,
            true,
            "bench",
            now,
        )
        .unwrap()
}

/// [`engine_with`], its state in the PostgreSQL database at `database` when given.
pub fn engine_on(
    dir: &Path,
    guests: &[&str],
    now: DateTime<Utc>,
    database: Option<String>,
) -> Engine {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for guest in guests {
        std::fs::copy(
            components().guest(guest),
            plugins.join(format!("{guest}.wasm")),
        )
        .unwrap();
    }
    let runtime = RuntimeConfig {
        cache_dir: Some(shared_dir("artifacts")),
        ..RuntimeConfig::default()
    };
    let config = EngineConfig {
        clock: Clock::Fixed(now),
        database,
        ..EngineConfig::default()
    };
    Engine::open(&dir.join("state"), &plugins, runtime, config)
        .unwrap()
        .0
}

/// `n` materializations of `engine_probe`'s `minutely` asset at keys spread evenly over its
/// first ten million minutes (from 2010-01-01), in no particular order.
pub fn scattered_minutes(n: i64) -> Vec<NewMaterialization> {
    let start = Utc.with_ymd_and_hms(2010, 1, 1, 0, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let minute = (i * 7_919 * 127) % 10_000_000;
            let t = start + chrono::Duration::minutes(minute);
            NewMaterialization {
                asset: "minutely".into(),
                partition: t.format("%Y-%m-%d-%H:%M").to_string(),
                code_version: "v".into(),
                data_version: "d".into(),
                blob: "minutely/x".into(),
                metadata: serde_json::Value::Null,
                started_at: 0,
                ended_at: 0,
                inputs: Default::default(),
            }
        })
        .collect()
}
