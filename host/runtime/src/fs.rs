//! Reading a file a user (or a directory watcher) names, without trusting it to be a file.
//!
//! A path may name a device (`/dev/zero` never ends), a FIFO (opening one blocks until a
//! writer comes), a directory, or a symlink to any of these. Everything the host reads on a
//! user's say-so — plugin files, `--input` files, the config, key lists — goes through
//! [`read_regular_file`]: it opens without blocking, checks what it opened (not what the path
//! named a moment earlier), and reads at most a limit, checked before and while reading.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a file could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    #[error("cannot read {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path} is not a regular file ({kind})")]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("{path} is larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
}

/// What a non-regular file is, for messages.
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_file() {
        return "a regular file";
    }
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// Reads a regular file (following symlinks) of at most `limit` bytes.
pub fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let io = |e: std::io::Error| FileError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO opens at once instead of waiting for a writer; regular files ignore the flag.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io)?;
    // What was opened, not what the path named before: no race with a swap in between.
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(FileError::NotAFile {
            path: path.to_path_buf(),
            kind: file_kind(&meta),
        });
    }
    let too_large = || FileError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    // The file may grow while it is read: read one byte past the limit to notice.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_only_regular_files_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.wasm");
        std::fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_regular_file(&file, 10).unwrap(), b"0123456789");
        assert!(matches!(
            read_regular_file(&file, 9),
            Err(FileError::TooLarge { limit: 9, .. })
        ));
        assert!(matches!(
            read_regular_file(dir.path(), 10),
            Err(FileError::NotAFile {
                kind: "a directory",
                ..
            })
        ));
        #[cfg(unix)]
        {
            let zero = dir.path().join("zero.wasm");
            std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
            assert!(matches!(
                read_regular_file(&zero, 1 << 30),
                Err(FileError::NotAFile {
                    kind: "a character device",
                    ..
                })
            ));
            let fifo = dir.path().join("fifo.wasm");
            let made = std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap();
            assert!(made.success());
            // Returns at once: the open does not wait for a writer.
            assert!(matches!(
                read_regular_file(&fifo, 10),
                Err(FileError::NotAFile { kind: "a FIFO", .. })
            ));
        }
        assert!(matches!(
            read_regular_file(&dir.path().join("missing"), 10),
            Err(FileError::Io { .. })
        ));
    }
}
