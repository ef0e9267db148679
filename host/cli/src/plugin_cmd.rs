//! `tessera plugin …`: one plugin at a time, no state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::{Value, json};
use tessera_runtime::{
    DirGrant, Grants, InputData, Limits, MaterializeRequest, Plugin, Registry, RegistryEvent,
    Runtime, RuntimeConfig, Selection, SensorRequest,
};

use crate::RuntimeArgs;

#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// The plugin's API version, assets, sensors, partitions and mappings.
    Inspect {
        file: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// One materialization, without any state: prints output sizes, metadata, duration.
    Call {
        file: PathBuf,
        /// An asset of the computation to run (all its assets are produced).
        #[arg(long)]
        asset: String,
        /// The partition key.
        #[arg(long, conflicts_with = "range")]
        partition: Option<String>,
        /// A key range, both ends included: A...B.
        #[arg(long, value_name = "A...B")]
        range: Option<String>,
        /// An upstream partition's bytes: ASSET:KEY=PATH (ASSET=PATH when unpartitioned).
        #[arg(long = "input", value_name = "ASSET:KEY=PATH")]
        inputs: Vec<String>,
        /// Write each output to DIR/<asset>.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Evaluation time (RFC 3339); the current time by default.
        #[arg(long)]
        now: Option<DateTime<Utc>>,
        #[arg(long, default_value = "cli")]
        run_id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// One sensor evaluation.
    Sensor {
        file: PathBuf,
        #[arg(long)]
        sensor: String,
        #[arg(long)]
        cursor: Option<String>,
        /// Evaluation time (RFC 3339); the current time by default.
        #[arg(long)]
        now: Option<DateTime<Utc>>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Make a component of a WebAssembly core module, one that embeds its component type (as
    /// wit-bindgen writes it) or one of the flat world (plugin-sdk/flat/README.md), adapting
    /// WASI preview 1 when the module imports it: what loading the module as a plugin does,
    /// written to a file.
    Componentize {
        /// The core module.
        file: PathBuf,
        /// Where to write the component.
        #[arg(short, long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Create a plugin project NAME/ in the current directory (or --dir): the language's
    /// template, a build file (tessera-plugin.toml) and tests.
    New {
        name: String,
        /// rust, c, js, python, zig or assemblyscript.
        #[arg(long, default_value = "rust")]
        lang: String,
        /// Where to create it (default: the current directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Build the plugin project in DIR (default: the current directory) into
    /// DIR/target/<name>.wasm, installing or locating the language's toolchain.
    Build {
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Build the plugin project in DIR and run its tests: Rust's natively (cargo test), the
    /// others' cases in tests/<case>/ through the real runtime (case.toml, inputs/<asset>/<key>,
    /// expected/<asset>). Exits non-zero when one fails.
    Test {
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Print the JSON Schema of the flat world's documents (definitions, materialize-context,
    /// flat-inputs, flat-outputs, plugin-error, sensor-context, sensor-result).
    Schema,
    /// Load every plugin in DIR and report each load, reload and error as it happens.
    Watch {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
}

/// `dir`, else the current directory.
fn dir_or_current(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match dir {
        Some(d) => Ok(d),
        None => std::env::current_dir().context("cannot read the current directory"),
    }
}

/// The plugin project in `dir`, else in the current directory.
fn open_project(dir: Option<PathBuf>) -> anyhow::Result<tessera_kits::project::Project> {
    tessera_kits::project::Project::open(&dir_or_current(dir)?).map_err(anyhow::Error::msg)
}

/// `text` for a message: UTF-8 as it is (up to 200 characters), else its size.
fn shown(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.chars().count() <= 200 => format!("{text:?}"),
        Ok(text) => format!(
            "{:?}… ({} bytes)",
            text.chars().take(200).collect::<String>(),
            bytes.len()
        ),
        Err(_) => format!("{} bytes, not UTF-8", bytes.len()),
    }
}

/// One test case through the runtime: every expected asset's output, byte for byte.
fn run_case(plugin: &Plugin, case: &tessera_kits::project::Case) -> Result<(), String> {
    let now = match &case.now {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map_err(|e| format!("case.toml: now {t:?} is not RFC 3339: {e}"))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let request = MaterializeRequest {
        computation: case.computation.clone(),
        assets: Vec::new(),
        selection: match case.partition.as_deref() {
            None => Selection::None,
            Some(p) if p.contains("...") => Selection::Range(
                p.parse()
                    .map_err(|e| format!("case.toml: partition {p:?}: {e}"))?,
            ),
            Some(p) => Selection::Key(p.to_string()),
        },
        resolved: None,
        run_id: format!("test-{}", case.name),
        attempt: 1,
        now,
        inputs: case
            .inputs
            .iter()
            .map(|(asset, partitions)| InputData {
                asset: asset.clone(),
                partitions: partitions.clone(),
            })
            .collect(),
        timeout: None,
    };
    let outputs = plugin.materialize(&request).map_err(|e| e.to_string())?;
    for expected in &case.expected {
        let asset = &expected.asset;
        let label = match &expected.partition {
            Some(key) => format!("{asset}[{key}]"),
            None => asset.clone(),
        };
        let Some(got) = outputs
            .iter()
            .find(|o| &o.asset == asset && o.partition == expected.partition)
        else {
            return Err(format!(
                "{label}: no output (expected {})",
                shown(&expected.data)
            ));
        };
        if got.data != expected.data {
            return Err(format!(
                "{label}: expected {}, got {}",
                shown(&expected.data),
                shown(&got.data)
            ));
        }
    }
    Ok(())
}

fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("tessera").join("artifacts"))
}

fn runtime(args: &RuntimeArgs, plugin: Option<&str>) -> anyhow::Result<Runtime> {
    let mut grants = Grants::default();
    for g in &args.grant_dirs {
        let (host, guest) = g
            .split_once('=')
            .with_context(|| format!("--grant-dir {g:?}: expected HOST=GUEST"))?;
        grants.dirs.push(DirGrant {
            host: PathBuf::from(host),
            guest: guest.to_string(),
        });
    }
    grants.env.clone_from(&args.grant_env);
    let mut config = RuntimeConfig {
        cache_dir: if args.no_cache {
            None
        } else {
            args.cache_dir.clone().or_else(default_cache_dir)
        },
        limits: Limits {
            memory_bytes: args.memory_mib.saturating_mul(1 << 20),
            timeout: Duration::from_millis(args.timeout_ms),
            fuel: None,
            ..Limits::default()
        },
        ..RuntimeConfig::default()
    };
    // Grants on the command line apply to the plugin(s) being run.
    match plugin {
        Some(name) => {
            config.grants.insert(name.to_string(), grants);
        }
        None => config.default_grants = grants,
    }
    Ok(Runtime::new(config)?)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(crate) fn run(cmd: PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::Inspect {
            file,
            json,
            runtime: r,
        } => {
            let plugin = runtime(&r, Some(&stem(&file)))?.load(&file)?;
            let report = inspect(&plugin);
            if json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_inspect(&plugin);
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Call {
            file,
            asset,
            partition,
            range,
            inputs,
            out,
            now,
            run_id,
            json,
            runtime: r,
        } => {
            let plugin = runtime(&r, Some(&stem(&file)))?.load(&file)?;
            let computation = plugin
                .definitions()
                .computation_of(&asset)
                .with_context(|| {
                    let known: Vec<&str> = plugin
                        .definitions()
                        .assets()
                        .map(|a| a.key.as_str())
                        .collect();
                    format!(
                        "plugin {} has no asset {asset:?} (it has: {})",
                        plugin.name(),
                        known.join(", ")
                    )
                })?
                .name
                .clone();
            let selection = match (partition, range) {
                (Some(k), _) => Selection::Key(k),
                (None, Some(r)) => Selection::Range(r.parse()?),
                (None, None) => Selection::None,
            };
            let request = MaterializeRequest {
                computation,
                assets: Vec::new(),
                selection,
                resolved: None,
                run_id,
                attempt: 1,
                now: now.unwrap_or_else(Utc::now),
                inputs: parse_inputs(&inputs, Limits::default().max_output_bytes)?,
                timeout: None,
            };
            let started = Instant::now();
            let outputs = plugin.materialize(&request)?;
            let took = started.elapsed();
            if let Some(dir) = &out {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                for o in &outputs {
                    let path = dir.join(&o.asset);
                    std::fs::write(&path, &o.data)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
            }
            if json {
                let outputs: Vec<Value> = outputs
                    .iter()
                    .map(|o| {
                        json!({
                            "asset": o.asset,
                            "size_bytes": o.data.len(),
                            "metadata": o.metadata,
                            "data": std::str::from_utf8(&o.data).ok(),
                        })
                    })
                    .collect();
                let report = json!({
                    "plugin": plugin.name(),
                    "code_version": plugin.code_version(),
                    "selection": request.selection,
                    "duration_ms": took.as_secs_f64() * 1e3,
                    "outputs": outputs,
                });
                outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for o in &outputs {
                    outln!("{}: {} bytes", o.asset, o.data.len());
                    for (k, v) in &o.metadata {
                        outln!(
                            "  {k} = {}",
                            serde_json::to_value(v)
                                .map(|v| v["value"].to_string())
                                .unwrap_or_default()
                        );
                    }
                    if out.is_none()
                        && let Ok(text) = std::str::from_utf8(&o.data)
                        && text.len() <= 2000
                    {
                        outln!("  {}", text.trim_end());
                    }
                }
                outln!("took {:.1} ms", took.as_secs_f64() * 1e3);
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Sensor {
            file,
            sensor,
            cursor,
            now,
            json,
            runtime: r,
        } => {
            let plugin = runtime(&r, Some(&stem(&file)))?.load(&file)?;
            let started = Instant::now();
            let result = plugin.evaluate_sensor(&SensorRequest {
                sensor,
                cursor,
                last_evaluation: None,
                now: now.unwrap_or_else(Utc::now),
            })?;
            let took = started.elapsed();
            if json {
                let mut v = serde_json::to_value(&result)?;
                v["duration_ms"] = json!(took.as_secs_f64() * 1e3);
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                if let Some(reason) = &result.skip_reason {
                    outln!("skipped: {reason}");
                }
                for d in &result.dynamic_partitions {
                    outln!("dynamic {}: add {:?}, delete {:?}", d.name, d.add, d.delete);
                }
                for rr in &result.run_requests {
                    let sel = match &rr.selection {
                        Selection::None => String::new(),
                        Selection::Key(k) => format!(" partition {k}"),
                        Selection::Range(r) => format!(" range {r}"),
                    };
                    let key = rr
                        .run_key
                        .as_deref()
                        .map(|k| format!(" (run key {k})"))
                        .unwrap_or_default();
                    outln!("run {}{sel}{key}", rr.assets.join(", "));
                }
                match &result.cursor {
                    Some(c) => outln!("cursor: {c}"),
                    None => outln!("cursor: unchanged"),
                }
                outln!("took {:.1} ms", took.as_secs_f64() * 1e3);
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::New {
            name,
            lang,
            dir,
            json,
        } => {
            let language =
                tessera_kits::project::Language::parse(&lang).map_err(anyhow::Error::msg)?;
            let created = tessera_kits::project::create(&dir_or_current(dir)?, &name, language)
                .map_err(anyhow::Error::msg)?;
            if json {
                outln!(
                    "{}",
                    json!({ "dir": created.dir, "language": language.name(), "files": created.files })
                );
            } else {
                outln!(
                    "created {} ({} plugin):",
                    created.dir.display(),
                    language.name()
                );
                for f in &created.files {
                    outln!("  {}", f.strip_prefix(&created.dir).unwrap_or(f).display());
                }
                outln!(
                    "next: cd {} && tessera plugin build && tessera plugin test",
                    created.dir.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Build { dir, json } => {
            let project = open_project(dir)?;
            let started = Instant::now();
            let out = project.build().map_err(anyhow::Error::msg)?;
            let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or_default();
            if json {
                outln!(
                    "{}",
                    json!({ "plugin": out, "bytes": bytes, "language": project.language.name(),
                            "seconds": started.elapsed().as_secs_f64() })
                );
            } else {
                outln!(
                    "built {} ({bytes} bytes, {}) in {:.1} s",
                    out.display(),
                    project.language.name(),
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Test {
            dir,
            json,
            runtime: args,
        } => {
            let project = open_project(dir)?;
            let out = project.build().map_err(anyhow::Error::msg)?;
            if project.language == tessera_kits::project::Language::Rust {
                // The SDK's harness runs the plugin natively; cargo prints the results.
                let passed = project.cargo_test().map_err(anyhow::Error::msg)?;
                return Ok(if passed {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            let cases = project.cases().map_err(anyhow::Error::msg)?;
            if cases.is_empty() {
                bail!(
                    "{} has no test cases: add tests/<case>/case.toml with inputs/ and expected/",
                    project.dir.display()
                );
            }
            let plugin = runtime(&args, Some(&project.manifest.name))?
                .load(&out)
                .with_context(|| format!("cannot load {}", out.display()))?;
            let mut results = Vec::new();
            for case in &cases {
                let verdict = run_case(&plugin, case);
                if !json {
                    match &verdict {
                        Ok(()) => outln!("test {} ... ok", case.name),
                        Err(why) => outln!("test {} ... FAILED\n  {why}", case.name),
                    }
                }
                results.push((case.name.clone(), verdict));
            }
            let failed = results.iter().filter(|(_, v)| v.is_err()).count();
            if json {
                let cases: Vec<Value> = results
                    .iter()
                    .map(|(name, v)| json!({ "case": name, "ok": v.is_ok(), "error": v.as_ref().err() }))
                    .collect();
                outln!(
                    "{}",
                    json!({ "plugin": out, "cases": cases, "passed": results.len() - failed, "failed": failed })
                );
            } else {
                outln!(
                    "{} cases: {} passed, {failed} failed",
                    results.len(),
                    results.len() - failed
                );
            }
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        PluginCommand::Schema => {
            outln!(
                "{}",
                serde_json::to_string_pretty(&tessera_runtime::flat_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Componentize { file, out, json } => {
            let limit = RuntimeConfig::default().max_plugin_bytes;
            let bytes = tessera_runtime::fs::read_regular_file(&file, limit)
                .with_context(|| format!("cannot read {}", file.display()))?;
            if !tessera_runtime::is_core_module(&bytes) {
                bail!(
                    "{} is not a WebAssembly core module (a component loads as it is)",
                    file.display()
                );
            }
            let component = tessera_runtime::componentize(&bytes)
                .with_context(|| format!("{}", file.display()))?;
            // Written beside the destination, then renamed: never a half-written plugin where
            // a registry may be watching.
            let partial = out.with_extension("wasm.partial");
            std::fs::write(&partial, &component)
                .and_then(|()| std::fs::rename(&partial, &out))
                .with_context(|| format!("cannot write {}", out.display()))?;
            if json {
                outln!(
                    "{}",
                    json!({ "component": out, "bytes": component.len(), "module_bytes": bytes.len() })
                );
            } else {
                outln!(
                    "wrote {} ({} bytes, from a {}-byte core module)",
                    out.display(),
                    component.len(),
                    bytes.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Watch {
            dir,
            json,
            runtime: r,
        } => {
            if !dir.is_dir() {
                bail!("{} is not a directory", dir.display());
            }
            let registry = Registry::new(runtime(&r, None)?, &dir);
            let mut events = registry.subscribe();
            let _watch = registry.watch()?;
            for event in registry.load_all()? {
                print_event(&event, json)?;
            }
            // Drain what the initial load already published; from here on, print live events.
            while events.try_recv().is_ok() {}
            if !json {
                eprintln!("watching {} (Ctrl-C to stop)", dir.display());
            }
            loop {
                match events.blocking_recv() {
                    Ok(event) => print_event(&event, json)?,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("warning: {n} events were dropped");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_inputs(specs: &[String], limit: u64) -> anyhow::Result<Vec<InputData>> {
    let mut by_asset: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for spec in specs {
        let (target, path) = spec
            .split_once('=')
            .with_context(|| format!("--input {spec:?}: expected ASSET:KEY=PATH"))?;
        // Asset keys never contain ':'; partition keys may ("2024-01-01-00:00").
        let (asset, key) = target.split_once(':').unwrap_or((target, ""));
        // At most what a plugin may output: an input is some upstream's output.
        let data = tessera_runtime::fs::read_regular_file(Path::new(path), limit)
            .with_context(|| format!("--input {spec:?}"))?;
        by_asset
            .entry(asset.to_string())
            .or_default()
            .push((key.to_string(), data));
    }
    Ok(by_asset
        .into_iter()
        .map(|(asset, partitions)| InputData { asset, partitions })
        .collect())
}

fn print_event(event: &RegistryEvent, json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string(event)?);
        return Ok(());
    }
    let short = |v: &str| v.chars().take(12).collect::<String>();
    match event {
        RegistryEvent::Loaded {
            plugin,
            version,
            previous_version,
            from_cache,
            compile_ms,
            detected_to_serving_ms,
            functions,
            ..
        } => {
            let what = match previous_version {
                Some(prev) => format!("reloaded {plugin} {} -> {}", short(prev), short(version)),
                None => format!("loaded {plugin} {}", short(version)),
            };
            let how = match (from_cache, functions) {
                (true, _) => "from cache".to_string(),
                (false, Some(f)) if f.reused > 0 => format!(
                    "compiled {} of {} functions ({} from the incremental cache)",
                    f.compiled,
                    f.compiled + f.reused,
                    f.reused
                ),
                (false, _) => "compiled".to_string(),
            };
            outln!(
                "{what}: {how} in {compile_ms:.1} ms, serving {detected_to_serving_ms:.1} ms after the change was detected"
            );
        }
        RegistryEvent::Failed {
            plugin,
            error,
            serving_version,
            ..
        } => {
            let keeps = serving_version
                .as_deref()
                .map(|v| format!("; still serving {}", short(v)))
                .unwrap_or_default();
            outln!("error {plugin}: {error}{keeps}");
        }
        RegistryEvent::Removed { plugin, version } => {
            outln!("removed {plugin} {}", short(version));
        }
    }
    Ok(())
}

fn inspect(plugin: &Plugin) -> Value {
    let defs = plugin.definitions();
    let stats = plugin.stats();
    let computations: Vec<Value> = defs
        .computations
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "assets": c.assets.iter().map(|a| json!({
                    "key": a.key,
                    "description": a.description,
                    "partitions": a.partitions.as_ref().map(ToString::to_string),
                    "inputs": a.inputs.iter().map(|i| json!({
                        "asset": i.asset,
                        "mapping": i.mapping.as_ref().map_or_else(|| "inferred".to_string(), ToString::to_string),
                        "allow_missing": i.allow_missing,
                    })).collect::<Vec<_>>(),
                    "code_version": a.code_version,
                    "metadata": a.metadata,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let sensors: Vec<Value> = defs
        .sensors
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "description": s.description,
                "minimum_interval_seconds": s.minimum_interval.as_secs(),
                "targets": s.targets,
            })
        })
        .collect();
    json!({
        "plugin": plugin.name(),
        "path": plugin.path(),
        "api_version": plugin.api_version(),
        "world": plugin.world(),
        "code_version": plugin.code_version(),
        "size_bytes": stats.size_bytes,
        "from_cache": stats.from_cache,
        "functions": stats.functions,
        "compile_ms": stats.compile.as_secs_f64() * 1e3,
        "load_ms": stats.total.as_secs_f64() * 1e3,
        "computations": computations,
        "sensors": sensors,
        "checks": defs.checks.iter().map(|c| json!({
            "name": c.name,
            "asset": c.asset,
            "description": c.description,
            "blocking": c.blocking,
        })).collect::<Vec<_>>(),
        "mappings": defs.mappings.iter().map(|m| json!({
            "name": m.name,
            "description": m.description,
        })).collect::<Vec<_>>(),
        "definitions": defs.raw,
    })
}

fn print_inspect(plugin: &Plugin) {
    let stats = plugin.stats();
    let defs = plugin.definitions();
    outln!("plugin {} ({})", plugin.name(), plugin.path().display());
    outln!(
        "  api version   tessera:plugin@{} (world {})",
        plugin.api_version(),
        plugin.world()
    );
    outln!("  code version  {}", plugin.code_version());
    outln!(
        "  size {} bytes; {} in {:.1} ms, loaded in {:.1} ms",
        stats.size_bytes,
        match (stats.from_cache, stats.functions) {
            (true, _) => "cached artifact".to_string(),
            (false, Some(f)) if f.reused > 0 => format!(
                "compiled {} of {} functions",
                f.compiled,
                f.compiled + f.reused
            ),
            (false, _) => "compiled".to_string(),
        },
        stats.compile.as_secs_f64() * 1e3,
        stats.total.as_secs_f64() * 1e3
    );
    for c in &defs.computations {
        outln!("  computation {}", c.name);
        for a in &c.assets {
            let desc = a
                .description
                .as_deref()
                .map(|d| format!(" — {d}"))
                .unwrap_or_default();
            outln!("    asset {}{desc}", a.key);
            match &a.partitions {
                Some(p) => outln!("      partitions  {p}"),
                None => outln!("      partitions  none"),
            }
            for i in &a.inputs {
                let mapping = i
                    .mapping
                    .as_ref()
                    .map_or_else(|| "inferred mapping".to_string(), ToString::to_string);
                let missing = if i.allow_missing {
                    ", missing allowed"
                } else {
                    ""
                };
                outln!("      input       {} ({mapping}{missing})", i.asset);
            }
            if let Some(v) = &a.code_version {
                outln!("      code        {v}");
            }
        }
    }
    for s in &defs.sensors {
        outln!(
            "  sensor {} every {} s -> {}",
            s.name,
            s.minimum_interval.as_secs(),
            s.targets.join(", ")
        );
    }
    for c in &defs.checks {
        let blocking = if c.blocking { ", blocking" } else { "" };
        outln!("  check {} on {}{blocking}", c.name, c.asset);
    }
    for m in &defs.mappings {
        let desc = m
            .description
            .as_deref()
            .map(|d| format!(" — {d}"))
            .unwrap_or_default();
        outln!("  partition mapping {}{desc}", m.name);
    }
}
