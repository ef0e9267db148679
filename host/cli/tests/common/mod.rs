//! What the CLI test suites share: a project directory with plugins and a configuration,
//! and the `tessera` binary run in it, waited for and signalled.

#![allow(
    dead_code,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code; each suite uses a part"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use tessera_tests::shared_dir;

/// A project directory: `plugins/` with the given components, `grant/` for the hostile
/// guest's mode file, and a `tessera.toml` with `extra` appended.
pub(crate) struct Project {
    pub(crate) dir: tempfile::TempDir,
}

impl Project {
    pub(crate) fn new(plugins: &[(&str, PathBuf)], extra: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        std::fs::create_dir_all(dir.path().join("grant")).unwrap();
        for (name, path) in plugins {
            std::fs::copy(
                path,
                dir.path().join("plugins").join(format!("{name}.wasm")),
            )
            .unwrap();
        }
        std::fs::write(
            dir.path().join("tessera.toml"),
            format!("plugins = \"plugins\"\n[execution]\nretry_backoff_ms = 5\n{extra}"),
        )
        .unwrap();
        Project { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
        c.args(args)
            .current_dir(self.path())
            .env("TESSERA_CACHE_DIR", shared_dir("artifacts"))
            .env("TESSERA_LOG", "warn")
            // `dev` serves the UI: on a free port, never the one a person uses.
            .env("TESSERA_LISTEN", "127.0.0.1:0");
        c
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run tessera")
    }
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails with a message containing `expected`, promptly, said once and without colour codes.
pub(crate) fn fails_with(out: &Output, took: Duration, expected: &str) {
    let err = stderr(out);
    assert!(!out.status.success(), "succeeded: {err}");
    assert!(err.contains(expected), "expected {expected:?} in: {err}");
    assert!(took < Duration::from_secs(20), "took {took:?}: {err}");
    assert!(
        !err.contains('\x1b'),
        "colour codes in a non-terminal stderr: {err:?}"
    );
    said_once(&err);
}

/// No message ends with its own cause printed again ("X: X").
pub(crate) fn said_once(text: &str) {
    for line in text.lines() {
        for (pos, _) in line.match_indices(": ") {
            let (head, tail) = (&line[..pos], &line[pos + 2..]);
            assert!(
                tail.len() < 8 || !head.ends_with(tail),
                "said twice: {line}"
            );
        }
    }
}

pub(crate) fn timed(f: impl FnOnce() -> Output) -> (Output, Duration) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed())
}

/// Waits for a line of the child's stdout containing `text`; returns it and the lines after
/// it (keep the receiver, or read it dry, so that the child's pipe never fills).
pub(crate) fn wait_for_line(
    child: &mut Child,
    text: &str,
) -> (String, std::sync::mpsc::Receiver<String>) {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no line with {text:?} within 60 s"));
        if line.contains(text) {
            return (line, rx);
        }
    }
}

pub(crate) fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

pub(crate) fn wait_at_most(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
