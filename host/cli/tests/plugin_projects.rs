//! `tessera plugin new/build/test` outside this repository: one plugin per language created in
//! a temporary directory, built with the kits the binary embeds (written out once, their
//! toolchains installed beside them), and tested: Rust's tests natively, the others' test cases
//! through the real runtime. A broken case fails the command.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use tessera_tests::shared_dir;

/// `tessera ARGS` in `dir`. The kits and their toolchains are written out under the shared
/// test directory (once for every run), and a Rust plugin builds into a shared target
/// directory: the projects themselves are new each time.
fn tessera(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(dir)
        .args(args)
        .env("TESSERA_KITS_DIR", shared_dir("kits"))
        .env("TESSERA_CACHE_DIR", shared_dir("artifacts"))
        .env("CARGO_TARGET_DIR", shared_dir("plugin-projects-target"))
        .output()
        .expect("run tessera")
}

fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let out = tessera(dir, args);
    assert!(
        out.status.success(),
        "tessera {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "tessera {args:?}: no JSON on stdout ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn a_plugin_in_every_language_is_created_built_and_tested_outside_the_repository() {
    let work = tempfile::tempdir().unwrap();
    for language in ["rust", "c", "js", "python", "zig", "assemblyscript"] {
        let name = format!("hello_{language}");
        let created = ok_json(
            work.path(),
            &["plugin", "new", &name, "--lang", language, "--json"],
        );
        assert_eq!(created["language"], language);
        let dir = work.path().join(&name);
        assert!(dir.join("tessera-plugin.toml").is_file(), "{language}");

        let built = ok_json(&dir, &["plugin", "build", "--json"]);
        let plugin = dir.join("target").join(format!("{name}.wasm"));
        assert_eq!(built["plugin"], plugin.display().to_string(), "{language}");
        assert!(
            built["bytes"].as_u64().unwrap() > 1000,
            "{language}: {built}"
        );
        // What was built loads as a plugin and declares the template's asset.
        let inspected = ok_json(
            &dir,
            &["plugin", "inspect", "--json", &plugin.display().to_string()],
        );
        assert!(
            inspected.to_string().contains("\"hello\""),
            "{language}: {inspected}"
        );

        let tested = tessera(&dir, &["plugin", "test", "--json"]);
        let stdout = String::from_utf8_lossy(&tested.stdout);
        assert!(
            tested.status.success(),
            "{language}: tessera plugin test failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&tested.stderr)
        );
        if language == "rust" {
            // cargo test's own report.
            assert!(stdout.contains("test result: ok. 2 passed"), "{stdout}");
        } else {
            let report: Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(report["passed"], 3, "{language}: {report}");
            assert_eq!(report["failed"], 0, "{language}: {report}");
        }
    }

    // A case over a range of keys: hello_week reads what the case gives it, for both days.
    let dir = work.path().join("hello_zig");
    let range = dir.join("tests").join("range");
    for (path, text) in [
        (
            "case.toml",
            "computation = \"hello_week\"\npartition = \"2024-01-02...2024-01-03\"\n",
        ),
        ("inputs/hello/2024-01-02", "x\n"),
        ("inputs/hello/2024-01-03", "y\n"),
        ("expected/hello_week", "x\ny\n"),
    ] {
        let file = range.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    let report = ok_json(&dir, &["plugin", "test", "--json"]);
    assert_eq!(report["passed"], 4, "{report}");

    // A case whose expectation is wrong fails the command, naming the case and both values.
    std::fs::write(
        dir.join("tests")
            .join("hello")
            .join("expected")
            .join("hello"),
        "bye\n",
    )
    .unwrap();
    let failed = tessera(&dir, &["plugin", "test"]);
    assert!(!failed.status.success());
    let text = String::from_utf8_lossy(&failed.stdout);
    assert!(
        text.contains("test hello ... FAILED")
            && text.contains("expected \"bye\\n\", got \"hello, 2024-01-03\\n\"")
            && text.contains("4 cases: 3 passed, 1 failed"),
        "{text}"
    );
}

#[test]
fn mistakes_in_plugin_projects_are_clear_errors() {
    let work = tempfile::tempdir().unwrap();
    let out = tessera(work.path(), &["plugin", "new", "x", "--lang", "cobol"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "no kit for the language \"cobol\"; the kits are rust, c, js, python, zig, assemblyscript"
    ));
    let out = tessera(work.path(), &["plugin", "new", "Bad-Name", "--lang", "zig"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a plugin name"));
    let out = tessera(work.path(), &["plugin", "build"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is no plugin project"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok_json(
        work.path(),
        &["plugin", "new", "twice", "--lang", "zig", "--json"],
    );
    let out = tessera(work.path(), &["plugin", "new", "twice", "--lang", "zig"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}
