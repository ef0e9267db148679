//! The sandbox against a hostile guest (`tests/guests/hostile`) and careless input, at the
//! runtime: every attack ends with a clear, typed error within its limit, nothing the guest
//! hands over grows the host past a limit, and the host keeps serving afterwards.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use tessera_runtime::{
    CallError, CancelToken, DirGrant, Grants, InputData, Limits, LoadError, LogRecord,
    MaterializeRequest, Registry, RegistryEvent, Runtime, RuntimeConfig, Selection, SensorRequest,
};
use tessera_tests::{components, shared_dir};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
}

/// The hostile guest as plugin `name` in a directory of its own, with `/hostile` granted: a
/// directory holding `mode` (what `definitions()` does) when given.
struct Guest {
    dir: tempfile::TempDir,
    name: String,
}

impl Guest {
    fn new(name: &str, mode: Option<&str>) -> Guest {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("grant")).unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        if let Some(m) = mode {
            std::fs::write(dir.path().join("grant").join("mode"), m).unwrap();
        }
        std::fs::copy(
            components().guest("hostile"),
            dir.path().join("plugins").join(format!("{name}.wasm")),
        )
        .unwrap();
        Guest {
            dir,
            name: name.to_string(),
        }
    }

    fn grant(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self) -> PathBuf {
        self.dir
            .path()
            .join("plugins")
            .join(format!("{}.wasm", self.name))
    }

    fn config(&self, limits: Limits) -> RuntimeConfig {
        let mut cfg = RuntimeConfig {
            cache_dir: Some(shared_dir("artifacts")),
            limits,
            ..RuntimeConfig::default()
        };
        cfg.grants.insert(
            self.name.clone(),
            Grants {
                dirs: vec![DirGrant {
                    host: self.dir.path().join("grant"),
                    guest: "/hostile".to_string(),
                }],
                env: Vec::new(),
            },
        );
        cfg
    }

    fn runtime(&self, limits: Limits) -> Runtime {
        Runtime::new(self.config(limits)).unwrap()
    }
}

fn request(computation: &str) -> MaterializeRequest {
    MaterializeRequest {
        computation: computation.to_string(),
        assets: Vec::new(),
        selection: Selection::None,
        resolved: None,
        run_id: "hostile-run".to_string(),
        attempt: 1,
        now: now(),
        inputs: Vec::new(),
        timeout: None,
    }
}

fn sensor(name: &str) -> SensorRequest {
    SensorRequest {
        sensor: name.to_string(),
        cursor: None,
        last_evaluation: None,
        now: now(),
    }
}

fn limits(timeout_ms: u64) -> Limits {
    Limits {
        timeout: Duration::from_millis(timeout_ms),
        ..Limits::default()
    }
}

/// How late a call may end past its limit.
const MARGIN: Duration = Duration::from_millis(250);

fn assert_timeout_on_time<T: std::fmt::Debug>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> Result<T, CallError>,
) {
    let started = Instant::now();
    let result = f();
    let took = started.elapsed();
    match result {
        Err(CallError::Timeout { limit: l, .. }) => assert_eq!(l, limit, "{what}"),
        other => panic!("{what}: expected a timeout, got {other:?}"),
    }
    assert!(
        took <= limit + MARGIN,
        "{what}: ended {took:?} after it started; the limit is {limit:?}"
    );
}

#[test]
fn time_limits_hold_while_the_guest_waits_in_wasi() {
    let g = Guest::new("waits", None);
    let limit = Duration::from_millis(600);
    let plugin = g.runtime(limits(600)).load(&g.path()).unwrap();
    // `std::thread::sleep`: a `pollable.block` on a monotonic clock.
    assert_timeout_on_time("sleep", limit, || plugin.materialize(&request("sleep")));
    // `wasi:io/poll.poll` on a clock pollable.
    assert_timeout_on_time("poll", limit, || plugin.materialize(&request("poll_clock")));
    // A sensor asleep.
    assert_timeout_on_time("sensor", limit, || {
        plugin.evaluate_sensor(&sensor("sleepy"))
    });
    // A blocking open and read: a FIFO nobody writes to, in the granted directory.
    let fifo = g.grant().join("grant").join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let mut read = request("read_path");
    read.inputs = vec![InputData {
        asset: "path".to_string(),
        partitions: vec![(String::new(), b"/hostile/fifo".to_vec())],
    }];
    assert_timeout_on_time("fifo", limit, || plugin.materialize(&read));
    // And it keeps serving.
    assert_eq!(plugin.materialize(&request("ok")).unwrap()[0].data, b"ok");
}

#[test]
fn definitions_that_block_end_at_the_limit() {
    let limit = Duration::from_millis(600);
    for mode in ["sleep:30000", "poll:30000", "spin"] {
        let g = Guest::new("slow_definitions", Some(mode));
        let rt = g.runtime(limits(600));
        let started = Instant::now();
        let err = rt.load(&g.path()).unwrap_err();
        let took = started.elapsed();
        match &err {
            LoadError::Definitions { error, .. } => {
                assert!(
                    matches!(**error, CallError::Timeout { .. }),
                    "{mode}: {err}"
                );
            }
            other => panic!("{mode}: {other}"),
        }
        // Compiling (or loading the cached artifact) comes before the limit starts.
        assert!(
            took <= limit + MARGIN + Duration::from_secs(5),
            "{mode}: {took:?}"
        );
        // The same runtime loads a good plugin at once.
        rt.load(&components().plugin("daily_sales")).unwrap();
    }
}

#[test]
fn a_canceled_sensor_returns_at_once() {
    let g = Guest::new("canceled", None);
    let plugin = g.runtime(limits(30_000)).load(&g.path()).unwrap();
    let cancel = CancelToken::new();
    let trigger = cancel.clone();
    let fire = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        trigger.cancel();
    });
    let started = Instant::now();
    let err = plugin
        .evaluate_sensor_cancelable(&sensor("sleepy"), Some(&cancel))
        .unwrap_err();
    fire.join().unwrap();
    assert!(matches!(err, CallError::Canceled { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // A fired token ends later calls at once, too.
    let err = plugin
        .evaluate_sensor_cancelable(&sensor("sleepy"), Some(&cancel))
        .unwrap_err();
    assert!(matches!(err, CallError::Canceled { .. }), "{err}");
}

#[test]
fn logs_are_bounded_per_call() {
    let g = Guest::new("loud", None);
    let rt = g.runtime(Limits {
        max_log_lines: 100,
        ..Limits::default()
    });
    let records: Arc<Mutex<Vec<LogRecord>>> = Arc::default();
    let sink = Arc::clone(&records);
    rt.set_log_sink(Arc::new(move |r: LogRecord| {
        sink.lock().unwrap().push(r);
    }));
    let plugin = rt.load(&g.path()).unwrap();
    let notices = |rs: &[LogRecord]| {
        rs.iter()
            .filter(|r| r.message.starts_with("log truncated"))
            .count()
    };

    // A million short lines: 100 kept, one notice, and the call succeeds.
    assert_eq!(
        plugin.materialize(&request("log_lines")).unwrap()[0].data,
        b"logged"
    );
    let got = std::mem::take(&mut *records.lock().unwrap());
    assert_eq!(got.len(), 101, "{} records", got.len());
    assert_eq!(notices(&got), 1);
    assert!(
        got[100].message.contains("max_log_lines"),
        "{}",
        got[100].message
    );

    // 1 GiB in 1 MiB lines: 4 MiB kept (max_log_bytes), one notice.
    assert_eq!(
        plugin.materialize(&request("log_flood")).unwrap()[0].data,
        b"logged"
    );
    let got = std::mem::take(&mut *records.lock().unwrap());
    let bytes: usize = got.iter().map(|r| r.message.len()).sum();
    assert_eq!(notices(&got), 1);
    assert!(bytes <= (4 << 20) + 1000, "{bytes} bytes kept");
    assert_eq!(got.len(), 5);
}

fn exceeded(err: &CallError, setting: &str) {
    match err {
        CallError::LimitExceeded {
            setting: s, plugin, ..
        } => {
            assert!(s.contains(setting), "{err}");
            assert_eq!(plugin, "greedy", "{err}");
        }
        other => panic!("expected {setting} to be exceeded: {other}"),
    }
    let text = err.to_string();
    assert!(text.contains("greedy") && text.contains(setting), "{text}");
}

#[test]
fn results_past_a_limit_are_refused() {
    let g = Guest::new("greedy", None);
    let plugin = g.runtime(Limits::default()).load(&g.path()).unwrap();
    exceeded(
        &plugin.materialize(&request("metadata_many")).unwrap_err(),
        "max_metadata_entries",
    );
    exceeded(
        &plugin.materialize(&request("metadata_big")).unwrap_err(),
        "max_metadata_bytes",
    );
    let ok = plugin.materialize(&request("metadata_ok")).unwrap();
    assert_eq!(ok[0].metadata.len(), 10);
    exceeded(
        &plugin.evaluate_sensor(&sensor("huge_cursor")).unwrap_err(),
        "max_cursor_bytes",
    );
    exceeded(
        &plugin.evaluate_sensor(&sensor("run_flood")).unwrap_err(),
        "max_run_requests",
    );
    // A million dynamic keys are within the default, not within a lower setting.
    let tenants = plugin.evaluate_sensor(&sensor("million_tenants")).unwrap();
    assert_eq!(tenants.dynamic_partitions[0].add.len(), 1_000_000);
    let strict = g
        .runtime(Limits {
            max_dynamic_keys: 1000,
            ..Limits::default()
        })
        .load(&g.path())
        .unwrap();
    exceeded(
        &strict
            .evaluate_sensor(&sensor("million_tenants"))
            .unwrap_err(),
        "max_dynamic_keys",
    );
    // Past what the host copies out at all (max_output_bytes plus 64 MiB): refused while
    // copying, before the host holds it.
    let small = g
        .runtime(Limits {
            max_output_bytes: 1 << 20,
            ..Limits::default()
        })
        .load(&g.path())
        .unwrap();
    exceeded(
        &small.materialize(&request("metadata_big")).unwrap_err(),
        "max_output_bytes",
    );
    // Still serving.
    assert_eq!(plugin.materialize(&request("ok")).unwrap()[0].data, b"ok");
}

#[test]
fn definitions_past_a_limit_are_refused() {
    let strict = Limits {
        max_assets: 100,
        max_sensors: 50,
        max_definition_keys: 1000,
        max_string_bytes: 1000,
        ..Limits::default()
    };
    for (mode, expected) in [
        ("assets:200", "max_assets"),
        ("sensors:100", "max_sensors"),
        ("static:5000", "max_definition_keys"),
        ("string:5000", "max_string_bytes"),
        ("cycle", "cycle"),
    ] {
        let g = Guest::new("declares", Some(mode));
        let err = g.runtime(strict).load(&g.path()).unwrap_err();
        assert!(
            matches!(err, LoadError::InvalidDefinitions { .. }),
            "{mode}: {err}"
        );
        assert!(err.to_string().contains(expected), "{mode}: {err}");
    }
    // Within the limits, the same component loads.
    let g = Guest::new("declares", Some("assets:50"));
    let plugin = g.runtime(strict).load(&g.path()).unwrap();
    assert!(plugin.definitions().asset("a49").is_some());
}

#[test]
fn plugin_files_must_be_regular_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(shared_dir("artifacts")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let quick = |path: &Path| {
        let started = Instant::now();
        let err = rt.load(path).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{err}");
        err
    };
    let zero = dir.path().join("zero.wasm");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    assert!(matches!(quick(&zero), LoadError::NotAFile { .. }));
    let fifo = dir.path().join("fifo.wasm");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    assert!(matches!(quick(&fifo), LoadError::NotAFile { .. }));
    let sub = dir.path().join("dir.wasm");
    std::fs::create_dir(&sub).unwrap();
    assert!(matches!(quick(&sub), LoadError::NotAFile { .. }));
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(
        &garbage,
        (0..4096u32).map(|i| (i * 7919) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(matches!(quick(&garbage), LoadError::Malformed { .. }));
    // Over the size limit: refused before it is read.
    let tiny = Runtime::new(RuntimeConfig {
        max_plugin_bytes: 1024,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let err = tiny.load(&components().plugin("daily_sales")).unwrap_err();
    assert!(
        matches!(err, LoadError::TooLarge { limit: 1024, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("max_plugin_bytes"), "{err}");
    // A memory limit below what the plugin starts with is the limit's fault, and says so.
    let small = Runtime::new(RuntimeConfig {
        limits: Limits {
            memory_bytes: 64 << 10,
            ..Limits::default()
        },
        ..RuntimeConfig::default()
    })
    .unwrap();
    let err = small.load(&components().plugin("daily_sales")).unwrap_err();
    assert!(
        err.to_string().contains("memory") && !err.to_string().contains("not a valid"),
        "{err}"
    );
}

#[test]
fn the_network_and_the_environment_stay_closed() {
    let g = Guest::new("curious", None);
    let plugin = g.runtime(Limits::default()).load(&g.path()).unwrap();
    let out = plugin.materialize(&request("sockets")).unwrap();
    let text = String::from_utf8(out[0].data.clone()).unwrap();
    assert!(
        !text.contains("connected") && !text.contains("bound"),
        "{text}"
    );
    let out = plugin.materialize(&request("env")).unwrap();
    assert!(
        out[0].data.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out[0].data)
    );
}

fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<RegistryEvent>,
    within: Duration,
) -> Option<RegistryEvent> {
    let deadline = Instant::now() + within;
    loop {
        match events.try_recv() {
            Ok(e) => return Some(e),
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                if Instant::now() >= deadline {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("registry events: {e}"),
        }
    }
}

/// The same component under a new content hash (a custom section appended).
fn variant(bytes: &[u8], n: u32) -> Vec<u8> {
    let name = b"tessera-test-variant";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(&n.to_le_bytes());
    let mut out = bytes.to_vec();
    out.push(0);
    out.push(section.len() as u8);
    out.extend_from_slice(&section);
    out
}

fn write_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn the_reload_path_never_stalls_and_reports_once() {
    // `slow` spins in `definitions()` until its 3 s limit; `good` must not wait for it.
    let slow = Guest::new("slow", Some("spin"));
    let dir = slow.dir.path().join("plugins");
    std::fs::remove_file(slow.path()).unwrap();
    let registry = Registry::new(Runtime::new(slow.config(limits(3000))).unwrap(), &dir);
    let mut events = registry.subscribe();
    let _watch = registry.watch().unwrap();
    let hostile_bytes = std::fs::read(components().guest("hostile")).unwrap();
    let good_bytes = std::fs::read(components().plugin("daily_sales")).unwrap();
    // Both compiled once before the race, so that it measures loading, not a cold compile.
    let warm = Runtime::new(slow.config(limits(3000))).unwrap();
    warm.load(&components().plugin("daily_sales")).unwrap();
    assert!(warm.load(&components().guest("hostile")).is_ok());
    write_atomically(&dir.join("slow.wasm"), &hostile_bytes);
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    write_atomically(&dir.join("good.wasm"), &good_bytes);
    let first = next_event(&mut events, Duration::from_secs(60)).expect("an event");
    match &first {
        RegistryEvent::Loaded { plugin, .. } => assert_eq!(plugin, "good"),
        other => panic!("expected good to serve first: {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "good served after {:?}",
        started.elapsed()
    );
    let second = next_event(&mut events, Duration::from_secs(60)).expect("an event");
    assert!(
        matches!(&second, RegistryEvent::Failed { plugin, .. } if plugin == "slow"),
        "{second:?}"
    );

    // The same failing content written again and again: neither loaded nor reported again.
    for _ in 0..5 {
        write_atomically(&dir.join("slow.wasm"), &hostile_bytes);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        next_event(&mut events, Duration::from_secs(2)).is_none(),
        "a known failure was loaded or reported again"
    );

    // Ten different failing contents: one failure each, no more.
    for n in 0..10 {
        write_atomically(&dir.join("slow.wasm"), &variant(&hostile_bytes, n));
        std::thread::sleep(Duration::from_millis(150));
    }
    let mut failures = 0;
    while let Some(e) = next_event(&mut events, Duration::from_secs(8)) {
        assert!(
            matches!(&e, RegistryEvent::Failed { plugin, .. } if plugin == "slow"),
            "{e:?}"
        );
        failures += 1;
    }
    assert!(
        (1..=10).contains(&failures),
        "{failures} failures for 10 contents"
    );

    // Files that are not plugins: reported once each, read never, and nothing else waits.
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.wasm")).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(dir.join("pipe.wasm"))
            .status()
            .unwrap()
            .success()
    );
    let mut seen = std::collections::BTreeMap::new();
    while let Some(e) = next_event(&mut events, Duration::from_secs(2)) {
        if let RegistryEvent::Failed { plugin, error, .. } = &e {
            assert!(error.contains("not a regular file"), "{error}");
            *seen.entry(plugin.clone()).or_insert(0) += 1;
        } else {
            panic!("{e:?}");
        }
    }
    assert_eq!(
        seen,
        [("pipe".to_string(), 1), ("zero".to_string(), 1)].into()
    );
    write_atomically(&dir.join("good.wasm"), &variant(&good_bytes, 7));
    let e = next_event(&mut events, Duration::from_secs(60)).expect("an event");
    assert!(
        matches!(&e, RegistryEvent::Loaded { plugin, .. } if plugin == "good"),
        "{e:?}"
    );
    assert!(registry.get("good").is_some());
    assert!(registry.get("slow").is_none());
}
