//! Plugins written in the WebAssembly text format (`plugins/wat/<name>/plugin.wat`): assembled
//! into core modules of the flat world, which the host makes components when it loads them.

use std::fs;
use std::path::{Path, PathBuf};

/// Assembles every plugin under `plugins/wat/` into `out/<name>.wasm`.
pub fn build_plugins(root: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    crate::build_each(root, "wat", out, |dir, file| {
        build_plugin(&dir.join("plugin.wat"), file)
    })
}

/// Assembles one `.wat` file into the core module `out`.
pub fn build_plugin(source: &Path, out: &Path) -> Result<(), String> {
    let bytes = wat::parse_file(source).map_err(|e| format!("{e}"))?;
    if let Some(parent) = out.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    fs::write(out, bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))
}
