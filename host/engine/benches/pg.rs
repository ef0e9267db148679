//! The engine on PostgreSQL: a throwaway cluster started by the benchmark (Debian's server
//! binaries, `initdb`/`pg_ctl`, commits synced to disk as in production), a real compiled
//! plugin. Run: `cargo bench -p tessera-engine --bench pg -- --output-format bencher`
//!
//! - `pg_e2e_per_partition_10k`: a trivial asset, 10,000 daily partitions, one run each, one
//!   host (target ≥ 2,000 partitions/s, i.e. ≤ 5 s).
//! - `pg_e2e_three_hosts_10k`: the same backfill executed by three hosts on one database
//!   (three engines with their own pools and workers); prints the share of worker time spent
//!   waiting on the database.
//! - `pg_claim_latency`: one claim (`FOR UPDATE SKIP LOCKED`, one run) from a queue of 10,000;
//!   the median and the 99th percentile of 2,000 single claims are printed too.
//! - `pg_status_10m`: counts and health bar of a 10M-partition asset with 10,000 scattered
//!   materializations (≤ 20 ms).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use tessera_engine::state::{Completed, NewRun};
use tessera_engine::{Engine, RunPolicy, RunScope, RunSelection};
use tessera_tests::{fixtures, pg};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 5, 20, 0, 0, 0).unwrap()
}

/// A fresh project with the probe plugin on a fresh database of the durable cluster.
fn engine(dir: &std::path::Path) -> Engine {
    let database = pg::durable_cluster().database();
    fixtures::engine_on(dir, &["engine_probe"], now(), Some(database))
}

fn e2e(c: &mut Criterion) {
    let mut group = c.benchmark_group("pg");
    group.sample_size(10);
    group.bench_function("pg_e2e_per_partition_10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let engine = engine(dir.path());
                let t = Instant::now();
                let s = fixtures::submit_10k_days(
                    &engine,
                    &["bench_up"],
                    RunPolicy::PerPartition,
                    now(),
                );
                let summary = engine.run_queue(s.backfill_id.as_deref(), &|_| {}).unwrap();
                total += t.elapsed();
                assert_eq!((summary.partitions, summary.runs_failed), (10_000, 0));
            }
            total
        });
    });
    // Three hosts: three engines (each its own connection pool, owner, heartbeat and two
    // workers) sharing one database and one IO store, as three processes would; the
    // backfill is submitted by one and executed by all.
    let mut share = Vec::new();
    group.bench_function("pg_e2e_three_hosts_10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let database = pg::durable_cluster().database();
                let hosts: Vec<Engine> = (0..3)
                    .map(|_| {
                        fixtures::engine_on(
                            dir.path(),
                            &["engine_probe"],
                            now(),
                            Some(database.clone()),
                        )
                    })
                    .collect();
                let t = Instant::now();
                let s = fixtures::submit_10k_days(
                    &hosts[0],
                    &["bench_up"],
                    RunPolicy::PerPartition,
                    now(),
                );
                let backfill = s.backfill_id.as_deref();
                let done: u64 = std::thread::scope(|scope| {
                    let handles: Vec<_> = hosts
                        .iter()
                        .map(|h| scope.spawn(move || h.run_queue(backfill, &|_| {}).unwrap()))
                        .collect();
                    handles
                        .into_iter()
                        .map(|j| j.join().unwrap().partitions)
                        .sum()
                });
                let wall = t.elapsed();
                total += wall;
                assert_eq!(done, 10_000);
                let in_db: Duration = hosts
                    .iter()
                    .map(|h| h.state().time_in_database().unwrap())
                    .sum();
                // Of all worker time (three hosts, two workers each), the part spent waiting
                // on the database.
                share.push(in_db.as_secs_f64() / (wall.as_secs_f64() * 6.0));
            }
            total
        });
    });
    group.finish();
    share.sort_by(f64::total_cmp);
    if let Some(median) = share.get(share.len() / 2) {
        eprintln!(
            "pg_e2e_three_hosts_10k: median share of worker time in the database {:.0}% ({} samples)",
            median * 100.0,
            share.len()
        );
    }
}

fn queued(n: usize) -> Vec<NewRun> {
    (0..n)
        .map(|i| NewRun {
            id: format!("r{i:06}"),
            plugin: "p".into(),
            computation: "c".into(),
            assets: vec!["a".into()],
            selection: RunSelection::None,
            partitions: 1,
            backfill_id: None,
            run_key: None,
            trigger: "bench".into(),
            tags: Vec::new(),
            max_attempts: 1,
            depends_on: Vec::new(),
            pool: None,
        })
        .collect()
}

fn claim_latency(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let state = engine.state_arc();
    let pools = BTreeMap::new();
    let lease = Duration::from_secs(30);
    let claim = || {
        let t = Instant::now();
        let runs = state
            .claim_batch("bench", &RunScope::All, 1, &pools, lease, &BTreeMap::new())
            .unwrap();
        let spent = t.elapsed();
        let done: Vec<Completed> = runs
            .into_iter()
            .map(|r| Completed {
                run_id: r.id,
                claim: r.claim,
                plugin: r.plugin,
                backfill_id: None,
                logs: Vec::new(),
                blobs: Vec::new(),
                materializations: Vec::new(),
                checks: Vec::new(),
            })
            .collect();
        assert_eq!(done.len(), 1);
        state.finish_successes(&done).unwrap();
        spent
    };
    state.insert_runs(None, &queued(10_000)).unwrap();
    let mut samples: Vec<Duration> = (0..2_000).map(|_| claim()).collect();
    samples.sort();
    eprintln!(
        "pg_claim_latency: median {:?}, p99 {:?} over {} claims",
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
        samples.len()
    );
    c.bench_function("pg_claim_latency", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if state.pending(&RunScope::All).unwrap().queued == 0 {
                    state.insert_runs(None, &queued_after(10_000)).unwrap();
                }
                total += claim();
            }
            total
        });
    });
}

/// More queued runs, named after those before.
fn queued_after(n: usize) -> Vec<NewRun> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static ROUND: AtomicUsize = AtomicUsize::new(1);
    let round = ROUND.fetch_add(1, Ordering::Relaxed);
    queued(n)
        .into_iter()
        .map(|mut r| {
            r.id = format!("{round}-{}", r.id);
            r
        })
        .collect()
}

fn status(c: &mut Criterion) {
    // 10M minutely partitions, 10,000 materialized at scattered keys.
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    engine
        .state()
        .record_progress(
            "bench-run",
            None,
            "engine_probe",
            &[],
            &fixtures::scattered_minutes(10_000),
            &[],
        )
        .unwrap();
    let graph = engine.graph().unwrap();
    let at = Utc.with_ymd_and_hms(2029, 1, 7, 0, 0, 0).unwrap();
    let t = Instant::now();
    let (status, _) = engine
        .asset_status(&graph, "minutely", 60, at, false)
        .unwrap();
    eprintln!(
        "pg_status_10m: {} partitions, {} materialized; first (computed) in {:?}",
        status.total,
        status.materialized,
        t.elapsed()
    );
    c.bench_function("pg_status_10m", |b| {
        b.iter(|| {
            black_box(
                engine
                    .asset_status(&graph, "minutely", 60, at, false)
                    .unwrap(),
            )
        });
    });
}

criterion_group!(benches, e2e, claim_latency, status);
criterion_main!(benches);
