//! The commands that work on state: assets, partitions, status, materialize, backfill,
//! dynamic, sensor, runs, logs. They run in-process against the same database a daemon
//! (`tessera dev`) uses, and may run beside it.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_engine::{Engine, Filter, PartitionSelection, Progress, QueueSummary, RunPolicy};
use tessera_runtime::RegistryEvent;

use crate::config::Config;

/// The largest key list `dynamic add --file` reads (ten million keys of 20 bytes or so).
const MAX_KEYS_FILE_BYTES: u64 = 256 << 20;

pub(crate) fn print_json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Opens the state, loads every plugin of the plugin directory, and builds the engine.
pub(crate) fn open(config: &Config) -> anyhow::Result<Engine> {
    if !config.plugins.is_dir() {
        bail!(
            "plugin directory {} does not exist (set `plugins` in tessera.toml, or build the examples with `cargo xtask plugins`)",
            config.plugins.display()
        );
    }
    let (engine, events) = Engine::open(
        &config.storage,
        &config.plugins,
        config.runtime.clone(),
        config.engine.clone(),
    )?;
    for event in events {
        if let RegistryEvent::Failed { plugin, error, .. } = event {
            tracing::warn!(plugin, error, "plugin not loaded");
        }
    }
    Ok(engine)
}

/// `--partition`, `--range`, `--all` (and `--from/--to` for backfills) as a selection.
pub(crate) fn selection(
    partition: &[String],
    range: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> anyhow::Result<PartitionSelection> {
    if let Some(r) = range {
        return Ok(PartitionSelection::Range(r.parse()?));
    }
    match (from, to) {
        (Some(a), Some(b)) => {
            return Ok(PartitionSelection::Range(
                tessera_partitions::KeyRange::new(a, b),
            ));
        }
        (Some(_), None) | (None, Some(_)) => bail!("give both --from and --to"),
        (None, None) => {}
    }
    if !partition.is_empty() {
        return Ok(PartitionSelection::Keys(partition.to_vec()));
    }
    Ok(PartitionSelection::All)
}

/// Prints progress of runs on a terminal (one updating line), and nothing otherwise.
struct ProgressLine {
    tty: bool,
    total: u64,
    done: std::sync::atomic::AtomicU64,
    failed: std::sync::atomic::AtomicU64,
}

impl ProgressLine {
    fn new(total: u64, quiet: bool) -> ProgressLine {
        ProgressLine {
            tty: !quiet && std::io::stderr().is_terminal(),
            total,
            done: 0.into(),
            failed: 0.into(),
        }
    }

    fn report(&self, p: &Progress) {
        use std::sync::atomic::Ordering::Relaxed;
        match p {
            Progress::RunFinished {
                ok: true,
                partitions,
                ..
            } => {
                self.done.fetch_add(*partitions, Relaxed);
            }
            Progress::RunFinished {
                ok: false,
                run,
                error,
                ..
            } => {
                self.failed.fetch_add(1, Relaxed);
                if self.tty {
                    eprintln!(
                        "\r\x1b[2Krun {run}: {}",
                        error.as_deref().unwrap_or("failed")
                    );
                }
            }
            Progress::RunStarted { .. } => {}
        }
        if self.tty {
            let done = self.done.load(Relaxed);
            let width = 30u64;
            let filled = (done * width)
                .checked_div(self.total)
                .unwrap_or(width)
                .min(width);
            eprint!(
                "\r\x1b[2K[{}{}] {done}/{} partitions, {} failed attempts",
                "#".repeat(filled as usize),
                "-".repeat((width - filled) as usize),
                self.total,
                self.failed.load(Relaxed)
            );
        }
    }

    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

#[derive(Serialize)]
struct RunOutcome {
    backfill_id: Option<String>,
    runs: usize,
    partitions: u64,
    summary: QueueSummary,
}

/// `tessera materialize`: a partitioned asset needs an explicit selection.
pub(crate) fn materialize_now(
    config: &Config,
    assets: &[String],
    selection: &PartitionSelection,
    explicit: bool,
    policy: RunPolicy,
    json: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    if !explicit {
        let engine = open(config)?;
        let graph = engine.graph()?;
        for a in assets {
            let node = graph
                .asset(a)
                .with_context(|| format!("no asset {a:?} (see `tessera assets`)"))?;
            if node.partitions.is_some() {
                bail!("{a} is partitioned: name --partition KEY, --range START...END or --all");
            }
        }
    }
    materialize(
        config,
        assets,
        selection,
        Filter::Any,
        policy,
        false,
        true,
        json,
        now,
    )
}

/// Submits work, then executes the queue for it until it is done.
#[allow(clippy::too_many_arguments)]
pub(crate) fn materialize(
    config: &Config,
    assets: &[String],
    selection: &PartitionSelection,
    filter: Filter,
    policy: RunPolicy,
    backfill: bool,
    wait: bool,
    json: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    let submitted = engine.submit(
        assets,
        selection,
        filter,
        policy,
        backfill,
        if backfill { "backfill" } else { "manual" },
        now,
    )?;
    if !wait {
        if json {
            print_json(&submitted)?;
        } else {
            outln!(
                "queued {} runs ({} partitions){}",
                submitted.runs.len(),
                submitted.partitions,
                submitted
                    .backfill_id
                    .as_ref()
                    .map(|b| format!(" as backfill {b}"))
                    .unwrap_or_default()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(b) = &submitted.backfill_id
        && !json
    {
        eprintln!(
            "backfill {b}: {} partitions in {} runs",
            submitted.partitions,
            submitted.runs.len()
        );
    }
    let line = ProgressLine::new(submitted.partitions, json);
    let summary = run_submitted(&engine, &submitted, &|p| line.report(p))?;
    line.finish();
    report_outcome(
        &engine,
        &RunOutcome {
            backfill_id: submitted.backfill_id.clone(),
            runs: submitted.runs.len(),
            partitions: submitted.partitions,
            summary,
        },
        json,
    )
}

pub(crate) fn run_submitted(
    engine: &Engine,
    submitted: &tessera_engine::Submitted,
    progress: &(dyn Fn(&Progress) + Sync),
) -> anyhow::Result<QueueSummary> {
    Ok(match &submitted.backfill_id {
        Some(b) => engine.run_queue(Some(b), progress)?,
        // Exactly what this command queued: other queued work is the daemon's.
        None => engine.run_runs(&submitted.runs, progress)?,
    })
}

fn report_outcome(engine: &Engine, outcome: &RunOutcome, json: bool) -> anyhow::Result<ExitCode> {
    let s = outcome.summary;
    if json {
        print_json(outcome)?;
    } else {
        outln!(
            "{} runs succeeded, {} failed{} ({} partitions materialized)",
            s.runs_succeeded,
            s.runs_failed,
            waiting_note(&s),
            s.partitions
        );
        if let Some(b) = &outcome.backfill_id
            && let Some(rec) = engine.backfill(b)?
        {
            outln!("backfill {b}: {}", rec.status);
        }
    }
    // Runs waiting for upstream did not produce what was asked: not a success either.
    Ok(if s.runs_failed > 0 || s.runs_waiting_for_upstream > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// ", N waiting for upstream" when some are.
fn waiting_note(s: &QueueSummary) -> String {
    match s.runs_waiting_for_upstream {
        0 => String::new(),
        n => format!(", {n} waiting for upstream"),
    }
}

// ---- backfill management -----------------------------------------------------------------

pub(crate) fn backfill_list(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let state = open_state_only(config)?;
    let mut rows = Vec::new();
    for b in state.backfills()? {
        let p = state.backfill_progress(&b.id)?;
        rows.push((b, p));
    }
    if json {
        let rows: Vec<_> = rows
            .iter()
            .map(|(b, p)| serde_json::json!({ "backfill": b, "progress": p }))
            .collect();
        print_json(&rows)?;
    } else if rows.is_empty() {
        outln!("no backfills");
    } else {
        for (b, p) in &rows {
            outln!(
                "{}  {:<9}  {}  [{}]  {}/{} partitions, {} failed runs",
                b.id,
                b.status,
                b.assets.join(","),
                b.description,
                p.partitions_done,
                p.partitions_total,
                p.runs_failed
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn backfill_status(config: &Config, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let state = open_state_only(config)?;
    let b = state
        .backfill(id)?
        .with_context(|| format!("no backfill {id:?} (see `tessera backfill list`)"))?;
    let p = state.backfill_progress(id)?;
    if json {
        print_json(&serde_json::json!({ "backfill": b, "progress": p }))?;
    } else {
        outln!("backfill {}: {}", b.id, b.status);
        outln!("  assets:     {}", b.assets.join(", "));
        outln!("  selection:  {}", b.description);
        outln!(
            "  partitions: {} done, {} failed, {} total",
            p.partitions_done,
            p.partitions_failed,
            p.partitions_total
        );
        outln!(
            "  runs:       {} succeeded, {} failed, {} canceled, {} waiting for upstream, {} queued, {} running",
            p.runs_succeeded,
            p.runs_failed,
            p.runs_canceled,
            p.runs_waiting_for_upstream,
            p.runs_queued,
            p.runs_running
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn backfill_cancel(config: &Config, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let state = open_state_only(config)?;
    let before = state
        .backfill(id)?
        .with_context(|| format!("no backfill {id:?} (see `tessera backfill list`)"))?
        .status;
    let (n, status) = state.cancel_backfill(id)?;
    if json {
        print_json(&serde_json::json!({ "backfill": id, "runs_canceled": n, "status": status }))?;
    } else if before.is_final() {
        outln!("backfill {id} is already {status}; nothing to cancel");
    } else {
        outln!(
            "backfill {id} canceled ({n} queued runs canceled; running runs stop after their current partition)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn backfill_resume(config: &Config, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    let p = engine
        .resume_backfill(id)?
        .with_context(|| format!("no backfill {id:?} (see `tessera backfill list`)"))?;
    let line = ProgressLine::new(p.partitions_total, json);
    line.done
        .store(p.partitions_done, std::sync::atomic::Ordering::Relaxed);
    let summary = engine.run_queue(Some(id), &|p| line.report(p))?;
    line.finish();
    report_outcome(
        &engine,
        &RunOutcome {
            backfill_id: Some(id.to_string()),
            runs: p.runs_total as usize,
            partitions: p.partitions_total,
            summary,
        },
        json,
    )
}

fn open_state_only(config: &Config) -> anyhow::Result<Arc<dyn tessera_engine::Store>> {
    Ok(Engine::open_state(
        &config.storage,
        config.engine.database.as_deref(),
    )?)
}

// ---- listings -------------------------------------------------------------------------------

pub(crate) fn assets(config: &Config, json: bool, now: DateTime<Utc>) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    let graph = engine.graph()?;
    if json {
        // The status summary is only part of the JSON listing: text stays a quick graph view.
        let mut rows = Vec::new();
        for n in graph.assets() {
            let (status, _) = engine.asset_status(&graph, &n.key, 40, now, false)?;
            rows.push(serde_json::json!({
            "asset": n.key,
            "plugin": n.plugin,
            "computation": n.computation,
            "description": n.description,
            "partitions": n.partitions.as_ref().map(ToString::to_string),
            "inputs": n.inputs.iter().map(|e| serde_json::json!({
                "asset": e.upstream, "mapping": e.mapping.to_string(), "allow_missing": e.allow_missing
            })).collect::<Vec<_>>(),
            "code_version": n.code_version,
            "eager": n.eager,
            "status": status,
        }));
        }
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    for n in graph.assets() {
        let parts = n
            .partitions
            .as_ref()
            .map_or_else(|| "unpartitioned".to_string(), ToString::to_string);
        outln!("{}  ({}, plugin {})", n.key, parts, n.plugin);
        for e in &n.inputs {
            outln!("    ← {} via {}", e.upstream, e.mapping);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn coloured_bar(bar: &str) -> String {
    if !std::io::stdout().is_terminal() {
        return bar.to_string();
    }
    bar.chars()
        .map(|c| match c {
            '█' => format!("\x1b[32m{c}\x1b[0m"),
            '▓' => format!("\x1b[33m{c}\x1b[0m"),
            'x' => format!("\x1b[31m{c}\x1b[0m"),
            _ => format!("\x1b[90m{c}\x1b[0m"),
        })
        .collect()
}

pub(crate) fn partitions(
    config: &Config,
    asset: &str,
    status: bool,
    json: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    let graph = engine.graph()?;
    let (summary, views) = engine.asset_status(&graph, asset, 60, now, true)?;
    // Only the JSON and `--status` show the partitions' failing checks.
    let problems = if json || status {
        engine.check_problems(asset)?
    } else {
        Vec::new()
    };
    if json {
        print_json(&serde_json::json!({
            "status": summary,
            "partitions": views,
            "check_problems": problems,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{asset}: {} partitions ({}) — {} materialized, {} failed, {} missing, {} stale{}",
        summary.total,
        summary.partitions_kind,
        summary.materialized,
        summary.failed,
        summary.missing,
        summary.stale,
        if summary.outside > 0 {
            format!("; {} recorded outside the definition", summary.outside)
        } else {
            String::new()
        }
    );
    outln!("  {}", coloured_bar(&summary.bar));
    for c in &summary.checks {
        outln!(
            "  check {}{}: {} pass, {} warn, {} fail",
            c.check,
            if c.blocking { " (blocking)" } else { "" },
            c.pass,
            c.warn,
            c.fail
        );
    }
    if status {
        // Each partition's checks that warn or fail, after its state.
        let mut by_partition: std::collections::HashMap<&str, Vec<String>> =
            std::collections::HashMap::new();
        for p in &problems {
            by_partition
                .entry(p.partition.as_str())
                .or_default()
                .push(match &p.description {
                    Some(d) => format!("check {}: {}: {d}", p.check, p.outcome),
                    None => format!("check {}: {}", p.check, p.outcome),
                });
        }
        for v in &views {
            // A failure's error, or why it is stale (the first reasons; `show` lists all).
            let why = match (&v.error, v.stale_reasons.as_slice()) {
                (Some(e), _) => e.clone(),
                (None, []) => String::new(),
                (None, reasons) => {
                    let mut s: Vec<String> =
                        reasons.iter().take(2).map(|r| r.to_string()).collect();
                    if reasons.len() > 2 {
                        s.push(format!("and {} more reasons", reasons.len() - 2));
                    }
                    s.join("; ")
                }
            };
            let checks = by_partition
                .get(v.key.as_str())
                .map(|c| c.join("; "))
                .unwrap_or_default();
            let why = match (why.is_empty(), checks.is_empty()) {
                (_, true) => why,
                (true, false) => checks,
                (false, false) => format!("{why}; {checks}"),
            };
            outln!("  {:<24} {:<12} {why}", v.key, v.state);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn status(config: &Config, json: bool, now: DateTime<Utc>) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    let plugins: Vec<serde_json::Value> = engine
        .registry()
        .plugins()
        .iter()
        .map(|p| {
            serde_json::json!({
                "plugin": p.name(),
                "version": p.code_version(),
                "api_version": p.api_version(),
                "path": p.path(),
            })
        })
        .collect();
    let errors = engine.registry().errors();
    let excluded = engine.excluded_plugins();
    let graph = engine.graph();
    let schedule_errors: Vec<String> = match &graph {
        Ok(g) => config
            .schedules
            .iter()
            .filter_map(|s| s.spec().check_target(g).err().map(|e| e.to_string()))
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut assets = Vec::new();
    if let Ok(g) = &graph {
        for n in g.assets() {
            assets.push(engine.asset_status(g, &n.key, 40, now, false)?.0);
        }
    }
    let counts = engine.run_counts()?;
    let failures = engine.runs(&tessera_engine::state::RunFilter {
        limit: 5,
        status: Some(tessera_engine::RunStatus::Failed),
        ..Default::default()
    })?;
    let sensors: Vec<serde_json::Value> = match &graph {
        Ok(g) => g
            .sensors()
            .iter()
            .map(|(name, s)| {
                Ok(serde_json::json!({
                    "sensor": name,
                    "plugin": s.plugin,
                    "targets": s.spec.targets,
                    "minimum_interval_secs": s.spec.minimum_interval.as_secs_f64(),
                    "state": engine.sensor_state(name)?,
                }))
            })
            .collect::<anyhow::Result<_>>()?,
        Err(_) => Vec::new(),
    };
    let specs: Vec<_> = config.schedules.iter().map(|s| s.spec()).collect();
    let schedules = if graph.is_ok() {
        engine.schedules(&specs, now)?
    } else {
        Vec::new()
    };
    let hosts = engine.hosts()?;
    let current = engine.current_plugin_versions()?;
    if json {
        print_json(&serde_json::json!({
            "hosts": hosts,
            "plugin_versions": current,
            "sensors": sensors,
            "schedules": schedules,
            "plugins": plugins,
            "plugin_errors": errors,
            "plugins_excluded": excluded,
            "schedule_errors": schedule_errors,
            "graph_error": graph.as_ref().err().map(ToString::to_string),
            "assets_unavailable": graph.as_ref().map(|g| g.unavailable().clone()).unwrap_or_default(),
            "sensors_unavailable": graph.as_ref().map(|g| g.unavailable_sensors().clone()).unwrap_or_default(),
            "assets": assets,
            "runs": counts.iter().map(|(s, n)| (s.clone(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
            "recent_failures": failures,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(f) = &config.file {
        outln!("config: {}", f.display());
    }
    outln!("plugins ({}):", config.plugins.display());
    for p in engine.registry().plugins() {
        let recorded = match current.get(p.name()) {
            Some(v) if v != p.code_version() => format!(
                "  (hosts serve {}: this file is not current yet)",
                tessera_engine::short_version(v)
            ),
            _ => String::new(),
        };
        outln!(
            "  {:<22} {}  (api {}){recorded}",
            p.name(),
            &p.code_version()[..12.min(p.code_version().len())],
            p.api_version()
        );
    }
    for (name, e) in &errors {
        if engine.registry().get(name).is_some() {
            outln!(
                "  {name:<22} FILE FAILED TO LOAD (the last good version serves): {}",
                e.error
            );
        } else {
            outln!("  {name:<22} NOT LOADED: {}", e.error);
        }
    }
    for (name, why) in &excluded {
        outln!("  {name:<22} NOT IN THE GRAPH: {why}");
    }
    for e in &schedule_errors {
        outln!("schedule error: {e}");
    }
    if let Err(e) = &graph {
        outln!("graph error: {e}");
    }
    outln!("assets:");
    for a in &assets {
        outln!(
            "  {:<22} {}  {}/{} materialized, {} failed, {} stale",
            a.asset,
            coloured_bar(&a.bar),
            a.materialized,
            a.total,
            a.failed,
            a.stale
        );
    }
    if let Ok(g) = &graph {
        for (asset, why) in g.unavailable() {
            outln!("  {asset:<22} UNAVAILABLE: {why}");
        }
        for (sensor, why) in g.unavailable_sensors() {
            outln!("sensor {sensor} unavailable: {why}");
        }
    }
    if !hosts.is_empty() {
        outln!("hosts ({} alive):", hosts.len());
        for h in &hosts {
            outln!(
                "  {:<22} {}  {}",
                h.host.label,
                h.host.id,
                if h.leases.is_empty() {
                    "runs only".to_string()
                } else {
                    format!("ticks {}", h.leases.join(", "))
                }
            );
        }
    }
    let queue: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    outln!(
        "runs: {}",
        if queue.is_empty() {
            "none".to_string()
        } else {
            queue.join(", ")
        }
    );
    if !failures.is_empty() {
        outln!("recent failures:");
        for r in &failures {
            outln!(
                "  {} {} [{}]: {}",
                r.id,
                r.assets.join(","),
                r.selection.describe(),
                r.error.as_deref().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn logs(config: &Config, run: &str, json: bool) -> anyhow::Result<ExitCode> {
    let state = open_state_only(config)?;
    let record = state
        .run(run)?
        .with_context(|| format!("no run {run:?} (see `tessera runs`)"))?;
    let events = state.run_events(run)?;
    if json {
        print_json(&serde_json::json!({ "run": record, "events": events }))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "run {} ({}): {} [{}], attempt {}/{}",
        record.id,
        record.status.as_str(),
        record.assets.join(","),
        record.selection.describe(),
        record.attempts,
        record.max_attempts
    );
    for e in &events {
        let at = DateTime::<Utc>::from_timestamp_millis(e.at)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default();
        outln!("  {at} {:<5} {}", e.level, e.message);
    }
    Ok(ExitCode::SUCCESS)
}

// ---- dynamic partitions and sensors ----------------------------------------------------------

pub(crate) fn dynamic(
    config: &Config,
    action: &str,
    name: &str,
    keys: &[String],
    file: Option<&Path>,
    strict: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut keys = keys.to_vec();
    if let Some(f) = file {
        let bytes = tessera_runtime::fs::read_regular_file(f, MAX_KEYS_FILE_BYTES)
            .context("cannot read the keys")?;
        let text = String::from_utf8(bytes)
            .with_context(|| format!("{} is not UTF-8 text", f.display()))?;
        keys.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
    let state = open_state_only(config)?;
    match action {
        "add" => {
            if keys.is_empty() {
                bail!("give keys to add (arguments or --file)");
            }
            // A typo in the set's name would otherwise fill a set nothing reads.
            let engine = open(config)?;
            let sets = engine.graph()?.dynamic_sets();
            if !sets.contains(name) {
                let known = if sets.is_empty() {
                    "no loaded definition uses a dynamic set".to_string()
                } else {
                    format!(
                        "the sets in use are: {}",
                        sets.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                };
                if strict {
                    bail!("no loaded definition uses the dynamic set {name:?}; {known}");
                }
                eprintln!(
                    "warning: no loaded definition uses the dynamic set {name:?} ({known}); adding anyway (--strict refuses)"
                );
            }
            let n = engine.dynamic_add(name, &keys)?;
            if json {
                print_json(&serde_json::json!({ "name": name, "added": n, "given": keys.len() }))?;
            } else {
                outln!("{name}: added {n} of {} keys", keys.len());
            }
        }
        "remove" => {
            let n = state.dynamic_remove(name, &keys)?;
            if json {
                print_json(&serde_json::json!({ "name": name, "removed": n }))?;
            } else {
                outln!("{name}: removed {n} keys");
            }
        }
        "list" => {
            let keys = state.dynamic_keys(name)?;
            if json {
                print_json(&serde_json::json!({ "name": name, "keys": keys }))?;
            } else {
                for k in &keys {
                    outln!("{k}");
                }
            }
        }
        other => bail!("unknown action {other:?}: use add, remove or list"),
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn sensor_list(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    let graph = engine.graph()?;
    let mut rows = Vec::new();
    for (name, s) in graph.sensors() {
        rows.push((name, s, engine.sensor_state(name)?));
    }
    if json {
        let rows: Vec<_> = rows
            .iter()
            .map(|(name, s, st)| {
                serde_json::json!({
                    "sensor": name,
                    "plugin": s.plugin,
                    "targets": s.spec.targets,
                    "minimum_interval_secs": s.spec.minimum_interval.as_secs_f64(),
                    "state": st,
                })
            })
            .collect();
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    for (name, s, st) in rows {
        outln!(
            "{name}  (plugin {}, every {}s, targets {})  evaluations {}, cursor {}{}{}",
            s.plugin,
            s.spec.minimum_interval.as_secs(),
            s.spec.targets.join(","),
            st.evaluations,
            st.cursor.as_deref().unwrap_or("-"),
            st.last_skip_reason
                .map(|r| format!(", skipped: {r}"))
                .unwrap_or_default(),
            st.last_error
                .map(|e| format!(", error: {e}"))
                .unwrap_or_default()
        );
        if st.disabled {
            outln!("    disabled: the daemon skips it (`tessera sensor enable {name}`)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn sensor_enable(
    config: &Config,
    name: &str,
    enabled: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    engine.set_sensor_enabled(name, enabled)?;
    if json {
        print_json(&serde_json::json!({ "sensor": name, "enabled": enabled }))?;
    } else if enabled {
        outln!("sensor {name} enabled: the daemon evaluates it again");
    } else {
        outln!("sensor {name} disabled: the daemon skips it (`tessera sensor tick` still runs it)");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn sensor_tick(
    config: &Config,
    name: &str,
    run: bool,
    json: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    let outcome = engine.tick_sensor(name, now)?;
    let summary = execute_if(run, &engine, &outcome.runs_queued)?;
    if json {
        print_json(&serde_json::json!({ "tick": outcome, "executed": summary }))?;
    } else {
        for (set, added, deleted) in &outcome.dynamic_partitions {
            outln!("dynamic partitions {set}: +{added} -{deleted}");
        }
        if let Some(r) = &outcome.skip_reason {
            outln!("skipped: {r}");
        }
        outln!(
            "{} runs queued, {} run keys already seen; cursor {}",
            outcome.runs_queued.len(),
            outcome.run_keys_skipped,
            outcome.cursor.as_deref().unwrap_or("-")
        );
    }
    Ok(report_executed(summary, json))
}

/// With `--run`, executes exactly the runs a tick queued (a sensor's, a schedule's).
pub(crate) fn execute_if(
    run: bool,
    engine: &Engine,
    queued: &[String],
) -> anyhow::Result<Option<QueueSummary>> {
    if !run || queued.is_empty() {
        return Ok(None);
    }
    let submitted = tessera_engine::Submitted {
        backfill_id: None,
        runs: queued.to_vec(),
        partitions: queued.len() as u64,
    };
    Ok(Some(run_submitted(engine, &submitted, &|_| {})?))
}

/// Says what `--run` executed (in text) and fails the command when a run failed.
pub(crate) fn report_executed(summary: Option<QueueSummary>, json: bool) -> ExitCode {
    if let Some(s) = summary.filter(|_| !json) {
        outln!(
            "{} runs succeeded, {} failed{}",
            s.runs_succeeded,
            s.runs_failed,
            waiting_note(&s)
        );
    }
    if summary.is_some_and(|s| s.runs_failed > 0 || s.runs_waiting_for_upstream > 0) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
