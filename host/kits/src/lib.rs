//! Building plugins in every language with a kit: the toolchains (installed under `target/` from
//! PyPI and npm, or located), the builds (`cargo xtask plugins` here, the tests), and plugin
//! projects outside this repository (`tessera plugin new/build/test`), built with the kits the
//! binary embeds. Every build takes `root`, a directory laid out like this repository: the
//! repository itself, or the embedded kits written out (`kit::materialize`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub mod assemblyscript;
pub mod c;
pub mod js;
pub mod kit;
pub mod project;
pub mod python;
mod stamp;
pub mod wat;
pub mod zig;

/// The world the C, JavaScript and Python kits build: the guest's exports and the optional
/// `mappings` and `checks` ones, which the kits fill in (empty lists when a plugin declares
/// none), so that a plugin in any language can export partition mappings and asset checks.
pub const KIT_WORLD: &str = "plugin-with-mappings";

/// The target Rust plugins build for.
pub const RUST_TARGET: &str = "wasm32-wasip2";

/// The cargo that runs this (`CARGO`), else the one on the PATH.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// Runs `command`, its output passed through; an error names it when it fails.
pub fn run(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
        Err(format!(
            "`{} {}` failed ({status})",
            command.get_program().to_string_lossy(),
            args.join(" ")
        ))
    }
}

/// Adds the Rust target plugins build for unless rustup has it.
pub fn ensure_rust_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("cannot run rustup (needed for the {RUST_TARGET} target): {e}"))?;
    if !installed.status.success() {
        return Err(format!(
            "`rustup target list --installed` failed: {}",
            String::from_utf8_lossy(&installed.stderr).trim()
        ));
    }
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == RUST_TARGET)
    {
        return Ok(());
    }
    eprintln!("installing the {RUST_TARGET} target");
    run(Command::new("rustup").args(["target", "add", RUST_TARGET]))
}

fn python() -> String {
    std::env::var("TESSERA_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Makes `venv` a Python virtual environment with the packages pinned in `requirements`, unless
/// it already has them and the command `bin/<tool>` (the file is copied in once the install
/// succeeds). `what` names the tool in messages; the tools come from PyPI, so nothing but
/// Python 3 with venv and pip is needed.
pub fn ensure_venv(requirements: &Path, venv: &Path, tool: &str, what: &str) -> Result<(), String> {
    let installed = venv.join("requirements.txt");
    let cli = venv.join("bin").join(tool);
    let pinned = fs::read(requirements)
        .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    if cli.is_file() && fs::read(&installed).is_ok_and(|m| m == pinned) {
        return Ok(());
    }
    let _ = fs::remove_file(&installed);
    if !venv.join("bin").join("pip").is_file() {
        eprintln!(
            "creating a Python environment for {what} in {}",
            venv.display()
        );
        let out = Command::new(python())
            .args(["-m", "venv"])
            .arg(venv)
            .output()
            .map_err(|e| {
                format!(
                    "{what} comes from PyPI and needs Python 3.9 or newer with venv and pip; \
                     cannot run {}: {e}",
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
    eprintln!("installing {what} (pip, into {})", venv.display());
    let status = Command::new(venv.join("bin").join("pip"))
        .stdout(std::io::stderr())
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(requirements)
        .status()
        .map_err(|e| format!("cannot run pip in {}: {e}", venv.display()))?;
    if !status.success() || !cli.is_file() {
        return Err(format!(
            "`pip install -r {}` failed ({status})",
            requirements.display()
        ));
    }
    fs::write(&installed, &pinned).map_err(|e| format!("cannot write {}: {e}", installed.display()))
}

fn npm() -> String {
    std::env::var("TESSERA_NPM").unwrap_or_else(|_| "npm".to_string())
}

fn node_major() -> Option<u32> {
    let out = Command::new("node").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Installs the npm packages `manifest` (a `package.json`) pins into `dir`, unless they are
/// there (the manifest is copied in first and removed again when the install fails, so a
/// half-done install never passes for a finished one). `tool` is the command the packages must
/// provide, under `node_modules/.bin/`.
pub fn ensure_npm(manifest: &Path, dir: &Path, tool: &str) -> Result<(), String> {
    let installed = dir.join("package.json");
    let cli = dir.join("node_modules").join(".bin").join(tool);
    let pinned =
        fs::read(manifest).map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    if cli.is_file() && fs::read(&installed).is_ok_and(|m| m == pinned) {
        return Ok(());
    }
    match node_major() {
        Some(major) if major >= 18 => {}
        Some(major) => {
            return Err(format!("{tool} needs Node.js 18 or newer; this is {major}"));
        }
        None => {
            return Err(format!(
                "{tool} needs Node.js 18 or newer and npm; `node` is not on the PATH (on \
                 Debian: `apt-get install -y nodejs npm`)"
            ));
        }
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    fs::write(&installed, &pinned)
        .map_err(|e| format!("cannot write {}: {e}", installed.display()))?;
    eprintln!("installing {tool} (npm, into {})", dir.display());
    // Its report goes to stderr: stdout is the caller's (`tessera plugin build --json`).
    let status = Command::new(npm())
        .current_dir(dir)
        .stdout(std::io::stderr())
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-package-lock",
            "--loglevel=error",
        ])
        .status()
        .map_err(|e| format!("cannot run {} ({tool} comes from npm): {e}", npm()))?;
    if !status.success() || !cli.is_file() {
        let _ = fs::remove_file(&installed);
        return Err(format!(
            "`npm install` of {tool} failed ({status}); run it in {} to see why",
            dir.display()
        ));
    }
    Ok(())
}

/// The plugin directories under `dir` (one per plugin), in name order.
fn plugin_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().is_none_or(|n| n != "__pycache__"))
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Builds each plugin directory under `plugins/<language>/` into `out/<name>.wasm` with
/// `build(source, file)`; returns the files.
fn build_each(
    root: &Path,
    language: &str,
    out: &Path,
    mut build: impl FnMut(&Path, &Path) -> Result<(), String>,
) -> Result<Vec<PathBuf>, String> {
    let mut built = Vec::new();
    for dir in plugin_dirs(&root.join("plugins").join(language))? {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let file = out.join(format!("{name}.wasm"));
        build(&dir, &file)?;
        built.push(file);
    }
    Ok(built)
}

/// Runs a tool that builds `out` from `source` (creating `out`'s directory first); its output
/// is the error when it fails or writes nothing.
fn run_tool(command: &mut Command, tool: &str, source: &Path, out: &Path) -> Result<(), String> {
    if let Some(parent) = out.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run {tool}: {e}"))?;
    if output.status.success() && out.is_file() {
        return Ok(());
    }
    Err(format!(
        "{tool} failed on {}:\n{}{}",
        source.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}
