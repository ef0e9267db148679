//! End-to-end engine costs on real SQLite files and a real compiled plugin. Run:
//! `cargo bench -p tessera-engine -- --output-format bencher`
//!
//! - `e2e_per_partition_10k`: a trivial asset, 10,000 daily partitions, one run each
//!   (target ≥ 10,000 partitions/s, i.e. ≤ 1 s).
//! - `e2e_single_run_10k`: the same as one batched run (≥ 50,000/s, ≤ 200 ms).
//! - `e2e_chain_10k`: two assets, the second reading the first with `start_offset -1`, one
//!   run per partition each (≥ 5,000/s: 20,000 runs ≤ 2 s... counted per downstream partition,
//!   10,000 partitions ≤ 2 s).
//! - `dynamic_add_1k_single`: 1,000 keys added one call (one transaction) each (≤ 100 ms).
//! - `dynamic_add_10k_bulk`, `dynamic_add_1m_bulk`: one call each (≤ 10 ms, ≤ 1 s).
//! - `status_10m`: counts and health bar of a 10M-partition asset with 10,000 scattered
//!   materializations (≤ 10 ms).
//! - `sensor_tick_1m_keys`: one sensor evaluation that adds a million dynamic partition keys
//!   (the hostile test guest's `million_tenants`), from the call to the committed tick
//!   (≤ 2 s).
//! - `sparse_status_1m`: the same of a sparse asset with 1,000,000 partitions among 2,000,000
//!   combinations of its dimensions (≤ 20 ms).
//! - `show_history_1k`: `show` of a partition materialized 1,000 times (≤ 5 ms).
//! - `plan_backfill_1m`: planning (and storing) a backfill of two hourly assets over
//!   1,000,000 partitions, the second reading the first with `start_offset -1`, each in runs
//!   of up to 1,000 by its backfill policy (≤ 1 s, ≤ 256 MB); the peak of heap allocated
//!   during it is printed.
//! - `e2e_backfill_100k`: that backfill over 100,000 hours, end to end (≤ 10 s); peak heap
//!   printed.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use tessera_engine::prelude::*;
use tessera_engine::state::NewMaterialization;
use tessera_engine::{Engine, Filter, PartitionSelection, RunPolicy, State};
use tessera_tests::fixtures;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2029, 6, 1, 0, 0, 0).unwrap()
}

/// The system allocator, counting bytes allocated and freed while [`peak_heap`] measures
/// (and only then: the other benchmarks pay one relaxed load per allocation): the peak of
/// what one measured call allocated, without other processes or the runtime's mappings in
/// the figure (a guest's linear memory is a mapping, not the heap).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
/// Net bytes allocated since counting began (negative when it frees older allocations).
static NET: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn count(delta: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        let now = NET.fetch_add(delta, Ordering::Relaxed) + delta;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `System::alloc`, with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `System::realloc`, with the caller's arguments.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`, returning its result and the peak of heap bytes it had allocated (net) at once.
fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    NET.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::SeqCst);
    let out = f();
    COUNTING.store(false, Ordering::SeqCst);
    (out, PEAK.load(Ordering::Relaxed).max(0) as usize)
}

/// The two hourly assets of the backfill benchmarks over `hours` partitions from 1900.
fn hourly_backfill(engine: &Engine, hours: i64) -> tessera_engine::Submitted {
    let start = Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap();
    let last = start + chrono::Duration::hours(hours - 1);
    engine
        .submit(
            &["hourly_up".to_string(), "hourly_down".to_string()],
            &PartitionSelection::Range(tessera_partitions::KeyRange::new(
                "1900-01-01-00:00",
                last.format("%Y-%m-%d-%H:%M").to_string(),
            )),
            Filter::Any,
            RunPolicy::PerPartition,
            true,
            "bench",
            now(),
        )
        .unwrap()
}

/// `plan_backfill_1m` and `e2e_backfill_100k`.
fn backfills(c: &mut Criterion) {
    let mut group = c.benchmark_group("backfill");
    group.sample_size(10);
    let mut peak = 0;
    group.bench_function("plan_backfill_1m", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let engine = engine(dir.path());
                let t = Instant::now();
                let (s, p) = peak_heap(|| hourly_backfill(&engine, 1_000_000));
                total += t.elapsed();
                peak = peak.max(p);
                assert_eq!(s.partitions, 2_000_000);
                assert_eq!(s.runs.len(), 2_000);
            }
            total
        });
    });
    eprintln!(
        "plan_backfill_1m: peak heap {:.1} MiB",
        peak as f64 / 1048576.0
    );
    let mut peak = 0;
    group.bench_function("e2e_backfill_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let engine = engine(dir.path());
                let t = Instant::now();
                let (summary, p) = peak_heap(|| {
                    let s = hourly_backfill(&engine, 100_000);
                    engine.run_queue(s.backfill_id.as_deref(), &|_| {}).unwrap()
                });
                total += t.elapsed();
                peak = peak.max(p);
                assert_eq!((summary.partitions, summary.runs_failed), (200_000, 0));
            }
            total
        });
    });
    eprintln!(
        "e2e_backfill_100k: peak heap {:.1} MiB",
        peak as f64 / 1048576.0
    );
    group.finish();
}

/// A fresh project: the probe plugin and an empty state.
fn engine(dir: &Path) -> Engine {
    engine_with(dir, "engine_probe")
}

/// A fresh project holding one test guest.
fn engine_with(dir: &Path, guest: &str) -> Engine {
    fixtures::engine_with(dir, &[guest], now())
}

fn run(engine: &Engine, assets: &[&str], policy: RunPolicy) -> u64 {
    let s = fixtures::submit_10k_days(engine, assets, policy, now());
    let summary = engine.run_queue(s.backfill_id.as_deref(), &|_| {}).unwrap();

    assert_eq!(summary.runs_failed, 0);
    summary.partitions
}

fn e2e(c: &mut Criterion, name: &str, assets: &[&str], policy: RunPolicy, expect: u64) {
    let mut group = c.benchmark_group("e2e");
    group.sample_size(10);
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let engine = engine(dir.path());
                let t = Instant::now();
                let n = run(&engine, assets, policy);
                total += t.elapsed();
                assert_eq!(n, expect);
            }
            total
        });
    });
    group.finish();
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:07}")).collect()
}

fn bench(c: &mut Criterion) {
    e2e(
        c,
        "e2e_per_partition_10k",
        &["bench_up"],
        RunPolicy::PerPartition,
        10_000,
    );
    e2e(
        c,
        "e2e_single_run_10k",
        &["bench_up"],
        RunPolicy::SingleRun,
        10_000,
    );
    // The same with a value per partition (contract 0.2.0): 10,000 outputs, blobs and data
    // versions from one call.
    e2e(
        c,
        "e2e_single_run_10k_per_key",
        &["bench_keyed"],
        RunPolicy::SingleRun,
        10_000,
    );
    e2e(
        c,
        "e2e_chain_10k",
        &["bench_up", "bench_down"],
        RunPolicy::PerPartition,
        20_000,
    );

    let dir = tempfile::tempdir().unwrap();
    let state = State::open(&dir.path().join("state.db")).unwrap();
    let mut round = 0;
    let mut group = c.benchmark_group("dynamic");
    group.bench_function("dynamic_add_1k_single", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                let ks = keys(&format!("s{round}-"), 1_000);
                let t = Instant::now();
                for k in &ks {
                    state
                        .dynamic_add("single", std::slice::from_ref(k))
                        .unwrap();
                }
                total += t.elapsed();
            }
            total
        });
    });
    group.bench_function("dynamic_add_10k_bulk", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                let ks = keys(&format!("b{round}-"), 10_000);
                let t = Instant::now();
                black_box(state.dynamic_add(&format!("bulk{round}"), &ks).unwrap());
                total += t.elapsed();
            }
            total
        });
    });
    group.sample_size(10);
    group.bench_function("dynamic_add_1m_bulk", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                let ks = keys(&format!("m{round}-"), 1_000_000);
                let t = Instant::now();
                black_box(state.dynamic_add(&format!("million{round}"), &ks).unwrap());
                total += t.elapsed();
            }
            total
        });
    });
    group.finish();

    // 10M minutely partitions, 10,000 materialized at scattered keys.
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let scattered = fixtures::scattered_minutes(10_000);
    engine
        .state()
        .record_progress("bench-run", None, "engine_probe", &[], &scattered, &[])
        .unwrap();
    let graph = engine.graph().unwrap();
    let at = Utc.with_ymd_and_hms(2029, 1, 7, 0, 0, 0).unwrap();
    let (status, _) = engine
        .asset_status(&graph, "minutely", 60, at, false)
        .unwrap();
    eprintln!(
        "status_10m: {} partitions, {} materialized, bar {}",
        status.total, status.materialized, status.bar
    );
    c.bench_function("status_10m", |b| {
        b.iter(|| {
            black_box(
                engine
                    .asset_status(&graph, "minutely", 60, at, false)
                    .unwrap(),
            )
        });
    });
}

/// `sparse_status_1m`: counts and health bar of a sparse asset whose 1,000 declared
/// `(customer, region)` combinations over 1,000 days make 1,000,000 partitions (of a product
/// of 2,000,000), 10,000 of them materialized at scattered keys.
fn sparse_status(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let graph = engine.graph().unwrap();
    let def = graph
        .asset("sparse_sales")
        .unwrap()
        .partitions
        .clone()
        .unwrap();
    let cx = tessera_partitions::Context::new(now());
    assert_eq!(def.count(&cx).unwrap(), 1_000_000);
    let scattered: Vec<NewMaterialization> = (0..10_000i64)
        .map(|i| NewMaterialization {
            asset: "sparse_sales".into(),
            partition: def
                .key_at(&cx, (i * 7_919 * 127) % 1_000_000)
                .unwrap()
                .unwrap()
                .to_string(),
            code_version: "v".into(),
            data_version: "d".into(),
            blob: "sparse/x".into(),
            metadata: serde_json::Value::Null,
            started_at: 0,
            ended_at: 0,
            inputs: Default::default(),
        })
        .collect();
    engine
        .state()
        .record_progress("bench-run", None, "engine_probe", &[], &scattered, &[])
        .unwrap();
    let (status, _) = engine
        .asset_status(&graph, "sparse_sales", 60, now(), false)
        .unwrap();
    eprintln!(
        "sparse_status_1m: {} partitions, {} materialized, bar {}",
        status.total, status.materialized, status.bar
    );
    assert_eq!((status.total, status.materialized), (1_000_000, 10_000));
    c.bench_function("sparse_status_1m", |b| {
        b.iter(|| {
            black_box(
                engine
                    .asset_status(&graph, "sparse_sales", 60, now(), false)
                    .unwrap(),
            )
        });
    });
}

/// `show` of a partition materialized 1,000 times (its history read newest first, 10 listed).
fn show_history(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let value = serde_json::to_vec(&serde_json::json!({"rows": 1000, "total": 12.5})).unwrap();
    let blob = tessera_engine::state::NewBlob {
        name: "show/value".into(),
        data: value,
    };
    for i in 0..1000 {
        let m = NewMaterialization {
            asset: "up".into(),
            partition: "2024-01-10".into(),
            code_version: "v".into(),
            data_version: format!("{i:064}"),
            blob: "db:show/value".into(),
            metadata: serde_json::json!({"rows": i}),
            started_at: i,
            ended_at: i + 3,
            inputs: Default::default(),
        };
        let blobs = if i == 0 {
            std::slice::from_ref(&blob)
        } else {
            &[]
        };
        engine
            .state()
            .record_progress(
                &format!("history-{i}"),
                None,
                "engine_probe",
                blobs,
                &[m],
                &[],
            )
            .unwrap();
    }
    let graph = engine.graph().unwrap();
    let d = engine
        .show_partition(&graph, "up", "2024-01-10", now(), 10)
        .unwrap();
    assert_eq!((d.history_total, d.history.len()), (1000, 10));
    c.bench_function("show_history_1k", |b| {
        b.iter(|| {
            black_box(
                engine
                    .show_partition(&graph, "up", "2024-01-10", now(), 10)
                    .unwrap(),
            )
        });
    });
}

fn sensor_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("sensor");
    group.sample_size(10);
    group.bench_function("sensor_tick_1m_keys", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // A fresh state each time: every key is new.
                let dir = tempfile::tempdir().unwrap();
                let engine = engine_with(dir.path(), "hostile");
                let t = Instant::now();
                let outcome = engine.tick_sensor("million_tenants", now()).unwrap();
                total += t.elapsed();
                assert_eq!(outcome.dynamic_partitions[0].1, 1_000_000);
            }
            total
        });
    });
    group.finish();
}

criterion_group!(
    benches,
    bench,
    sparse_status,
    show_history,
    sensor_tick,
    backfills
);
criterion_main!(benches);
