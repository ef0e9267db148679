//! Runs the `conformance` binary over the recorded Dagster cases, as CI and a user would.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/dagster")
}

fn run(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args(args)
        .output()
        .expect("run conformance");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn every_recorded_case_passes_or_is_an_expected_deviation() {
    let dir = cases_dir();
    let (ok, stdout) = run(&[dir.as_os_str()]);
    assert!(ok, "conformance failed:\n{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    let (passed, failed) = last
        .split_once(" passed, ")
        .and_then(|(p, f)| {
            Some((
                p.parse::<u32>().ok()?,
                f.strip_suffix(" failed")?.parse::<u32>().ok()?,
            ))
        })
        .unwrap_or_else(|| panic!("last line is not `N passed, M failed`: {last:?}"));
    assert_eq!(passed + failed, 604, "every recorded case is evaluated");
    assert!(passed >= 536, "fewer cases pass than before: {last}");
    assert!(stdout.contains(", 0 unexpected"), "{stdout}");
}

#[test]
fn an_unexcused_failure_fails_the_run() {
    // One real case with its recorded answer changed: the runner must notice and exit non-zero.
    let text = std::fs::read_to_string(cases_dir().join("static_defs.json")).expect("read cases");
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("parse cases");
    let case = &mut doc["cases"][0];
    let checks = case["checks"].as_array_mut().expect("checks");
    let count = checks
        .iter_mut()
        .find(|c| c["op"] == "num_partitions")
        .expect("a num_partitions check");
    count["result"] = serde_json::json!(12345);
    let dir = std::env::temp_dir().join(format!("tessera-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("static_defs.json"), doc.to_string()).expect("write case");
    let (ok, stdout) = run(&[dir.as_os_str()]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(!ok, "a wrong answer must fail the run:\n{stdout}");
    assert!(
        stdout.trim_end().ends_with("9 passed, 1 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("num_partitions"), "{stdout}");
}
