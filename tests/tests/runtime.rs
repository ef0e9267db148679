//! The plugin runtime against real compiled components: the example plugins and the
//! misbehaving test guests.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use tessera_runtime::{
    CallError, DirGrant, Grants, InputData, Limits, LoadError, MaterializeRequest, Registry,
    RegistryEvent, Resolved, Runtime, RuntimeConfig, Selection, SensorRequest, TrapKind,
};
use tessera_tests::{components, copy_atomically, shared_dir};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
}

fn config() -> RuntimeConfig {
    RuntimeConfig {
        cache_dir: Some(shared_dir("artifacts")),
        ..RuntimeConfig::default()
    }
}

fn runtime() -> Runtime {
    Runtime::new(config()).unwrap()
}

fn request(computation: &str, selection: Selection) -> MaterializeRequest {
    MaterializeRequest {
        computation: computation.to_string(),
        assets: Vec::new(),
        selection,
        resolved: None,
        run_id: "test-run".to_string(),
        attempt: 1,
        now: now(),
        inputs: Vec::new(),
        timeout: None,
    }
}

fn key(k: &str) -> Selection {
    Selection::Key(k.to_string())
}

/// The messages plugins log through `rt`, as they come.
fn log_messages(rt: &Runtime) -> Arc<std::sync::Mutex<Vec<String>>> {
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    rt.set_log_sink(Arc::new(move |r: tessera_runtime::LogRecord| {
        sink.lock().unwrap().push(r.message);
    }));
    lines
}

fn json_of(data: &[u8]) -> Value {
    serde_json::from_slice(data).unwrap()
}

#[test]
fn example_plugins_declare_the_seed_assets() {
    let c = components();
    let rt = runtime();
    let daily = rt.load(&c.plugin("daily_sales")).unwrap();
    assert_eq!(daily.api_version(), "0.4.0");
    assert_eq!(daily.code_version().len(), 64);
    let asset = daily.definitions().asset("daily_sales").unwrap();
    assert_eq!(
        asset.partitions.as_ref().unwrap().to_string(),
        "daily partitions from 2024-01-01 (UTC)"
    );

    let processed = rt.load(&c.plugin("processed_events")).unwrap();
    let input = &processed
        .definitions()
        .asset("processed_events")
        .unwrap()
        .inputs[0];
    assert_eq!(input.asset, "raw_events");
    assert!(
        input
            .mapping
            .as_ref()
            .unwrap()
            .to_string()
            .contains("start_offset -1")
    );

    let combine = rt.load(&c.plugin("combine_metrics")).unwrap();
    let both = combine
        .definitions()
        .computations
        .iter()
        .find(|c| c.assets.len() == 2)
        .expect("a multi-asset computation");
    let keys: Vec<&str> = both.assets.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["combined_metrics", "daily_summary"]);

    let customers = rt.load(&c.plugin("customer_metrics")).unwrap();
    assert!(customers.definitions().sensor("customer_sensor").is_some());
    let sensor = rt.load(&c.plugin("new_data_sensor")).unwrap();
    assert_eq!(
        sensor
            .definitions()
            .sensor("new_data_sensor")
            .unwrap()
            .targets,
        ["processed_events"]
    );
}

#[test]
fn materializes_a_partition_with_its_time_window() {
    let c = components();
    let plugin = runtime().load(&c.plugin("daily_sales")).unwrap();
    let out = plugin
        .materialize(&request("daily_sales", key("2024-01-15")))
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].asset, "daily_sales");
    let value = json_of(&out[0].data);
    assert_eq!(value["date"], "2024-01-15");
    assert!(value["sales"].as_u64().unwrap() >= 1000);
    // Partitions that do not exist yet, or never, are refused before the guest runs.
    let err = plugin
        .materialize(&request("daily_sales", key("2024-06-01")))
        .unwrap_err();
    assert!(matches!(err, CallError::Host { .. }), "{err}");
    let err = plugin
        .materialize(&request("daily_sales", key("2023-12-31")))
        .unwrap_err();
    assert!(err.to_string().contains("2023-12-31"), "{err}");
    let err = plugin
        .materialize(&request("daily_sales", Selection::None))
        .unwrap_err();
    assert!(err.to_string().contains("partitioned"), "{err}");
    // A range arrives as its keys.
    let out = plugin
        .materialize(&request(
            "daily_sales",
            Selection::Range(tessera_partitions::KeyRange::new(
                "2024-01-01",
                "2024-01-03",
            )),
        ))
        .map(|o| o.len());
    assert!(
        out.is_ok() || matches!(out, Err(CallError::InvalidInput { .. })),
        "{out:?}"
    );
}

#[test]
fn inputs_arrive_as_lists_of_keyed_bytes() {
    let c = components();
    let plugin = runtime().load(&c.plugin("processed_events")).unwrap();
    let raw = |k: &str| {
        let out = plugin.materialize(&request("raw_events", key(k))).unwrap();
        out.into_iter().next().unwrap().data
    };
    let mut req = request("processed_events", key("2024-01-15"));
    req.inputs = vec![InputData {
        asset: "raw_events".to_string(),
        partitions: vec![
            ("2024-01-14".to_string(), raw("2024-01-14")),
            ("2024-01-15".to_string(), raw("2024-01-15")),
        ],
    }];
    let out = plugin.materialize(&req).unwrap();
    let value = json_of(&out[0].data);
    assert_eq!(value["date"], "2024-01-15");
    assert_eq!(
        value["input_partitions"],
        json!(["2024-01-14", "2024-01-15"])
    );
    // Deterministic: the same inputs give the same bytes.
    assert_eq!(plugin.materialize(&req).unwrap()[0].data, out[0].data);
}

#[test]
fn one_call_produces_every_asset_of_a_multi_asset() {
    let c = components();
    let plugin = runtime().load(&c.plugin("combine_metrics")).unwrap();
    let defs = plugin.definitions();
    let multi = defs
        .computations
        .iter()
        .find(|c| c.assets.len() == 2)
        .unwrap();
    let mut req = request(&multi.name, key("2024-01-15"));
    // Produce the upstream partitions the plugin itself defines.
    for input in &multi.assets[0].inputs {
        let up = defs
            .computation_of(&input.asset)
            .expect("inputs defined in the plugin");
        let data = plugin
            .materialize(&request(&up.name, key("2024-01-15")))
            .unwrap();
        req.inputs.push(InputData {
            asset: input.asset.clone(),
            partitions: vec![("2024-01-15".to_string(), data[0].data.clone())],
        });
    }
    let out = plugin.materialize(&req).unwrap();
    let assets: Vec<&str> = out.iter().map(|o| o.asset.as_str()).collect();
    assert_eq!(assets, ["combined_metrics", "daily_summary"]);
}

fn guest_runtime(limits: Limits) -> Runtime {
    Runtime::new(RuntimeConfig { limits, ..config() }).unwrap()
}

#[test]
fn limits_stop_runaway_guests() {
    let c = components();
    let rt = guest_runtime(Limits {
        memory_bytes: 64 << 20,
        timeout: Duration::from_millis(300),
        fuel: None,
        max_output_bytes: 1 << 20,
        ..Limits::default()
    });
    let plugin = rt.load(&c.guest("misbehave")).unwrap();
    let none = |name: &str| plugin.materialize(&request(name, Selection::None));

    assert_eq!(none("ok").unwrap()[0].data, b"ok");

    let started = Instant::now();
    let err = none("spin").unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, CallError::Timeout { .. }), "{err}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(err.is_retryable());

    let err = none("bomb").unwrap_err();
    assert!(
        matches!(err, CallError::OutOfMemory { limit_bytes, .. } if limit_bytes == 64 << 20),
        "{err}"
    );

    let err = none("overflow").unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Trap {
                kind: TrapKind::StackOverflow,
                ..
            }
        ),
        "{err}"
    );

    let err = none("panic").unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Trap {
                kind: TrapKind::Unreachable,
                ..
            }
        ),
        "{err}"
    );

    let err = none("bad_output").unwrap_err();
    assert!(matches!(err, CallError::InvalidResult { .. }), "{err}");
    assert!(err.to_string().contains("elsewhere"), "{err}");

    let err = none("big_output").unwrap_err();
    assert!(matches!(err, CallError::InvalidResult { .. }), "{err}");
    assert!(err.to_string().contains("max_output_bytes"), "{err}");

    let err = none("fail").unwrap_err();
    assert!(
        matches!(err, CallError::Failed { .. }) && err.is_retryable(),
        "{err}"
    );

    let err = plugin
        .evaluate_sensor(&SensorRequest {
            sensor: "strays".into(),
            cursor: None,
            last_evaluation: None,
            now: now(),
        })
        .unwrap_err();
    assert!(matches!(err, CallError::InvalidResult { .. }), "{err}");
    assert!(err.to_string().contains("not among its targets"), "{err}");

    let err = none("nothing-like-this").unwrap_err();
    assert!(matches!(err, CallError::UnknownComputation { .. }), "{err}");

    // After all that, the same plugin still serves: every call had its own store.
    assert_eq!(none("ok").unwrap()[0].data, b"ok");
}

/// A session keeps one instance for the calls of a run; every failure drops it, and every
/// call keeps its own limits.
#[test]
fn a_session_reuses_its_instance_until_a_call_fails() {
    let c = components();
    let rt = guest_runtime(Limits {
        timeout: Duration::from_millis(300),
        memory_bytes: 64 << 20,
        ..Limits::default()
    });
    let plugin = rt.load(&c.guest("misbehave")).unwrap();
    let count = |out: Vec<tessera_runtime::Output>| String::from_utf8(out[0].data.clone()).unwrap();
    // Without a session, every call has a fresh instance.
    for _ in 0..2 {
        let out = plugin
            .materialize(&request("count", Selection::None))
            .unwrap();
        assert_eq!(count(out), "1");
    }
    let mut session = plugin.session();
    assert!(!session.is_instantiated());
    for n in 1..=3 {
        let out = session
            .materialize(&request("count", Selection::None))
            .unwrap();
        assert_eq!(count(out), n.to_string());
    }
    assert!(session.is_instantiated());
    // A plugin error, an output the host refuses, a trap and a timeout each drop the
    // instance: the next call starts afresh.
    for failing in ["fail", "bad_output", "panic", "spin"] {
        session
            .materialize(&request("count", Selection::None))
            .unwrap();
        let started = Instant::now();
        let err = session
            .materialize(&request(failing, Selection::None))
            .unwrap_err();
        if failing == "spin" {
            // The deadline is the call's own, not the session's first call's.
            assert!(matches!(err, CallError::Timeout { .. }), "{err}");
            assert!(started.elapsed() < Duration::from_secs(5));
        }
        assert!(!session.is_instantiated(), "{failing}: {err}");
        let out = session
            .materialize(&request("count", Selection::None))
            .unwrap();
        assert_eq!(count(out), "1", "after {failing}");
    }
    // Memory kept between calls: the call that runs out in a reused instance runs again in a
    // fresh one (24 MiB leaked per call, a 64 MiB limit).
    let mut session = plugin.session();
    let leaks: Vec<String> = (0..4)
        .map(|_| {
            count(
                session
                    .materialize(&request("leak", Selection::None))
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(leaks, ["1", "2", "1", "2"]);

    // Each call's log lines carry that call's scope.
    let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&runs);
    rt.set_log_sink(Arc::new(move |r: tessera_runtime::LogRecord| {
        sink.lock().unwrap().push(r.run);
    }));
    let mut session = plugin.session();
    for run in ["first", "second"] {
        let mut req = request("log", Selection::None);
        req.run_id = run.to_string();
        session.materialize(&req).unwrap();
    }
    assert_eq!(
        *runs.lock().unwrap(),
        [Some("first".to_string()), Some("second".to_string())]
    );
}

#[test]
fn fuel_limits_when_enabled() {
    let c = components();
    let rt = Runtime::new(RuntimeConfig {
        fuel: true,
        limits: Limits {
            fuel: Some(50_000_000),
            ..Limits::default()
        },
        ..config()
    })
    .unwrap();
    let plugin = rt.load(&c.guest("misbehave")).unwrap();
    let err = plugin
        .materialize(&request("spin", Selection::None))
        .unwrap_err();
    assert!(
        matches!(
            err,
            CallError::OutOfFuel {
                limit: 50_000_000,
                ..
            }
        ),
        "{err}"
    );
}

/// A plugin built against the frozen 0.1.0 contract loads and works: definitions (its
/// backfill policy from metadata), a range call (one output, for the whole range), its log
/// line through `host@0.1.0`, and a sensor.
#[test]
fn a_plugin_built_against_contract_0_1_0_keeps_working() {
    let c = components();
    let rt = runtime();
    let lines = log_messages(&rt);
    let legacy = rt.load(&c.guest("api_0_1")).unwrap();
    assert_eq!(legacy.api_version(), "0.1.0");
    let asset = legacy.definitions().asset("legacy_daily").unwrap();
    assert_eq!(
        asset.backfill_policy,
        tessera_runtime::BackfillPolicy::MultiRun(3)
    );
    assert_eq!(asset.code_version.as_deref(), Some("1"));
    let out = legacy
        .materialize(&request(
            "legacy_daily",
            Selection::Range(tessera_partitions::KeyRange::new(
                "2024-01-01",
                "2024-01-03",
            )),
        ))
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].partition, None);
    assert_eq!(out[0].data, b"legacy 2024-01-01...2024-01-03");
    assert_eq!(
        out[0].metadata,
        [(
            "keys".to_string(),
            tessera_runtime::MetadataValue::Integer(3)
        )]
    );
    assert_eq!(*lines.lock().unwrap(), ["legacy materialize"]);
    let sensed = legacy
        .evaluate_sensor(&SensorRequest {
            sensor: "legacy_sensor".into(),
            cursor: None,
            last_evaluation: None,
            now: now(),
        })
        .unwrap();
    assert_eq!(sensed.cursor.as_deref(), Some("seen"));
    assert_eq!(sensed.run_requests.len(), 1);
    assert_eq!(sensed.run_requests[0].selection, key("2024-01-02"));
}

/// A plugin built against the frozen 0.2.0 contract loads and works: definitions (its
/// backfill policy field, no exclusions), per-key outputs over a range, its log line through
/// `host@0.2.0`, and a sensor.
#[test]
fn a_plugin_built_against_contract_0_2_0_keeps_working() {
    let c = components();
    let rt = runtime();
    let lines = log_messages(&rt);
    let previous = rt.load(&c.guest("api_0_2")).unwrap();
    assert_eq!(previous.api_version(), "0.2.0");
    let asset = previous.definitions().asset("previous_daily").unwrap();
    assert_eq!(
        asset.backfill_policy,
        tessera_runtime::BackfillPolicy::MultiRun(4)
    );
    let out = previous
        .materialize(&request(
            "previous_daily",
            Selection::Range(tessera_partitions::KeyRange::new(
                "2024-01-01",
                "2024-01-02",
            )),
        ))
        .unwrap();
    let got: Vec<(Option<&str>, &[u8])> = out
        .iter()
        .map(|o| (o.partition.as_deref(), o.data.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            (Some("2024-01-01"), &b"previous 2024-01-01"[..]),
            (Some("2024-01-02"), &b"previous 2024-01-02"[..]),
        ]
    );
    assert_eq!(*lines.lock().unwrap(), ["previous materialize"]);
    let sensed = previous
        .evaluate_sensor(&SensorRequest {
            sensor: "previous_sensor".into(),
            cursor: None,
            last_evaluation: None,
            now: now(),
        })
        .unwrap();
    assert_eq!(sensed.run_requests[0].selection, key("2024-01-03"));
}

/// A plugin built against the frozen 0.3.0 contract loads and works: its calendar (weekdays
/// only), per-key outputs, its log line through `host@0.3.0`, its check, and a sensor.
#[test]
fn a_plugin_built_against_contract_0_3_0_keeps_working() {
    let c = components();
    let rt = runtime();
    let lines = log_messages(&rt);
    let previous = rt.load(&c.guest("api_0_3")).unwrap();
    assert_eq!(previous.api_version(), "0.3.0");
    assert_eq!(previous.world(), "plugin-with-mappings");
    // 2024-01-05 is a Friday, 2024-01-08 the Monday after: the weekend is no partition.
    let out = previous
        .materialize(&request(
            "weekdays_0_3",
            Selection::Range(tessera_partitions::KeyRange::new(
                "2024-01-05",
                "2024-01-08",
            )),
        ))
        .unwrap();
    let got: Vec<(Option<&str>, &[u8])> = out
        .iter()
        .map(|o| (o.partition.as_deref(), o.data.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            (Some("2024-01-05"), &b"weekday 2024-01-05"[..]),
            (Some("2024-01-08"), &b"weekday 2024-01-08"[..]),
        ]
    );
    assert_eq!(*lines.lock().unwrap(), ["0.3.0 materialize"]);
    let checked = previous
        .evaluate_check(
            "not_empty",
            &[
                ("2024-01-05".to_string(), b"x".to_vec()),
                ("2024-01-08".to_string(), Vec::new()),
            ],
            now(),
        )
        .unwrap();
    let outcomes: Vec<_> = checked.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            tessera_runtime::CheckOutcome::Pass,
            tessera_runtime::CheckOutcome::Fail
        ]
    );
    let sensed = previous
        .evaluate_sensor(&SensorRequest {
            sensor: "sensor_0_3".into(),
            cursor: None,
            last_evaluation: None,
            now: now(),
        })
        .unwrap();
    assert_eq!(sensed.run_requests[0].selection, key("2024-01-05"));
}

/// Per-key outputs must cover the selection's keys, each once, and not mix with a
/// whole-selection output.
#[test]
fn outputs_per_partition_are_checked_against_the_selection() {
    let c = components();
    let rt = runtime();
    let probe = rt.load(&c.guest("engine_probe")).unwrap();
    let out = probe
        .materialize(&request(
            "up",
            Selection::Range(tessera_partitions::KeyRange::new(
                "2024-01-01",
                "2024-01-03",
            )),
        ))
        .unwrap();
    let got: Vec<(Option<&str>, &[u8])> = out
        .iter()
        .map(|o| (o.partition.as_deref(), o.data.as_slice()))
        .collect();
    let call = "2024-01-01...2024-01-03";
    assert_eq!(
        got,
        [
            (
                Some("2024-01-01"),
                format!("2024-01-01 in {call}").as_bytes()
            ),
            (
                Some("2024-01-02"),
                format!("2024-01-02 in {call}").as_bytes()
            ),
            (
                Some("2024-01-03"),
                format!("2024-01-03 in {call}").as_bytes()
            ),
        ]
    );
    // A one-key call's output for its key is the call's output.
    let one = probe
        .materialize(&request("up", key("2024-01-02")))
        .unwrap();
    assert_eq!(one[0].partition, None);

    let bad = rt.load(&c.guest("misbehave")).unwrap();
    let all = || Selection::Range(tessera_partitions::KeyRange::new("a", "c"));
    for (computation, selection, expected) in [
        ("keys_missing", all(), "none for keys_missing[b]"),
        (
            "keys_mixed",
            all(),
            "both for the whole selection and for single partitions",
        ),
        (
            "key_stray",
            all(),
            "key_stray\"[z], a partition not in the selection",
        ),
        (
            "key_stray",
            key("a"),
            "key_stray\"[z], a partition not in the selection",
        ),
        ("key_twice", all(), "\"key_twice\"[a] twice"),
        ("ok", Selection::None, ""),
    ] {
        let result = bad.materialize(&request(computation, selection));
        if expected.is_empty() {
            assert!(result.is_ok(), "{computation}: {result:?}");
            continue;
        }
        let err = result.unwrap_err();
        assert!(
            matches!(err, CallError::InvalidResult { .. }),
            "{computation}: {err}"
        );
        assert!(err.to_string().contains(expected), "{computation}: {err}");
    }
}

#[test]
fn bad_components_are_refused_with_typed_errors() {
    let c = components();
    let rt = runtime();
    let err = rt.load(&c.guest("future_api")).unwrap_err();
    assert!(
        matches!(&err, LoadError::UnsupportedApiVersion { found, supported, .. }
            if found == "0.9.0" && supported == "0.4.0, 0.3.0, 0.2.0, 0.1.0"),
        "{err}"
    );
    let err = rt.load(&c.guest("wrong_world")).unwrap_err();
    assert!(matches!(err, LoadError::WrongWorld { .. }), "{err}");
    assert!(err.to_string().contains("other:thing/api"), "{err}");
    let err = rt.load(&c.guest("unknown_import")).unwrap_err();
    assert!(matches!(err, LoadError::Link { .. }), "{err}");
    assert!(err.to_string().contains("vault"), "{err}");
    let err = rt.load(&c.guest("bad_signature")).unwrap_err();
    assert!(matches!(err, LoadError::WrongWorld { .. }), "{err}");
    assert!(err.to_string().contains("definitions"), "{err}");
    let err = rt.load(&c.guest("bad_definitions")).unwrap_err();
    assert!(matches!(err, LoadError::InvalidDefinitions { .. }), "{err}");
    assert!(err.to_string().contains("every tuesday"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"this is not wasm").unwrap();
    assert!(matches!(
        rt.load(&garbage).unwrap_err(),
        LoadError::Malformed { .. }
    ));
    // A core module without its component type cannot be made a plugin: the error says so,
    // and what it exports.
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let err = rt.load(&core).unwrap_err();
    assert!(matches!(err, LoadError::CoreModule { .. }), "{err}");
    assert!(err.to_string().contains("exports: nothing"), "{err}");
    // (module (memory (export "memory") 1) (func (export "definitions")))
    let module: &[u8] = &[
        0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 24, 2, 6,
        109, 101, 109, 111, 114, 121, 2, 0, 11, 100, 101, 102, 105, 110, 105, 116, 105, 111, 110,
        115, 0, 0, 10, 4, 1, 2, 0, 11,
    ];
    std::fs::write(&core, module).unwrap();
    let err = rt.load(&core).unwrap_err().to_string();
    assert!(
        err.contains("core module that cannot be made a plugin")
            && err.contains("exports: memory, definitions"),
        "{err}"
    );
    let missing = rt.load(&dir.path().join("missing.wasm")).unwrap_err();
    assert!(matches!(missing, LoadError::Io { .. }), "{missing}");
}

#[test]
fn compiled_artifacts_are_cached_by_content() {
    let c = components();
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let first = rt.load(&c.plugin("daily_sales")).unwrap();
    assert!(!first.stats().from_cache);
    let second = rt.load(&c.plugin("daily_sales")).unwrap();
    assert!(second.stats().from_cache);
    assert_eq!(first.code_version(), second.code_version());
    let artifacts = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect()
    };
    assert_eq!(
        artifacts().len(),
        1,
        "one artifact, no temporary files left"
    );
    assert!(dir.path().join("incremental").is_dir());
    // A second engine with the same settings reads the same artifact.
    let other = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    assert!(
        other
            .load(&c.plugin("daily_sales"))
            .unwrap()
            .stats()
            .from_cache
    );
    // A corrupt artifact is ignored, not trusted. (Replaced by rename, as anything writing
    // into a cache must: loaded artifacts are mapped, and truncating one in place would pull
    // pages from under the running code.)
    drop((first, second));
    let artifact = artifacts().remove(0);
    let tmp = dir.path().join("corrupt.tmp");
    std::fs::write(&tmp, b"corrupt").unwrap();
    std::fs::rename(&tmp, &artifact).unwrap();
    let reloaded = other.load(&c.plugin("daily_sales")).unwrap();
    assert!(!reloaded.stats().from_cache);
}

/// An edit of one function recompiles little: Cranelift's incremental compilation cache, kept
/// beside the artifacts, gives back the functions that did not change.
#[test]
fn an_edited_plugin_compiles_only_what_changed() {
    let c = components();
    let dir = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let path = plugins.path().join("heavy.wasm");
    let rt = || {
        Runtime::new(RuntimeConfig {
            cache_dir: Some(dir.path().to_path_buf()),
            ..RuntimeConfig::default()
        })
        .unwrap()
    };
    std::fs::copy(c.guest("heavy"), &path).unwrap();
    let first = rt().load(&path).unwrap().stats();
    let counts = first
        .functions
        .expect("compiled with the incremental cache");
    let total = counts.compiled + counts.reused;
    assert!(total > 2_000, "{counts:?}");

    // The edit, loaded by another process (a new engine on the same cache directory).
    std::fs::copy(tessera_tests::heavy_edited(), &path).unwrap();
    let edited = rt().load(&path).unwrap();
    let stats = edited.stats();
    assert!(!stats.from_cache);
    let counts = stats
        .functions
        .expect("compiled with the incremental cache");
    assert_eq!(counts.compiled + counts.reused, total);
    // One function changed; Cranelift also recompiles a few functions whose IR hashes
    // differently from one compilation to the next (about 5 % of this component).
    assert!(
        counts.compiled * 10 < total,
        "compiled {} of {total} functions",
        counts.compiled
    );
    // And the edit is live: bare dates (10 characters) are no longer kept.
    let mut req = request("matches", Selection::None);
    req.inputs = vec![InputData {
        asset: "lines".to_string(),
        partitions: vec![(
            "all".to_string(),
            b"2024-01-01\n2024-01-02 sold 3\nnoise".to_vec(),
        )],
    }];
    let out = edited.materialize(&req).unwrap();
    assert_eq!(out[0].data, b"2024-01-02 sold 3");
    // Without a cache directory there is no incremental cache either.
    let plain = Runtime::new(RuntimeConfig::default()).unwrap();
    assert!(plain.load(&path).unwrap().stats().functions.is_none());
}

#[test]
fn nothing_is_granted_unless_configured() {
    let c = components();
    let incoming = tempfile::tempdir().unwrap();
    std::fs::write(incoming.path().join("2024-01-15.json"), b"{}").unwrap();
    let sensor = |grants: Option<Grants>| {
        let mut cfg = config();
        if let Some(g) = grants {
            cfg.grants.insert("new_data_sensor".to_string(), g);
        }
        let plugin = Runtime::new(cfg)
            .unwrap()
            .load(&c.plugin("new_data_sensor"))
            .unwrap();
        plugin
            .evaluate_sensor(&SensorRequest {
                sensor: "new_data_sensor".into(),
                cursor: None,
                last_evaluation: None,
                now: now(),
            })
            .unwrap()
    };
    let denied = sensor(None);
    assert!(denied.run_requests.is_empty());
    assert!(denied.skip_reason.is_some());
    let granted = sensor(Some(Grants {
        dirs: vec![DirGrant {
            host: incoming.path().to_path_buf(),
            guest: "/data/incoming".to_string(),
        }],
        env: Vec::new(),
    }));
    assert_eq!(granted.run_requests.len(), 1, "{granted:?}");
    assert_eq!(granted.run_requests[0].assets, ["processed_events"]);
    assert!(granted.run_requests[0].run_key.is_some());
    assert!(granted.cursor.is_some());
}

fn wait_for(
    events: &mut tokio::sync::broadcast::Receiver<RegistryEvent>,
    pred: impl Fn(&RegistryEvent) -> bool,
) -> RegistryEvent {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match events.try_recv() {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                assert!(
                    Instant::now() < deadline,
                    "no matching registry event within 60 s"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("registry events: {e}"),
        }
    }
}

#[test]
fn registry_hot_reloads_in_place() {
    let c = components();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sales.wasm");
    std::fs::copy(c.plugin("daily_sales"), &file).unwrap();
    let registry = Registry::new(runtime(), dir.path());
    let mut events = registry.subscribe();
    let loaded = registry.load_all().unwrap();
    assert!(matches!(&loaded[..], [RegistryEvent::Loaded { plugin, .. }] if plugin == "sales"));
    while events.try_recv().is_ok() {}
    let _watch = registry.watch().unwrap();
    let v1 = registry.get("sales").unwrap();

    // A new version: the file is replaced by another plugin.
    copy_atomically(&c.plugin("customer_metrics"), &file);
    let event = wait_for(&mut events, |e| matches!(e, RegistryEvent::Loaded { .. }));
    let RegistryEvent::Loaded {
        previous_version,
        version,
        detected_to_serving_ms,
        ..
    } = event
    else {
        unreachable!()
    };
    assert_eq!(previous_version.as_deref(), Some(v1.code_version()));
    assert!(detected_to_serving_ms < 10_000.0);
    let v2 = registry.get("sales").unwrap();
    assert_eq!(v2.code_version(), version);
    assert!(v2.definitions().asset("customer_metrics").is_some());
    // A call that started on v1 keeps v1: the Arc it holds is the old version.
    let out = v1
        .materialize(&request("daily_sales", key("2024-01-15")))
        .unwrap();
    assert_eq!(out[0].asset, "daily_sales");

    // A broken file: the error is recorded, v2 keeps serving.
    std::fs::write(&file, b"not a component").unwrap();
    let failed = wait_for(&mut events, |e| matches!(e, RegistryEvent::Failed { .. }));
    assert!(
        matches!(&failed, RegistryEvent::Failed { serving_version: Some(v), .. } if *v == v2.code_version()),
        "{failed:?}"
    );
    assert_eq!(
        registry.get("sales").unwrap().code_version(),
        v2.code_version()
    );
    assert!(registry.errors().contains_key("sales"));

    // Fixed again: serving, error cleared.
    copy_atomically(&c.plugin("daily_sales"), &file);
    wait_for(&mut events, |e| matches!(e, RegistryEvent::Loaded { .. }));
    assert_eq!(
        registry.get("sales").unwrap().code_version(),
        v1.code_version()
    );
    assert!(registry.errors().is_empty());

    // Removed: no longer served.
    std::fs::remove_file(&file).unwrap();
    wait_for(&mut events, |e| matches!(e, RegistryEvent::Removed { .. }));
    assert!(registry.get("sales").is_none());
}

/// Dynamic partition keys as the engine's store would hold them.
struct Known(Vec<String>);

impl tessera_runtime::DynamicKeys for Known {
    fn keys(&self, name: &str) -> Vec<String> {
        if name == "customers" {
            self.0.clone()
        } else {
            Vec::new()
        }
    }
}

#[test]
fn dynamic_partitions_come_from_the_host() {
    let c = components();
    let rt = Runtime::with_dynamic_keys(
        config(),
        Arc::new(Known(vec!["acme".to_string(), "globex".to_string()])),
    )
    .unwrap();
    let plugin = rt.load(&c.plugin("customer_metrics")).unwrap();
    let out = plugin
        .materialize(&request("customer_metrics", key("acme")))
        .unwrap();
    assert_eq!(json_of(&out[0].data)["customer"], "acme");
    let err = plugin
        .materialize(&request("customer_metrics", key("initech")))
        .unwrap_err();
    assert!(err.to_string().contains("initech"), "{err}");
    // The sensor asks the host which customers exist and adds only the others.
    let result = plugin
        .evaluate_sensor(&SensorRequest {
            sensor: "customer_sensor".into(),
            cursor: None,
            last_evaluation: None,
            now: now(),
        })
        .unwrap();
    let added: Vec<&str> = result
        .dynamic_partitions
        .iter()
        .flat_map(|d| d.add.iter().map(String::as_str))
        .collect();
    assert_eq!(added, ["initech"], "{result:?}");
    assert_eq!(result.run_requests.len(), 1);
    assert_eq!(result.run_requests[0].selection, key("initech"));
}

#[test]
fn a_planned_call_needs_no_partition_store() {
    // No dynamic keys at all: a call the engine resolved carries its keys and window.
    let c = components();
    let rt = runtime();
    let plugin = rt.load(&c.plugin("customer_metrics")).unwrap();
    let unresolved = plugin
        .materialize(&request("customer_metrics", key("acme")))
        .unwrap_err();
    assert!(unresolved.to_string().contains("acme"), "{unresolved}");
    let mut planned = request("customer_metrics", key("acme"));
    planned.resolved = Some(Resolved {
        keys: vec!["acme".into()],
        window: None,
    });
    let out = plugin.materialize(&planned).unwrap();
    assert_eq!(json_of(&out[0].data)["customer"], "acme");
    // Keys that do not match the selection are refused before the guest runs.
    planned.resolved = Some(Resolved {
        keys: vec!["globex".into()],
        window: None,
    });
    let err = plugin.materialize(&planned).unwrap_err();
    assert!(
        err.to_string().contains("do not match the selection acme"),
        "{err}"
    );
}

#[test]
fn the_sandbox_holds_outside_the_grant() {
    let c = components();
    let granted = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(granted.path().join("inside.txt"), b"inside").unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, b"secret").unwrap();
    std::os::unix::fs::symlink(&secret, granted.path().join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.path(), granted.path().join("door")).unwrap();
    let mut cfg = config();
    cfg.grants.insert(
        "misbehave".to_string(),
        Grants {
            dirs: vec![DirGrant {
                host: granted.path().to_path_buf(),
                guest: "/data".to_string(),
            }],
            env: Vec::new(),
        },
    );
    let plugin = Runtime::new(cfg)
        .unwrap()
        .load(&c.guest("misbehave"))
        .unwrap();
    let read = |path: &str| {
        let mut req = request("read", Selection::None);
        req.inputs = vec![InputData {
            asset: "path".to_string(),
            partitions: vec![(String::new(), path.as_bytes().to_vec())],
        }];
        plugin.materialize(&req)
    };
    assert_eq!(read("/data/inside.txt").unwrap()[0].data, b"inside");
    let secret_text = secret.display().to_string();
    let outside_name = outside
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    for path in [
        "/data/../secret.txt".to_string(),
        format!("/data/../{outside_name}/secret.txt"),
        secret_text,
        "/etc/passwd".to_string(),
        "/data/escape".to_string(),
        "/data/door/secret.txt".to_string(),
    ] {
        let err = read(&path).unwrap_err();
        assert!(
            matches!(err, CallError::InvalidInput { .. }),
            "{path}: {err}"
        );
    }
}

#[test]
fn a_file_written_in_two_halves_never_serves_half() {
    let c = components();
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new(runtime(), dir.path());
    let mut events = registry.subscribe();
    let _watch = registry.watch().unwrap();
    let bytes = std::fs::read(c.plugin("daily_sales")).unwrap();
    let (first, second) = bytes.split_at(bytes.len() / 2);
    let file = dir.path().join("halves.wasm");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&file).unwrap();
        f.write_all(first).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(400));
        f.write_all(second).unwrap();
    }
    let loaded = wait_for(&mut events, |e| matches!(e, RegistryEvent::Loaded { .. }));
    let RegistryEvent::Loaded { version, .. } = loaded else {
        unreachable!()
    };
    let whole = runtime().load(&c.plugin("daily_sales")).unwrap();
    assert_eq!(version, whole.code_version(), "the whole file, not a half");
    assert_eq!(
        registry.get("halves").unwrap().code_version(),
        whole.code_version()
    );
}

/// A component with a custom section appended: the same code under a new content hash.
fn variant(bytes: &[u8], n: u32) -> Vec<u8> {
    let name = b"tessera-test-variant";
    let payload = n.to_le_bytes();
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(&payload);
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    out.push(section.len() as u8); // LEB128, < 128
    out.extend_from_slice(&section);
    out
}

#[test]
fn fifty_reloads_under_continuous_calls_lose_nothing() {
    let c = components();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sales.wasm");
    let bytes = std::fs::read(c.plugin("daily_sales")).unwrap();
    std::fs::write(&file, variant(&bytes, 0)).unwrap();
    let registry = Registry::new(runtime(), dir.path());
    registry.load_all().unwrap();
    let mut events = registry.subscribe();
    let _watch = registry.watch().unwrap();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let caller = {
        let registry = registry.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut calls = 0u32;
            let mut versions = std::collections::BTreeSet::new();
            let req = request("daily_sales", key("2024-01-15"));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let plugin = registry.get("sales").expect("always a version serving");
                let out = plugin.materialize(&req).expect("no failed call");
                assert_eq!(json_of(&out[0].data)["date"], "2024-01-15");
                versions.insert(plugin.code_version().to_string());
                calls += 1;
            }
            (calls, versions.len())
        })
    };
    for n in 1..=50 {
        let tmp = dir.path().join("sales.partial");
        std::fs::write(&tmp, variant(&bytes, n)).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        let event = wait_for(&mut events, |e| {
            matches!(
                e,
                RegistryEvent::Loaded { .. } | RegistryEvent::Failed { .. }
            )
        });
        assert!(
            matches!(event, RegistryEvent::Loaded { .. }),
            "reload {n}: {event:?}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (calls, versions) = caller.join().unwrap();
    assert!(calls > 50, "{calls} calls");
    assert!(versions > 1, "calls saw {versions} versions");

    // A broken replacement: the last good version keeps answering, the error is reported.
    let good = registry.get("sales").unwrap().code_version().to_string();
    std::fs::write(dir.path().join("sales.partial"), b"\0asm broken").unwrap();
    std::fs::rename(dir.path().join("sales.partial"), &file).unwrap();
    let failed = wait_for(&mut events, |e| matches!(e, RegistryEvent::Failed { .. }));
    assert!(
        matches!(failed, RegistryEvent::Failed { serving_version: Some(ref v), .. } if *v == good)
    );
    let still = registry.get("sales").unwrap();
    assert_eq!(still.code_version(), good);
    assert!(
        still
            .materialize(&request("daily_sales", key("2024-01-15")))
            .is_ok()
    );
    assert!(
        registry.errors()["sales"]
            .error
            .contains("not a valid WebAssembly component")
    );
}

/// Asset checks a plugin exports: declared with the plugin, evaluated over values per
/// partition in the sandbox, and refused when they answer for a partition they were not given.
#[test]
fn asset_checks_are_declared_and_evaluated_per_partition() {
    let c = components();
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let probe = rt.load(&c.guest("engine_probe")).unwrap();
    let declared = &probe.definitions().checks;
    assert_eq!(declared.len(), 1);
    assert_eq!(
        (
            declared[0].name.as_str(),
            declared[0].asset.as_str(),
            declared[0].blocking
        ),
        ("not_the_third", "checked_up", true)
    );
    let now = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
    let values: Vec<(String, Vec<u8>)> = ["2024-01-01", "2024-01-02", "2024-01-03"]
        .iter()
        .map(|k| (k.to_string(), k.as_bytes().to_vec()))
        .collect();
    let results = probe.evaluate_check("not_the_third", &values, now).unwrap();
    let outcomes: Vec<(String, tessera_runtime::CheckOutcome)> = results
        .iter()
        .map(|r| (r.partition.clone(), r.outcome))
        .collect();
    use tessera_runtime::CheckOutcome::{Fail, Pass, Warn};
    assert_eq!(
        outcomes,
        [
            ("2024-01-01".to_string(), Pass),
            ("2024-01-02".to_string(), Warn),
            ("2024-01-03".to_string(), Fail),
        ]
    );
    assert_eq!(
        results[2].description.as_deref(),
        Some("the 3rd is a bad load")
    );
    assert_eq!(results[2].metadata.len(), 1);
    assert!(probe.evaluate_check("nope", &values, now).is_err());
    let lawless = rt.load(&c.guest("lawless_mapping")).unwrap();
    let err = lawless
        .evaluate_check("chatty", &values, now)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("1999-01-01") && err.contains("not given"),
        "{err}"
    );
}
