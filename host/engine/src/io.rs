//! The IO store: one blob per (asset, partition) — or per (asset, key range) for a run that
//! covered a range in one call — under the data directory. Writes go to a temporary file that
//! is renamed into place, so a reader (or a restart after a crash) never sees half a blob.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::EngineError;

#[derive(Debug, Clone)]
pub struct IoStore {
    root: PathBuf,
}

/// A partition key (or range) as one safe file name: letters, digits, `-` and `_` stay;
/// everything else, `.` included, becomes `%XX`, so no name is `.`, `..`, hidden, or holds a
/// separator, and distinct keys never collide.
pub fn escape_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 8);
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        // The empty key (an unpartitioned asset's single blob).
        out.push('%');
    }
    out
}

/// The longest name component stored as itself; file systems allow 255 bytes.
const MAX_NAME: usize = 200;

/// One component of a blob name as a file name: itself when short enough (every blob written
/// before keys could be long keeps its file), else `~` and the SHA-256 of the component. A
/// blob's full name, with the key, stays in the database; escaped names never hold `~`, so
/// the two forms never collide.
fn file_name(part: &str) -> std::borrow::Cow<'_, str> {
    if part.len() <= MAX_NAME {
        std::borrow::Cow::Borrowed(part)
    } else {
        std::borrow::Cow::Owned(format!("~{}", data_version(part.as_bytes())))
    }
}

/// The key an escaped name stands for (the inverse of [`escape_key`]).
pub fn unescape_key(name: &str) -> String {
    if name == "%" {
        return String::new();
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The content hash recorded as a materialization's data version.
pub fn data_version(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl IoStore {
    pub fn new(root: &Path) -> IoStore {
        IoStore {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The blob name (relative to the store) of one attempt's output for an asset and a key
    /// or range: `<asset>/<key>.<run>.<claim>`. Each claim of a run writes its own file, so
    /// a host that stalled past its lease (a zombie) and wakes mid-write cannot overwrite
    /// the bytes of the attempt that took the run over; the database, which records an
    /// outcome only for a run's latest claim, decides which file a partition points to.
    /// (Escaped keys hold no `.`, so the key is the name up to its first `.`.)
    pub fn blob_name(asset: &str, key: &str, run: &str, claim: i64) -> String {
        format!("{asset}/{}.{}.{claim}", escape_key(key), escape_key(run))
    }

    /// The key (or range) a blob name's last component stands for: a name from
    /// [`IoStore::blob_name`], from before attempts were named, or of a blob stored in the
    /// database.
    pub fn key_of(file: &str) -> String {
        unescape_key(file.split('.').next().unwrap_or(file))
    }

    fn path_of(&self, blob: &str) -> Result<PathBuf, EngineError> {
        // Blob names come from the database; refuse anything that could leave the store.
        let ok = blob.split('/').count() == 2
            && blob
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        let Some((dir, file)) = blob.split_once('/').filter(|_| ok) else {
            return Err(EngineError::Io {
                path: self.root.clone(),
                message: format!("refusing blob name {blob:?}"),
            });
        };
        Ok(self.root.join(&*file_name(dir)).join(&*file_name(file)))
    }

    /// Writes a blob atomically; returns its data version. Like the database's
    /// `synchronous = NORMAL`, this survives the process dying at any point (the rename is
    /// atomic) without an fsync per blob; a power cut may lose the newest blobs.
    pub fn write(&self, blob: &str, bytes: &[u8]) -> Result<String, EngineError> {
        let path = self.path_of(blob)?;
        let io_err = |e: std::io::Error| EngineError::Io {
            path: path.clone(),
            message: e.to_string(),
        };
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(io_err)?;
        let (tmp, mut file) = tempfile_in(dir).map_err(io_err)?;
        // The bytes reach the disk before the name does, and the name before the database
        // records it: after a power loss a recorded output is whole, never empty or torn.
        let written = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .and_then(|()| {
                drop(file);
                std::fs::rename(&tmp, &path)
            });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(e));
        }
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err)?;
        Ok(data_version(bytes))
    }

    /// The first `n` bytes of a blob, and its whole size.
    pub fn read_prefix(&self, blob: &str, n: usize) -> Result<(Vec<u8>, u64), EngineError> {
        use std::io::Read;
        let path = self.path_of(blob)?;
        let io = |e: std::io::Error| EngineError::Io {
            path: path.clone(),
            message: e.to_string(),
        };
        let file = std::fs::File::open(&path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut head = Vec::with_capacity(n.min(size as usize));
        file.take(n as u64).read_to_end(&mut head).map_err(io)?;
        Ok((head, size))
    }

    pub fn read(&self, blob: &str) -> Result<Vec<u8>, EngineError> {
        let path = self.path_of(blob)?;
        std::fs::read(&path).map_err(|e| EngineError::Io {
            path,
            message: e.to_string(),
        })
    }
}

/// A new, uniquely named temporary file in `dir` (hidden: `.tmp-…`).
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".tmp-{}-{n}", std::process::id()));
        match std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn escaped_keys_are_safe_and_distinct() {
        assert_eq!(escape_key("2024-01-01"), "2024-01-01");
        assert_eq!(escape_key(".."), "%2E%2E");
        assert_eq!(escape_key("a/b"), "a%2Fb");
        assert_eq!(escape_key("a%2Fb"), "a%252Fb");
        assert_eq!(escape_key("2024-01-01|us"), "2024-01-01%7Cus");
        assert_eq!(escape_key(""), "%");
        assert_ne!(escape_key("é"), escape_key("e"));
        for k in ["", "..", "a/b", "2024-01-01|us", "é%41", "x y"] {
            assert_eq!(unescape_key(&escape_key(k)), k);
        }
    }

    #[test]
    fn writes_are_atomic_and_confined() {
        let dir = tempfile::tempdir().unwrap();
        let io = IoStore::new(dir.path());
        let blob = IoStore::blob_name("sales", "2024-01-01", "r1", 1);
        let v = io.write(&blob, b"hello").unwrap();
        assert_eq!(v, data_version(b"hello"));
        assert_eq!(io.read(&blob).unwrap(), b"hello");
        io.write(&blob, b"again").unwrap();
        assert_eq!(io.read(&blob).unwrap(), b"again");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("sales"))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        assert!(io.read("../etc").is_err());
        assert!(io.write("sales/..", b"x").is_err());
    }

    #[test]
    fn any_key_is_a_blob_name() {
        let dir = tempfile::tempdir().unwrap();
        let io = IoStore::new(dir.path());
        // 86 slashes escape to 258 bytes; a 100 KB key to 100 KB: both past a file name's 255.
        let keys = ["/".repeat(86), "k".repeat(100_000), "é".repeat(200)];
        for (i, k) in keys.iter().enumerate() {
            let blob = IoStore::blob_name("sales", k, "r1", 1);
            io.write(&blob, format!("v{i}").as_bytes()).unwrap();
            assert_eq!(io.read(&blob).unwrap(), format!("v{i}").as_bytes());
            // The key is still in the name the database keeps.
            let (_, file) = blob.split_once('/').unwrap();
            assert_eq!(&IoStore::key_of(file), k);
        }
        // Short names are stored as themselves, as before.
        io.write(&IoStore::blob_name("sales", "2024-01-01", "r1", 1), b"x")
            .unwrap();
        assert!(dir.path().join("sales").join("2024-01-01.r1.1").is_file());
        // Each claim of a run writes its own file: one cannot overwrite another's.
        assert_ne!(
            IoStore::blob_name("sales", "2024-01-01", "r1", 1),
            IoStore::blob_name("sales", "2024-01-01", "r1", 2)
        );
    }
}
