//! The API's costs on real SQLite files, measured in process through the router (the
//! server's time, without a network). Run:
//! `cargo bench -p tessera-server --bench api -- --output-format bencher`
//!
//! - `api_status_10m`: `GET /api/v1/assets/{asset}/partitions?bins=1000` of a 10M-partition
//!   asset with 100,000 scattered materializations (target ≤ 20 ms, body ≤ 2 MB; the body's
//!   size is printed). `api_status_10m_cold`: the same right after a change to the state,
//!   when the status is computed again rather than served from the engine's cache.
//! - `api_runs_page`: `GET /api/v1/runs?limit=100`, the first page and a page deep in the
//!   history by cursor, of 1,000,000 runs (target ≤ 10 ms).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use tessera_engine::state::{NewMaterialization, NewRun};
use tessera_engine::{Clock, Engine, EngineConfig, RunSelection};
use tessera_runtime::RuntimeConfig;
use tessera_server::{AppState, Mode};
use tessera_tests::{components, shared_dir};
use tower::ServiceExt;

fn engine(dir: &Path) -> Arc<Engine> {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        components().guest("engine_probe"),
        plugins.join("engine_probe.wasm"),
    )
    .unwrap();
    let runtime = RuntimeConfig {
        cache_dir: Some(shared_dir("artifacts")),
        ..RuntimeConfig::default()
    };
    let config = EngineConfig {
        // engine_probe's `minutely` has ten million partitions then.
        clock: Clock::Fixed(Utc.with_ymd_and_hms(2029, 1, 7, 0, 0, 0).unwrap()),
        ..EngineConfig::default()
    };
    Arc::new(
        Engine::open(&dir.join("state"), &plugins, runtime, config)
            .unwrap()
            .0,
    )
}

/// Sends one GET through the router; returns the body's size.
fn get(rt: &tokio::runtime::Runtime, router: &axum::Router, path: &str) -> usize {
    rt.block_on(async {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .len()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn status_10m(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let start = Utc.with_ymd_and_hms(2010, 1, 1, 0, 0, 0).unwrap();
    let scattered: Vec<NewMaterialization> = (0..100_000i64)
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
        .collect();
    engine
        .state()
        .record_progress("bench-run", "engine_probe", &[], &scattered)
        .unwrap();
    let app = AppState::new(Arc::clone(&engine), Mode::Serve, None, Vec::new());
    let router = tessera_server::router(app);
    let rt = runtime();
    let path = "/api/v1/assets/minutely/partitions?bins=1000";
    eprintln!("api_status_10m: body {} bytes", get(&rt, &router, path));
    c.bench_function("api_status_10m", |b| {
        b.iter(|| black_box(get(&rt, &router, path)));
    });
    // After any change to the state, the first request computes the status again: a write
    // (one dynamic key, outside the measured time) before each.
    let mut n = 0u64;
    c.bench_function("api_status_10m_cold", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                engine
                    .dynamic_add("cache-buster", &[format!("k{n}")])
                    .unwrap();
                let t = std::time::Instant::now();
                black_box(get(&rt, &router, path));
                total += t.elapsed();
            }
            total
        });
    });
}

fn runs_page(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let batch = 50_000;
    for chunk in 0..20 {
        let runs: Vec<NewRun> = (0..batch)
            .map(|i| NewRun {
                id: format!("run-{:07}", chunk * batch + i),
                plugin: "engine_probe".into(),
                computation: "up".into(),
                assets: vec!["up".into()],
                selection: RunSelection::Keys {
                    keys: vec!["2024-01-01".into()],
                },
                partitions: 1,
                backfill_id: None,
                run_key: None,
                trigger: "bench".into(),
                tags: Vec::new(),
                max_attempts: 1,
                depends_on: Vec::new(),
                pool: None,
            })
            .collect();
        engine.state().insert_runs(None, &runs).unwrap();
    }
    let app = AppState::new(Arc::clone(&engine), Mode::Serve, None, Vec::new());
    let router = tessera_server::router(app);
    let rt = runtime();
    let mut group = c.benchmark_group("api_runs_page");
    group.bench_function("first", |b| {
        b.iter(|| black_box(get(&rt, &router, "/api/v1/runs?limit=100")));
    });
    group.bench_function("deep", |b| {
        b.iter(|| {
            black_box(get(
                &rt,
                &router,
                "/api/v1/runs?limit=100&cursor=run-0500000",
            ))
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = status_10m, runs_page
}
criterion_main!(benches);
