//! Embeds what `tessera plugin new/build/test` need outside this repository: the WIT, every
//! kit with its template and pinned toolchain versions (`plugin-sdk/`), the partitions crate
//! the Rust SDK's test harness uses (`host/partitions/`), and the root manifest whose
//! workspace settings those crates inherit. Listed here, included with `include_bytes!`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Directories never embedded: tool output and caches.
const SKIP: &[&str] = &[
    "__pycache__",
    "node_modules",
    "target",
    ".zig-cache",
    "zig-cache",
];

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if !SKIP.contains(&name) {
                walk(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

#[allow(clippy::panic, reason = "a build script reports failure by panicking")]
fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("..").join("..");
    let mut files = Vec::new();
    for dir in ["plugin-sdk", "host/partitions"] {
        println!("cargo::rerun-if-changed={}", root.join(dir).display());
        walk(&root.join(dir), &mut files);
    }
    files.push(root.join("Cargo.toml"));
    let mut code =
        String::from("/// The embedded files: path relative to the repository, bytes.\n");
    code.push_str("pub(crate) static FILES: &[(&str, &[u8])] = &[\n");
    for file in &files {
        println!("cargo::rerun-if-changed={}", file.display());
        let relative = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        let _ = writeln!(
            code,
            "    ({relative:?}, include_bytes!({:?})),",
            file.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("embedded.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
