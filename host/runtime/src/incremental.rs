//! Cranelift's incremental compilation cache, kept on disk beside the artifact cache, so that
//! an edited plugin compiles only the functions that changed.
//!
//! Cranelift asks the store for each function by a hash of its code and of the compiler's
//! settings, and hands it the machine code of every function it had to compile. An edit
//! changes a few functions of a component; the others hash as before and come back from here.
//!
//! On disk the store is a directory of *packs*: one file per compilation that compiled
//! anything, holding that compilation's new entries. A pack is written under a temporary name
//! and renamed into place, and never modified afterwards, so a reader sees a whole pack or
//! none; several processes may share the directory, each reading the packs the others wrote
//! when it next compiles. In memory the store keeps only an index (key → pack, offset,
//! length); values are read when asked for. When the packs grow past a budget the oldest are
//! deleted: a deleted entry costs one function's compilation later, nothing else.
//!
//! Like the artifact cache, the directory is trusted: what it holds is machine code.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use wasmtime::CacheStore;

use crate::plugin::FunctionCounts;

/// The first bytes of every pack: a format change makes old packs unreadable, not wrong.
const MAGIC: &[u8] = b"tessera-incremental-1\n";

/// Packs beyond this many bytes in total are deleted, oldest first, down to half of it.
const BUDGET_BYTES: u64 = 256 << 20;

/// Where one value lives.
#[derive(Debug, Clone, Copy)]
struct Location {
    pack: usize,
    offset: u64,
    len: usize,
}

#[derive(Debug)]
struct Pack {
    name: String,
    file: Arc<File>,
    bytes: u64,
}

#[derive(Debug, Default)]
struct State {
    /// Packs indexed so far, in the order they were read; `None` once deleted.
    packs: Vec<Option<Pack>>,
    index: HashMap<Vec<u8>, Location>,
    /// Entries compiled since the last flush: visible to `get`, written by `flush`.
    pending: HashMap<Vec<u8>, Vec<u8>>,
    /// Packs written by this process, so that `refresh` does not read them again.
    written: u64,
}

impl State {
    /// Indexes a pack's entries (a key already indexed moves to this pack) and adds the pack.
    fn add_pack(&mut self, name: String, file: Arc<File>, bytes: u64, entries: Vec<Entry>) {
        let pack = self.packs.len();
        for (key, offset, len) in entries {
            self.index.insert(key, Location { pack, offset, len });
        }
        self.packs.push(Some(Pack { name, file, bytes }));
    }
}

/// The incremental compilation cache of one engine.
#[derive(Debug)]
pub(crate) struct IncrementalStore {
    dir: PathBuf,
    /// [`BUDGET_BYTES`], but for tests.
    budget: u64,
    state: Mutex<State>,
    reused: AtomicU64,
    compiled: AtomicU64,
}

impl IncrementalStore {
    /// Opens (creating) the directory. Its packs are read at the first compilation
    /// ([`IncrementalStore::refresh`]): a process that only loads cached artifacts never reads
    /// them.
    pub(crate) fn open(dir: &Path) -> std::io::Result<IncrementalStore> {
        std::fs::create_dir_all(dir)?;
        Ok(IncrementalStore {
            dir: dir.to_path_buf(),
            budget: BUDGET_BYTES,
            state: Mutex::new(State::default()),
            reused: AtomicU64::new(0),
            compiled: AtomicU64::new(0),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the index consistent (every update is a single
        // insert or push), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Functions served and compiled since the store was opened.
    pub(crate) fn counts(&self) -> FunctionCounts {
        FunctionCounts {
            reused: self.reused.load(Ordering::Relaxed),
            compiled: self.compiled.load(Ordering::Relaxed),
        }
    }

    /// Indexes the packs not indexed yet (all of them the first time; later, those other
    /// processes wrote since). Reads headers and keys, not values. Unreadable packs are
    /// skipped with a warning: they only cost compilations.
    pub(crate) fn refresh(&self) {
        let mut names: Vec<String> = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".pack"))
                .collect(),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot list the incremental compilation cache");
                return;
            }
        };
        // Names start with the time they were written: older entries are indexed first, and
        // a key in two packs keeps its newer location.
        names.sort();
        let mut state = self.state();
        for name in names {
            if state.packs.iter().flatten().any(|p| p.name == name) {
                continue;
            }
            let path = self.dir.join(&name);
            match read_pack(&path) {
                Ok((size, entries)) => {
                    let file = match File::open(&path) {
                        Ok(f) => Arc::new(f),
                        Err(_) => continue,
                    };
                    state.add_pack(name, file, size, entries);
                }
                // Deleted by another process between the listing and the read.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable incremental compilation pack");
                }
            }
        }
    }

    /// Writes the entries compiled since the last flush as one pack, then keeps the packs
    /// within their budget. Failures are logged: they only cost compilations later.
    pub(crate) fn flush(&self) {
        let mut state = self.state();
        if state.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut state.pending);
        state.written += 1;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = format!("{stamp:024}-{}-{}.pack", std::process::id(), state.written);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut out = Vec::with_capacity(
            MAGIC.len()
                + pending
                    .iter()
                    .map(|(k, v)| 8 + k.len() + v.len())
                    .sum::<usize>(),
        );
        out.extend_from_slice(MAGIC);
        let mut entries = Vec::with_capacity(pending.len());
        for (key, value) in pending {
            let (Ok(klen), Ok(vlen)) = (u32::try_from(key.len()), u32::try_from(value.len()))
            else {
                continue;
            };
            out.extend_from_slice(&klen.to_le_bytes());
            out.extend_from_slice(&vlen.to_le_bytes());
            out.extend_from_slice(&key);
            // The value starts where the key ends.
            entries.push((key, out.len() as u64, value.len()));
            out.extend_from_slice(&value);
        }
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(&out))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .and_then(|()| File::open(&path));
        let file = match written {
            Ok(f) => Arc::new(f),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                tracing::warn!(path = %path.display(), error = %e, "could not write the incremental compilation cache");
                return;
            }
        };
        state.add_pack(name, file, out.len() as u64, entries);
        self.trim(&mut state);
    }

    /// Deletes the oldest packs while all of them exceed the budget.
    fn trim(&self, state: &mut State) {
        let total: u64 = state.packs.iter().flatten().map(|p| p.bytes).sum();
        if total <= self.budget {
            return;
        }
        let mut order: Vec<usize> = (0..state.packs.len())
            .filter(|&i| state.packs[i].is_some())
            .collect();
        let name = |i: usize| state.packs[i].as_ref().map(|p| p.name.as_str());
        order.sort_by(|&a, &b| name(a).cmp(&name(b)));
        let mut left = total;
        let mut dropped = Vec::new();
        for i in order {
            if left <= self.budget / 2 {
                break;
            }
            if let Some(pack) = state.packs[i].take() {
                left -= pack.bytes;
                let _ = std::fs::remove_file(self.dir.join(&pack.name));
                dropped.push(i);
            }
        }
        state.index.retain(|_, loc| !dropped.contains(&loc.pack));
        tracing::info!(
            dir = %self.dir.display(),
            packs = dropped.len(),
            "trimmed the incremental compilation cache"
        );
    }

    fn read_value(file: &File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let mut value = vec![0; len];
        read_exact_at(file, &mut value, offset)?;
        Ok(value)
    }
}

impl CacheStore for IncrementalStore {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let (file, location) = {
            let state = self.state();
            if let Some(value) = state.pending.get(key) {
                self.reused.fetch_add(1, Ordering::Relaxed);
                return Some(Cow::Owned(value.clone()));
            }
            let location = *state.index.get(key)?;
            let file = Arc::clone(&state.packs.get(location.pack)?.as_ref()?.file);
            (file, location)
        };
        // Read outside the lock: Cranelift asks from every compiling thread at once.
        match Self::read_value(&file, location.offset, location.len) {
            Ok(value) => {
                self.reused.fetch_add(1, Ordering::Relaxed);
                Some(Cow::Owned(value))
            }
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot read the incremental compilation cache");
                None
            }
        }
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        self.compiled.fetch_add(1, Ordering::Relaxed);
        self.state().pending.insert(key.to_vec(), value);
        true
    }
}

/// A key, where its value starts in the pack, and the value's length.
type Entry = (Vec<u8>, u64, usize);

/// Lists a pack's entries (key, value offset, value length), reading the headers and keys
/// only, and its size. A truncated or foreign file is an error; a pack is only ever complete,
/// being renamed into place.
fn read_pack(path: &Path) -> std::io::Result<(u64, Vec<Entry>)> {
    use std::io::{BufReader, Read};
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut reader = BufReader::new(file);
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut magic = vec![0; MAGIC.len()];
    reader
        .read_exact(&mut magic)
        .map_err(|_| bad("not an incremental compilation pack"))?;
    if magic != MAGIC {
        return Err(bad("not an incremental compilation pack of this version"));
    }
    let mut at = MAGIC.len() as u64;
    let mut entries = Vec::new();
    while at < size {
        let mut header = [0; 8];
        reader
            .read_exact(&mut header)
            .map_err(|_| bad("truncated entry header"))?;
        let klen = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let vlen = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let value_at = at + 8 + u64::from(klen);
        if value_at + u64::from(vlen) > size {
            return Err(bad("truncated entry"));
        }
        let mut key = vec![0; klen as usize];
        reader.read_exact(&mut key)?;
        reader.seek_relative(i64::from(vlen))?;
        entries.push((key, value_at, vlen as usize));
        at = value_at + u64::from(vlen);
    }
    Ok((size, entries))
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_flush_and_a_new_process() {
        let dir = tempfile::tempdir().unwrap();
        let store = IncrementalStore::open(dir.path()).unwrap();
        assert!(store.get(b"a").is_none());
        store.insert(b"a", b"alpha".to_vec());
        store.insert(b"bb", vec![7; 1000]);
        // Pending entries are served before they are written.
        assert_eq!(store.get(b"a").as_deref(), Some(&b"alpha"[..]));
        store.flush();
        assert_eq!(store.get(b"bb").as_deref(), Some(&[7; 1000][..]));
        assert_eq!(
            store.counts(),
            FunctionCounts {
                reused: 2,
                compiled: 2
            }
        );

        // Another store on the same directory (another process, or the next start), which
        // reads the packs before it compiles.
        let other = IncrementalStore::open(dir.path()).unwrap();
        assert!(other.get(b"a").is_none());
        other.refresh();
        assert_eq!(other.get(b"a").as_deref(), Some(&b"alpha"[..]));
        assert_eq!(other.get(b"bb").as_deref(), Some(&[7; 1000][..]));
        assert!(other.get(b"c").is_none());
        // What the first writes later, the second finds on its next refresh.
        store.insert(b"c", b"gamma".to_vec());
        store.flush();
        assert!(other.get(b"c").is_none());
        other.refresh();
        assert_eq!(other.get(b"c").as_deref(), Some(&b"gamma"[..]));
    }

    #[test]
    fn damaged_packs_are_skipped_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        let store = IncrementalStore::open(dir.path()).unwrap();
        store.insert(b"key", b"value".to_vec());
        store.flush();
        let pack = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "pack"))
            .unwrap();
        let bytes = std::fs::read(&pack).unwrap();
        // Cut in the value, and a file of another format.
        std::fs::write(&pack, &bytes[..bytes.len() - 2]).unwrap();
        std::fs::write(dir.path().join("0-foreign.pack"), b"something else").unwrap();
        let other = IncrementalStore::open(dir.path()).unwrap();
        other.refresh();
        assert!(other.get(b"key").is_none());
        // And it still works.
        other.insert(b"key", b"again".to_vec());
        other.flush();
        let third = IncrementalStore::open(dir.path()).unwrap();
        third.refresh();
        assert_eq!(third.get(b"key").as_deref(), Some(&b"again"[..]));
    }

    #[test]
    fn the_oldest_packs_go_when_the_budget_is_spent() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = IncrementalStore::open(dir.path()).unwrap();
        store.budget = 3_500;
        for key in [b"1", b"2", b"3", b"4"] {
            store.insert(key, vec![0; 1000]);
            store.flush();
        }
        // Four packs of about 1,030 bytes exceed 3,500: the oldest are deleted until what is
        // left fits in half of it.
        let packs = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(packs, 1);
        assert!(store.get(b"1").is_none() && store.get(b"3").is_none());
        assert!(store.get(b"4").is_some());
    }

    #[test]
    fn empty_flushes_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = IncrementalStore::open(dir.path()).unwrap();
        store.flush();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
