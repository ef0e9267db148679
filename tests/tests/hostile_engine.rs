//! The engine against hostile plugins, careless input and a damaged state: work proportional to
//! the input, any key usable as data, bad plugins set aside without stopping the others, a
//! database error ending the command instead of hanging it, and claimed work never held back.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use tessera_engine::prelude::*;
use tessera_engine::state::NewRun;
use tessera_engine::{
    Clock, Engine, EngineConfig, EngineError, Filter, PartitionSelection, RunPolicy, RunSelection,
    RunStatus, State,
};
use tessera_runtime::{DirGrant, Grants, RegistryEvent, RuntimeConfig};
use tessera_tests::{components, shared_dir};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

/// A project: the engine probe, optionally example plugins, and copies of the hostile guest
/// under the given names, each with its own `/hostile/mode`.
struct Project {
    dir: tempfile::TempDir,
    hostile: Vec<String>,
}

impl Project {
    fn new(examples: &[&str], hostile: &[(&str, Option<&str>)]) -> Project {
        let c = components();
        let dir = tempfile::tempdir().unwrap();
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        std::fs::copy(c.guest("engine_probe"), plugins.join("engine_probe.wasm")).unwrap();
        for e in examples {
            std::fs::copy(c.plugin(e), plugins.join(format!("{e}.wasm"))).unwrap();
        }
        for (name, mode) in hostile {
            std::fs::copy(c.guest("hostile"), plugins.join(format!("{name}.wasm"))).unwrap();
            let grant = dir.path().join("grants").join(name);
            std::fs::create_dir_all(&grant).unwrap();
            if let Some(m) = mode {
                std::fs::write(grant.join("mode"), m).unwrap();
            }
        }
        Project {
            dir,
            hostile: hostile.iter().map(|(n, _)| (*n).to_string()).collect(),
        }
    }

    fn storage(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn open(&self, config: EngineConfig) -> (Engine, Vec<RegistryEvent>) {
        let mut runtime = RuntimeConfig {
            cache_dir: Some(shared_dir("artifacts")),
            ..RuntimeConfig::default()
        };
        for name in &self.hostile {
            runtime.grants.insert(
                name.clone(),
                Grants {
                    dirs: vec![DirGrant {
                        host: self.dir.path().join("grants").join(name),
                        guest: "/hostile".to_string(),
                    }],
                    env: Vec::new(),
                },
            );
        }
        Engine::open(
            &self.storage(),
            &self.dir.path().join("plugins"),
            runtime,
            config,
        )
        .unwrap()
    }

    fn engine(&self) -> Engine {
        self.open(config()).0
    }
}

fn config() -> EngineConfig {
    EngineConfig {
        clock: Clock::Fixed(now()),
        concurrency: 2,
        max_attempts: 1,
        retry_backoff: Duration::from_millis(5),
        ..EngineConfig::default()
    }
}

fn submit(
    engine: &Engine,
    assets: &[&str],
    sel: &PartitionSelection,
    backfill: bool,
) -> Vec<String> {
    engine
        .submit(
            &strings(assets),
            sel,
            Filter::Any,
            RunPolicy::PerPartition,
            backfill,
            "manual",
            now(),
        )
        .unwrap()
        .runs
}

fn keys(k: &[&str]) -> PartitionSelection {
    PartitionSelection::Keys(strings(k))
}

#[test]
fn a_million_dynamic_keys_from_one_sensor_tick() {
    let p = Project::new(&[], &[("tenants", None)]);
    let engine = p.engine();
    let outcome = engine.tick_sensor("million_tenants", now()).unwrap();
    assert_eq!(
        outcome.dynamic_partitions,
        vec![("tenants".to_string(), 1_000_000, 0)]
    );
    let stored = engine.state().dynamic_keys("tenants").unwrap();
    assert_eq!(stored.len(), 1_000_000);
    assert_eq!(stored[0], "tenant-0000000");
    assert_eq!(stored[999_999], "tenant-0999999");
    // Again: every key is known, nothing is added, and it stays linear.
    let again = engine.tick_sensor("million_tenants", now()).unwrap();
    assert_eq!(again.cursor.as_deref(), Some("1000000"));
    assert_eq!(
        engine.state().dynamic_keys("tenants").unwrap().len(),
        1_000_000
    );
}

#[test]
fn any_valid_key_is_data_never_a_file_name() {
    let p = Project::new(&[], &[("tenants", None)]);
    let engine = p.engine();
    // Escaped, these are longer than a file name may be (258 bytes and 100 KB).
    let slashes = "/".repeat(86);
    let long = "k".repeat(100_000);
    engine
        .dynamic_add("tenants", &[slashes.clone(), long.clone()])
        .unwrap();
    let runs = submit(&engine, &["per_tenant"], &keys(&[&slashes, &long]), false);
    let summary = engine.run_runs(&runs, &|_| {}).unwrap();
    assert_eq!(summary.runs_succeeded, 2, "{summary:?}");
    for k in [&slashes, &long] {
        let rec = engine
            .state()
            .partitions_of("per_tenant", std::slice::from_ref(k))
            .unwrap();
        let m = rec[0].materialization.as_ref().unwrap();
        assert_eq!(engine.read_blob(&m.blob).unwrap().len(), 20 << 10);
    }
}

#[test]
fn dynamic_keys_and_set_names_follow_the_rules_of_keys() {
    let p = Project::new(&[], &[("tenants", None)]);
    let engine = p.engine();
    for bad in ["", "a...b", "tab\there", "bell\u{7}", "new\nline", "a|b"] {
        let err = engine
            .dynamic_add("tenants", &[bad.to_string()])
            .unwrap_err();
        assert!(matches!(err, EngineError::Invalid(_)), "{bad:?}: {err}");
    }
    for bad in ["", "x...y", "line\nbreak"] {
        let err = engine.dynamic_add(bad, &strings(&["k"])).unwrap_err();
        assert!(err.to_string().contains("set name"), "{bad:?}: {err}");
    }
    assert!(engine.state().dynamic_keys("tenants").unwrap().is_empty());
    // A sensor adding an empty key: the tick fails, names why, and changes nothing.
    let err = engine.tick_sensor("bad_tenants", now()).unwrap_err();
    assert!(err.to_string().contains("is empty"), "{err}");
    assert!(engine.state().dynamic_keys("tenants").unwrap().is_empty());
    let st = engine.state().sensor_state("bad_tenants").unwrap();
    assert!(st.last_error.unwrap().contains("is empty"));
}

#[test]
fn a_bad_plugin_is_set_aside_and_the_others_keep_working() {
    // `cyclic` declares two assets that read each other; `dup` declares `daily_sales` again.
    let p = Project::new(
        &["daily_sales"],
        &[
            ("cyclic", Some("cycle")),
            ("dup", Some("declare:daily_sales")),
        ],
    );
    let (engine, events) = p.open(config());
    let failed: Vec<&RegistryEvent> = events
        .iter()
        .filter(|e| matches!(e, RegistryEvent::Failed { .. }))
        .collect();
    assert_eq!(failed.len(), 1, "{events:?}");
    assert!(
        matches!(failed[0], RegistryEvent::Failed { plugin, error, .. } if plugin == "cyclic" && error.contains("cycle")),
        "{failed:?}"
    );
    let excluded = engine.excluded_plugins();
    assert_eq!(excluded.keys().collect::<Vec<_>>(), ["dup"], "{excluded:?}");
    assert!(excluded["dup"].contains("daily_sales"), "{excluded:?}");
    // The graph holds everything else, and work goes on.
    let graph = engine.graph().unwrap();
    assert!(graph.asset("daily_sales").is_some() && graph.asset("up").is_some());
    assert!(graph.asset("ok").is_none());
    let runs = submit(&engine, &["daily_sales"], &keys(&["2024-01-02"]), false);
    assert_eq!(engine.run_runs(&runs, &|_| {}).unwrap().runs_succeeded, 1);
}

#[test]
fn selections_that_name_nothing_are_errors() {
    let p = Project::new(&[], &[("plain", None)]);
    let engine = p.engine();
    let submit = |assets: &[&str], sel: PartitionSelection| {
        engine.submit(
            &strings(assets),
            &sel,
            Filter::Any,
            RunPolicy::PerPartition,
            false,
            "manual",
            now(),
        )
    };
    let err = submit(
        &["up"],
        PartitionSelection::Range(tessera_partitions::KeyRange::new(
            "2024-01-05",
            "2024-01-01",
        )),
    )
    .unwrap_err();
    assert!(err.to_string().contains("comes after"), "{err}");
    let err = submit(&["ok"], keys(&["x"])).unwrap_err();
    assert!(err.to_string().contains("not partitioned"), "{err}");
    // Nothing was queued by either.
    assert!(engine.state().runs(10, None).unwrap().is_empty());
}

#[test]
fn a_command_runs_what_it_submitted_and_a_daemon_settles_backfills() {
    let p = Project::new(&[], &[]);
    let engine = p.engine();
    let queued = engine
        .submit(
            &strings(&["up"]),
            &PartitionSelection::Range(tessera_partitions::KeyRange::new(
                "2024-01-01",
                "2024-01-20",
            )),
            Filter::Any,
            RunPolicy::PerPartition,
            true,
            "backfill",
            now(),
        )
        .unwrap();
    let mine = submit(&engine, &["up"], &keys(&["2024-03-01"]), false);
    let summary = engine.run_runs(&mine, &|_| {}).unwrap();
    assert_eq!(summary.runs_succeeded, 1);
    let backfill = queued.backfill_id.unwrap();
    let p0 = engine.state().backfill_progress(&backfill).unwrap();
    assert_eq!(
        p0.runs_queued, 20,
        "the backfill's runs are not this command's"
    );
    // The daemon runs everything queued; the backfill is settled by whoever ends its last run.
    engine.run_queue(None, &|_| {}).unwrap();
    let b = engine.state().backfill(&backfill).unwrap().unwrap();
    assert_eq!(b.status, tessera_engine::BackfillStatus::Completed);
    assert!(b.ended_at.is_some());
}

#[test]
fn claimed_runs_never_wait_behind_a_slow_run() {
    let p = Project::new(&[], &[]);
    let mut cfg = config();
    // `hang` never returns: its 3 s timeout ends it (and fails it).
    cfg.timeouts
        .insert("hang".to_string(), Duration::from_secs(3));
    let (engine, _) = p.open(cfg);
    let days = |from: u32, n: u32| -> Vec<String> {
        (from..from + n)
            .map(|d| {
                (chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(d.into()))
                    .to_string()
            })
            .collect()
    };
    let first = days(0, 10);
    let after = days(10, 40);
    let mut all = submit(&engine, &["up"], &PartitionSelection::Keys(first), false);
    all.extend(submit(&engine, &["hang"], &keys(&["2024-01-01"]), false));
    all.extend(submit(
        &engine,
        &["up"],
        &PartitionSelection::Keys(after),
        false,
    ));
    engine.run_queue(None, &|_| {}).unwrap();
    let runs = engine.state().runs(100, None).unwrap();
    let hang = runs.iter().find(|r| r.assets == ["hang"]).unwrap();
    assert_eq!(hang.status, RunStatus::Failed);
    let hang_end = hang.ended_at.unwrap();
    for r in runs.iter().filter(|r| r.assets == ["up"]) {
        assert_eq!(r.status, RunStatus::Success);
        assert!(
            r.ended_at.unwrap() < hang_end,
            "run {} ({}) ended {} ms after the slow run",
            r.id,
            r.selection.describe(),
            r.ended_at.unwrap() - hang_end
        );
    }
}

#[test]
fn a_database_error_ends_the_command_and_releases_its_runs() {
    let p = Project::new(&[], &[]);
    let engine = p.engine();
    let runs = submit(
        &engine,
        &["slow"],
        &PartitionSelection::Range(tessera_partitions::KeyRange::new(
            "2024-01-01",
            "2024-03-31",
        )),
        false,
    );
    assert_eq!(runs.len(), 91);
    let db = p.storage().join("state.db");
    let vandal = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let c = rusqlite::Connection::open(db).unwrap();
        c.busy_timeout(Duration::from_secs(30)).unwrap();
        c.execute_batch("DROP TABLE materializations").unwrap();
    });
    let started = Instant::now();
    let err = engine.run_runs(&runs, &|_| {}).unwrap_err();
    vandal.join().unwrap();
    let err = tessera_engine::report(&err);
    assert!(err.contains("materializations"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let running = engine
        .state()
        .runs(200, None)
        .unwrap()
        .into_iter()
        .filter(|r| r.status == RunStatus::Running)
        .count();
    assert_eq!(running, 0, "runs left running");
    // And the next open says what is wrong.
    drop(engine);
    let err = State::open(&p.storage().join("state.db")).unwrap_err();
    assert!(
        matches!(err, EngineError::Damaged { .. }) && err.to_string().contains("materializations"),
        "{err}"
    );
}

fn damaged(path: &Path) -> EngineError {
    match State::open(path) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => e,
    }
}

#[test]
fn a_damaged_state_file_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        // A state of the usual shape: runs (rows and indexes, no long values).
        let s = State::open(&path).unwrap();
        let runs: Vec<NewRun> = (0..50_000)
            .map(|i| NewRun {
                id: format!("r{i:08}"),
                plugin: "p".into(),
                computation: "c".into(),
                assets: vec!["daily_sales".into()],
                selection: RunSelection::Keys {
                    keys: vec![format!("2024-01-{:02}", i % 28 + 1)],
                },
                partitions: 1,
                backfill_id: None,
                run_key: None,
                trigger: "manual".into(),
                tags: Vec::new(),
                max_attempts: 1,
                depends_on: Vec::new(),
                pool: None,
            })
            .collect();
        s.insert_runs(None, &runs).unwrap();
    }
    // Opens (and passes its check) while whole.
    drop(State::open(&path).unwrap());
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 1 << 20, "{len} bytes");
    let copy = dir.path().join("whole.db");
    std::fs::copy(&path, &copy).unwrap();

    // 8 KB of garbage in the middle.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::options().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(len / 2)).unwrap();
        f.write_all(&(0..8192u32).map(|i| (i * 31 + 7) as u8).collect::<Vec<_>>())
            .unwrap();
    }
    let err = damaged(&path);
    assert!(matches!(err, EngineError::Damaged { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("quick check") && text.contains("backup"),
        "{text}"
    );

    // Empty.
    std::fs::write(&path, b"").unwrap();
    let err = damaged(&path);
    assert!(err.to_string().contains("empty"), "{err}");
    // Not a database.
    std::fs::write(&path, b"hello, I am a text file").unwrap();
    assert!(
        damaged(&path)
            .to_string()
            .contains("not an SQLite database")
    );
    // The whole copy still opens.
    std::fs::copy(&copy, &path).unwrap();
    State::open(&path).unwrap();
}

#[test]
fn many_openers_of_a_fresh_state_all_succeed() {
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("state.db");
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    State::open(&path).map(|s| s.dynamic_add("s", &strings(&["k"])))
                })
            })
            .collect();
        for o in openers {
            o.join().unwrap().unwrap().unwrap();
        }
        assert_eq!(
            State::open(&path).unwrap().dynamic_keys("s").unwrap(),
            ["k"]
        );
    }
}

#[test]
fn a_run_keeps_a_bounded_log() {
    let p = Project::new(&[], &[("loud", None)]);
    let engine = p.engine();
    let runs = submit(&engine, &["log_lines"], &PartitionSelection::All, false);
    assert_eq!(engine.run_runs(&runs, &|_| {}).unwrap().runs_succeeded, 1);
    let events = engine.state().run_events(&runs[0]).unwrap();
    // 10,000 lines (max_log_lines) and the notice; a million were written.
    assert!(
        (10_001..=10_005).contains(&events.len()),
        "{} events",
        events.len()
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.message.starts_with("log truncated"))
            .count(),
        1
    );
}
