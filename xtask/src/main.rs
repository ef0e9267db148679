//! Project tasks: `cargo xtask <task>`.
//!
//! `plugins [--out DIR]`: builds the example plugins for WebAssembly — the Rust ones
//! (`plugins/`, a workspace of its own) for `wasm32-wasip2`, the C ones (`plugins/c/<name>/`)
//! with clang and the C kit, the JavaScript ones (`plugins/js/<name>/`) with componentize-js
//! and the Python ones (`plugins/python/<name>/`) with componentize-py — and puts each
//! component at `DIR/<name>.wasm` (default `target/plugins`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask plugins [--out DIR]
       cargo xtask toolchains
       cargo xtask demo
       cargo xtask fuzz [--cases N]

  plugins   build every plugin in plugins/ (Rust for wasm32-wasip2; C in plugins/c/ with
            clang, installed from Debian when missing and run as root; JavaScript in
            plugins/js/ with componentize-js and Python in plugins/python/ with
            componentize-py, installed under target/ from npm and PyPI) and put the
            components at target/plugins/<name>.wasm (or DIR/<name>.wasm)
  toolchains
            install what the C, JavaScript and Python plugins need, or say what is
            missing (plugins does this too)
  demo      the partition tour, then the seed's pipeline run by the tessera CLI on the
            embedded default (SQLite under target/demo/.tessera)
  fuzz      every fuzz target in release mode, N cases each (default 125,000: a million
            across the eight targets), with the time each took";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("plugins") => parse_out(&args[1..]).and_then(|out| plugins(out.as_deref())),
        Some("demo") if args.len() == 1 => demo(),
        Some("toolchains") if args.len() == 1 => toolchains(),
        Some("fuzz") => parse_cases(&args[1..]).and_then(fuzz),
        Some("-h" | "--help" | "help") => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown task {other:?}\n\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_out(args: &[String]) -> Result<Option<PathBuf>, String> {
    match args {
        [] => Ok(None),
        [flag, dir] if flag == "--out" => Ok(Some(PathBuf::from(dir))),
        [flag] if flag == "--out" => Err("--out needs a directory".to_string()),
        [arg, ..] => match arg.strip_prefix("--out=") {
            Some(dir) if args.len() == 1 && !dir.is_empty() => Ok(Some(PathBuf::from(dir))),
            _ => Err(format!("unexpected argument {arg:?}\n\n{USAGE}")),
        },
    }
}

fn parse_cases(args: &[String]) -> Result<u64, String> {
    match args {
        [] => Ok(125_000),
        [flag, n] if flag == "--cases" => n
            .parse()
            .map_err(|_| format!("--cases needs a number, not {n:?}")),
        _ => Err(format!("unexpected arguments {args:?}\n\n{USAGE}")),
    }
}

/// The fuzz targets, by the `cargo test` arguments that select them. Each runs
/// `TESSERA_FUZZ_CASES` cases (they are proptest properties; see their files).
const FUZZ_TARGETS: [(&str, &[&str]); 4] = [
    (
        "partition keys, cron, strftime, ranges",
        &["-p", "tessera-partitions", "--test", "fuzz"],
    ),
    (
        "plugin documents",
        &["-p", "tessera-runtime", "--lib", "fuzz::"],
    ),
    (
        "tessera.toml",
        &["-p", "tessera-cli", "--bin", "tessera", "fuzz::"],
    ),
    (
        "API bodies and queries",
        &["-p", "tessera-server", "--test", "fuzz"],
    ),
];

/// `cargo xtask fuzz`: the long fuzzing run, in release mode. Prints each group's time.
#[allow(clippy::print_stdout)]
fn fuzz(cases: u64) -> Result<(), String> {
    let root = root()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    for (what, args) in FUZZ_TARGETS {
        eprintln!("fuzzing {what}: {cases} cases per target");
        let started = std::time::Instant::now();
        let status = Command::new(&cargo)
            .current_dir(&root)
            .args(["test", "--release", "--locked"])
            .args(args)
            .env("TESSERA_FUZZ_CASES", cases.to_string())
            .status()
            .map_err(|e| format!("running cargo: {e}"))?;
        if !status.success() {
            return Err(format!("fuzzing {what} failed"));
        }
        println!("{what}: clean, {:.1} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The repository root: the parent of this crate's directory.
fn root() -> Result<PathBuf, String> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| "cannot find the repository root".to_string())
}

// One line per plugin on stdout is the command's output.
#[allow(clippy::print_stdout)]
fn plugins(out: Option<&Path>) -> Result<(), String> {
    let root = root()?;
    let manifest = root.join("plugins").join("Cargo.toml");
    let names = plugin_names(&manifest)?;
    tessera_kits::ensure_rust_target()?;

    let build_dir = root.join("target").join("plugins-build");
    tessera_kits::run(
        Command::new(tessera_kits::cargo())
            .current_dir(&root)
            .args([
                "build",
                "--release",
                "--target",
                tessera_kits::RUST_TARGET,
                "--manifest-path",
            ])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&build_dir),
    )?;

    // `--out` is relative to where the command runs, like any path argument.
    let out = match out {
        Some(dir) => std::env::current_dir()
            .map_err(|e| format!("cannot read the current directory: {e}"))?
            .join(dir),
        None => root.join("target").join("plugins"),
    };
    fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let built = build_dir.join(tessera_kits::RUST_TARGET).join("release");
    let mut copied = Vec::new();
    for name in names {
        let file = format!("{}.wasm", name.replace('-', "_"));
        let from = built.join(&file);
        let to = out.join(&file);
        fs::copy(&from, &to)
            .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))?;
        let size = fs::metadata(&to).map(|m| m.len()).unwrap_or_default();
        let shown = to.strip_prefix(&root).unwrap_or(&to).display().to_string();
        copied.push((shown, size));
    }
    let others = [
        tessera_kits::c::build_plugins(&root, &out)?,
        tessera_kits::js::build_plugins(&root, &out)?,
        tessera_kits::python::build_plugins(&root, &out)?,
        tessera_kits::wat::build_plugins(&root, &out)?,
        tessera_kits::zig::build_plugins(&root, &out)?,
        tessera_kits::assemblyscript::build_plugins(&root, &out)?,
    ];
    for file in others.iter().flatten() {
        let size = fs::metadata(file).map(|m| m.len()).unwrap_or_default();
        let shown = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        copied.push((shown, size));
    }
    let width = copied.iter().map(|(p, _)| p.len()).max().unwrap_or(0);
    for (path, size) in copied {
        println!("{path:<width$}  {size:>9} bytes");
    }
    Ok(())
}

/// Makes sure the plugin toolchains other than Rust's are there, installing them if it can.
#[allow(
    clippy::print_stdout,
    reason = "one line per toolchain is the command's output"
)]
fn toolchains() -> Result<(), String> {
    let root = root()?;
    tessera_kits::ensure_rust_target()?;
    tessera_kits::c::ensure_toolchain(&root.join("target").join("c-build").join("probe"))?;
    println!("C: clang for wasm32-wasi with wasi-libc");
    let js = tessera_kits::js::ensure_toolchain(&root)?;
    println!("JavaScript: {}", js.display());
    let py = tessera_kits::python::ensure_toolchain(&root)?;
    println!("Python: {}", py.display());
    let zig = tessera_kits::zig::ensure_toolchain(&root)?;
    println!("Zig: {} -m ziglang", zig.display());
    let asc = tessera_kits::assemblyscript::ensure_toolchain(&root)?;
    println!("AssemblyScript: {}", asc.display());
    Ok(())
}

/// The partition tour, then the seed's plugins through `tessera plugin …`: inspect, a day of
/// raw events, the processed events that need two of them, and a sensor reading a directory
/// granted to it.
#[allow(clippy::print_stdout, reason = "the demo narrates")]
fn demo() -> Result<(), String> {
    let root = root()?;
    println!("== The partition domain\n");
    tessera_kits::run(
        Command::new(tessera_kits::cargo())
            .current_dir(&root)
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "tessera-partitions",
                "--example",
                "tour",
            ]),
    )?;

    println!("\n== Building the example plugins (Rust, C, JavaScript, Python)\n");
    plugins(None)?;
    let plugins_dir = root.join("target").join("plugins");
    let work = root.join("target").join("demo");
    // A fresh project each time: the demo's state starts empty.
    if work.exists() {
        fs::remove_dir_all(&work).map_err(|e| format!("cannot clear {}: {e}", work.display()))?;
    }
    let incoming = work.join("incoming");
    fs::create_dir_all(&incoming)
        .map_err(|e| format!("cannot create {}: {e}", incoming.display()))?;
    let file = incoming.join("events-2024-01-15.json");
    fs::write(&file, "{\"late\": true}\n")
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let config = work.join("tessera.toml");
    fs::write(
        &config,
        "# The demo project: plugins built by `cargo xtask plugins`, state in .tessera/.\n\
         plugins = \"../plugins\"\n\
         \n\
         [execution]\n\
         concurrency = 2\n\
         \n\
         # The sensor may read this one directory, read-only; nothing else is granted.\n\
         [runtime.grants.new_data_sensor]\n\
         dirs = [{ host = \"incoming\", guest = \"/data/incoming\" }]\n",
    )
    .map_err(|e| format!("cannot write {}: {e}", config.display()))?;

    // Outside the project, which starts afresh: compiled plugins (seconds each for JavaScript
    // and Python) are reused by the next demo.
    let cache = root
        .join("target")
        .join("demo-artifacts")
        .display()
        .to_string();
    // A fixed "now": January 2024 is then the whole history, and the bars are full.
    let now = "2024-02-01T00:00:00Z";
    let tessera = |title: &str, args: &[&str]| -> Result<(), String> {
        println!("\n== {title}\n$ tessera {}\n", args.join(" "));
        tessera_kits::run(
            Command::new(tessera_kits::cargo())
                .current_dir(&root)
                .args([
                    "run",
                    "--quiet",
                    "-p",
                    "tessera-cli",
                    "--bin",
                    "tessera",
                    "--",
                    "--config",
                ])
                .arg(&config)
                .args(["--now", now])
                .args(args)
                .env("TESSERA_CACHE_DIR", &cache),
        )
    };
    let plugin = plugins_dir.join("daily_sales.wasm").display().to_string();
    tessera(
        "One plugin call, no state (the seed's daily_sales for 2024-01-27)",
        &[
            "plugin",
            "call",
            &plugin,
            "--asset",
            "daily_sales",
            "--partition",
            "2024-01-27",
        ],
    )?;
    let wat = plugins_dir.join("wat_echo.wasm").display().to_string();
    tessera(
        "A plugin written by hand in the WebAssembly text format (plugins/wat/wat_echo): a core module of the flat world, wrapped by the host as it loads",
        &[
            "plugin",
            "call",
            &wat,
            "--asset",
            "wat_echo",
            "--partition",
            "2024-01-27",
        ],
    )?;
    tessera("The assets of every plugin, upstream first", &["assets"])?;
    tessera(
        "Backfill January 2024 of the daily assets (processed_events in C, JavaScript, Python, Zig and AssemblyScript too, daily_sales in Zig and AssemblyScript too), in dependency order",
        &[
            "backfill",
            "daily_sales",
            "daily_sales_zig",
            "daily_sales_as",
            "raw_events",
            "processed_events",
            "processed_events_c",
            "processed_events_js",
            "processed_events_py",
            "processed_events_zig",
            "processed_events_as",
            "late_data_processor",
            "user_events",
            "sales_data",
            "combined_metrics",
            "daily_summary",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-31",
        ],
    )?;
    tessera(
        "A business calendar: January's trading days (weekends, New Year's Day and Martin Luther King Jr. Day excluded)",
        &[
            "backfill",
            "trading_sales",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-31",
        ],
    )?;
    tessera(
        "21 trading days, no keys listed to count them",
        &["partitions", "trading_sales"],
    )?;
    tessera(
        "Weekly roll-ups of the trading days inside each week (four in MLK week)",
        &["materialize", "weekly_trading_sales", "--all"],
    )?;
    tessera(
        "Three dimensions: one day's sales for one region and product",
        &[
            "materialize",
            "sales_by_region_product",
            "--partition",
            "2024-01-15|software|emea",
            "--partition",
            "2024-01-15|hardware|apac",
        ],
    )?;
    tessera(
        "Sparse: each account trades in its own regions, six partitions a day instead of nine",
        &["partitions", "sales_by_account", "--keys", "--limit", "6"],
    )?;
    tessera(
        "One account's day in one of its regions",
        &[
            "materialize",
            "sales_by_account",
            "--partition",
            "globex|2024-01-15|apac",
        ],
    )?;
    tessera(
        "A mapping written as plugin code: fiscal month FY2024-P01 (four weeks from Monday 1 January, a 4-4-5 calendar) reads its days through fiscal_445",
        &[
            "materialize",
            "fiscal_month_sales",
            "--partition",
            "FY2024-P01",
        ],
    )?;
    tessera(
        "Its 28 days, summed",
        &["show", "fiscal_month_sales", "FY2024-P01", "--history", "1"],
    )?;
    tessera(
        "Ten million partitions: page views per minute since 2005; January 2024 in runs of a day",
        &[
            "backfill",
            "page_views",
            "--from",
            "2024-01-01-00:00",
            "--to",
            "2024-01-31-23:59",
        ],
    )?;
    tessera(
        "And a few scattered minutes of 2010",
        &[
            "materialize",
            "page_views",
            "--partition",
            "2010-06-01-12:00",
            "--partition",
            "2010-06-01-12:01",
            "--partition",
            "2010-09-15-08:30",
        ],
    )?;
    tessera(
        "Two customers: dynamic partitions",
        &["dynamic", "add", "customers", "acme", "globex"],
    )?;
    tessera(
        "Their metrics",
        &["materialize", "customer_metrics", "--all"],
    )?;
    tessera(
        "The customer sensor finds a new customer, adds it, and runs it",
        &["sensor", "tick", "customer_sensor", "--run"],
    )?;
    tessera(
        "The file sensor sees late events for 2024-01-15 in its granted directory",
        &["sensor", "tick", "new_data_sensor", "--run"],
    )?;
    tessera(
        "Late data: raw_events of 2024-01-15 again",
        &["materialize", "raw_events", "--partition", "2024-01-15"],
    )?;
    tessera(
        "What is stale now (processed_events reads the day before too)",
        &["partitions", "processed_events"],
    )?;
    tessera(
        "Catch up the stale partitions only",
        &[
            "backfill",
            "processed_events",
            "processed_events_c",
            "processed_events_js",
            "processed_events_py",
            "processed_events_zig",
            "processed_events_as",
            "late_data_processor",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-31",
            "--stale",
        ],
    )?;
    tessera("Status", &["status"])?;
    println!("\nThe project is in {}; from there, try:", work.display());
    println!(
        "  cargo run -p tessera-cli -- --config {} runs",
        config.display()
    );
    println!(
        "\nThe web UI and API: this starts the daemon (sensors, schedules, hot reload) and serves them"
    );
    println!(
        "  cargo run -p tessera-cli -- --config {} --now {now} dev",
        config.display()
    );
    println!(
        "  then open http://127.0.0.1:3000/  (the API is described at http://127.0.0.1:3000/api/v1/openapi.json)"
    );
    Ok(())
}

/// The package names of the plugins workspace's members.
fn plugin_names(manifest: &Path) -> Result<Vec<String>, String> {
    let text = read(manifest)?;
    let members = members(&text)
        .ok_or_else(|| format!("{}: no `members = [...]` list", manifest.display()))?;
    let dir = manifest.parent().unwrap_or(Path::new("."));
    members
        .iter()
        .map(|member| {
            let path = dir.join(member).join("Cargo.toml");
            package_name(&read(&path)?)
                .ok_or_else(|| format!("{}: no package name", path.display()))
        })
        .collect()
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The strings of the `members = [...]` array (which may span lines).
fn members(manifest: &str) -> Option<Vec<String>> {
    let mut offset = 0;
    let mut start = None;
    for line in manifest.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("members") && trimmed.contains('=') {
            start = Some(offset + line.len() - trimmed.len());
            break;
        }
        offset += line.len();
    }
    let rest = &manifest[start?..];
    let open = rest.find('[')?;
    let close = rest.find(']')?;
    let list = rest.get(open + 1..close)?;
    Some(
        list.lines()
            .map(|l| l.split('#').next().unwrap_or_default())
            .flat_map(|l| l.split(','))
            .map(|s| s.trim().trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

/// `name = "..."` of the `[package]` table.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(value) = line.strip_prefix("name") {
            let value = value.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_members_and_names() {
        let ws = "# members of\n[workspace]\nresolver = \"3\"\nmembers = [\n    \"a\", # first\n    \"b_c\",\n]\n";
        assert_eq!(members(ws).unwrap(), ["a", "b_c"]);
        assert_eq!(members("members = [\"x\"]").unwrap(), ["x"]);
        let pkg = "[package]\nname = \"daily-sales\"\n[lib]\nname = \"other\"\n";
        assert_eq!(package_name(pkg).as_deref(), Some("daily-sales"));
        assert_eq!(package_name("[lib]\nname = \"x\"\n"), None);
    }

    #[test]
    fn parses_out() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert_eq!(parse_out(&[]).unwrap(), None);
        assert_eq!(
            parse_out(&args(&["--out", "dist"])).unwrap(),
            Some(PathBuf::from("dist"))
        );
        assert_eq!(
            parse_out(&args(&["--out=dist"])).unwrap(),
            Some(PathBuf::from("dist"))
        );
        assert!(parse_out(&args(&["--out"])).is_err());
        assert!(parse_out(&args(&["--bogus"])).is_err());
    }
}
