//! `api_load`: status requests served per second over real HTTP while a 10,000-partition
//! backfill runs in the same process, and how much the requests slow the backfill (targets
//! ≥ 1,000 requests/s, backfill throughput down < 30 %). A bench binary rather than
//! criterion: one figure is a rate under concurrency, not the time of one call. Run:
//! `cargo bench -p tessera-server --bench load`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "benchmark"
)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use tessera_engine::{Engine, RunPolicy};
use tessera_server::{AppState, Mode};
use tessera_tests::{fixtures, http};

/// Client threads sending status requests.
const CLIENTS: usize = 4;
/// What the UI's health bar asks while it watches (a status up to 500 ms old will do).
const PATH: &str = "/api/v1/assets/bench_up/partitions?bins=1000&max_age_ms=500";

fn engine(dir: &Path) -> Arc<Engine> {
    let now = Utc.with_ymd_and_hms(2029, 6, 1, 0, 0, 0).unwrap();
    Arc::new(fixtures::engine_with(dir, &["engine_probe"], now))
}

/// Runs a backfill of 10,000 daily partitions, one run each; returns its wall time.
fn backfill(engine: &Engine) -> Duration {
    let now = Utc.with_ymd_and_hms(2029, 6, 1, 0, 0, 0).unwrap();
    let t = Instant::now();
    let s = fixtures::submit_10k_days(engine, &["bench_up"], RunPolicy::PerPartition, now);
    let summary = engine.run_queue(s.backfill_id.as_deref(), &|_| {}).unwrap();
    assert_eq!(summary.partitions, 10_000);
    t.elapsed()
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that is not ours skips the run.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "api_load".contains(a.as_str())) {
        return;
    }
    // Flat out, then paced at the target's 1,000 requests a second.
    for pace in [None, Some(1_000.0)] {
        measure(pace);
    }
}

/// Backfills alone and under status requests (`pace`: requests a second in all, else as
/// many as the clients manage); prints the medians of three.
fn measure(pace: Option<f64>) {
    let mut alone = Vec::new();
    let mut loaded = Vec::new();
    let mut rates = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        alone.push(backfill(&engine(dir.path())));

        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let app = AppState::new(Arc::clone(&engine), Mode::Dev, None, Vec::new());
        let listener = rt
            .block_on(tessera_server::bind("127.0.0.1:0".parse().unwrap(), None))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        rt.spawn(tessera_server::serve(listener, app, async move {
            let _ = stop_rx.await;
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (stop, served) = (Arc::clone(&stop), Arc::clone(&served));
                std::thread::spawn(move || {
                    let interval = pace.map(|p| Duration::from_secs_f64(CLIENTS as f64 / p));
                    let mut next = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(i) = interval {
                            next += i;
                            std::thread::sleep(next.saturating_duration_since(Instant::now()));
                        }
                        let r = http::get(addr, PATH);
                        assert_eq!(r.status, 200, "{}", r.text());
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let took = backfill(&engine);
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
        let _ = stop_tx.send(());
        loaded.push(took);
        rates.push(served.load(Ordering::Relaxed) as f64 / took.as_secs_f64());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (a, l) = (median(&mut alone), median(&mut loaded));
    rates.sort_by(f64::total_cmp);
    let rate = rates[rates.len() / 2];
    let how = match pace {
        None => "flat out".to_string(),
        Some(p) => format!("paced at {p:.0}/s"),
    };
    println!(
        "api_load ({how}): {rate:.0} status requests/s ({CLIENTS} clients, real HTTP) during a 10,000-partition backfill; \
         backfill {:.2} s alone, {:.2} s under load: throughput {:+.0} % (medians of 3)",
        a.as_secs_f64(),
        l.as_secs_f64(),
        (a.as_secs_f64() / l.as_secs_f64() - 1.0) * 100.0
    );
}
