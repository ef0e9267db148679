//! The flat world (`plugin-flat`): core modules that exchange JSON documents and byte lists,
//! made components by the host when it loads them. The worked example written by hand in the
//! WebAssembly text format (`plugins/wat/wat_echo`) runs as a plugin, from the cache the second
//! time and hot-reloaded in place; flat modules wrong in one way each are refused with errors
//! that say what is wrong, naming the document's field; flat modules that import WASI are
//! adapted, and flat plugins in the Zig and AssemblyScript kits read and change dynamic
//! partition sets through the host.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use tessera_runtime::{
    CallError, LoadError, MaterializeRequest, MetadataValue, Plugin, Registry, Runtime,
    RuntimeConfig, Selection,
};
use tessera_tests::{copy_atomically, repo_root, wat_plugins};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap()
}

fn runtime(cache: &Path) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.to_path_buf()),
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn request(computation: &str, key: &str) -> MaterializeRequest {
    MaterializeRequest {
        computation: computation.into(),
        assets: Vec::new(),
        selection: Selection::Key(key.into()),
        resolved: None,
        run_id: "flat-run".into(),
        attempt: 1,
        now: now(),
        inputs: Vec::new(),
        timeout: None,
    }
}

fn wat_echo() -> std::path::PathBuf {
    wat_plugins().join("wat_echo.wasm")
}

/// The WAT example: a core module (not a component) that the host wraps, whose one daily
/// asset's value is the context document the host sent, with its metadata and log line.
#[test]
fn a_plugin_written_in_webassembly_text_runs() {
    let file = wat_echo();
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(
        &bytes[4..8],
        &[1, 0, 0, 0],
        "a core module, not a component"
    );
    let work = tempfile::tempdir().unwrap();
    let rt = runtime(work.path());
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    rt.set_log_sink(Arc::new(move |r: tessera_runtime::LogRecord| {
        sink.lock().unwrap().push((r.level, r.message));
    }));
    let plugin = rt.load(&file).unwrap();
    assert!(!plugin.stats().from_cache);
    assert_eq!(plugin.api_version(), "0.4.0");
    assert_eq!(plugin.world(), "plugin-flat");
    let asset = plugin.definitions().asset("wat_echo").unwrap();
    assert_eq!(asset.code_version.as_deref(), Some("1"));

    let out = plugin
        .materialize(&request("wat_echo", "2024-01-02"))
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].asset, "wat_echo");
    assert_eq!(out[0].partition, None);
    let context: serde_json::Value = serde_json::from_slice(&out[0].data).unwrap();
    assert_eq!(context["computation"], "wat_echo");
    assert_eq!(context["partition"]["Key"], "2024-01-02");
    assert_eq!(context["partition_keys"], serde_json::json!(["2024-01-02"]));
    assert_eq!(context["time_window"]["start"], 1_704_153_600);
    assert_eq!(context["time_window"]["end"], 1_704_240_000);
    assert_eq!(context["run_id"], "flat-run");
    assert_eq!(context["now"], now().timestamp());
    assert_eq!(
        out[0].metadata,
        [(
            "written_in".to_string(),
            MetadataValue::Text("WebAssembly text".into())
        )]
    );
    assert_eq!(
        *lines.lock().unwrap(),
        [("info", "echoing the context".to_string())]
    );
    // The wrapped and compiled module comes from the cache the second time.
    assert!(rt.load(&file).unwrap().stats().from_cache);
}

/// A registry serves a flat core module like any plugin and reloads it in place when the
/// file changes: version 2 is the same text with another code version, assembled anew.
#[test]
fn a_flat_core_module_hot_reloads_in_place() {
    let work = tempfile::tempdir().unwrap();
    let source = repo_root()
        .join("plugins")
        .join("wat")
        .join("wat_echo")
        .join("plugin.wat");
    let text = std::fs::read_to_string(&source).unwrap();
    let changed = text.replacen(r#"\"code_version\":\"1\""#, r#"\"code_version\":\"2\""#, 1);
    assert_ne!(changed, text, "wat_echo declares code_version 1");
    let v2_source = work.path().join("v2.wat");
    std::fs::write(&v2_source, changed).unwrap();
    let v2 = work.path().join("v2.wasm");
    tessera_kits::wat::build_plugin(&v2_source, &v2).unwrap();

    let dir = work.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("echo.wasm");
    std::fs::copy(wat_echo(), &file).unwrap();
    let registry = Registry::new(runtime(&work.path().join("cache")), &dir);
    registry.load_all().unwrap();
    assert_eq!(code_version(&registry.get("echo").unwrap()), "1");
    let _watch = registry.watch().unwrap();
    copy_atomically(&v2, &file);
    let start = Instant::now();
    loop {
        let plugin = registry.get("echo").unwrap();
        if code_version(&plugin) == "2" {
            plugin
                .materialize(&request("wat_echo", "2024-01-03"))
                .unwrap();
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "echo still serves version 1 (errors: {:?})",
            registry.errors()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn code_version(plugin: &Plugin) -> String {
    plugin
        .definitions()
        .asset("wat_echo")
        .and_then(|a| a.code_version.clone())
        .unwrap_or_default()
}

/// A WAT string literal of `s`.
fn quoted(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

const DAILY: &str = r#"{"computations":[{"name":"d","assets":[{"key":"d","inputs":[],"metadata":[],
    "partitions":{"Cadence":{"cadence":"Daily","start":"2024-01-01","end_offset":0,
    "minute_offset":0,"hour_offset":0}}}]}],"sensors":[]}"#;

/// A flat module declaring `definitions` whose `materialize` returns `result` (`Ok` with an
/// outputs document and that many copies of `x`, or `Err` with an error document).
fn flat_module(definitions: &str, result: Result<(&str, u32), &str>) -> Vec<u8> {
    flat_module_with(definitions, result, "", "")
}

/// [`flat_module`] with `imports` and a `prelude` that `materialize` runs first (it may
/// rewrite the first byte list's pair at 0x200).
fn flat_module_with(
    definitions: &str,
    result: Result<(&str, u32), &str>,
    imports: &str,
    prelude: &str,
) -> Vec<u8> {
    let (tag, document, lists) = match result {
        Ok((doc, n)) => (0, doc, n),
        Err(doc) => (1, doc, 0),
    };
    let text = format!(
        r#"(module
  {imports}
  ;; Room past the documents for what cabi_realloc hands out (the WASI adapter's state among
  ;; it): this bump allocator does not grow the memory.
  (memory (export "memory") 4)
  (global $heap (mut i32) (i32.const 0x8000))
  (data (i32.const 0x100) "x")
  (data (i32.const 0x200) "\00\01\00\00\01\00\00\00\00\01\00\00\01\00\00\00\00\01\00\00\01\00\00\00")
  (data (i32.const 0x1000) {defs})
  (data (i32.const 0x4000) {doc})
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func (export "tessera_definitions") (result i32)
    (i32.store (i32.const 0) (i32.const 0x1000))
    (i32.store (i32.const 4) (i32.const {defs_len}))
    (i32.const 0))
  (func (export "tessera_materialize") (param i32 i32 i32 i32 i32 i32) (result i32)
    {prelude}
    (i32.store8 (i32.const 0) (i32.const {tag}))
    (i32.store (i32.const 4) (i32.const 0x4000))
    (i32.store (i32.const 8) (i32.const {doc_len}))
    (i32.store (i32.const 12) (i32.const 0x200))
    (i32.store (i32.const 16) (i32.const {lists}))
    (i32.const 0))
  (func (export "tessera_evaluate_sensor") (param i32 i32) (result i32)
    (i32.store8 (i32.const 0) (i32.const 1))
    (i32.store (i32.const 4) (i32.const 0x4000))
    (i32.store (i32.const 8) (i32.const {doc_len}))
    (i32.const 0)))"#,
        defs = quoted(definitions),
        defs_len = definitions.len(),
        doc = quoted(document),
        doc_len = document.len(),
    );
    wat::parse_str(text).unwrap()
}

/// Loads `bytes` as `name.wasm` in a fresh runtime.
fn load(work: &Path, name: &str, bytes: &[u8]) -> Result<Plugin, LoadError> {
    let file = work.join(format!("{name}.wasm"));
    std::fs::write(&file, bytes).unwrap();
    runtime(&work.join("cache")).load(&file)
}

#[test]
fn flat_documents_are_checked_and_errors_name_the_field() {
    let work = tempfile::tempdir().unwrap();

    // A definition the host cannot read: the field is named, and so is the value.
    let wrong = DAILY.replace(r#""Daily""#, r#""Fortnightly""#);
    let err = load(work.path(), "wrong", &flat_module(&wrong, Ok(("[]", 0))))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("computations[0].assets[0].partitions.Cadence.cadence")
            && err.contains("Fortnightly"),
        "{err}"
    );

    // A misspelt optional field is refused, not dropped.
    let typo = DAILY.replace(r#""inputs":[]"#, r#""inputs":[],"descripton":"x""#);
    let err = load(work.path(), "typo", &flat_module(&typo, Ok(("[]", 0))))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("does not exist: computations[0].assets[0].descripton"),
        "{err}"
    );

    // Definitions are validated as the rich world's are: a start that is no date.
    let bad_start = DAILY.replace("2024-01-01", "the first of January");
    let err = load(
        work.path(),
        "start",
        &flat_module(&bad_start, Ok(("[]", 0))),
    )
    .err()
    .unwrap();
    assert!(matches!(err, LoadError::InvalidDefinitions { .. }), "{err}");

    // Outputs: as many byte lists as outputs, each checked as the rich world's are.
    let plugin = load(
        work.path(),
        "counts",
        &flat_module(
            DAILY,
            Ok((
                r#"[{"asset":"d"},{"asset":"d","partition":"2024-01-02"}]"#,
                1,
            )),
        ),
    )
    .unwrap();
    let err = plugin.materialize(&request("d", "2024-01-02")).unwrap_err();
    assert!(
        matches!(&err, CallError::InvalidResult { message, .. } if message.contains("2 outputs and 1 byte lists")),
        "{err}"
    );
    let plugin = load(
        work.path(),
        "other",
        &flat_module(DAILY, Ok((r#"[{"asset":"e"}]"#, 1))),
    )
    .unwrap();
    let err = plugin.materialize(&request("d", "2024-01-02")).unwrap_err();
    assert!(
        matches!(&err, CallError::InvalidResult { message, .. } if message.contains("\"e\", which was not requested")),
        "{err}"
    );
    let plugin = load(
        work.path(),
        "meta",
        &flat_module(
            DAILY,
            Ok((
                r#"[{"asset":"d","metadata":[{"key":"n","value":{"Integer":"3"}}]}]"#,
                1,
            )),
        ),
    )
    .unwrap();
    let err = plugin.materialize(&request("d", "2024-01-02")).unwrap_err();
    assert!(
        matches!(&err, CallError::InvalidResult { message, .. } if message.contains("flat-outputs document is not valid at [0].metadata[0].value.Integer")),
        "{err}"
    );
    let plugin = load(
        work.path(),
        "good",
        &flat_module(
            DAILY,
            Ok((
                r#"[{"asset":"d","metadata":[{"key":"n","value":{"Integer":3}}]}]"#,
                1,
            )),
        ),
    )
    .unwrap();
    let out = plugin.materialize(&request("d", "2024-01-02")).unwrap();
    assert_eq!(out[0].data, b"x");
    assert_eq!(
        out[0].metadata,
        [("n".to_string(), MetadataValue::Integer(3))]
    );

    // Errors: the plugin's kind of error is kept; a document that is none is reported.
    let plugin = load(
        work.path(),
        "refuses",
        &flat_module(DAILY, Err(r#"{"InvalidInput":"no such day"}"#)),
    )
    .unwrap();
    let err = plugin.materialize(&request("d", "2024-01-02")).unwrap_err();
    assert!(
        matches!(&err, CallError::InvalidInput { message, .. } if message == "no such day"),
        "{err}"
    );
    let plugin = load(work.path(), "prose", &flat_module(DAILY, Err("it broke"))).unwrap();
    let err = plugin.materialize(&request("d", "2024-01-02")).unwrap_err();
    assert!(
        matches!(&err, CallError::InvalidResult { message, .. } if message.contains("plugin-error document is not valid")),
        "{err}"
    );
}

/// A core module with neither a component type nor the flat exports is refused with what it
/// lacks and what it exports.
#[test]
fn a_core_module_of_no_world_says_what_it_lacks() {
    let work = tempfile::tempdir().unwrap();
    let module = wat::parse_str(
        r#"(module (memory (export "memory") 1)
             (func (export "tessera_definitions") (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    let err = load(work.path(), "half", &module).err().unwrap();
    let message = err.to_string();
    assert!(matches!(err, LoadError::CoreModule { .. }), "{message}");
    assert!(
        message.contains("lacks tessera_materialize, tessera_evaluate_sensor, cabi_realloc of")
            && message.contains("The module exports: memory, tessera_definitions"),
        "{message}"
    );
}

/// A flat module that imports WASI preview 1 (as Go's, or a Zig or C module built for
/// `wasm32-wasi`, does) is adapted to the preview 2 the host serves: here it reads the clock
/// through `clock_time_get` and writes what it read.
#[test]
fn a_flat_module_importing_wasi_preview_1_is_adapted() {
    let work = tempfile::tempdir().unwrap();
    let module = flat_module_with(
        DAILY,
        Ok((r#"[{"asset":"d"}]"#, 1)),
        r#"(import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))"#,
        // The realtime clock's nanoseconds, 8 bytes at 0x300: the output's bytes.
        "(if (call $clock (i32.const 0) (i64.const 1) (i32.const 0x300)) (then unreachable))
         (i32.store (i32.const 0x200) (i32.const 0x300))
         (i32.store (i32.const 0x204) (i32.const 8))",
    );
    let plugin = load(work.path(), "wasi", &module).unwrap();
    assert_eq!(plugin.world(), "plugin-flat");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let out = plugin.materialize(&request("d", "2024-01-02")).unwrap();
    let read = u64::from_le_bytes(out[0].data.as_slice().try_into().unwrap());
    assert!(
        u128::from(read) >= before,
        "the guest read the host's clock: {read} < {before}"
    );
}

/// The host's dynamic keys.
struct Customers;

impl tessera_runtime::DynamicKeys for Customers {
    fn keys(&self, name: &str) -> Vec<String> {
        if name == "customers" {
            vec!["acme".into(), "globex".into()]
        } else {
            Vec::new()
        }
    }
}

/// A flat plugin asks the host for a dynamic set's keys (`tessera.dynamic_partition_keys`:
/// the host writes a list of strings into the plugin's memory) and a sensor adds keys to it:
/// the same plugin in AssemblyScript and in Zig, written here and built with the kits.
#[test]
fn flat_plugins_read_and_change_dynamic_partitions() {
    let work = tempfile::tempdir().unwrap();
    let root = repo_root();
    let source = work.path().join("customers_as");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(
        source.join("plugin.ts"),
        r#"
import { plugin, asset, sensor, dynamicPartitions, dynamicPartitionKeys, Context, Inputs, Output,
         SensorContext, SensorResult } from "./tessera";
export { cabi_realloc, tessera_definitions, tessera_materialize, tessera_evaluate_sensor } from "./tessera";

function customer(ctx: Context, inputs: Inputs): Output {
  return Output.text(ctx.partitionKey() + " of " + dynamicPartitionKeys("customers").join(","));
}

function newCustomers(ctx: SensorContext, result: SensorResult): void {
  const known = dynamicPartitionKeys("customers");
  if (!known.includes("initech")) result.changeDynamic("customers", ["initech"], []);
  result.requestRun("initech", ["customer"], "initech");
}

plugin(
  [asset("customer", customer).partitions(dynamicPartitions("customers"))],
  [],
  [sensor("new_customers", newCustomers).targets(["customer"])],
);
"#,
    )
    .unwrap();
    let file = work.path().join("customers_as.wasm");
    tessera_kits::assemblyscript::ensure_toolchain(&root)
        .and_then(|asc| tessera_kits::assemblyscript::build_plugin(&root, &asc, &source, &file))
        .unwrap();
    reads_and_changes_customers(work.path(), &file);

    let source = work.path().join("customers_zig");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(
        source.join("plugin.zig"),
        r#"
const std = @import("std");
const tessera = @import("tessera");

fn customer(ctx: *tessera.Context, _: *tessera.Inputs) tessera.Error!tessera.Output {
    const keys = tessera.dynamicPartitionKeys("customers");
    const joined = try std.mem.join(tessera.allocator, ",", keys);
    return .{ .data = try ctx.print("{s} of {s}", .{ try ctx.partitionKey(), joined }) };
}

fn newCustomers(_: *tessera.SensorContext, result: *tessera.SensorResult) tessera.Error!void {
    const known = tessera.dynamicPartitionKeys("customers");
    var seen = false;
    for (known) |k| seen = seen or std.mem.eql(u8, k, "initech");
    if (!seen) try result.changeDynamic(.{ .name = "customers", .add = &.{"initech"} });
    const assets = try tessera.allocator.dupe([]const u8, &.{"customer"});
    try result.requestRun(.{ .run_key = "initech", .assets = assets, .partition = .{ .Key = "initech" } });
}

pub const plugin: tessera.Plugin = .{
    .assets = &.{.{ .key = "customer", .compute = customer, .partitions = tessera.dynamic("customers") }},
    .sensors = &.{.{ .name = "new_customers", .evaluate = newCustomers, .targets = &.{"customer"} }},
};

comptime {
    tessera.exportPlugin(plugin);
}
"#,
    )
    .unwrap();
    let file = work.path().join("customers_zig.wasm");
    tessera_kits::zig::ensure_toolchain(&root)
        .and_then(|zig| tessera_kits::zig::build_plugin(&root, &zig, &source, &file))
        .unwrap();
    reads_and_changes_customers(work.path(), &file);
}

/// The customers plugin at `file`, with the host's set `customers` = acme, globex.
fn reads_and_changes_customers(work: &Path, file: &Path) {
    let rt = Runtime::with_dynamic_keys(
        RuntimeConfig {
            cache_dir: Some(work.join("cache")),
            ..RuntimeConfig::default()
        },
        std::sync::Arc::new(Customers),
    )
    .unwrap();
    let plugin = rt.load(file).unwrap();
    let out = plugin.materialize(&request("customer", "globex")).unwrap();
    assert_eq!(out[0].data, b"globex of acme,globex");
    let sensed = plugin
        .evaluate_sensor(&tessera_runtime::SensorRequest {
            sensor: "new_customers".into(),
            cursor: None,
            last_evaluation: None,
            now: now(),
        })
        .unwrap();
    assert_eq!(sensed.dynamic_partitions.len(), 1, "{sensed:?}");
    assert_eq!(sensed.dynamic_partitions[0].name, "customers");
    assert_eq!(sensed.dynamic_partitions[0].add, ["initech"]);
    assert_eq!(
        sensed.run_requests[0].selection,
        Selection::Key("initech".into())
    );
}
