//! A package: one component plus its manifest and the files the manifest refers
//! to (forms and templates), as a gzip-compressed tar file (`.tbpkg`).
//!
//! Reading is bounded: entry count and sizes are capped, paths must be relative
//! and plain, and an entry never appears twice. Writing is deterministic (sorted
//! entries, zero timestamps), so the same inputs give the same bytes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::error::PackageError;
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::platform::MAX_COMPONENT_BYTES;

/// The signature's file name inside a package; not covered by the digest.
pub const SIGNATURE_FILE: &str = "signature.json";
/// The component's file name inside a package.
pub const COMPONENT_FILE: &str = "component.wasm";
/// The package file extension.
pub const PACKAGE_EXTENSION: &str = "tbpkg";
/// The directories of an app whose files travel in the package.
pub const PACKAGED_DIRS: &[&str] = &["forms", "templates"];
/// The most entries a package may hold.
pub const MAX_ENTRIES: usize = 256;
/// The largest form, template or manifest, in bytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A package in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The manifest as written by the publisher.
    pub manifest_text: String,
    /// The component bytes.
    pub component: Vec<u8>,
    /// Every other file, by package-relative path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The publisher's signature over [`Package::digest`], once signed.
    pub signature: Option<crate::signing::PackageSignature>,
}

impl Package {
    /// Assemble a package from an app directory and its built component.
    pub fn from_app_dir(dir: &Path, component: Vec<u8>) -> Result<Package, PackageError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest_text = std::fs::read_to_string(&manifest_path).map_err(|source| io(&manifest_path, source))?;
        let mut files = BTreeMap::new();
        for sub in PACKAGED_DIRS {
            collect_files(dir, &dir.join(sub), &mut files)?;
        }
        Ok(Package {
            manifest_text,
            component,
            files,
            signature: None,
        })
    }

    /// Sign the package with a publisher key.
    pub fn sign(&mut self, key: &crate::signing::SigningKey) {
        self.signature = Some(key.sign_package_digest(&self.digest()));
    }

    /// Parse the manifest.
    pub fn manifest(&self) -> Result<Manifest, crate::ManifestError> {
        Manifest::parse(&self.manifest_text)
    }

    /// The SHA-256 of the component bytes, hex-encoded. The runtime keys its
    /// compiled-artifact cache by this.
    pub fn component_digest(&self) -> String {
        hex::encode(Sha256::digest(&self.component))
    }

    /// The canonical digest of the whole package: SHA-256 over every entry's
    /// name, length and bytes, in path order. Signatures cover this digest.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for (name, bytes) in self.entries() {
            hasher.update((name.len() as u64).to_be_bytes());
            hasher.update(name.as_bytes());
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(bytes);
        }
        hex::encode(hasher.finalize())
    }

    /// A file of the package by package-relative path.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path.trim_start_matches("./")).map(Vec::as_slice)
    }

    fn entries(&self) -> Vec<(&str, &[u8])> {
        let mut entries: Vec<(&str, &[u8])> = vec![
            (MANIFEST_FILE, self.manifest_text.as_bytes()),
            (COMPONENT_FILE, &self.component),
        ];
        entries.extend(self.files.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        entries.sort_by(|a, b| a.0.cmp(b.0));
        entries
    }

    /// The package as `.tbpkg` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
        let signature = self
            .signature
            .as_ref()
            .map(|s| serde_json::to_vec_pretty(s).expect("signatures serialize"));
        let mut entries = self.entries();
        if let Some(signature) = &signature {
            entries.push((SIGNATURE_FILE, signature.as_slice()));
        }
        for (name, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, name, bytes)
                .expect("writing to memory cannot fail");
        }
        builder
            .into_inner()
            .and_then(|gz| gz.finish())
            .expect("writing to memory cannot fail")
    }

    /// Read a package from `.tbpkg` bytes, enforcing every bound.
    pub fn from_bytes(bytes: &[u8]) -> Result<Package, PackageError> {
        let mut archive = tar::Archive::new(GzDecoder::new(bytes));
        let mut manifest_text = None;
        let mut component = None;
        let mut signature = None;
        let mut files = BTreeMap::new();
        let mut count = 0usize;
        let entries = archive.entries().map_err(|e| PackageError::Archive(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| PackageError::Archive(e.to_string()))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            count += 1;
            if count > MAX_ENTRIES {
                return Err(PackageError::TooManyEntries(MAX_ENTRIES));
            }
            let raw_path = entry.path().map_err(|e| PackageError::Archive(e.to_string()))?;
            let name = safe_name(&raw_path)?;
            let limit = if name == COMPONENT_FILE {
                MAX_COMPONENT_BYTES
            } else {
                MAX_FILE_BYTES
            };
            let size = entry
                .header()
                .size()
                .map_err(|e| PackageError::Archive(e.to_string()))?;
            if size > limit {
                return Err(PackageError::EntryTooLarge { name, size, limit });
            }
            let mut data = Vec::with_capacity(size as usize);
            entry
                .by_ref()
                .take(limit + 1)
                .read_to_end(&mut data)
                .map_err(|e| PackageError::Archive(e.to_string()))?;
            match name.as_str() {
                MANIFEST_FILE => {
                    let text = String::from_utf8(data).map_err(|_| {
                        PackageError::Manifest(crate::ManifestError::Schema("tongban.toml is not UTF-8".into()))
                    })?;
                    if manifest_text.replace(text).is_some() {
                        return Err(PackageError::Duplicate(name));
                    }
                }
                COMPONENT_FILE => {
                    if component.replace(data).is_some() {
                        return Err(PackageError::Duplicate(name));
                    }
                }
                SIGNATURE_FILE => {
                    let parsed = serde_json::from_slice(&data)
                        .map_err(|e| PackageError::Archive(format!("signature.json is malformed: {e}")))?;
                    if signature.replace(parsed).is_some() {
                        return Err(PackageError::Duplicate(name));
                    }
                }
                _ => {
                    if files.insert(name.clone(), data).is_some() {
                        return Err(PackageError::Duplicate(name));
                    }
                }
            }
        }
        Ok(Package {
            manifest_text: manifest_text.ok_or(PackageError::Missing(MANIFEST_FILE))?,
            component: component.ok_or(PackageError::Missing(COMPONENT_FILE))?,
            files,
            signature,
        })
    }

    /// Read a `.tbpkg` file.
    pub fn read(path: &Path) -> Result<Package, PackageError> {
        let bytes = std::fs::read(path).map_err(|source| io(path, source))?;
        Package::from_bytes(&bytes)
    }

    /// Write a `.tbpkg` file.
    /// Write the package file atomically: to a temporary file beside it, then
    /// renamed over `path`, so a crash never leaves half a package behind.
    pub fn write(&self, path: &Path) -> Result<(), PackageError> {
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".partial");
        let temporary = std::path::PathBuf::from(temporary);
        std::fs::write(&temporary, self.to_bytes()).map_err(|source| io(&temporary, source))?;
        std::fs::rename(&temporary, path).map_err(|source| io(path, source))
    }
}

fn io(path: &Path, source: std::io::Error) -> PackageError {
    PackageError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn safe_name(path: &Path) -> Result<String, PackageError> {
    use std::path::Component;
    let display = path.to_string_lossy().into_owned();
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => {
                parts.push(part.to_str().ok_or_else(|| PackageError::UnsafePath(display.clone()))?)
            }
            Component::CurDir => {}
            _ => return Err(PackageError::UnsafePath(display)),
        }
    }
    if parts.is_empty() {
        return Err(PackageError::UnsafePath(display));
    }
    Ok(parts.join("/"))
}

fn collect_files(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) -> Result<(), PackageError> {
    let Ok(read_dir) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut entries: Vec<_> = read_dir.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, files)?;
        } else {
            let relative = path.strip_prefix(root).expect("walked from root");
            let name = safe_name(relative)?;
            let bytes = std::fs::read(&path).map_err(|source| io(&path, source))?;
            files.insert(name, bytes);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Package {
        Package {
            manifest_text: "[app]\n".into(),
            component: vec![0, 97, 115, 109],
            files: BTreeMap::from([("forms/apply.json".to_owned(), b"{}".to_vec())]),
            signature: None,
        }
    }

    #[test]
    fn a_signed_package_keeps_its_signature_and_its_digest() {
        let mut package = sample();
        let unsigned_digest = package.digest();
        package.sign(&crate::signing::SigningKey::generate());
        assert_eq!(
            package.digest(),
            unsigned_digest,
            "the signature is not part of the digest"
        );
        let back = Package::from_bytes(&package.to_bytes()).unwrap();
        assert_eq!(back.signature, package.signature);
    }

    #[test]
    fn a_package_round_trips_byte_for_byte() {
        let package = sample();
        let bytes = package.to_bytes();
        assert_eq!(bytes, package.to_bytes(), "writing is deterministic");
        let back = Package::from_bytes(&bytes).unwrap();
        assert_eq!(back, package);
        assert_eq!(back.digest(), package.digest());
    }

    #[test]
    fn the_digest_changes_with_any_byte() {
        let mut other = sample();
        other.files.insert("forms/apply.json".into(), b"{ }".to_vec());
        assert_ne!(sample().digest(), other.digest());
    }

    #[test]
    fn garbage_is_refused_with_a_clear_error() {
        let err = Package::from_bytes(b"not a package").unwrap_err();
        assert!(err.to_string().contains("not a gzip-compressed tar"), "{err}");
    }

    #[test]
    fn a_package_without_a_component_names_what_is_missing() {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        builder.append_data(&mut header, MANIFEST_FILE, &b"x"[..]).unwrap();
        let bytes = builder.into_inner().unwrap().finish().unwrap();
        let err = Package::from_bytes(&bytes).unwrap_err();
        assert_eq!(err.to_string(), "package has no `component.wasm`");
    }
}
