//! What `cargo xtask` does that the tests need too: building the plugins that are not Rust.

use std::fs;
use std::path::{Path, PathBuf};

pub mod c;
pub mod js;
pub mod python;
mod stamp;

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
