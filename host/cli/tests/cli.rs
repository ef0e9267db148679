//! The `tessera plugin` commands, run as a user runs them, on real compiled plugins.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use tessera_tests::{components, shared_dir};

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env("TESSERA_CACHE_DIR", shared_dir("artifacts"))
        .output()
        .expect("run tessera")
}

fn ok_json(args: &[&str]) -> Value {
    let out = tessera(args);
    assert!(
        out.status.success(),
        "tessera {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn inspect_lists_assets_partitions_and_mappings() {
    let c = components();
    let v = ok_json(&[
        "plugin",
        "inspect",
        path(&c.plugin("processed_events")),
        "--json",
    ]);
    assert_eq!(v["api_version"], "0.4.0");
    assert_eq!(v["code_version"].as_str().unwrap().len(), 64);
    let assets: Vec<&Value> = v["computations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["assets"].as_array().unwrap())
        .collect();
    let processed = assets
        .iter()
        .find(|a| a["key"] == "processed_events")
        .unwrap();
    assert_eq!(
        processed["partitions"],
        "daily partitions from 2024-01-01 (UTC)"
    );
    assert!(
        processed["inputs"][0]["mapping"]
            .as_str()
            .unwrap()
            .contains("start_offset -1")
    );
    // The raw definitions, as the plugin declared them, are there for scripts.
    assert!(v["definitions"]["computations"].is_array());

    let text = tessera(&["plugin", "inspect", path(&c.plugin("new_data_sensor"))]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("sensor new_data_sensor every 30 s -> processed_events"),
        "{text}"
    );
}

#[test]
fn call_materializes_one_partition_with_inputs() {
    let c = components();
    let dir = tempfile::tempdir().unwrap();
    let now = "2024-06-01T00:00:00Z";
    let file = c.plugin("processed_events");
    for day in ["2024-01-14", "2024-01-15"] {
        let out_dir = dir.path().join(day);
        let v = ok_json(&[
            "plugin",
            "call",
            path(&file),
            "--asset",
            "raw_events",
            "--partition",
            day,
            "--now",
            now,
            "--out",
            path(&out_dir),
            "--json",
        ]);
        assert_eq!(v["outputs"][0]["asset"], "raw_events");
        assert!(out_dir.join("raw_events").is_file());
    }
    let input = |day: &str| {
        format!(
            "raw_events:{day}={}",
            dir.path().join(day).join("raw_events").display()
        )
    };
    let v = ok_json(&[
        "plugin",
        "call",
        path(&file),
        "--asset",
        "processed_events",
        "--partition",
        "2024-01-15",
        "--input",
        &input("2024-01-14"),
        "--input",
        &input("2024-01-15"),
        "--now",
        now,
        "--json",
    ]);
    let data: Value = serde_json::from_str(v["outputs"][0]["data"].as_str().unwrap()).unwrap();
    assert_eq!(
        data["input_partitions"],
        serde_json::json!(["2024-01-14", "2024-01-15"])
    );
    assert!(v["duration_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn mistakes_are_clear_errors_with_a_failing_exit() {
    let c = components();
    let out = tessera(&[
        "plugin",
        "call",
        path(&c.plugin("daily_sales")),
        "--asset",
        "nope",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no asset \"nope\"") && err.contains("daily_sales"),
        "{err}"
    );

    let out = tessera(&[
        "plugin",
        "call",
        path(&c.plugin("daily_sales")),
        "--asset",
        "daily_sales",
        "--partition",
        "2024-13-45",
        "--now",
        "2024-06-01T00:00:00Z",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2024-13-45"));

    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"nope").unwrap();
    let out = tessera(&["plugin", "inspect", path(&garbage)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid WebAssembly component"));

    // A core module with its component type: componentize writes the component inspect
    // reads (the loader does the same itself); a component is refused.
    let (core, _) = tessera_tests::c_core_module(dir.path());
    let made = dir.path().join("made.wasm");
    let v = ok_json(&[
        "plugin",
        "componentize",
        path(&core),
        "-o",
        path(&made),
        "--json",
    ]);
    assert!(
        v["bytes"].as_u64().unwrap() > v["module_bytes"].as_u64().unwrap(),
        "{v}"
    );
    let text = tessera(&["plugin", "inspect", path(&made)]);
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    assert!(String::from_utf8_lossy(&text.stdout).contains("labelled"));
    let out = tessera(&["plugin", "componentize", path(&made), "-o", path(&core)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WebAssembly core module"));

    let out = tessera(&["plugin", "inspect", path(&c.guest("future_api"))]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("plugin API 0.9.0; this host serves 0.4.0, 0.3.0, 0.2.0, 0.1.0")
    );
}

/// The flat world from the command line: the WAT example inspects and runs as a plugin, and
/// componentizes into the component a registry would load; `plugin schema` prints the JSON
/// Schema the repository publishes.
#[test]
fn flat_core_modules_inspect_call_and_componentize() {
    let dir = tempfile::tempdir().unwrap();
    let echo = tessera_tests::wat_plugins().join("wat_echo.wasm");
    let v = ok_json(&["plugin", "inspect", path(&echo), "--json"]);
    assert_eq!(v["api_version"], "0.4.0");
    assert_eq!(v["world"], "plugin-flat");
    assert_eq!(v["computations"][0]["assets"][0]["key"], "wat_echo");
    let out_dir = dir.path().join("out");
    let v = ok_json(&[
        "plugin",
        "call",
        path(&echo),
        "--asset",
        "wat_echo",
        "--partition",
        "2024-01-02",
        "--out",
        path(&out_dir),
        "--json",
    ]);
    assert!(v.to_string().contains("WebAssembly text"), "{v}");
    let written: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("wat_echo")).unwrap()).unwrap();
    assert_eq!(written["partition_keys"][0], "2024-01-02");
    let made = dir.path().join("echo_component.wasm");
    ok_json(&[
        "plugin",
        "componentize",
        path(&echo),
        "-o",
        path(&made),
        "--json",
    ]);
    let v = ok_json(&["plugin", "inspect", path(&made), "--json"]);
    assert_eq!(v["world"], "plugin-flat");

    let out = tessera(&["plugin", "schema"]);
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let published: Value = serde_json::from_str(
        &std::fs::read_to_string(
            tessera_tests::repo_root()
                .join("plugin-sdk")
                .join("flat")
                .join("schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(printed, published);
    assert!(printed["$defs"]["definitions"].is_object());
}

#[test]
fn sensor_reads_only_granted_directories() {
    let c = components();
    let incoming = tempfile::tempdir().unwrap();
    std::fs::write(incoming.path().join("2024-01-15.json"), b"{}").unwrap();
    let grant = format!("{}=/data/incoming", incoming.path().display());
    let file = c.plugin("new_data_sensor");
    let v = ok_json(&[
        "plugin",
        "sensor",
        path(&file),
        "--sensor",
        "new_data_sensor",
        "--grant-dir",
        &grant,
        "--json",
    ]);
    assert_eq!(v["run_requests"].as_array().unwrap().len(), 1);
    assert!(v["cursor"].is_string());
    let v = ok_json(&[
        "plugin",
        "sensor",
        path(&file),
        "--sensor",
        "new_data_sensor",
        "--json",
    ]);
    assert!(v["run_requests"].as_array().unwrap().is_empty());
    assert!(v["skip_reason"].is_string());
}

#[test]
fn watch_reports_loads_and_reloads() {
    let c = components();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sales.wasm");
    std::fs::copy(c.plugin("daily_sales"), &file).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["plugin", "watch", path(dir.path()), "--json"])
        .env("TESSERA_CACHE_DIR", shared_dir("artifacts"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(60))
            .expect("an event within 60 s")
    };
    let first = next();
    assert_eq!(first["event"], "loaded");
    assert_eq!(first["plugin"], "sales");
    // Let the watcher start before changing the file.
    std::thread::sleep(Duration::from_millis(500));
    let tmp = dir.path().join("sales.partial");
    std::fs::copy(c.plugin("customer_metrics"), &tmp).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    let reload = next();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(reload["event"], "loaded", "{reload}");
    assert_eq!(reload["previous_version"], first["version"]);
    assert!(reload["detected_to_serving_ms"].as_f64().unwrap() >= 0.0);
}
