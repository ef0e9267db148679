//! Plugin runtime costs. Run:
//! `cargo bench -p tessera-runtime --bench runtime -- --output-format bencher`
//!
//! - `instantiate_call`: a pooled instance from the plugin's `InstancePre` in a fresh store,
//!   and one trivial materialization of the example `daily_sales` (target ≤ 15 µs).
//! - `reload_cold`: a settled plugin file (the ~1.3 MB `heavy` test guest, with a regex
//!   engine) → its new version serving, with nothing cached (target ≤ 500 ms).
//! - `reload_cached`: the same, for an artifact seen before (target ≤ 20 ms).
//! - `reload_edit`: the same guest rebuilt with one function changed (`TESSERA_HEAVY_EDITED`)
//!   replacing the version serving, whose compilation filled the incremental compilation
//!   cache (target ≤ 150 ms). Every iteration starts from a copy of the cache directory as
//!   the first version left it, so the changed function is compiled each time.
//! - `plugin_mapping_subset/{cold,cached}`: a partition mapping written as plugin code (the
//!   `fiscal_calendar` example's 4-4-5 `fiscal_445`) asked for the fiscal months of ten years
//!   of daily partitions, one range: the call in a fresh instance with the answer checked and
//!   resolved (≤ 200 µs), and the same question answered from the cache (≤ 5 µs).
//! - `core_wrap_cold`, `core_wrap_cached`, `core_wrap_encode`: a 21 KB core module of the flat
//!   world (the AssemblyScript `daily_sales_as`) loaded as a plugin with nothing cached —
//!   renamed, given the flat world, made a component, compiled — (target ≤ 50 ms for 20 KB),
//!   loaded again from the artifact cache (≤ 2 ms), and the making of the component alone;
//!   `core_wrap_typed_cold` the same for a core module with its component type (the C kit's
//!   compiler output for `tests/kits/c`, 61 KB, WASI preview 1 adapted).
//! - `flat_vs_rich_call/{rich,flat}`: instantiate and materialize the same asset (ten inputs,
//!   1 KB out) through the rich world and through the flat one, both Rust guests
//!   (`tests/guests/bench_rich`, `bench_flat`): the flat world's JSON must cost ≤ 20 µs more.
//! - `lang/<language>/{compile_cold,load_cached,instantiate_call}`: the same asset in each
//!   plugin language (`processed_events` over two days of `raw_events`; Zig and AssemblyScript
//!   are core modules of the flat world, wrapped as they load): compiling the component with
//!   nothing cached, loading it from the artifact cache, and one materialization in a fresh
//!   instance; `lang/<language>/batched_per_partition` a run of 100 daily partitions in one
//!   session (one instance for the run's calls), per partition.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use tessera_runtime::{
    InputData, MaterializeRequest, Registry, RegistryEvent, Runtime, RuntimeConfig, Selection,
};
use tessera_tests::{
    Components, as_plugins, components, heavy_edited, js_plugins, python_plugins, zig_plugins,
};

/// The same component under a new content hash (a custom section appended).
fn variant(bytes: &[u8], n: u32) -> Vec<u8> {
    let name = b"tessera-bench-variant";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(&n.to_le_bytes());
    let mut out = bytes.to_vec();
    out.push(0);
    out.push(section.len() as u8);
    out.extend_from_slice(&section);
    out
}

/// Writes a plugin file that has already settled (modified a second ago).
fn write_settled(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(1))
        .unwrap();
}

fn reload(registry: &Registry, path: &Path) -> Duration {
    let started = Instant::now();
    let event = registry.refresh(path, started);
    let took = started.elapsed();
    assert!(
        matches!(event, Some(RegistryEvent::Loaded { .. })),
        "{event:?}"
    );
    took
}

fn bench(c: &mut Criterion) {
    let comps = components();

    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = rt.load(&comps.plugin("daily_sales")).unwrap();
    eprintln!("pooling allocator: {}", rt.pooling());
    let request = MaterializeRequest {
        computation: "daily_sales".into(),
        assets: Vec::new(),
        selection: Selection::Key("2024-01-15".into()),
        resolved: None,
        run_id: "bench".into(),
        attempt: 1,
        now: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        inputs: Vec::new(),
        timeout: None,
    };
    c.bench_function("instantiate_call", |b| {
        b.iter(|| black_box(plugin.materialize(&request).unwrap()));
    });

    let heavy = std::fs::read(comps.guest("heavy")).unwrap();
    eprintln!("heavy.wasm: {} bytes", heavy.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heavy.wasm");

    let mut group = c.benchmark_group("reload");
    group.sample_size(10);
    // Nothing cached: every version compiles.
    let cold = Registry::new(Runtime::new(RuntimeConfig::default()).unwrap(), dir.path());
    let mut n = 0;
    group.bench_function("reload_cold", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                write_settled(&path, &variant(&heavy, n));
                total += reload(&cold, &path);
            }
            total
        });
    });
    group.finish();

    // Two versions whose artifacts are cached: switching between them compiles nothing.
    let cache = tempfile::tempdir().unwrap();
    let warm = Registry::new(
        Runtime::new(RuntimeConfig {
            cache_dir: Some(cache.path().to_path_buf()),
            ..RuntimeConfig::default()
        })
        .unwrap(),
        dir.path(),
    );
    let versions = [variant(&heavy, 1_000_001), variant(&heavy, 1_000_002)];
    for v in &versions {
        write_settled(&path, v);
        reload(&warm, &path);
    }
    // Version 2 serves after the warm-up; the first measured reload switches to version 1.
    let mut i = 1;
    c.bench_function("reload_cached", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                i += 1;
                write_settled(&path, &versions[i % 2]);
                total += reload(&warm, &path);
            }
            total
        });
    });
}

/// Copies a cache directory (artifacts and the incremental compilation packs).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `reload_edit`: one function of the 1.3 MB `heavy` guest changed, the rest compiled before.
fn reload_edit(c: &mut Criterion) {
    let comps = components();
    let original = std::fs::read(comps.guest("heavy")).unwrap();
    let edited = std::fs::read(heavy_edited()).unwrap();
    assert_ne!(original, edited);
    eprintln!(
        "heavy.wasm: {} bytes, edited: {} bytes",
        original.len(),
        edited.len()
    );
    // The cache as the first version's compilation leaves it.
    let seed = tempfile::tempdir().unwrap();
    let config = |dir: &Path| RuntimeConfig {
        cache_dir: Some(dir.to_path_buf()),
        ..RuntimeConfig::default()
    };
    let first = Runtime::new(config(seed.path()))
        .unwrap()
        .load_bytes("heavy", Path::new("heavy.wasm"), &original)
        .unwrap()
        .stats();
    eprintln!(
        "first version: compiled in {:.1} ms, {:?}",
        first.compile.as_secs_f64() * 1e3,
        first.functions
    );

    // One edit, taken apart: what the load spends outside compiling.
    let scratch = tempfile::tempdir().unwrap();
    copy_dir(seed.path(), scratch.path());
    let rt = Runtime::new(config(scratch.path())).unwrap();
    let started = Instant::now();
    let plugin = rt
        .load_bytes("heavy", Path::new("heavy.wasm"), &edited)
        .unwrap();
    let total = started.elapsed();
    let stats = plugin.stats();
    eprintln!(
        "edited version: load {:.1} ms, of which compiling (with the artifact written) {:.1} ms; {:?}",
        total.as_secs_f64() * 1e3,
        stats.compile.as_secs_f64() * 1e3,
        stats.functions
    );
    let started = Instant::now();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&edited)
        .unwrap();
    eprintln!(
        "  parsing and validating alone: {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let everything_cached = Runtime::new(config(scratch.path())).unwrap();
    let started = Instant::now();
    let again = everything_cached
        .load_bytes("heavy", Path::new("heavy.wasm"), &variant(&edited, 1))
        .unwrap()
        .stats();
    eprintln!(
        "  the same with every function in the incremental cache: {:.1} ms ({:?})",
        started.elapsed().as_secs_f64() * 1e3,
        again.functions
    );
    drop((plugin, rt, everything_cached));

    let mut group = c.benchmark_group("reload");
    group.sample_size(10);
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.bench_function("reload_edit", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let cache = tempfile::tempdir().unwrap();
                copy_dir(seed.path(), cache.path());
                let plugins = tempfile::tempdir().unwrap();
                let path = plugins.path().join("heavy.wasm");
                let registry =
                    Registry::new(Runtime::new(config(cache.path())).unwrap(), plugins.path());
                write_settled(&path, &original);
                reload(&registry, &path);
                write_settled(&path, &edited);
                total += reload(&registry, &path);
            }
            total
        });
    });
    group.finish();
}

/// Two days of `raw_events`, from the Rust plugin, as the input of `processed_events`.
fn raw_events(comps: &Components) -> InputData {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = rt.load(&comps.plugin("processed_events")).unwrap();
    let partitions = ["2024-01-14", "2024-01-15"]
        .iter()
        .map(|day| {
            let out = plugin
                .materialize(&MaterializeRequest {
                    computation: "raw_events".into(),
                    assets: Vec::new(),
                    selection: Selection::Key((*day).into()),
                    resolved: None,
                    run_id: "bench".into(),
                    attempt: 1,
                    now: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
                    inputs: Vec::new(),
                    timeout: None,
                })
                .unwrap();
            ((*day).to_string(), out[0].data.clone())
        })
        .collect();
    InputData {
        asset: "raw_events".into(),
        partitions,
    }
}

/// `plugin_mapping_subset/{cold,cached}`.
fn plugin_mapping(c: &mut Criterion) {
    use tessera_partitions::{
        Context, ExternalMapping, PartitionsDefinition, StaticPartitions, TimeWindowPartitions,
    };
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = std::sync::Arc::new(rt.load(&components().plugin("fiscal_calendar")).unwrap());
    let code = tessera_runtime::PluginMappingCode::new(
        plugin,
        "fiscal_445",
        "daily_sales",
        "fiscal_month_sales",
    );
    let days =
        PartitionsDefinition::from(TimeWindowPartitions::daily("2024-01-01").build().unwrap());
    let periods = PartitionsDefinition::from(
        StaticPartitions::new(
            (2024..=2030).flat_map(|y| (1..=12).map(move |p| format!("FY{y}-P{p:02}"))),
        )
        .unwrap(),
    );
    let cx = Context::new(Utc.with_ymd_and_hms(2034, 1, 1, 0, 0, 0).unwrap());
    let ten_years = days.all(&cx).unwrap();
    assert_eq!(ten_years.len(), 3653);
    let months = code
        .to_downstream(&cx, &ten_years, &days, &periods)
        .unwrap();
    assert_eq!(months.len(), 84);
    let mut group = c.benchmark_group("plugin_mapping_subset");
    group.bench_function("cold", |b| {
        b.iter(|| {
            code.clear_cache();
            black_box(
                code.to_downstream(&cx, &ten_years, &days, &periods)
                    .unwrap(),
            )
        });
    });
    group.bench_function("cached", |b| {
        b.iter(|| {
            black_box(
                code.to_downstream(&cx, &ten_years, &days, &periods)
                    .unwrap(),
            )
        });
    });
    group.finish();
}

fn languages(c: &mut Criterion) {
    let comps = components();
    let input = raw_events(comps);
    let cases = [
        ("rust", comps.plugin("processed_events"), "processed_events"),
        (
            "c",
            comps.c_plugin("processed_events_c"),
            "processed_events_c",
        ),
        (
            "js",
            js_plugins().join("processed_events_js.wasm"),
            "processed_events_js",
        ),
        (
            "python",
            python_plugins().join("processed_events_py.wasm"),
            "processed_events_py",
        ),
        (
            "zig",
            zig_plugins().join("processed_events_zig.wasm"),
            "processed_events_zig",
        ),
        (
            "assemblyscript",
            as_plugins().join("processed_events_as.wasm"),
            "processed_events_as",
        ),
    ];
    for (lang, file, computation) in cases {
        let bytes = std::fs::read(&file).unwrap();
        eprintln!("{lang}: {} ({} bytes)", file.display(), bytes.len());
        let mut group = c.benchmark_group(format!("lang/{lang}"));
        group.sample_size(10);
        let cold = Runtime::new(RuntimeConfig::default()).unwrap();
        let mut n = 0;
        group.bench_function("compile_cold", |b| {
            b.iter(|| {
                n += 1;
                black_box(cold.load_bytes("p", &file, &variant(&bytes, n)).unwrap())
            });
        });
        let cache = tempfile::tempdir().unwrap();
        let warm = Runtime::new(RuntimeConfig {
            cache_dir: Some(cache.path().to_path_buf()),
            ..RuntimeConfig::default()
        })
        .unwrap();
        warm.load_bytes("p", &file, &bytes).unwrap();
        group.bench_function("load_cached", |b| {
            b.iter(|| black_box(warm.load_bytes("p", &file, &bytes).unwrap()));
        });
        group.finish();
        let plugin = warm.load_bytes("p", &file, &bytes).unwrap();
        let request = MaterializeRequest {
            computation: computation.into(),
            assets: Vec::new(),
            selection: Selection::Key("2024-01-15".into()),
            resolved: None,
            run_id: "bench".into(),
            attempt: 1,
            now: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
            inputs: vec![input.clone()],
            timeout: None,
        };
        c.bench_function(&format!("lang/{lang}/instantiate_call"), |b| {
            b.iter(|| black_box(plugin.materialize(&request).unwrap()));
        });
        // A run of 100 daily partitions in one session: one instance, 100 calls. Reported per
        // partition (the run's time / 100).
        let run: Vec<MaterializeRequest> = (0..100)
            .map(|day| MaterializeRequest {
                selection: Selection::Key(
                    (chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(day))
                        .to_string(),
                ),
                ..request.clone()
            })
            .collect();
        c.bench_function(&format!("lang/{lang}/batched_per_partition"), |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                for _ in 0..iters {
                    let mut session = plugin.session();
                    for req in &run {
                        black_box(session.materialize(req).unwrap());
                    }
                }
                started.elapsed() / 100
            });
        });
    }
}

/// `core_wrap_{cold,cached,encode}` on a flat core module, `core_wrap_typed_cold` on one that
/// embeds its component type.
fn core_wrap(c: &mut Criterion) {
    let work = tempfile::tempdir().unwrap();
    let flat = as_plugins().join("daily_sales_as.wasm");
    let bytes = std::fs::read(&flat).unwrap();
    eprintln!("core_wrap: a flat core module of {} bytes", bytes.len());
    let uncached = Runtime::new(RuntimeConfig::default()).unwrap();
    let cached = Runtime::new(RuntimeConfig {
        cache_dir: Some(work.path().join("cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    assert!(
        !cached
            .load_bytes("flat", &flat, &bytes)
            .unwrap()
            .stats()
            .from_cache
    );
    // The names the issue gives, so not one group.
    c.bench_function("core_wrap_cold", |b| {
        b.iter(|| black_box(uncached.load_bytes("flat", &flat, &bytes).unwrap()));
    });
    c.bench_function("core_wrap_cached", |b| {
        b.iter(|| {
            let plugin = cached.load_bytes("flat", &flat, &bytes).unwrap();
            assert!(plugin.stats().from_cache);
            black_box(plugin)
        });
    });
    c.bench_function("core_wrap_encode", |b| {
        b.iter(|| black_box(tessera_runtime::componentize(&bytes).unwrap()));
    });
    let (typed, _) = tessera_tests::c_core_module(work.path());
    let typed_bytes = std::fs::read(&typed).unwrap();
    eprintln!(
        "core_wrap_typed: a core module with its component type, {} bytes",
        typed_bytes.len()
    );
    c.bench_function("core_wrap_typed_cold", |b| {
        b.iter(|| black_box(uncached.load_bytes("kit", &typed, &typed_bytes).unwrap()));
    });
}

/// `flat_vs_rich_call/{rich,flat}`: the same asset through either world, ten 100-byte inputs
/// in, 1 KB out, each call in a fresh instance.
fn flat_vs_rich(c: &mut Criterion) {
    let comps = components();
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let inputs: Vec<InputData> = (0..10)
        .map(|i| InputData {
            asset: format!("up{i}"),
            partitions: vec![("2024-01-15".into(), vec![b'x'; 100 + i])],
        })
        .collect();
    let request = MaterializeRequest {
        computation: "bench".into(),
        assets: Vec::new(),
        selection: Selection::Key("2024-01-15".into()),
        resolved: None,
        run_id: "bench".into(),
        attempt: 1,
        now: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        inputs,
        timeout: None,
    };
    let mut group = c.benchmark_group("flat_vs_rich_call");
    let mut outputs = Vec::new();
    for (world, guest) in [("rich", "bench_rich"), ("flat", "bench_flat")] {
        let plugin = runtime.load(&comps.guest(guest)).unwrap();
        let out = plugin.materialize(&request).unwrap();
        outputs.push((out[0].data.clone(), out[0].metadata.clone()));
        group.bench_function(world, |b| {
            b.iter(|| black_box(plugin.materialize(&request).unwrap()));
        });
    }
    group.finish();
    assert_eq!(outputs[0], outputs[1], "both worlds answer the same");
    assert_eq!(outputs[0].0.len(), 1024);
}

criterion_group!(
    benches,
    bench,
    reload_edit,
    plugin_mapping,
    core_wrap,
    flat_vs_rich,
    languages
);
criterion_main!(benches);
