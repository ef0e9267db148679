//! Compiled artifacts on disk, keyed by what makes them valid: the component's content hash
//! and the engine's compatibility hash (wasmtime version, target, settings that shape code).
//!
//! A cache file is written once, under a temporary name, and renamed into place; it is never
//! modified afterwards, which is what makes mapping it into memory sound. The watched plugin
//! file itself is never mapped.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::LoadError;

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    /// Engine fingerprint (wasmtime version, target, compiler flags, features), part of every
    /// file name.
    suffix: String,
}

impl ArtifactCache {
    pub(crate) fn new(dir: &Path, engine: &Engine) -> Result<Self, LoadError> {
        std::fs::create_dir_all(dir).map_err(|e| LoadError::Cache {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        // `DefaultHasher::new()` has fixed keys: the same engine settings give the same
        // fingerprint in every process built with this toolchain.
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(ArtifactCache {
            dir: dir.to_path_buf(),
            suffix: format!("{:016x}", hasher.finish()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.suffix))
    }

    /// The cached component for this content hash, if there is a usable one.
    pub(crate) fn load(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path_for(sha256);
        if !path.is_file() {
            return None;
        }
        #[allow(unsafe_code)]
        // SAFETY: `deserialize_file` requires a file produced by `Engine::precompile_*` (or
        // `serialize`) for a compatible engine, unchanged while mapped. Cache files are
        // written only by `store` below, from this engine's own serialization, under a
        // temporary name and renamed into place, and never rewritten: a name is derived
        // from the content hash and the engine's compatibility hash, so a file with this
        // name always holds the same bytes. Wasmtime also checks the header and version.
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        match loaded {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unusable cached artifact");
                None
            }
        }
    }

    /// Stores a compiled component; failures only cost a recompilation later.
    pub(crate) fn store(&self, sha256: &str, component: &Component) {
        let path = self.path_for(sha256);
        if path.is_file() {
            return;
        }
        let result = component
            .serialize()
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let tmp = self
                    .dir
                    .join(format!(".{sha256}.{}.tmp", std::process::id()));
                std::fs::write(&tmp, bytes)
                    .and_then(|()| std::fs::rename(&tmp, &path))
                    .map_err(|e| {
                        let _ = std::fs::remove_file(&tmp);
                        e.to_string()
                    })
            });
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "could not cache compiled plugin");
        }
    }
}
