//! Plugin runtime costs on the example plugins. Run:
//! `cargo bench -p tessera-runtime --bench runtime -- --output-format bencher`

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use tessera_runtime::{MaterializeRequest, Runtime, RuntimeConfig, Selection, SensorRequest};
use tessera_tests::components;

fn bench(c: &mut Criterion) {
    let comps = components();
    let file = comps.plugin("daily_sales");
    let cache = tempfile::tempdir().unwrap();
    let cached = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let uncached = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = cached.load(&file).unwrap();
    eprintln!(
        "daily_sales.wasm: {} bytes, pooling allocator: {}",
        plugin.stats().size_bytes,
        cached.pooling()
    );

    let mut slow = c.benchmark_group("slow");
    slow.sample_size(10);
    slow.bench_function("load_compile", |b| {
        b.iter(|| black_box(uncached.load(&file).unwrap()));
    });
    slow.finish();

    c.bench_function("load_cached", |b| {
        b.iter(|| black_box(cached.load(&file).unwrap()));
    });

    let request = MaterializeRequest {
        computation: "daily_sales".into(),
        assets: Vec::new(),
        selection: Selection::Key("2024-01-15".into()),
        run_id: "bench".into(),
        attempt: 1,
        now: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        inputs: Vec::new(),
    };
    c.bench_function("materialize_fresh_instance", |b| {
        b.iter(|| black_box(plugin.materialize(&request).unwrap()));
    });

    let sensor = cached.load(&comps.plugin("new_data_sensor")).unwrap();
    let req = SensorRequest {
        sensor: "new_data_sensor".into(),
        cursor: None,
        last_evaluation: None,
        now: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
    };
    c.bench_function("sensor_fresh_instance", |b| {
        b.iter(|| black_box(sensor.evaluate_sensor(&req).unwrap()));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
