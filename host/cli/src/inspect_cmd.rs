//! The inspection commands: `show` (one partition in full), `runs` with filters,
//! `partitions ASSET --keys` (a page of keys) and `schedule list | tick`.

use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tessera_engine::{Materialization, RunFilter, RunStatus};

use crate::config::Config;
use crate::engine_cmd::{execute_if, open, print_json, report_executed};

fn time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string(),
    )
}

use tessera_engine::short_version as short;

/// `tessera show ASSET [KEY]`.
pub(crate) fn show(
    config: &Config,
    asset: &str,
    key: Option<&str>,
    history: u32,
    json: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    let graph = engine.graph()?;
    let d = engine.show_partition(&graph, asset, key.unwrap_or(""), now, history)?;
    if json {
        print_json(&d)?;
        return Ok(ExitCode::SUCCESS);
    }
    let name = if d.key.is_empty() {
        d.asset.clone()
    } else {
        format!("{}[{}]", d.asset, d.key)
    };
    outln!("{name}: {}", d.state);
    outln!("  code version now   {}", short(&d.code_version));
    if let Some(m) = &d.latest {
        outln!("  materialized by    run {}", m.run_id);
        outln!("  code version       {}", short(&m.code_version));
        outln!("  data version       {}", short(&m.data_version));
        outln!(
            "  ran                {} for {} ms",
            time(m.started_at),
            m.duration_ms
        );
        if m.metadata.as_object().is_some_and(|o| !o.is_empty()) {
            outln!("  metadata");
            if let Some(o) = m.metadata.as_object() {
                for (k, v) in o {
                    outln!("    {k} = {v}");
                }
            }
        }
    }
    if let Some(f) = &d.failure {
        outln!(
            "  failed in run      {}: {}",
            f.run_id.as_deref().unwrap_or("-"),
            f.error.as_deref().unwrap_or("")
        );
    }
    for r in &d.stale_reasons {
        outln!("  stale: {r}");
    }
    for c in &d.checks {
        let blocking = if c.blocking { " (blocking)" } else { "" };
        let why = c
            .description
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        outln!("  check {}{blocking}: {}{why}", c.check, c.outcome);
    }
    if d.partial {
        outln!("  partial: materialized while upstream partitions it reads were missing");
    }
    for r in &d.rollups {
        let deadline = r
            .deadline
            .as_deref()
            .map(|t| format!("; runs with what exists after {t}"))
            .unwrap_or_default();
        outln!(
            "  roll-up {}: {} of {} upstream partitions materialized ({}{deadline})",
            r.input,
            r.materialized,
            r.upstream,
            r.policy
        );
    }
    for u in &d.upstream_missing {
        outln!("  upstream missing: {u}");
    }
    if let Some(p) = &d.preview {
        outln!(
            "  value              {} bytes, {}, sha256 {}",
            p.bytes,
            p.kind,
            short(&p.sha256)
        );
        if let Some(t) = &p.text {
            for line in t.lines() {
                outln!("    {line}");
            }
            if p.truncated {
                outln!("    … (`--json` or the IO store for the rest)");
            }
        }
    }
    outln!(
        "  history ({} materialization{}{}):",
        d.history_total,
        if d.history_total == 1 { "" } else { "s" },
        if d.history_total > d.history.len() as u64 {
            format!(", newest {}", d.history.len())
        } else {
            String::new()
        }
    );
    for Materialization {
        id,
        run_id,
        code_version,
        data_version,
        started_at,
        duration_ms,
        ..
    } in &d.history
    {
        outln!(
            "    #{id:<8} {}  run {run_id}  code {}  data {}  {duration_ms} ms",
            time(*started_at),
            short(code_version),
            short(data_version)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `tessera partitions ASSET --keys [--from K] [--limit N]`.
pub(crate) fn keys(
    config: &Config,
    asset: &str,
    from: Option<&str>,
    limit: u64,
    json: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    let graph = engine.graph()?;
    let page = engine.partition_keys(&graph, asset, from, limit, now)?;
    if json {
        print_json(&page)?;
        return Ok(ExitCode::SUCCESS);
    }
    for k in &page.keys {
        outln!("{k}");
    }
    if let Some(next) = &page.next {
        eprintln!(
            "{} of {} keys from #{}; next page: --from {next}",
            page.keys.len(),
            page.total,
            page.offset
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `tessera partitions ASSET --ranges`.
pub(crate) fn ranges(
    config: &Config,
    asset: &str,
    json: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    let graph = engine.graph()?;
    let ranges = engine.status_ranges(&graph, asset, now)?;
    if json {
        print_json(&ranges)?;
        return Ok(ExitCode::SUCCESS);
    }
    for r in &ranges.ranges {
        let count = r.to - r.from + 1;
        if count == 1 {
            outln!("{:<24} {} ({})", r.state, r.from_key, r.from);
        } else {
            outln!(
                "{:<24} {}...{} ({}–{}, {count})",
                r.state,
                r.from_key,
                r.to_key,
                r.from,
                r.to
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--since`: an RFC 3339 time, or a span before now (`90s`, `30m`, `6h`, `7d`).
pub(crate) fn parse_since(text: &str, now: DateTime<Utc>) -> anyhow::Result<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let bad =
        || anyhow::anyhow!("--since {text:?}: give an RFC 3339 time or a span such as 30m, 6h, 7d");
    let (n, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let span = n
        .checked_mul(secs * 1000)
        .filter(|s| *s >= 0)
        .ok_or_else(bad)?;
    Ok(now.timestamp_millis().saturating_sub(span))
}

/// `tessera runs` with its filters.
#[allow(clippy::too_many_arguments)]
pub(crate) fn runs(
    config: &Config,
    limit: u32,
    asset: Option<String>,
    partition: Option<String>,
    status: Option<RunStatus>,
    backfill: Option<String>,
    since: Option<&str>,
    json: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    let filter = RunFilter {
        limit,
        asset,
        partition,
        status,
        backfill,
        since: since.map(|s| parse_since(s, now)).transpose()?,
        ..RunFilter::default()
    };
    let runs = engine.runs(&filter)?;
    if json {
        print_json(&runs)?;
        return Ok(ExitCode::SUCCESS);
    }
    for r in &runs {
        outln!(
            "{}  {:<8}  {:<24}  {:<28}  {}{}",
            r.id,
            r.status.as_str(),
            r.assets.join(","),
            r.selection.describe(),
            r.trigger,
            r.error
                .as_ref()
                .map(|e| format!("  error: {e}"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `tessera schedule list`.
pub(crate) fn schedule_list(
    config: &Config,
    json: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let engine = open(config)?;
    let specs: Vec<_> = config.schedules.iter().map(|s| s.spec()).collect();
    let views = engine.schedules(&specs, now)?;
    if json {
        print_json(&views)?;
        return Ok(ExitCode::SUCCESS);
    }
    if views.is_empty() {
        outln!("no schedules (add [[schedules]] to tessera.toml)");
    }
    let at = |t: Option<i64>| {
        t.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
            .map_or_else(
                || "-".to_string(),
                |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            )
    };
    for v in &views {
        outln!(
            "{}  {} ({} {})  last tick {}, next {}{}",
            v.name,
            v.asset,
            v.cron,
            v.timezone,
            at(v.last_tick),
            at(v.next_tick),
            v.error
                .as_ref()
                .map(|e| format!("  error: {e}"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `tessera schedule tick NAME [--run]`: the ticks due now, as the daemon would take them.
pub(crate) fn schedule_tick(
    config: &Config,
    name: &str,
    run: bool,
    json: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let spec = config
        .schedules
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.spec())
        .with_context(|| {
            let names: Vec<&str> = config.schedules.iter().map(|s| s.name.as_str()).collect();
            format!(
                "no schedule {name:?} (configured: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        })?;
    let engine = open(config)?;
    let queued = engine.tick_schedule(&spec, now)?;
    let summary = execute_if(run, &engine, &queued)?;
    if json {
        print_json(
            &serde_json::json!({ "schedule": name, "runs_queued": queued, "executed": summary }),
        )?;
    } else {
        outln!("schedule {name}: {} runs queued", queued.len());
    }
    Ok(report_executed(summary, json))
}
