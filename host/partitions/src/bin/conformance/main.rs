//! Runs Dagster conformance cases against Tessera.
//!
//! ```text
//! conformance DIR [--deviations FILE] [--only GLOB] [--verbose]
//! ```
//!
//! Reads every `*.json` case file in DIR, evaluates each case, prints one line per category
//! and, last, `N passed, M failed` (cases). Exits non-zero when a case fails in a way the
//! expected-deviations file does not excuse. Without `--deviations`, the project's own file
//! (compiled in) is used.

#![allow(clippy::print_stdout)]

mod check;
mod deviations;
mod spec;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

use deviations::{Deviations, glob};

/// The runner is a command-line edge; its errors are messages for a person.
type Result<T> = std::result::Result<T, String>;

const PROJECT_DEVIATIONS: &str = include_str!("../../../conformance-deviations.json");

struct Options {
    dir: PathBuf,
    deviations: Option<PathBuf>,
    only: Option<String>,
    verbose: bool,
}

fn parse_args() -> Result<Options> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut deviations = None;
    let mut only = None;
    let mut verbose = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--deviations" => {
                deviations = Some(args.next().ok_or("--deviations needs a file")?.into());
            }
            "--only" => only = Some(args.next().ok_or("--only needs a glob")?),
            "--verbose" | "-v" => verbose = true,
            "--help" | "-h" => {
                println!("usage: conformance DIR [--deviations FILE] [--only GLOB] [--verbose]");
                std::process::exit(0);
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ if dir.is_none() => dir = Some(PathBuf::from(arg)),
            _ => return Err("only one case directory, please".into()),
        }
    }
    Ok(Options {
        dir: dir.ok_or("usage: conformance DIR [--deviations FILE] [--only GLOB] [--verbose]")?,
        deviations,
        only,
        verbose,
    })
}

#[derive(Default)]
struct Tally {
    passed: usize,
    excused: usize,
    failed: usize,
    checks: usize,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("conformance: {e}");
            ExitCode::from(2)
        }
    }
}

fn case_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no *.json case files in {}", dir.display()));
    }
    Ok(files)
}

fn run() -> Result<bool> {
    let opts = parse_args()?;
    let deviations_text = match &opts.deviations {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()))?
        }
        None => PROJECT_DEVIATIONS.to_string(),
    };
    let deviations: Deviations =
        serde_json::from_str(&deviations_text).map_err(|e| format!("deviations file: {e}"))?;
    let mut used = vec![false; deviations.deviations.len()];
    let mut by_category: BTreeMap<String, Tally> = BTreeMap::new();
    let mut unexpected = Vec::new();

    for file in case_files(&opts.dir)? {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        let doc: Value =
            serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", file.display()))?;
        let Some(cases) = doc.get("cases").and_then(Value::as_array) else {
            // Not a case file (e.g. a manifest).
            continue;
        };
        for case in cases {
            let id = case
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            if opts.only.as_deref().is_some_and(|g| !glob(g, &id)) {
                continue;
            }
            let category = case
                .get("category")
                .or_else(|| doc.get("category"))
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            let tally = by_category.entry(category).or_default();
            // A panic is a Tessera bug; report it as a failed case rather than stop the run.
            let outcomes = std::panic::catch_unwind(|| {
                if check::is_mapping(case) {
                    check::mapping_case(case)
                } else {
                    check::definition_case(case)
                }
            });
            let outcomes = match outcomes {
                Ok(Ok(o)) => o,
                Ok(Err(spec::SpecError(e))) => vec![check::Outcome {
                    name: "spec".into(),
                    failure: Some(format!("cannot read case: {e}")),
                    mismatch: check::Mismatch::Other,
                }],
                Err(_) => vec![check::Outcome {
                    name: "panic".into(),
                    failure: Some("Tessera panicked".into()),
                    mismatch: check::Mismatch::Other,
                }],
            };
            tally.checks += outcomes.len();
            let mut failed = false;
            let mut all_excused = true;
            for o in &outcomes {
                let Some(why) = &o.failure else { continue };
                failed = true;
                let excuse = deviations.excuse(case, &id, o);
                if let Some(i) = excuse {
                    used[i] = true;
                } else {
                    all_excused = false;
                    unexpected.push(format!("{id} [{}]: {why}", o.name));
                }
                if opts.verbose {
                    let tag = if excuse.is_some() {
                        "deviation"
                    } else {
                        "FAIL"
                    };
                    println!("  {tag} {id} [{}]: {why}", o.name);
                }
            }
            match (failed, all_excused) {
                (false, _) => tally.passed += 1,
                (true, true) => tally.excused += 1,
                (true, false) => tally.failed += 1,
            }
        }
    }

    let (mut passed, mut excused, mut failed) = (0, 0, 0);
    for (category, t) in &by_category {
        println!(
            "{category:<34} {:>4} cases {:>5} checks: {:>4} passed, {:>3} expected deviations, {:>3} failed",
            t.passed + t.excused + t.failed,
            t.checks,
            t.passed,
            t.excused,
            t.failed
        );
        passed += t.passed;
        excused += t.excused;
        failed += t.failed;
    }
    if !unexpected.is_empty() && !opts.verbose {
        println!("unexpected failures:");
        for line in unexpected.iter().take(50) {
            println!("  {line}");
        }
        if unexpected.len() > 50 {
            println!("  … and {} more (use --verbose)", unexpected.len() - 50);
        }
    }
    if opts.verbose {
        for (i, d) in deviations
            .deviations
            .iter()
            .enumerate()
            .filter(|(i, _)| used[*i])
        {
            println!(
                "deviation {i} ({}): {} Why: {}",
                d.cases.join(", "),
                d.tessera,
                d.why
            );
        }
    }
    let stale: Vec<usize> = (0..used.len()).filter(|&i| !used[i]).collect();
    if opts.only.is_none() && !stale.is_empty() {
        println!("deviation entries matching no failure here: {stale:?}");
    }
    println!(
        "{excused} of the failed cases are expected deviations, {} unexpected",
        failed
    );
    println!("{passed} passed, {} failed", excused + failed);
    Ok(failed == 0)
}
