//! Plugins written in Python: a module `app.py` (defining `Guest`, usually
//! `Guest = plugin.guest()`) built with the kit in `plugin-sdk/python/` by `componentize-py`,
//! which embeds it in CPython compiled to WebAssembly and gives a component of the
//! `plugin-with-mappings` world (the kit adds the `mappings` and `checks` exports). The tool
//! comes from PyPI, pinned in `plugin-sdk/python/requirements.txt`, installed in a virtual
//! environment under `target/py-toolchain/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::stamp;

/// The module componentize-py builds: the plugin module `app`'s `Guest` and the kit's
/// `Mappings` and `Checks` (what the kits' world exports besides `guest`).
const ENTRY: &str = "tessera_component";

fn python() -> String {
    std::env::var("TESSERA_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Installs componentize-py in `target/py-toolchain/` unless the pinned version is there;
/// returns the command that runs it.
pub fn ensure_toolchain(root: &Path) -> Result<PathBuf, String> {
    let wanted = root
        .join("plugin-sdk")
        .join("python")
        .join("requirements.txt");
    let venv = root.join("target").join("py-toolchain");
    let installed = venv.join("requirements.txt");
    let cli = venv.join("bin").join("componentize-py");
    let pinned = fs::read(&wanted).map_err(|e| format!("cannot read {}: {e}", wanted.display()))?;
    if cli.is_file() && fs::read(&installed).is_ok_and(|m| m == pinned) {
        return Ok(cli);
    }
    let _ = fs::remove_file(&installed);
    if !venv.join("bin").join("pip").is_file() {
        eprintln!(
            "creating a Python environment for componentize-py in {}",
            venv.display()
        );
        let out = Command::new(python())
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .map_err(|e| {
                format!(
                    "Python plugins need Python 3.9 or newer with venv and pip (for \
                     componentize-py); cannot run {}: {e}",
                    python()
                )
            })?;
        if !out.status.success() {
            return Err(format!(
                "`{} -m venv` failed (on Debian: `apt-get install -y python3-venv`):\n{}",
                python(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    eprintln!("installing componentize-py (pip, into {})", venv.display());
    let status = Command::new(venv.join("bin").join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&wanted)
        .status()
        .map_err(|e| format!("cannot run pip in {}: {e}", venv.display()))?;
    if !status.success() || !cli.is_file() {
        return Err(format!(
            "`pip install -r {}` failed ({status})",
            wanted.display()
        ));
    }
    fs::write(&installed, &pinned)
        .map_err(|e| format!("cannot write {}: {e}", installed.display()))?;
    Ok(cli)
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
