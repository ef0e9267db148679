//! Plugins written in JavaScript: an ES module (`plugin.js`, exporting `guest`) built with the
//! kit in `plugin-sdk/js/` by `componentize-js`, which embeds it in the StarlingMonkey engine
//! and gives a component of the `plugin-with-mappings` world (the kit adds the `mappings` and
//! `checks` exports). The tool comes from npm, pinned in `plugin-sdk/js/package.json`,
//! installed under `target/js-toolchain/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::stamp;

/// componentize-js links `wasi:http` unless both features are disabled, and the host offers
/// plugins no network.
const DISABLED_FEATURES: &[&str] = &["http", "fetch-event"];

/// The module componentize-js builds: `plugin.js`'s exports and the kit's `mappings` and
/// `checks` (what the kits' world exports besides `guest`).
const ENTRY: &str = "tessera_component.js";

/// Installs componentize-js under `target/js-toolchain/` unless the pinned version is there;
/// returns the command that runs it.
pub fn ensure_toolchain(root: &Path) -> Result<PathBuf, String> {
    let dir = root.join("target").join("js-toolchain");
    crate::ensure_npm(
        &root.join("plugin-sdk").join("js").join("package.json"),
        &dir,
        "componentize-js",
    )?;
    Ok(dir
        .join("node_modules")
        .join(".bin")
        .join("componentize-js"))
}

/// Builds the JavaScript plugin in `source` (entry `plugin.js`) into the component `out`,
/// unless `out` was built from the same sources, kit, WIT and tool. Returns whether it built.
pub fn build_plugin(root: &Path, cli: &Path, source: &Path, out: &Path) -> Result<bool, String> {
    // The tool runs elsewhere: a relative `out` would land there.
    let out = &std::path::absolute(out).map_err(|e| format!("{}: {e}", out.display()))?;
    if !source.join("plugin.js").is_file() {
        return Err(format!("{} has no plugin.js", source.display()));
    }
    let kit = root.join("plugin-sdk").join("js");
    let wit = root.join("plugin-sdk").join("wit");
    let plugin_files = stamp::files_under(source, &["node_modules"])?;
    let wit_files = stamp::files_under(&wit, &[])?;
    // The kit, the entry module that adds its exports to the plugin's, and the tool's pin.
    let kit_files = [
        kit.join("tessera.js"),
        kit.join(ENTRY),
        kit.join("package.json"),
    ];
    let all: Vec<PathBuf> = plugin_files
        .iter()
        .chain(&wit_files)
        .chain(&kit_files)
        .cloned()
        .collect();
    let digest = stamp::digest(
        &all,
        &format!("{} {}", crate::KIT_WORLD, DISABLED_FEATURES.join(",")),
    )?;
    if stamp::is_fresh(out, &digest) {
        return Ok(false);
    }

    // componentize-js reads the WIT only from under its working directory: the plugin, the
    // kit and the WIT are put together in one.
    let stage = stamp::stage(root, "js-build", out)?;
    stamp::copy_files(source, &stage, &plugin_files)?;
    stamp::copy_files(&wit, &stage.join("wit"), &wit_files)?;
    stamp::copy_files(&kit, &stage, &kit_files[..2])?;
    crate::run_tool(
        Command::new(cli)
            .current_dir(&stage)
            .args(["--wit", "wit", "--world-name", crate::KIT_WORLD, "-d"])
            .args(DISABLED_FEATURES)
            .arg("-o")
            .arg(out)
            .arg(ENTRY),
        "componentize-js",
        source,
        out,
    )?;
    stamp::record(out, &digest)?;
    Ok(true)
}

/// Builds every JavaScript plugin (`plugins/js/<name>/`) into `out/<name>.wasm`.
pub fn build_plugins(root: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    let cli = ensure_toolchain(root)?;
    crate::build_each(root, "js", out, |source, file| {
        build_plugin(root, &cli, source, file).map(drop)
    })
}
