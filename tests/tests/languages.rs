//! The example plugins in C, JavaScript, Python, Zig and AssemblyScript
//! (`plugins/{c,js,python,zig,assemblyscript}/`, built with the kits in `plugin-sdk/`) on the real host: loaded beside the Rust plugin whose `raw_events`
//! they read, materialized through the engine, byte for byte the Rust asset's output, and
//! hot-reloaded with a changed version; their sensors; a second start of the JavaScript and
//! Python plugins from the artifact cache; and the C template's assets and sensor.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use tessera_engine::{Clock, Engine, EngineConfig, Filter, PartitionSelection, RunPolicy};
use tessera_runtime::{
    CallError, InputData, MaterializeRequest, Plugin, Registry, RegistryEvent, Runtime,
    RuntimeConfig, Selection, SensorRequest,
};
use tessera_tests::{
    as_plugins, components, copy_atomically, js_plugins, python_plugins, repo_root, shared_dir,
    zig_plugins,
};

fn runtime_config() -> RuntimeConfig {
    RuntimeConfig {
        cache_dir: Some(shared_dir("artifacts")),
        ..RuntimeConfig::default()
    }
}

/// The `processed_events` asset in each language other than Rust.
const PORTS: [&str; 5] = [
    "processed_events_c",
    "processed_events_js",
    "processed_events_py",
    "processed_events_zig",
    "processed_events_as",
];

/// The `daily_sales` asset in each language other than Rust.
const DAILY_PORTS: [&str; 2] = ["daily_sales_zig", "daily_sales_as"];

/// The ports whose kits are written in the language (not C, whose kit is generated bindings).
const KIT_PORTS: [(&str, &str); 4] = [
    ("processed_events_js", "processed_events_js_days"),
    ("processed_events_py", "processed_events_py_days"),
    ("processed_events_zig", "processed_events_zig_days"),
    ("processed_events_as", "processed_events_as_days"),
];

fn port_file(asset: &str) -> PathBuf {
    match asset {
        "processed_events_c" => components().c_plugin(asset),
        "processed_events_js" => js_plugins().join(format!("{asset}.wasm")),
        "processed_events_py" => python_plugins().join(format!("{asset}.wasm")),
        "processed_events_zig" | "daily_sales_zig" => zig_plugins().join(format!("{asset}.wasm")),
        _ => as_plugins().join(format!("{asset}.wasm")),
    }
}

/// The port loaded once per test process, through the shared artifact cache. A JavaScript or
/// Python component takes seconds to compile: tests that ran at once would each compile it.
fn loaded(asset: &str) -> Arc<Plugin> {
    static LOADED: OnceLock<Mutex<BTreeMap<String, Arc<Plugin>>>> = OnceLock::new();
    let mut loaded = LOADED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    loaded
        .entry(asset.to_string())
        .or_insert_with(|| {
            let runtime = Runtime::new(runtime_config()).unwrap();
            Arc::new(runtime.load(&port_file(asset)).unwrap())
        })
        .clone()
}

#[test]
fn every_language_writes_what_the_rust_asset_writes() {
    let c = components();
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for rust in ["processed_events", "daily_sales"] {
        std::fs::copy(c.plugin(rust), plugins.join(format!("{rust}.wasm"))).unwrap();
    }
    for port in PORTS.into_iter().chain(DAILY_PORTS) {
        // Compiled into the shared cache first, once: the engine then finds it there.
        loaded(port);
        std::fs::copy(port_file(port), plugins.join(format!("{port}.wasm"))).unwrap();
    }
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
    let mut assets = vec![
        "raw_events".to_string(),
        "processed_events".to_string(),
        "daily_sales".to_string(),
    ];
    assets.extend(PORTS.into_iter().chain(DAILY_PORTS).map(str::to_string));
    let submitted = engine
        .submit(
            &assets,
            &PartitionSelection::Range(tessera_partitions::KeyRange::new(
                "2024-01-01",
                "2024-01-06",
            )),
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
            String::from_utf8(engine.read_blob(&m.blob).unwrap()).unwrap()
        };
        let rust = blob("processed_events");
        assert!(rust.contains("\"duplicates\":"), "{rust}");
        for port in PORTS {
            assert_eq!(blob(port), rust, "{port} {key}");
        }
        let rust = blob("daily_sales");
        assert!(
            rust.starts_with(&format!("{{\"date\":\"{key}\",\"sales\":")),
            "{rust}"
        );
        for port in DAILY_PORTS {
            assert_eq!(blob(port), rust, "{port} {key}");
        }
    }
}

/// A plugin built with the JavaScript, Python, Zig or AssemblyScript kit fails as the contract says: a missing input is invalid input
/// (not retried), and an error the plugin did not mean to raise is a failure with its origin.
#[test]
fn kit_errors_reach_the_host_typed() {
    let now = Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap();
    for (port, _) in KIT_PORTS {
        let plugin = loaded(port);
        let request = |selection, inputs| MaterializeRequest {
            computation: port.into(),
            assets: Vec::new(),
            selection,
            resolved: None,
            run_id: "t".into(),
            attempt: 1,
            now,
            inputs,
            timeout: None,
        };
        let missing = plugin
            .materialize(&request(Selection::Key("2024-01-02".into()), Vec::new()))
            .unwrap_err();
        assert!(
            matches!(&missing, CallError::InvalidInput { message, .. } if message.contains("raw_events")),
            "{port}: {missing}"
        );
        let range = plugin
            .materialize(&request(
                Selection::Range(tessera_partitions::KeyRange::new(
                    "2024-01-02",
                    "2024-01-03",
                )),
                Vec::new(),
            ))
            .unwrap_err();
        assert!(
            matches!(&range, CallError::InvalidInput { message, .. } if message.contains("one partition at a time")),
            "{port}: {range}"
        );
        let garbage = plugin
            .materialize(&request(
                Selection::Key("2024-01-02".into()),
                vec![InputData {
                    asset: "raw_events".into(),
                    partitions: vec![("2024-01-02".into(), b"{\"events\": 7}".to_vec())],
                }],
            ))
            .unwrap_err();
        assert!(
            matches!(&garbage, CallError::Failed { .. }),
            "{port}: {garbage}"
        );
    }
}

/// The JavaScript, Python, Zig and AssemblyScript sensors: a run per finished day, keyed by the day, with the next
/// day as the cursor; a skip reason when the day is not over; a failure for a bad cursor.
#[test]
fn kit_sensors_request_finished_days() {
    let now = Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap();
    for (port, sensor) in KIT_PORTS {
        let plugin = loaded(port);
        let sensors = &plugin.definitions().sensors;
        assert_eq!(sensors.len(), 1, "{port}");
        assert_eq!(sensors[0].name, sensor);
        assert_eq!(sensors[0].targets, vec![port.to_string()]);
        assert_eq!(sensors[0].minimum_interval, Duration::from_secs(60));
        let evaluate = |cursor: Option<&str>| {
            plugin.evaluate_sensor(&SensorRequest {
                sensor: sensor.into(),
                cursor: cursor.map(str::to_string),
                last_evaluation: None,
                now,
            })
        };
        let first = evaluate(None).unwrap();
        assert_eq!(first.run_requests.len(), 1, "{port}");
        assert_eq!(first.run_requests[0].run_key.as_deref(), Some("2024-01-01"));
        assert_eq!(first.run_requests[0].assets, vec![port.to_string()]);
        assert_eq!(
            first.run_requests[0].selection,
            Selection::Key("2024-01-01".into())
        );
        assert_eq!(first.cursor.as_deref(), Some("2024-01-02"), "{port}");
        let last = evaluate(Some("2024-01-31")).unwrap();
        assert_eq!(last.run_requests[0].run_key.as_deref(), Some("2024-01-31"));
        assert_eq!(last.cursor.as_deref(), Some("2024-02-01"), "{port}");
        let waiting = evaluate(Some("2024-02-01")).unwrap();
        assert!(waiting.run_requests.is_empty(), "{port}");
        assert_eq!(waiting.cursor, None, "{port}");
        assert_eq!(
            waiting.skip_reason.as_deref(),
            Some("2024-02-01 is not over yet"),
            "{port}"
        );
        let bad = evaluate(Some("yesterday")).unwrap_err();
        assert!(
            matches!(&bad, CallError::Failed { message, .. } if message.contains("yesterday")),
            "{port}: {bad}"
        );
    }
}

/// JavaScript and Python components take seconds to compile; a second start of the host finds
/// them in the artifact cache.
#[test]
#[allow(clippy::print_stderr, reason = "the load times go to the test log")]
fn a_second_start_loads_js_and_python_from_the_artifact_cache() {
    for port in ["processed_events_js", "processed_events_py"] {
        // The first start: compiled, unless an earlier run left it in the shared cache.
        let first = loaded(port);
        // A new runtime: nothing survives from the first but the cache directory.
        let second = Runtime::new(runtime_config())
            .unwrap()
            .load(&port_file(port))
            .unwrap();
        assert!(second.stats().from_cache, "{port}: not from the cache");
        assert_eq!(second.code_version(), first.code_version());
        assert_eq!(
            second.definitions().asset(port).map(|a| a.key.as_str()),
            Some(port)
        );
        eprintln!(
            "{port}: {} bytes; first start {} in {:?}, second start from the cache in {:?}",
            first.stats().size_bytes,
            if first.stats().from_cache {
                "from the cache"
            } else {
                "compiled"
            },
            first.stats().compile,
            second.stats().compile
        );
    }
}

/// Builds the C sources in `source` (relative to the repository) into `work/<name>.wasm`.
fn build_c(work: &Path, source: &str, name: &str, defines: &[&str]) -> PathBuf {
    let root = repo_root();
    let bindings = work.join("bindings");
    tessera_kits::c::generate_bindings(&root, &bindings).unwrap();
    let file = work.join(format!("{name}.wasm"));
    tessera_kits::c::build_plugin(&root, &root.join(source), &bindings, &file, defines).unwrap();
    file
}

/// A core module built with its component type embedded (the C kit's compiler output, before
/// `wit-component`) loads as a plugin: the host makes it a component, and it declares and
/// answers exactly what the component built from the same sources does. The second load comes
/// from the artifact cache, under the module's own hash.
#[test]
fn a_core_module_with_its_component_type_loads_as_a_plugin() {
    let work = tempfile::tempdir().unwrap();
    let (core, component) = tessera_tests::c_core_module(work.path());
    let bytes = std::fs::read(&core).unwrap();
    assert_eq!(
        &bytes[4..8],
        &[1, 0, 0, 0],
        "a core module, not a component"
    );
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(work.path().join("cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let now = Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap();
    let from_core = runtime.load(&core).unwrap();
    assert!(!from_core.stats().from_cache);
    assert_eq!(
        declared(&from_core),
        declared(&runtime.load(&component).unwrap())
    );
    assert_eq!(
        exported(from_core, now),
        exported(runtime.load(&component).unwrap(), now)
    );
    assert!(runtime.load(&core).unwrap().stats().from_cache);
}

/// The templates of the C, JavaScript and Python kits declare and do the same: `hello` (a
/// greeting per day), `hello_week` (the greetings of the week up to a day), the sensor
/// `next_day`, and a multi-asset computation, `hello_sizes`, producing `hello_chars` and
/// `hello_lines`.
fn check_template(file: &Path) {
    let plugin = Runtime::new(runtime_config()).unwrap().load(file).unwrap();
    let now = Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap();
    let request = |computation: &str, key: &str, inputs| MaterializeRequest {
        computation: computation.into(),
        assets: Vec::new(),
        selection: Selection::Key(key.into()),
        resolved: None,
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

    let hello = || {
        vec![InputData {
            asset: "hello".into(),
            partitions: vec![("2024-01-03".into(), b"hello, 2024-01-03\n".to_vec())],
        }]
    };
    let sizes = plugin
        .materialize(&request("hello_sizes", "2024-01-03", hello()))
        .unwrap();
    let got: Vec<(&str, &[u8])> = sizes
        .iter()
        .map(|o| (o.asset.as_str(), o.data.as_slice()))
        .collect();
    assert_eq!(
        got,
        [("hello_chars", &b"18"[..]), ("hello_lines", &b"1"[..])]
    );
    let one = plugin
        .materialize(&MaterializeRequest {
            assets: vec!["hello_lines".into()],
            ..request("hello_sizes", "2024-01-03", hello())
        })
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].asset, "hello_lines");

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

#[test]
fn the_c_template_builds_and_runs() {
    let work = tempfile::tempdir().unwrap();
    check_template(&build_c(
        work.path(),
        "plugin-sdk/c/template",
        "template",
        &[],
    ));
}

fn kit_template_builds_and_runs(language: &str) {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("template.wasm");
    let template = repo_root()
        .join("plugin-sdk")
        .join(language)
        .join("template");
    build_with_kit(language, &template, &file);
    check_template(&file);
}

#[test]
fn the_js_template_builds_and_runs() {
    kit_template_builds_and_runs("js");
}

#[test]
fn the_python_template_builds_and_runs() {
    kit_template_builds_and_runs("python");
}

#[test]
fn the_zig_template_builds_and_runs() {
    kit_template_builds_and_runs("zig");
}

#[test]
fn the_assemblyscript_template_builds_and_runs() {
    kit_template_builds_and_runs("assemblyscript");
}

fn wait_for_version(registry: &Registry, name: &str, asset: &str, version: &str) {
    // Generous: a JavaScript or Python component compiles for seconds, longer while other
    // tests compile theirs on the same two cores. This is a liveness check, not a timing.
    let deadline = Instant::now() + Duration::from_secs(600);
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
            "{name} still serves {served:?}, not {version:?}, after 600 s (errors: {:?})",
            registry.errors()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Serves `v1` from a watched directory, replaces it with `v2` as a deploy would, and waits
/// until the registry serves code version 2 of `asset`, which must then run.
fn hot_reloads(v1: &Path, v2: &Path, asset: &str) {
    // Version 1 compiled once, into the shared cache the registry reads.
    loaded(asset);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.wasm");
    std::fs::copy(v1, &file).unwrap();
    let registry = Registry::new(Runtime::new(runtime_config()).unwrap(), &dir);
    registry.load_all().unwrap();
    wait_for_version(&registry, "events", asset, "1");
    let _watch = registry.watch().unwrap();

    copy_atomically(v2, &file);
    wait_for_version(&registry, "events", asset, "2");
    let plugin = registry.get("events").unwrap();
    assert_eq!(
        plugin
            .definitions()
            .asset(asset)
            .and_then(|a| a.partitions.as_ref())
            .map(|p| p.kind().to_string())
            .as_deref(),
        Some("time_window")
    );
    let raw = br#"{"date":"2024-01-01","events":[{"event_date":"2024-01-01","id":"a","value":5}]}"#;
    let out = plugin
        .materialize(&MaterializeRequest {
            computation: asset.into(),
            assets: Vec::new(),
            selection: Selection::Key("2024-01-01".into()),
            resolved: None,
            run_id: "t".into(),
            attempt: 1,
            now: Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap(),
            inputs: vec![InputData {
                asset: "raw_events".into(),
                partitions: vec![("2024-01-01".into(), raw.to_vec())],
            }],
            timeout: None,
        })
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out[0].data),
        r#"{"by_event_date":{"2024-01-01":1},"date":"2024-01-01","duplicates":0,"events_received":1,"input_partitions":["2024-01-01"],"unique_events":1,"value_sum":5}"#
    );
}

/// A copy of the example plugin's sources in `language` with `CODE_VERSION = "2"`.
fn version_2_sources(work: &Path, language: &str, name: &str, file: &str) -> PathBuf {
    let from = repo_root().join("plugins").join(language).join(name);
    let to = work.join(format!("{name}-v2"));
    std::fs::create_dir_all(&to).unwrap();
    let source = std::fs::read_to_string(from.join(file)).unwrap();
    let changed = source.replacen("CODE_VERSION = \"1\"", "CODE_VERSION = \"2\"", 1);
    assert_ne!(changed, source, "{name}/{file} sets CODE_VERSION = \"1\"");
    std::fs::write(to.join(file), changed).unwrap();
    to
}

#[test]
fn a_c_plugin_hot_reloads_in_place() {
    let work = tempfile::tempdir().unwrap();
    // A second version of the same source, with another code version compiled in.
    let v2 = build_c(
        work.path(),
        "plugins/c/processed_events_c",
        "v2",
        &["PLUGIN_CODE_VERSION=\"2\""],
    );
    hot_reloads(
        &components().c_plugin("processed_events_c"),
        &v2,
        "processed_events_c",
    );
}

/// Builds the JavaScript (`js`), Python (`python`), Zig (`zig`) or AssemblyScript
/// (`assemblyscript`) plugin in `source` into `out`.
fn build_with_kit(language: &str, source: &Path, out: &Path) {
    let root = repo_root();
    let built = match language {
        "js" => tessera_kits::js::ensure_toolchain(&root)
            .and_then(|cli| tessera_kits::js::build_plugin(&root, &cli, source, out)),
        "python" => tessera_kits::python::ensure_toolchain(&root)
            .and_then(|cli| tessera_kits::python::build_plugin(&root, &cli, source, out)),
        "zig" => tessera_kits::zig::ensure_toolchain(&root)
            .and_then(|zig| tessera_kits::zig::build_plugin(&root, &zig, source, out)),
        _ => tessera_kits::assemblyscript::ensure_toolchain(&root)
            .and_then(|asc| tessera_kits::assemblyscript::build_plugin(&root, &asc, source, out)),
    };
    if let Err(e) = built {
        panic!("{e}");
    }
}

/// The example `name` in `language` (entry `file`) reloads as version 2.
fn port_hot_reloads(language: &str, name: &str, file: &str) {
    let work = tempfile::tempdir().unwrap();
    let source = version_2_sources(work.path(), language, name, file);
    let v2 = work.path().join(format!("{name}_v2.wasm"));
    build_with_kit(language, &source, &v2);
    hot_reloads(&port_file(name), &v2, name);
}

#[test]
fn a_js_plugin_hot_reloads_in_place() {
    port_hot_reloads("js", "processed_events_js", "plugin.js");
}

#[test]
fn a_python_plugin_hot_reloads_in_place() {
    port_hot_reloads("python", "processed_events_py", "app.py");
}

/// A Zig plugin is a core module the host wraps: the new version is wrapped and compiled
/// when it lands, and serves in place of the old.
#[test]
fn a_zig_plugin_hot_reloads_in_place() {
    port_hot_reloads("zig", "processed_events_zig", "plugin.zig");
}

#[test]
fn an_assemblyscript_plugin_hot_reloads_in_place() {
    port_hot_reloads("assemblyscript", "processed_events_as", "plugin.ts");
}

/// A plugin's declarations as the host reads them: each computation with its assets'
/// partitions, inputs (mapping, allow-missing) and metadata (sorted: kits order it freely).
fn declared(plugin: &Plugin) -> Vec<String> {
    let mut out = Vec::new();
    for c in &plugin.definitions().computations {
        for a in &c.assets {
            let mut metadata: Vec<String> = a
                .metadata
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            metadata.sort();
            let inputs: Vec<String> = a
                .inputs
                .iter()
                .map(|i| {
                    format!(
                        "{} via {:?} (allow missing {}, roll-up {})",
                        i.asset, i.mapping, i.allow_missing, i.rollup
                    )
                })
                .collect();
            // Listed combinations show in the keys, not in the definition's summary.
            let keys = a
                .partitions
                .as_ref()
                .filter(|p| p.as_multi().is_some_and(|m| m.is_sparse()))
                .map(|p| {
                    let store = tessera_partitions::MemoryDynamicStore::new();
                    let cx = tessera_partitions::Context::new(
                        Utc.with_ymd_and_hms(2024, 1, 3, 0, 0, 0).unwrap(),
                    )
                    .with_dynamic(&store);
                    let keys: Vec<String> = p
                        .keys_page(&cx, 0, 10)
                        .unwrap()
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    format!(" keys {keys:?}")
                })
                .unwrap_or_default();
            out.push(format!(
                "{} / {}: partitions {}{keys}; inputs [{}]; metadata [{}]; backfill policy {}",
                c.name,
                a.key,
                a.partitions
                    .as_ref()
                    .map_or_else(|| "none".to_string(), ToString::to_string),
                inputs.join("; "),
                metadata.join(", "),
                a.backfill_policy
            ));
        }
    }
    out
}

/// What a plugin exports besides its assets: its partition mappings and asset checks as the
/// host reads them, the mapping `case` asked both ways through the host's law checks (the
/// plugin's own `by_region`, `eu`/`us`, upstream of `labels`, `EU`/`US`), and the check
/// `labelled` evaluated over a value that is its key, one that is not and an empty one.
fn exported(plugin: Plugin, now: chrono::DateTime<Utc>) -> Vec<String> {
    use tessera_partitions::{Context, ExternalMapping, PartitionSubset};
    let plugin = Arc::new(plugin);
    let defs = plugin.definitions();
    let mut out: Vec<String> = defs
        .mappings
        .iter()
        .map(|m| format!("mapping {m:?}"))
        .chain(defs.checks.iter().map(|c| format!("check {c:?}")))
        .collect();
    let partitions = |asset: &str| {
        defs.computations
            .iter()
            .flat_map(|c| &c.assets)
            .find(|a| a.key == asset)
            .and_then(|a| a.partitions.clone())
            .unwrap()
    };
    let (regions, labels) = (partitions("by_region"), partitions("labels"));
    let code =
        tessera_runtime::PluginMappingCode::new(plugin.clone(), "case", "by_region", "labels");
    let cx = Context::new(now);
    let us = PartitionSubset::from_range(1, 2);
    let up = code.to_upstream(&cx, &us, &labels, &regions).unwrap();
    let down = code
        .to_downstream(&cx, &PartitionSubset::from_range(0, 2), &regions, &labels)
        .unwrap();
    out.push(format!(
        "case: US upstream {up:?}; eu..us downstream {down:?}"
    ));
    let values: Vec<(String, Vec<u8>)> = [
        ("2024-01-01", &b"2024-01-01"[..]),
        ("2024-01-02", b"oops"),
        ("2024-01-03", b""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_vec()))
    .collect();
    let results = plugin.evaluate_check("labelled", &values, now).unwrap();
    out.extend(results.iter().map(|r| format!("labelled: {r:?}")));
    out
}

#[test]
fn every_kit_declares_what_the_rust_sdk_declares() {
    let work = tempfile::tempdir().unwrap();
    let rust = components().guest("kit_coverage");
    let c = build_c(work.path(), "tests/kits/c", "kit_c", &[]);
    let js = work.path().join("kit_js.wasm");
    build_with_kit("js", &repo_root().join("tests/kits/js"), &js);
    let python = work.path().join("kit_python.wasm");
    build_with_kit("python", &repo_root().join("tests/kits/python"), &python);
    let runtime = Runtime::new(runtime_config()).unwrap();
    let expected = declared(&runtime.load(&rust).unwrap());
    assert_eq!(expected.len(), 15, "{expected:#?}");
    assert!(
        expected
            .iter()
            .any(|d| d.contains("roll-up wait_until(+86400s)")),
        "{expected:#?}"
    );
    assert!(
        expected.iter().any(|d| d.contains(
            "keys [\"acme|2024-01-01|eu\", \"acme|2024-01-01|us\", \"bolt|2024-01-01|eu\", \"acme|2024-01-02|eu\""
        )),
        "{expected:#?}"
    );
    let now = Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap();
    let expected_exports = exported(runtime.load(&rust).unwrap(), now);
    let shown = expected_exports.join("\n");
    for wanted in [
        "mapping MappingSpec { name: \"case\", description: Some(\"Region codes in either case\") }",
        "blocking: true",
        "outcome: Pass",
        "outcome: Fail, description: Some(\"wrote oops\")",
        "outcome: Warn, description: Some(\"empty\")",
        "(\"now\", Integer(1706745600))",
    ] {
        assert!(shown.contains(wanted), "{wanted} in {shown}");
    }
    for (kit, file) in [
        ("Rust", &rust),
        ("C", &c),
        ("JavaScript", &js),
        ("Python", &python),
    ] {
        assert_eq!(
            exported(runtime.load(file).unwrap(), now),
            expected_exports,
            "the {kit} kit's mappings and checks"
        );
        let plugin = runtime.load(file).unwrap();
        assert_eq!(declared(&plugin), expected, "the {kit} kit");
        // The multi-asset writes the assets asked for, and a range call covers the range.
        let call = |computation: &str, assets: &[&str], selection| {
            plugin
                .materialize(&MaterializeRequest {
                    computation: computation.into(),
                    assets: assets.iter().map(|a| a.to_string()).collect(),
                    selection,
                    resolved: None,
                    run_id: "t".into(),
                    attempt: 1,
                    now,
                    inputs: Vec::new(),
                    timeout: None,
                })
                .unwrap_or_else(|e| panic!("the {kit} kit: {e}"))
        };
        let key = || Selection::Key("2024-01-02".into());
        let both = call("pair", &[], key());
        let got: Vec<(&str, &[u8])> = both
            .iter()
            .map(|o| (o.asset.as_str(), o.data.as_slice()))
            .collect();
        assert_eq!(
            got,
            [("pair_a", &b"pair_a"[..]), ("pair_b", &b"pair_b"[..])],
            "{kit}"
        );
        let one = call("pair", &["pair_b"], key());
        assert_eq!(one.len(), 1, "{kit}");
        assert_eq!(one[0].asset, "pair_b", "{kit}");
        let range = call(
            "src",
            &[],
            Selection::Range(tessera_partitions::KeyRange::new(
                "2024-01-01",
                "2024-01-03",
            )),
        );
        // `src` returns one output per key: each partition its own value.
        let got: Vec<(Option<&str>, &[u8])> = range
            .iter()
            .map(|o| (o.partition.as_deref(), o.data.as_slice()))
            .collect();
        assert_eq!(
            got,
            [
                (Some("2024-01-01"), &b"2024-01-01"[..]),
                (Some("2024-01-02"), &b"2024-01-02"[..]),
                (Some("2024-01-03"), &b"2024-01-03"[..]),
            ],
            "{kit}"
        );
        let firsts = call("firsts", &[], Selection::None);
        assert_eq!(firsts[0].data, b"-", "{kit}");
        assert_eq!(firsts[0].partition, None, "{kit}");
    }
}
