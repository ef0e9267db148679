//! The C example plugin (`plugins/c/processed_events_c`, built with the C kit) on the real
//! host: loaded beside the Rust plugin whose `raw_events` it reads, materialized through the
//! engine, byte for byte the Rust asset's output, and hot-reloaded with a changed version; and
//! the C template's assets and sensor.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use tessera_engine::{Clock, Engine, EngineConfig, Filter, PartitionSelection, RunPolicy};
use tessera_runtime::{
    InputData, MaterializeRequest, Registry, RegistryEvent, Runtime, RuntimeConfig, Selection,
    SensorRequest,
};
use tessera_tests::{components, copy_atomically, repo_root, shared_dir};

fn runtime_config() -> RuntimeConfig {
    RuntimeConfig {
        cache_dir: Some(shared_dir("artifacts")),
        ..RuntimeConfig::default()
    }
}

#[test]
fn the_c_asset_writes_what_the_rust_asset_writes() {
    let c = components();
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        c.plugin("processed_events"),
        plugins.join("processed_events.wasm"),
    )
    .unwrap();
    std::fs::copy(
        c.c_plugin("processed_events_c"),
        plugins.join("processed_events_c.wasm"),
    )
    .unwrap();
    let now = Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap();
    let config = EngineConfig {
        clock: Clock::Fixed(now),
        ..EngineConfig::default()
    };
    let (engine, events) = Engine::open(
        &dir.path().join("state"),
        &plugins,
        runtime_config(),
        config,
    )
    .unwrap();
    for e in events {
        assert!(matches!(e, RegistryEvent::Loaded { .. }), "{e:?}");
    }
    engine.registry().validate().unwrap();
    let assets: Vec<String> = ["raw_events", "processed_events", "processed_events_c"]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
    let submitted = engine
        .submit(
            &assets,
            &PartitionSelection::Range {
                start: "2024-01-01".into(),
                end: "2024-01-06".into(),
            },
            Filter::Any,
            RunPolicy::PerPartition,
            true,
            "test",
            now,
        )
        .unwrap();
    let summary = engine
        .run_queue(submitted.backfill_id.as_deref(), &|_| {})
        .unwrap();
    assert_eq!(summary.runs_failed, 0, "{summary:?}");
    let state = engine.state();
    for day in 1..=6 {
        let key = format!("2024-01-{day:02}");
        let blob = |asset: &str| {
            let p = state
                .partitions_of(asset, std::slice::from_ref(&key))
                .unwrap();
            let m = p[0].materialization.as_ref().expect("materialized");
            engine.read_blob(&m.blob).unwrap()
        };
        let rust = blob("processed_events");
        let c = blob("processed_events_c");
        assert_eq!(
            String::from_utf8_lossy(&c),
            String::from_utf8_lossy(&rust),
            "{key}"
        );
    }
}

/// Builds the C sources in `source` (relative to the repository) into `work/<name>.wasm`.
fn build_c(work: &Path, source: &str, name: &str, defines: &[&str]) -> std::path::PathBuf {
    let root = repo_root();
    let bindings = work.join("bindings");
    xtask::c::generate_bindings(&root, &bindings).unwrap();
    let file = work.join(format!("{name}.wasm"));
    xtask::c::build_plugin(&root, &root.join(source), &bindings, &file, defines).unwrap();
    file
}

#[test]
fn the_c_template_builds_and_runs() {
    let work = tempfile::tempdir().unwrap();
    let file = build_c(work.path(), "plugin-sdk/c/template", "template", &[]);
    let plugin = Runtime::new(runtime_config()).unwrap().load(&file).unwrap();
    let now = Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap();
    let request = |computation: &str, key: &str, inputs| MaterializeRequest {
        computation: computation.into(),
        assets: Vec::new(),
        selection: Selection::Key(key.into()),
        run_id: "t".into(),
        attempt: 1,
        now,
        inputs,
        timeout: None,
    };
    let out = plugin
        .materialize(&request("hello", "2024-01-03", Vec::new()))
        .unwrap();
    assert_eq!(out[0].data, b"hello, 2024-01-03\n");
    let week = plugin
        .materialize(&request(
            "hello_week",
            "2024-01-03",
            vec![InputData {
                asset: "hello".into(),
                partitions: vec![
                    ("2024-01-02".into(), b"a\n".to_vec()),
                    ("2024-01-03".into(), b"b\n".to_vec()),
                ],
            }],
        ))
        .unwrap();
    assert_eq!(week[0].data, b"a\nb\n");
    let err = plugin
        .materialize(&request("nothing", "2024-01-03", Vec::new()))
        .unwrap_err();
    assert!(err.to_string().contains("nothing"), "{err}");

    // The sensor: a run request keyed by the day, and the cursor it moves on to.
    let sensor = |cursor: Option<&str>| {
        plugin
            .evaluate_sensor(&SensorRequest {
                sensor: "next_day".into(),
                cursor: cursor.map(str::to_string),
                last_evaluation: None,
                now,
            })
            .unwrap()
    };
    let first = sensor(None);
    assert_eq!(first.cursor.as_deref(), Some("1"));
    assert_eq!(first.run_requests.len(), 1);
    assert_eq!(first.run_requests[0].run_key.as_deref(), Some("2024-01-01"));
    assert_eq!(first.run_requests[0].assets, vec!["hello".to_string()]);
    assert_eq!(
        first.run_requests[0].selection,
        Selection::Key("2024-01-01".into())
    );
    let later = sensor(Some("5"));
    assert_eq!(later.run_requests[0].run_key.as_deref(), Some("2024-01-06"));
    let done = sensor(Some("28"));
    assert!(done.run_requests.is_empty());
    assert_eq!(done.skip_reason.as_deref(), Some("February is far enough"));
}

fn wait_for_version(registry: &Registry, name: &str, asset: &str, version: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let served = registry.get(name).and_then(|p| {
            p.definitions()
                .asset(asset)
                .and_then(|a| a.code_version.clone())
        });
        if served.as_deref() == Some(version) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} still serves {served:?}, not {version:?}, after 60 s (errors: {:?})",
            registry.errors()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_c_plugin_hot_reloads_in_place() {
    let c = components();
    let work = tempfile::tempdir().unwrap();
    // A second version of the same source, with another code version compiled in.
    let v2 = build_c(
        work.path(),
        "plugins/c/processed_events_c",
        "v2",
        &["PLUGIN_CODE_VERSION=\"2\""],
    );

    let dir = work.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.wasm");
    std::fs::copy(c.c_plugin("processed_events_c"), &file).unwrap();
    let registry = Registry::new(Runtime::new(runtime_config()).unwrap(), &dir);
    registry.load_all().unwrap();
    wait_for_version(&registry, "events", "processed_events_c", "1");
    let _watch = registry.watch().unwrap();

    copy_atomically(&v2, &file);
    wait_for_version(&registry, "events", "processed_events_c", "2");
    let inspect = registry.get("events").unwrap();
    assert_eq!(
        inspect
            .definitions()
            .asset("processed_events_c")
            .and_then(|a| a.partitions.as_ref())
            .map(|p| p.kind().to_string())
            .as_deref(),
        Some("time_window")
    );
}
