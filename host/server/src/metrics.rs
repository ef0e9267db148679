//! Prometheus metrics: counters and histograms fed by the daemon's events and the HTTP
//! layer, and gauges read from the state when scraped. Hand-written text format: a handful of
//! families do not need a metrics framework.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tessera_engine::DaemonEvent;
use tessera_runtime::RegistryEvent;

/// Upper bounds (seconds) of the run duration buckets.
const RUN_BUCKETS: &[f64] = &[0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0];
/// Upper bounds (seconds) of the HTTP latency buckets.
const HTTP_BUCKETS: &[f64] = &[0.0005, 0.001, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5];
/// Upper bounds (seconds) of plugin compile and reload buckets.
const LOAD_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.counts.len() != bounds.len() {
            self.counts = vec![0; bounds.len()];
        }
        for (c, b) in self.counts.iter_mut().zip(bounds) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

/// Label sets are sorted `(name, value)` pairs rendered once, as Prometheus writes them.
type Labels = String;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s
}

#[derive(Debug, Default)]
struct Inner {
    counters: BTreeMap<(&'static str, Labels), f64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
    /// Runs started by this process, for their duration and assets when they end.
    running: HashMap<String, (Instant, Vec<String>)>,
}

/// The metrics of one server process.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Help and type of each family, in output order.
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "tessera_runs_finished_total",
        "counter",
        "Runs finished by this process, by asset and outcome.",
    ),
    (
        "tessera_run_duration_seconds",
        "histogram",
        "Wall time of runs finished by this process.",
    ),
    (
        "tessera_partitions_materialized_total",
        "counter",
        "Partitions materialized by this process's runs, by asset.",
    ),
    (
        "tessera_plugin_loads_total",
        "counter",
        "Plugin loads by outcome (loaded, failed, removed).",
    ),
    (
        "tessera_plugin_compile_seconds",
        "histogram",
        "Compiling a plugin version (or loading its cached artifact).",
    ),
    (
        "tessera_plugin_reload_seconds",
        "histogram",
        "From a plugin file's change to its new version serving.",
    ),
    (
        "tessera_sensor_ticks_total",
        "counter",
        "Sensor evaluations seen by this process that queued runs or changed dynamic partitions, or failed.",
    ),
    (
        "tessera_schedule_ticks_total",
        "counter",
        "Schedule ticks by outcome.",
    ),
    (
        "tessera_http_requests_total",
        "counter",
        "HTTP requests by route and status.",
    ),
    (
        "tessera_http_request_duration_seconds",
        "histogram",
        "HTTP request latency by route.",
    ),
];

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn add(inner: &mut Inner, name: &'static str, l: Labels, v: f64) {
        *inner.counters.entry((name, l)).or_default() += v;
    }

    /// Counts a daemon event.
    pub fn observe(&self, event: &DaemonEvent) {
        self.with(|m| match event {
            DaemonEvent::RunStarted { run, assets, .. } => {
                m.running
                    .insert(run.clone(), (Instant::now(), assets.clone()));
            }
            DaemonEvent::RunFinished {
                run,
                ok,
                partitions,
                ..
            } => {
                let (elapsed, assets) = m
                    .running
                    .remove(run)
                    .map(|(t, a)| (Some(t.elapsed()), a))
                    .unwrap_or((None, Vec::new()));
                let outcome = if *ok { "success" } else { "failure" };
                let assets = if assets.is_empty() {
                    vec![String::new()]
                } else {
                    assets
                };
                for a in &assets {
                    Self::add(
                        m,
                        "tessera_runs_finished_total",
                        labels(&[("asset", a), ("outcome", outcome)]),
                        1.0,
                    );
                    if *ok {
                        Self::add(
                            m,
                            "tessera_partitions_materialized_total",
                            labels(&[("asset", a)]),
                            *partitions as f64,
                        );
                    }
                }
                if let Some(d) = elapsed {
                    m.histograms
                        .entry(("tessera_run_duration_seconds", String::new()))
                        .or_default()
                        .observe(RUN_BUCKETS, d.as_secs_f64());
                }
            }
            DaemonEvent::Registry { detail } => match detail {
                RegistryEvent::Loaded {
                    plugin,
                    compile_ms,
                    detected_to_serving_ms,
                    ..
                } => {
                    Self::add(
                        m,
                        "tessera_plugin_loads_total",
                        labels(&[("outcome", "loaded"), ("plugin", plugin)]),
                        1.0,
                    );
                    m.histograms
                        .entry(("tessera_plugin_compile_seconds", String::new()))
                        .or_default()
                        .observe(LOAD_BUCKETS, compile_ms / 1000.0);
                    m.histograms
                        .entry(("tessera_plugin_reload_seconds", String::new()))
                        .or_default()
                        .observe(LOAD_BUCKETS, detected_to_serving_ms / 1000.0);
                }
                RegistryEvent::Failed { plugin, .. } => Self::add(
                    m,
                    "tessera_plugin_loads_total",
                    labels(&[("outcome", "failed"), ("plugin", plugin)]),
                    1.0,
                ),
                RegistryEvent::Removed { plugin, .. } => Self::add(
                    m,
                    "tessera_plugin_loads_total",
                    labels(&[("outcome", "removed"), ("plugin", plugin)]),
                    1.0,
                ),
            },
            DaemonEvent::PluginLoaded { plugin, .. } => Self::add(
                m,
                "tessera_plugin_loads_total",
                labels(&[("outcome", "loaded"), ("plugin", plugin)]),
                1.0,
            ),
            DaemonEvent::SensorTick { tick } => Self::add(
                m,
                "tessera_sensor_ticks_total",
                labels(&[("outcome", "acted"), ("sensor", &tick.sensor)]),
                1.0,
            ),
            DaemonEvent::SensorError { sensor, .. } => Self::add(
                m,
                "tessera_sensor_ticks_total",
                labels(&[("outcome", "error"), ("sensor", sensor)]),
                1.0,
            ),
            DaemonEvent::ScheduleTick { schedule, .. } => Self::add(
                m,
                "tessera_schedule_ticks_total",
                labels(&[("outcome", "queued"), ("schedule", schedule)]),
                1.0,
            ),
            DaemonEvent::ScheduleError { schedule, .. } => Self::add(
                m,
                "tessera_schedule_ticks_total",
                labels(&[("outcome", "error"), ("schedule", schedule)]),
                1.0,
            ),
            DaemonEvent::PluginExcluded { .. }
            | DaemonEvent::Started { .. }
            | DaemonEvent::Stopping => {}
        });
    }

    /// Counts one HTTP request.
    pub fn http(&self, route: &str, status: u16, elapsed: Duration) {
        self.with(|m| {
            let code = status.to_string();
            Self::add(
                m,
                "tessera_http_requests_total",
                labels(&[("route", route), ("status", &code)]),
                1.0,
            );
            m.histograms
                .entry((
                    "tessera_http_request_duration_seconds",
                    labels(&[("route", route)]),
                ))
                .or_default()
                .observe(HTTP_BUCKETS, elapsed.as_secs_f64());
        });
    }

    /// The text exposition: the counted families, then `gauges` (read from the state by the
    /// caller, already in text format).
    pub fn render(&self, gauges: &str) -> String {
        let mut out = String::new();
        self.with(|m| {
            for (name, kind, help) in FAMILIES {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
                if *kind == "histogram" {
                    let bounds = match *name {
                        "tessera_run_duration_seconds" => RUN_BUCKETS,
                        "tessera_http_request_duration_seconds" => HTTP_BUCKETS,
                        _ => LOAD_BUCKETS,
                    };
                    for ((n, l), h) in m.histograms.range((*name, String::new())..) {
                        if n != name {
                            break;
                        }
                        let sep = if l.is_empty() { "" } else { "," };
                        for (b, c) in bounds.iter().zip(&h.counts) {
                            let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"{b}\"}} {c}");
                        }
                        let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"+Inf\"}} {}", h.count);
                        let braces = if l.is_empty() {
                            String::new()
                        } else {
                            format!("{{{l}}}")
                        };
                        let _ = writeln!(out, "{name}_sum{braces} {}", h.sum);
                        let _ = writeln!(out, "{name}_count{braces} {}", h.count);
                    }
                } else {
                    for ((n, l), v) in m.counters.range((*name, String::new())..) {
                        if n != name {
                            break;
                        }
                        let _ = writeln!(out, "{name}{{{l}}} {v}");
                    }
                }
            }
        });
        out.push_str(gauges);
        out
    }
}

/// A gauge family in text format.
pub(crate) fn gauge_family(
    out: &mut String,
    name: &str,
    help: &str,
    rows: &[(Vec<(&str, &str)>, f64)],
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (l, v) in rows {
        let _ = writeln!(out, "{name}{{{}}} {v}", labels(l));
    }
}
