//! Builds the WebAssembly components the integration tests load: the example plugins
//! (`plugins/`: Rust, C, JavaScript, Python) and the misbehaving test guests (`tests/guests/`).
//! Sources only are committed; the components are compiled here, once per test process, with
//! cargo's own caching (for C in well under a second; JavaScript and Python, tens of seconds
//! each, are rebuilt only when their sources, kit or tool change, and only by the tests that
//! ask for them).

#![allow(
    clippy::print_stderr,
    clippy::panic,
    reason = "a test helper: progress goes to the test log, and a test without its components must fail"
)]

pub mod browser;
pub mod fixtures;
pub mod http;
pub mod pg;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the built components are.
#[derive(Debug)]
pub struct Components {
    /// The example plugins, `<name>.wasm` (names with `_`).
    pub plugins: PathBuf,
    /// The test guests.
    pub guests: PathBuf,
    /// The example plugins written in C (`plugins/c/`), `<name>.wasm`.
    pub c_plugins: PathBuf,
}

impl Components {
    pub fn plugin(&self, name: &str) -> PathBuf {
        self.plugins.join(format!("{name}.wasm"))
    }

    pub fn guest(&self, name: &str) -> PathBuf {
        self.guests.join(format!("{name}.wasm"))
    }

    pub fn c_plugin(&self, name: &str) -> PathBuf {
        self.c_plugins.join(format!("{name}.wasm"))
    }
}

/// The JavaScript example plugins (`plugins/js/`), built on first use: `<dir>/<name>.wasm`.
pub fn js_plugins() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    build_once(
        &BUILT,
        "js-plugins",
        "JavaScript",
        tessera_kits::js::build_plugins,
    )
}

/// The Python example plugins (`plugins/python/`), built on first use: `<dir>/<name>.wasm`.
pub fn python_plugins() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    build_once(
        &BUILT,
        "py-plugins",
        "Python",
        tessera_kits::python::build_plugins,
    )
}

/// The example plugins written in the WebAssembly text format (`plugins/wat/`), assembled on
/// first use: `<dir>/<name>.wasm`, core modules of the flat world.
pub fn wat_plugins() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    build_once(
        &BUILT,
        "wat-plugins",
        "WebAssembly text",
        tessera_kits::wat::build_plugins,
    )
}

/// The Zig example plugins (`plugins/zig/`), built on first use: `<dir>/<name>.wasm`, core
/// modules of the flat world.
pub fn zig_plugins() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    build_once(
        &BUILT,
        "zig-plugins",
        "Zig",
        tessera_kits::zig::build_plugins,
    )
}

/// The AssemblyScript example plugins (`plugins/assemblyscript/`), built on first use:
/// `<dir>/<name>.wasm`, core modules of the flat world.
pub fn as_plugins() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    build_once(
        &BUILT,
        "as-plugins",
        "AssemblyScript",
        tessera_kits::assemblyscript::build_plugins,
    )
}

/// Builds one language's example plugins into `target/<dir>` the first time it is asked.
fn build_once(
    cell: &'static OnceLock<PathBuf>,
    dir: &str,
    language: &str,
    build: fn(&Path, &Path) -> Result<Vec<PathBuf>, String>,
) -> &'static Path {
    cell.get_or_init(|| {
        let out = repo_root().join("target").join(dir);
        match build(&repo_root(), &out) {
            Ok(_) => out,
            Err(e) => panic!("cannot build the {language} plugins: {e}"),
        }
    })
}

/// The C kit-coverage plugin (`tests/kits/c`) compiled into `dir/kit_core.wasm`: a core
/// module with its component type embedded, not wrapped into a component. Also returns the
/// component built from the same sources, `dir/kit_c.wasm`.
pub fn c_core_module(dir: &Path) -> (PathBuf, PathBuf) {
    let root = repo_root();
    let source = root.join("tests").join("kits").join("c");
    let bindings = dir.join("bindings");
    let core = dir.join("kit_core.wasm");
    let component = dir.join("kit_c.wasm");
    let built = tessera_kits::c::generate_bindings(&root, &bindings)
        .and_then(|()| tessera_kits::c::build_core(&root, &source, &bindings, &core, &[]))
        .and_then(|()| tessera_kits::c::build_plugin(&root, &source, &bindings, &component, &[]));
    if let Err(e) = built {
        panic!("cannot build the C kit's core module: {e}");
    }
    (core, component)
}

/// How many cases each fuzz target runs under `cargo test`: `TESSERA_FUZZ_CASES`, else 256
/// (the README's "Fuzzing" gives the long run).
pub fn fuzz_cases() -> u32 {
    std::env::var("TESSERA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Replaces `to` with a copy of `from` in one rename, as a deploy would: a watcher never sees
/// a half-written plugin.
pub fn copy_atomically(from: &Path, to: &Path) {
    let tmp = to.with_extension("partial");
    if let Err(e) = std::fs::copy(from, &tmp).and_then(|_| std::fs::rename(&tmp, to)) {
        panic!("cannot copy {} to {}: {e}", from.display(), to.display());
    }
}

/// A directory under `target/` for tests to share (artifact caches survive between runs).
pub fn shared_dir(name: &str) -> PathBuf {
    repo_root().join("target").join("test-shared").join(name)
}

fn ensure_wasm_target() -> Result<(), String> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("running rustup: {e}"))?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == "wasm32-wasip2")
    {
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .status()
        .map_err(|e| format!("running rustup: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| "rustup target add wasm32-wasip2 failed".to_string())
}

fn build(manifest: &Path, target_dir: &Path) -> Result<PathBuf, String> {
    build_with(manifest, target_dir, &[], &[])
}

fn build_with(
    manifest: &Path,
    target_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    eprintln!("building components of {}", manifest.display());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building {} failed", manifest.display()));
    }
    Ok(target_dir.join("wasm32-wasip2").join("release"))
}

/// The `heavy` test guest with one function changed (built with `TESSERA_HEAVY_EDITED` set),
/// as an edit and rebuild would leave it: what the incremental compilation benchmark and test
/// reload. Built on first use in a target directory of its own, so that the two builds do not
/// replace each other's output.
pub fn heavy_edited() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = repo_root();
        let built = ensure_wasm_target().and_then(|()| {
            build_with(
                &root.join("tests").join("guests").join("Cargo.toml"),
                &root.join("target").join("guests-edited-build"),
                &["-p", "heavy"],
                &[("TESSERA_HEAVY_EDITED", "1")],
            )
        });
        match built {
            Ok(dir) => dir.join("heavy.wasm"),
            Err(e) => panic!("cannot build the edited heavy guest: {e}"),
        }
    })
}

/// Builds (or finds up to date) every component. Panics with the reason when it cannot: a
/// test that needs components cannot run without them.
pub fn components() -> &'static Components {
    static BUILT: OnceLock<Components> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = repo_root();
        let built = ensure_wasm_target().and_then(|()| {
            Ok(Components {
                plugins: build(
                    &root.join("plugins").join("Cargo.toml"),
                    &root.join("target").join("plugins-build"),
                )?,
                guests: build(
                    &root.join("tests").join("guests").join("Cargo.toml"),
                    &root.join("target").join("guests-build"),
                )?,
                c_plugins: {
                    let out = root.join("target").join("c-plugins");
                    tessera_kits::c::build_plugins(&root, &out)?;
                    out
                },
            })
        });
        match built {
            Ok(c) => c,
            Err(e) => panic!("cannot build the test components: {e}"),
        }
    })
}
