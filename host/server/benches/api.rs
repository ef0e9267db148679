//! The API's costs on real SQLite files, measured in process through the router (the
//! server's time, without a network). Run:
//! `cargo bench -p tessera-server --bench api -- --output-format bencher`
//!
//! - `api_status_10m`: `GET /api/v1/assets/{asset}/partitions?bins=1000` of a 10M-partition
//!   asset with 100,000 scattered materializations (target ≤ 20 ms, body ≤ 2 MB; the body's
//!   size is printed), served from the engine's cache. `api_status_10m_after_write`: the
//!   same right after a partition of it was materialized, when the cached status is brought
//!   up to date from the change; `api_status_10m_first/full`: the first request after the
//!   engine opens, which reads every recorded partition.
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
use tessera_engine::state::NewRun;
use tessera_engine::{Engine, RunSelection};
use tessera_server::{AppState, Mode};
use tessera_tests::fixtures;
use tower::ServiceExt;

/// engine_probe's `minutely` has ten million partitions then.
fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2029, 1, 7, 0, 0, 0).unwrap()
}

fn engine(dir: &Path) -> Arc<Engine> {
    Arc::new(fixtures::engine_with(dir, &["engine_probe"], now()))
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
    let scattered = fixtures::scattered_minutes(100_000);
    engine
        .state()
        .record_progress("bench-run", None, "engine_probe", &[], &scattered, &[])
        .unwrap();
    let app = AppState::new(Arc::clone(&engine), Mode::Serve, None, Vec::new());
    let router = tessera_server::router(app);
    let rt = runtime();
    let path = "/api/v1/assets/minutely/partitions?bins=1000";
    eprintln!("api_status_10m: body {} bytes", get(&rt, &router, path));
    c.bench_function("api_status_10m", |b| {
        b.iter(|| black_box(get(&rt, &router, path)));
    });
    // After a partition of the asset is materialized (outside the measured time), the
    // status is brought up to date from what changed.
    let mut n = 0i64;
    c.bench_function("api_status_10m_after_write", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let mut one = fixtures::scattered_minutes(1);
                one[0].partition = format!("2015-01-01-{:02}:{:02}", n / 60 % 24, n % 60);
                engine
                    .state()
                    .record_progress(&format!("write-{n}"), None, "engine_probe", &[], &one, &[])
                    .unwrap();
                let t = std::time::Instant::now();
                black_box(get(&rt, &router, path));
                total += t.elapsed();
            }
            total
        });
    });
    // The first request after the engine opens reads every recorded partition.
    let mut group = c.benchmark_group("api_status_10m_first");
    group.sample_size(10);
    group.bench_function("full", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let engine = Arc::new(fixtures::engine_with(dir.path(), &["engine_probe"], now()));
                let app = AppState::new(engine, Mode::Serve, None, Vec::new());
                let router = tessera_server::router(app);
                let t = std::time::Instant::now();
                black_box(get(&rt, &router, path));
                total += t.elapsed();
            }
            total
        });
    });
    group.finish();
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
