//! Plugins written in Python: a module `app.py` (defining `Guest`, usually
//! `Guest = plugin.guest()`) built with the kit in `plugin-sdk/python/` by `componentize-py`,
//! which embeds it in CPython compiled to WebAssembly and gives a component of the
//! `plugin-with-mappings` world (the kit adds the `mappings` and `checks` exports). The tool
//! comes from PyPI, pinned in `plugin-sdk/python/requirements.txt`, installed in a virtual
//! environment under `target/py-toolchain/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::stamp;

/// The module componentize-py builds: the plugin module `app`'s `Guest` and the kit's
/// `Mappings` and `Checks` (what the kits' world exports besides `guest`).
const ENTRY: &str = "tessera_component";

/// Installs componentize-py in `target/py-toolchain/` unless the pinned version is there;
/// returns the command that runs it.
pub fn ensure_toolchain(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join("target").join("py-toolchain");
    crate::ensure_venv(
        &root
            .join("plugin-sdk")
            .join("python")
            .join("requirements.txt"),
        &venv,
        "componentize-py",
        "componentize-py",
    )?;
    Ok(venv.join("bin").join("componentize-py"))
}

/// Builds the Python plugin in `source` (module `app`) into the component `out`, unless `out`
/// was built from the same sources, kit, WIT and tool. Returns whether it built.
pub fn build_plugin(root: &Path, cli: &Path, source: &Path, out: &Path) -> Result<bool, String> {
    if !source.join("app.py").is_file() {
        return Err(format!("{} has no app.py", source.display()));
    }
    let kit = root.join("plugin-sdk").join("python");
    let wit = root.join("plugin-sdk").join("wit");
    let mut all = stamp::files_under(source, &["__pycache__"])?;
    all.extend(stamp::files_under(&wit, &[])?);
    all.extend([
        kit.join("tessera.py"),
        kit.join(format!("{ENTRY}.py")),
        kit.join("requirements.txt"),
    ]);
    let digest = stamp::digest(&all, &format!("{ENTRY} {}", crate::KIT_WORLD))?;
    if stamp::is_fresh(out, &digest) {
        return Ok(false);
    }
    crate::run_tool(
        Command::new(cli)
            .arg("-d")
            .arg(&wit)
            .args(["-w", crate::KIT_WORLD, "componentize", "-p"])
            .arg(source)
            .arg("-p")
            .arg(&kit)
            .arg(ENTRY)
            .arg("-o")
            .arg(out),
        "componentize-py",
        source,
        out,
    )?;
    stamp::record(out, &digest)?;
    Ok(true)
}

/// Builds every Python plugin (`plugins/python/<name>/`) into `out/<name>.wasm`.
pub fn build_plugins(root: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    let cli = ensure_toolchain(root)?;
    crate::build_each(root, "python", out, |source, file| {
        build_plugin(root, &cli, source, file).map(drop)
    })
}
