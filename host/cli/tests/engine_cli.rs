//! The state commands as a user runs them: the seed's pipeline through the CLI, JSON output,
//! exit codes, and a backfill killed with SIGKILL at random points and resumed.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use tessera_engine::prelude::*;
use tessera_tests::{components, shared_dir};

/// A project directory: `plugins/` with the given components, and a `tessera.toml`.
fn project(plugins: &[(&str, &Path)], extra_config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    for (name, path) in plugins {
        std::fs::copy(
            path,
            dir.path().join("plugins").join(format!("{name}.wasm")),
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join("tessera.toml"),
        format!(
            "plugins = \"plugins\"\n[execution]\nconcurrency = 2\nretry_backoff_ms = 5\n{extra_config}"
        ),
    )
    .unwrap();
    dir
}

fn tessera_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
    c.args(args)
        .current_dir(dir)
        .env("TESSERA_CACHE_DIR", shared_dir("artifacts"))
        .env("TESSERA_LOG", "error");
    c
}

fn tessera(dir: &Path, args: &[&str]) -> Output {
    tessera_cmd(dir, args).output().expect("run tessera")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = tessera(dir, args);
    assert!(
        out.status.success(),
        "tessera {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str(&ok(dir, &a)).expect("JSON on stdout")
}

#[test]
fn the_seed_pipeline_through_the_cli() {
    let c = components();
    let names = [
        "daily_sales",
        "processed_events",
        "late_data_processor",
        "customer_metrics",
    ];
    let plugins: Vec<(&str, std::path::PathBuf)> =
        names.iter().map(|n| (*n, c.plugin(n))).collect();
    let refs: Vec<(&str, &Path)> = plugins.iter().map(|(n, p)| (*n, p.as_path())).collect();
    let p = project(&refs, "");
    let dir = p.path();

    let assets = ok_json(dir, &["assets"]);
    let keys: Vec<&str> = assets
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["asset"].as_str().unwrap())
        .collect();
    for a in [
        "daily_sales",
        "raw_events",
        "processed_events",
        "late_data_processor",
        "customer_metrics",
    ] {
        assert!(keys.contains(&a), "{keys:?}");
    }
    // Upstream listed before downstream.
    let pos = |k: &str| keys.iter().position(|x| *x == k).unwrap();
    assert!(pos("raw_events") < pos("processed_events"));

    let out = ok_json(
        dir,
        &[
            "backfill",
            "daily_sales",
            "raw_events",
            "processed_events",
            "late_data_processor",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-31",
        ],
    );
    assert_eq!(out["summary"]["runs_succeeded"], 124);
    let id = out["backfill_id"].as_str().unwrap().to_string();
    let status = ok_json(dir, &["backfill", "status", &id]);
    assert_eq!(status["backfill"]["status"], "completed");
    assert_eq!(status["progress"]["partitions_done"], 124);

    ok(dir, &["dynamic", "add", "customers", "acme", "globex"]);
    assert_eq!(
        ok_json(dir, &["dynamic", "list", "customers"])["keys"],
        serde_json::json!(["acme", "globex"])
    );
    let tick = ok_json(dir, &["sensor", "tick", "customer_sensor", "--run"]);
    // The seed's sensor adds the customers it discovers and requests a run for each.
    let queued = tick["tick"]["runs_queued"].as_array().unwrap().len();
    assert!(queued >= 1, "{tick}");
    assert_eq!(
        tick["executed"]["runs_succeeded"].as_u64().unwrap() as usize,
        queued
    );
    let customers = ok_json(dir, &["dynamic", "list", "customers"]);
    assert_eq!(customers["keys"].as_array().unwrap().len(), 2 + queued);

    let parts = ok_json(dir, &["partitions", "processed_events"]);
    assert_eq!(parts["status"]["materialized"], 31);
    assert_eq!(parts["partitions"].as_array().unwrap().len(), 31);
    let text = ok(dir, &["partitions", "daily_sales"]);
    assert!(text.contains("31 materialized"), "{text}");

    let status = ok_json(dir, &["status"]);
    assert_eq!(status["plugins"].as_array().unwrap().len(), 4);
    assert_eq!(
        status["runs"]["success"].as_u64().unwrap(),
        124 + tick["tick"]["runs_queued"].as_array().unwrap().len() as u64
    );

    // The plugin's own log lines are kept with its run.
    let runs = ok_json(dir, &["runs", "--limit", "500"]);
    let run = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["assets"][0] == "daily_sales")
        .unwrap()["id"]
        .as_str()
        .unwrap();
    let logs = ok_json(dir, &["logs", run]);
    assert_eq!(logs["run"]["status"], "success");
    let events = logs["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["message"]
            .as_str()
            .unwrap()
            .starts_with("sales for 2024-01-")),
        "{logs}"
    );

    // Errors are clear and exit non-zero.
    let out = tessera(dir, &["materialize", "daily_sales"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--partition"));
    let out = tessera(dir, &["materialize", "nope", "--all"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no asset \"nope\""));
    let out = tessera(
        dir,
        &["materialize", "daily_sales", "--partition", "2023-12-31"],
    );
    assert!(!out.status.success());
    let out = tessera(dir, &["logs", "r-missing"]);
    assert!(!out.status.success());
}

/// Nanoseconds of the clock: enough randomness for kill points without a dependency.
fn jitter(max_ms: u64) -> Duration {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    Duration::from_millis(n % max_ms.max(1))
}

#[test]
fn a_backfill_killed_at_random_points_resumes_with_nothing_lost_or_twice() {
    let c = components();
    let probe = c.guest("engine_probe");
    // A killed process's runs return to the queue when their lease expires.
    let p = project(&[("engine_probe", probe.as_path())], "lease_ms = 600\n");
    let dir = p.path();
    let storage = dir.join(".tessera");
    let total = 120u64;

    let mut id: Option<String> = None;
    let mut kills = 0;
    for round in 0..4 {
        let mut child = match &id {
            None => tessera_cmd(
                dir,
                &[
                    "backfill",
                    "slow",
                    "--from",
                    "2024-01-01",
                    "--to",
                    "2024-04-29",
                ],
            ),
            Some(id) => tessera_cmd(dir, &["backfill", "resume", id]),
        }
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
        // Wait until the backfill exists and has made some progress, then kill at a random
        // moment.
        let t0 = Instant::now();
        loop {
            if let Some(state) = storage
                .join("state.db")
                .exists()
                .then(|| tessera_engine::State::open(&storage.join("state.db")).unwrap())
            {
                let done = state.materialization_count("slow").unwrap();
                if let Some(b) = state.backfills().unwrap().first() {
                    id.get_or_insert(b.id.clone());
                    if done > round * 10 {
                        break;
                    }
                }
            }
            if child.try_wait().unwrap().is_some() || t0.elapsed() > Duration::from_secs(120) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(jitter(150));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    let id = id.expect("the backfill was created");
    let out = ok_json(dir, &["backfill", "resume", &id]);
    assert_eq!(out["summary"]["runs_failed"], 0, "{out}");
    assert!(
        kills >= 1,
        "the backfill finished before it could be killed"
    );

    let state = tessera_engine::State::open(&storage.join("state.db")).unwrap();
    let progress = state.backfill_progress(&id).unwrap();
    assert_eq!(progress.runs_succeeded, total, "{progress:?}");
    assert_eq!(
        state.backfill(&id).unwrap().unwrap().status,
        tessera_engine::BackfillStatus::Completed
    );
    let parts = state.partitions("slow").unwrap();
    assert_eq!(parts.len() as u64, total, "nothing lost");
    assert_eq!(
        state.materialization_count("slow").unwrap(),
        total,
        "nothing recorded twice"
    );
    // Every partition's output is readable, and no temporary file was left behind.
    for p in &parts {
        let blob = &p.materialization.as_ref().unwrap().blob;
        let name = blob
            .strip_prefix("db:")
            .expect("small outputs live in the database");
        let data = state.blob(name).unwrap().unwrap();
        assert_eq!(String::from_utf8(data).unwrap(), p.partition);
    }
    if let Ok(entries) = std::fs::read_dir(storage.join("data").join("slow")) {
        assert_eq!(entries.count(), 0);
    }
}
