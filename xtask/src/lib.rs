//! What `cargo xtask` does that the tests need too: building the plugins that are not Rust.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub mod c;
pub mod js;
pub mod python;
mod stamp;
pub mod wat;

/// The world the C, JavaScript and Python kits build: the guest's exports and the optional
/// `mappings` and `checks` ones, which the kits fill in (empty lists when a plugin declares
/// none), so that a plugin in any language can export partition mappings and asset checks.
pub const KIT_WORLD: &str = "plugin-with-mappings";

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
