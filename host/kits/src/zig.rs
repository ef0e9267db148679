//! Plugins written in Zig: `plugin.zig` (exporting the plugin with `tessera.exportPlugin`)
//! built with the kit in `plugin-sdk/zig/` into a WebAssembly core module of the flat world
//! (`wasm32-freestanding`: no libc, no WASI), which the host makes a component when it loads
//! it. The compiler comes from PyPI (`ziglang`), pinned in `plugin-sdk/zig/requirements.txt`,
//! installed in a virtual environment under `target/zig-toolchain/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::stamp;

/// The flags every Zig plugin is built with: a core module with no entry point whose exported
/// functions are the kit's, small.
const FLAGS: &[&str] = &[
    "build-exe",
    "-target",
    "wasm32-freestanding",
    "-O",
    "ReleaseSmall",
    "-fno-entry",
    "-rdynamic",
];

/// Installs the pinned Zig under `target/zig-toolchain/` unless it is there; returns the
/// Python that runs it (`python -m ziglang`).
pub fn ensure_toolchain(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join("target").join("zig-toolchain");
    crate::ensure_venv(
        &root.join("plugin-sdk").join("zig").join("requirements.txt"),
        &venv,
        "python",
        "Zig (PyPI ziglang)",
    )?;
    Ok(venv.join("bin").join("python"))
}

/// Builds the Zig plugin in `source` (`plugin.zig`) into the core module `out`, unless `out`
/// was built from the same sources, kit and compiler. Returns whether it built.
pub fn build_plugin(root: &Path, python: &Path, source: &Path, out: &Path) -> Result<bool, String> {
    let main = source.join("plugin.zig");
    if !main.is_file() {
        return Err(format!("{} has no plugin.zig", source.display()));
    }
    let kit = root.join("plugin-sdk").join("zig");
    let mut all = stamp::files_under(source, &["zig-cache", ".zig-cache"])?;
    all.extend([kit.join("tessera.zig"), kit.join("requirements.txt")]);
    let digest = stamp::digest(&all, &FLAGS.join(" "))?;
    if stamp::is_fresh(out, &digest) {
        return Ok(false);
    }
    let cache = root.join("target").join("zig-build");
    crate::run_tool(
        Command::new(python)
            .args(["-m", "ziglang"])
            .args(FLAGS)
            .args(["--dep", "tessera"])
            .arg(module_flag("root", &main))
            .arg(module_flag("tessera", &kit.join("tessera.zig")))
            .arg(format!("-femit-bin={}", out.display()))
            .arg("--cache-dir")
            .arg(cache.join("local"))
            .arg("--global-cache-dir")
            .arg(cache.join("global")),
        "zig",
        source,
        out,
    )?;
    stamp::record(out, &digest)?;
    Ok(true)
}

fn module_flag(name: &str, file: &Path) -> String {
    format!("-M{name}={}", file.display())
}

/// Builds every Zig plugin (`plugins/zig/<name>/`) into `out/<name>.wasm`.
pub fn build_plugins(root: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    let python = ensure_toolchain(root)?;
    crate::build_each(root, "zig", out, |source, file| {
        build_plugin(root, &python, source, file).map(drop)
    })
}
