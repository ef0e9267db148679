//! Skipping builds whose inputs have not changed. `componentize-js` and `componentize-py` take
//! seconds to tens of seconds per plugin, and the tests ask for the plugins in every run.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Directories of a plugin's own that are not its sources: build output and test fixtures
/// (`tessera plugin new` lays a plugin out with both).
const NOT_SOURCES: [&str; 2] = ["target", "tests"];

/// The files under `dir` (recursively, in path order), skipping directories named in `skip`
/// and [`NOT_SOURCES`].
pub(crate) fn files_under(dir: &Path, skip: &[&str]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = fs::read_dir(&d).map_err(|e| format!("cannot read {}: {e}", d.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot read {}: {e}", d.display()))?
                .path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_dir() {
                if !skip.contains(&name) && !NOT_SOURCES.contains(&name) {
                    pending.push(path);
                }
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// An empty directory `root/target/<tool_dir>/<name>-<hash of out>` to build `out` in: one per
/// output, because two builds of one plugin to two places may run at once.
pub(crate) fn stage(root: &Path, tool_dir: &str, out: &Path) -> Result<PathBuf, String> {
    let name = out.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin");
    let place = digest(&[], &out.display().to_string())?;
    let stage = root
        .join("target")
        .join(tool_dir)
        .join(format!("{name}-{}", &place[..12]));
    if stage.exists() {
        fs::remove_dir_all(&stage).map_err(|e| format!("cannot clear {}: {e}", stage.display()))?;
    }
    fs::create_dir_all(&stage).map_err(|e| format!("cannot create {}: {e}", stage.display()))?;
    Ok(stage)
}

/// Copies `files` (under `from`) to the same relative places under `to`.
pub(crate) fn copy_files(from: &Path, to: &Path, files: &[PathBuf]) -> Result<(), String> {
    for file in files {
        let relative = file.strip_prefix(from).unwrap_or(file);
        let target = to.join(relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        fs::copy(file, &target).map_err(|e| {
            format!(
                "cannot copy {} to {}: {e}",
                file.display(),
                target.display()
            )
        })?;
    }
    Ok(())
}

/// A digest of the files' paths and contents, and of `extra` (tool versions, flags).
pub(crate) fn digest(files: &[PathBuf], extra: &str) -> Result<String, String> {
    let mut hash = Sha256::new();
    hash.update(extra.as_bytes());
    for file in files {
        let bytes = fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        hash.update(file.to_string_lossy().as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn stamp_path(out: &Path) -> PathBuf {
    out.with_extension("wasm.inputs")
}

/// Whether `out` was built from inputs with this digest.
pub(crate) fn is_fresh(out: &Path, digest: &str) -> bool {
    out.is_file() && fs::read_to_string(stamp_path(out)).is_ok_and(|s| s == digest)
}

/// Records that `out` was built from inputs with this digest.
pub(crate) fn record(out: &Path, digest: &str) -> Result<(), String> {
    let path = stamp_path(out);
    fs::write(&path, digest).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn a_build_is_fresh_until_an_input_changes() {
        let dir = std::env::temp_dir().join(format!("tessera-stamp-{}", std::process::id()));
        let sources = dir.join("src");
        fs::create_dir_all(sources.join("__pycache__")).unwrap();
        fs::write(sources.join("app.py"), "x = 1\n").unwrap();
        fs::write(sources.join("__pycache__").join("app.pyc"), "junk").unwrap();
        let out = dir.join("app.wasm");
        let inputs = || files_under(&sources, &["__pycache__"]).unwrap();
        assert_eq!(inputs(), vec![sources.join("app.py")]);

        let first = digest(&inputs(), "tool 1").unwrap();
        assert!(!is_fresh(&out, &first), "nothing built yet");
        fs::write(&out, "component").unwrap();
        assert!(!is_fresh(&out, &first), "built, but not recorded");
        record(&out, &first).unwrap();
        assert!(is_fresh(&out, &first));

        assert_ne!(digest(&inputs(), "tool 2").unwrap(), first, "another tool");
        fs::write(sources.join("app.py"), "x = 2\n").unwrap();
        assert!(!is_fresh(&out, &digest(&inputs(), "tool 1").unwrap()));
        fs::write(sources.join("app.py"), "x = 1\n").unwrap();
        assert!(is_fresh(&out, &digest(&inputs(), "tool 1").unwrap()));
        fs::remove_file(&out).unwrap();
        assert!(!is_fresh(&out, &first), "the output is gone");
        fs::remove_dir_all(&dir).unwrap();
    }
}
