//! The compiled-artifact cache: a component is compiled once per (digest,
//! engine compatibility hash); later loads deserialize the artifact instead of
//! compiling, which is what makes a restart or a second node cheap.
//!
//! Artifacts are written atomically (temporary file, then rename), so a crash
//! mid-write never leaves a truncated artifact behind. Only this process, or
//! the compiler child it runs (`compile.rs`, the same binary), writes into the
//! cache directory; its contents are trusted as our own compiler output,
//! which is what makes [`wasmtime::component::Component::deserialize_file`]
//! sound here.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::compile::{Compiler, compile_in_child};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where the artifacts live.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    engine_hash: String,
    /// One lock per digest: a second load of a component waits for the
    /// first to finish compiling, then finds its artifact, so two compiles of
    /// one component never run at once or write the same file.
    compiling: Arc<Mutex<HashMap<String, Arc<Mutex<()>>>>>,
}

/// A file name beside the artifacts no other load uses.
fn unique_beside(path: &Path, what: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    path.with_extension(format!(
        "{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadPath {
    /// Compiled from the component bytes (and then cached).
    Compiled,
    /// Deserialized from the cache.
    Cached,
}

impl ArtifactCache {
    /// A cache in `dir`, created if missing.
    pub fn open(dir: &Path, engine: &Engine) -> std::io::Result<ArtifactCache> {
        std::fs::create_dir_all(dir)?;
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(ArtifactCache {
            dir: dir.to_owned(),
            engine_hash: hex::encode(&hasher.0.finalize()[..16]),
            compiling: Arc::default(),
        })
    }

    /// The artifact path of a component digest.
    pub fn path_of(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_hash))
    }

    /// The compiled component for these bytes, from the cache if present,
    /// else compiled by `compiler` and cached.
    pub fn load(
        &self,
        engine: &Engine,
        compiler: &Compiler,
        fuel: bool,
        digest: &str,
        bytes: &[u8],
    ) -> Result<(Component, LoadPath, Duration), String> {
        let started = Instant::now();
        let path = self.path_of(digest);
        let lock = self
            .compiling
            .lock()
            .expect("the compile locks are never poisoned")
            .entry(digest.to_owned())
            .or_default()
            .clone();
        let _only_load_of_this_digest = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if path.exists() {
            match deserialize(engine, &path) {
                Ok(component) => return Ok((component, LoadPath::Cached, started.elapsed())),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding an unloadable compiled artifact");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let tmp = unique_beside(&path, "tmp");
        match compiler {
            Compiler::InProcess => {
                let component = Component::new(engine, bytes).map_err(|e| format!("{e:#}"))?;
                let artifact = component.serialize().map_err(|e| format!("{e:#}"))?;
                if std::fs::write(&tmp, &artifact)
                    .and_then(|()| std::fs::rename(&tmp, &path))
                    .is_err()
                {
                    let _ = std::fs::remove_file(&tmp);
                    tracing::warn!(path = %path.display(), "could not write the compiled artifact; the next load compiles again");
                }
                Ok((component, LoadPath::Compiled, started.elapsed()))
            }
            Compiler::Isolated { program, limits } => {
                compile_in_child(program, limits, fuel, bytes, &tmp)?;
                std::fs::rename(&tmp, &path).map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    format!("cannot keep the compiled artifact: {e}")
                })?;
                // Deserializing also checks the component against the pooling
                // allocator's bounds.
                let component = deserialize(engine, &path).inspect_err(|_| {
                    let _ = std::fs::remove_file(&path);
                })?;
                Ok((component, LoadPath::Compiled, started.elapsed()))
            }
        }
    }
}

/// Load an artifact this node's compiler wrote.
fn deserialize(engine: &Engine, path: &Path) -> Result<Component, String> {
    // SAFETY: the cache directory only holds artifacts this process or its
    // compiler child (the same binary) wrote for the same engine
    // configuration; the file name carries the engine's compatibility hash.
    unsafe { Component::deserialize_file(engine, path) }.map_err(|e| format!("{e:#}"))
}

/// Feeds `Hash` output into SHA-256, so the engine hash is stable across
/// processes (unlike `DefaultHasher`, whose algorithm is unspecified).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        unreachable!("only the digest is used")
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
