//! Plugins written in AssemblyScript: `plugin.ts` (registering the plugin with `plugin(...)` and
//! re-exporting the kit's exports) built with the kit in `plugin-sdk/assemblyscript/` into a
//! WebAssembly core module of the flat world, which the host makes a component when it loads
//! it. The compiler comes from npm, pinned in `plugin-sdk/assemblyscript/package.json`,
//! installed under `target/as-toolchain/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::stamp;

/// The compiler's flags: the stub runtime (a bump allocator: every call runs in a fresh
/// instance), the top-level code as the `_initialize` the host runs once per instance, and
/// aborts through the kit's `abort`, which logs where before trapping (the default would import
/// `env.abort`, which the host does not offer).
const FLAGS: &[&str] = &[
    "--runtime",
    "stub",
    "--exportStart",
    "_initialize",
    "--use",
    "abort=tessera/abort",
    "-O3",
];

/// Installs the pinned AssemblyScript compiler under `target/as-toolchain/` unless it is
/// there; returns the command that runs it (`asc`).
pub fn ensure_toolchain(root: &Path) -> Result<PathBuf, String> {
    let dir = root.join("target").join("as-toolchain");
    crate::ensure_npm(
        &root
            .join("plugin-sdk")
            .join("assemblyscript")
            .join("package.json"),
        &dir,
        "asc",
    )?;
    Ok(dir.join("node_modules").join(".bin").join("asc"))
}

/// Builds the AssemblyScript plugin in `source` (`plugin.ts` and any other `.ts` files) into
/// the core module `out`, unless `out` was built from the same sources, kit and compiler.
/// The sources are compiled in a copy beside the kit's `tessera.ts` (one staging directory per
/// output, as the JavaScript kit's), which they import as `./tessera`. Returns whether it
/// built.
pub fn build_plugin(root: &Path, asc: &Path, source: &Path, out: &Path) -> Result<bool, String> {
    if !source.join("plugin.ts").is_file() {
        return Err(format!("{} has no plugin.ts", source.display()));
    }
    let kit = root.join("plugin-sdk").join("assemblyscript");
    let plugin_files = stamp::files_under(source, &["node_modules"])?;
    let kit_files = [kit.join("tessera.ts"), kit.join("package.json")];
    let all: Vec<PathBuf> = plugin_files.iter().chain(&kit_files).cloned().collect();
    let digest = stamp::digest(&all, &FLAGS.join(" "))?;
    if stamp::is_fresh(out, &digest) {
        return Ok(false);
    }
    let work = stamp::stage(root, "as-build", out)?;
    stamp::copy_files(source, &work, &plugin_files)?;
    stamp::copy_files(&kit, &work, &kit_files[..1])?;
    let absolute =
        std::path::absolute(out).map_err(|e| format!("cannot resolve {}: {e}", out.display()))?;
    crate::run_tool(
        Command::new(asc)
            .current_dir(&work)
            .arg("plugin.ts")
            .arg("--outFile")
            .arg(&absolute)
            .args(FLAGS),
        "asc",
        source,
        out,
    )?;
    stamp::record(out, &digest)?;
    Ok(true)
}

/// Builds every AssemblyScript plugin (`plugins/assemblyscript/<name>/`) into
/// `out/<name>.wasm`.
pub fn build_plugins(root: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    let asc = ensure_toolchain(root)?;
    crate::build_each(root, "assemblyscript", out, |source, file| {
        build_plugin(root, &asc, source, file).map(drop)
    })
}
