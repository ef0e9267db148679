//! The kits embedded in the binary, written out once per version of them: a directory laid out
//! like this repository (`plugin-sdk/`, `host/partitions/`, a workspace manifest), so that the
//! same builds `cargo xtask plugins` runs here run anywhere, with their toolchains installed
//! under its `target/`.

use std::fs;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// Where kits are written out: `TESSERA_KITS_DIR`, else the user's cache directory
/// (`$XDG_CACHE_HOME/tessera/kits`, `~/.cache/tessera/kits`).
pub fn kits_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("TESSERA_KITS_DIR") {
        return Ok(PathBuf::from(dir));
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("tessera").join("kits"))
        .ok_or_else(|| {
            "cannot tell where to put the plugin kits: set TESSERA_KITS_DIR (or HOME)".to_string()
        })
}

/// A digest of the embedded files: a changed kit gets a directory of its own.
fn digest() -> String {
    let mut hash = Sha256::new();
    for (path, bytes) in FILES {
        hash.update(path.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    }
    hash.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The manifest of the kit's workspace: the repository's, with only the Rust SDK and the
/// partitions crate as members (the settings and dependency versions they inherit stay).
fn workspace_manifest(repository: &str) -> String {
    let mut out = String::new();
    for line in repository.lines() {
        if line.starts_with("members = ") {
            out.push_str("members = [\"plugin-sdk/rust\", \"host/partitions\"]\n");
        } else if !line.starts_with("exclude = ") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The embedded kits, written out under [`kits_dir`] unless they already are; returns the
/// directory (a repository root as far as the builds are concerned).
pub fn materialize() -> Result<PathBuf, String> {
    let root = kits_dir()?.join(format!("{}-{}", env!("CARGO_PKG_VERSION"), digest()));
    if root.join(".complete").is_file() {
        return Ok(root);
    }
    // Written beside, then renamed: a second process never sees half a kit.
    let partial = root.with_extension(format!("partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    for (path, bytes) in FILES {
        let to = partial.join(path);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let bytes: std::borrow::Cow<'_, [u8]> = if *path == "Cargo.toml" {
            workspace_manifest(&String::from_utf8_lossy(bytes))
                .into_bytes()
                .into()
        } else {
            (*bytes).into()
        };
        fs::write(&to, &bytes).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    }
    fs::write(partial.join(".complete"), "")
        .map_err(|e| format!("cannot write into {}: {e}", partial.display()))?;
    match fs::rename(&partial, &root) {
        Ok(()) => Ok(root),
        // Another process wrote it first: theirs is the same.
        Err(_) if root.join(".complete").is_file() => {
            let _ = fs::remove_dir_all(&partial);
            Ok(root)
        }
        Err(e) => Err(format!("cannot move the kits into {}: {e}", root.display())),
    }
}

/// Whether `path` is a kit file the binary carries (for tests).
pub fn embeds(path: &str) -> bool {
    FILES.iter().any(|(p, _)| *p == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kits_and_the_sdk_are_embedded() {
        for path in [
            "plugin-sdk/wit/plugin.wit",
            "plugin-sdk/zig/tessera.zig",
            "plugin-sdk/assemblyscript/tessera.ts",
            "plugin-sdk/c/tessera.h",
            "plugin-sdk/js/tessera.js",
            "plugin-sdk/python/tessera.py",
            "plugin-sdk/rust/src/lib.rs",
            "plugin-sdk/rust/template/src/lib.rs",
            "host/partitions/src/lib.rs",
            "Cargo.toml",
        ] {
            assert!(embeds(path), "{path}");
        }
        assert!(!FILES.iter().any(|(p, _)| p.contains("__pycache__")));
    }

    #[test]
    fn the_workspace_keeps_its_settings_but_not_its_members() {
        let m = workspace_manifest(
            "[workspace]\nmembers = [\"a\", \"b\"]\nexclude = [\"c\"]\n[workspace.package]\nedition = \"2024\"\n",
        );
        assert_eq!(
            m,
            "[workspace]\nmembers = [\"plugin-sdk/rust\", \"host/partitions\"]\n[workspace.package]\nedition = \"2024\"\n"
        );
    }
}
