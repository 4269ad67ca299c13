//! A package: one component plus its manifest and the files the manifest refers
//! to (forms and templates), as a gzip-compressed tar file (`.tbpkg`).
//!
//! Reading is bounded before anything is allocated: the package file's size,
//! the bytes it unpacks to, the number of archive members, every member's
//! declared size (long-name and PAX headers included, which the `tar` crate
//! would otherwise read whole into memory), paths must be relative and plain,
//! and an entry never appears twice. Reading is CPU work on untrusted bytes:
//! async callers run it on the blocking pool under a bound on concurrency
//! (`market::PackageWork`). Writing is deterministic (sorted entries, zero
//! timestamps), so the same inputs give the same bytes.

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
/// The largest package file (compressed), in bytes.
pub const MAX_PACKAGE_BYTES: u64 = MAX_COMPONENT_BYTES + 16 * 1024 * 1024;
/// The most bytes a package may unpack to (the tar stream with its headers),
/// however well it compresses.
pub const MAX_UNPACKED_BYTES: u64 = MAX_COMPONENT_BYTES + 32 * 1024 * 1024;
/// The largest GNU long-name or PAX extension header, in bytes.
pub const MAX_HEADER_DATA_BYTES: u64 = 4 * 1024;
/// The most archive members of any kind (files, directories, extension
/// headers) a package may hold.
pub const MAX_MEMBERS: usize = 4 * MAX_ENTRIES;

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

    /// Read a package from `.tbpkg` bytes, enforcing every bound before the
    /// bytes it bounds are read.
    pub fn from_bytes(bytes: &[u8]) -> Result<Package, PackageError> {
        if bytes.len() as u64 > MAX_PACKAGE_BYTES {
            return Err(PackageError::TooLarge {
                size: bytes.len() as u64,
                limit: MAX_PACKAGE_BYTES,
            });
        }
        let unpacked = BoundedReader {
            inner: GzDecoder::new(bytes),
            left: MAX_UNPACKED_BYTES,
        };
        let mut archive = tar::Archive::new(unpacked);
        let mut manifest_text = None;
        let mut component = None;
        let mut signature = None;
        let mut files = BTreeMap::new();
        let mut count = 0usize;
        let mut members = 0usize;
        // A long name or PAX path waiting for the member it describes.
        let mut pending_name: Option<String> = None;
        // Raw members: the `tar` crate's own handling of long names and PAX
        // headers reads them whole, however large they claim to be.
        let entries = archive
            .entries()
            .map_err(|e| PackageError::Archive(e.to_string()))?
            .raw(true);
        for entry in entries {
            let mut entry = entry.map_err(archive_error)?;
            members += 1;
            if members > MAX_MEMBERS {
                return Err(PackageError::TooManyEntries(MAX_MEMBERS));
            }
            let size = entry.header().size().map_err(archive_error)?;
            let kind = entry.header().entry_type();
            if kind.is_gnu_longname() || kind.is_pax_local_extensions() {
                if size > MAX_HEADER_DATA_BYTES {
                    return Err(PackageError::HeaderTooLarge {
                        size,
                        limit: MAX_HEADER_DATA_BYTES,
                    });
                }
                if pending_name.is_some() {
                    return Err(PackageError::Archive(
                        "two extension headers describe the same member".into(),
                    ));
                }
                let mut data = Vec::with_capacity(size as usize);
                entry
                    .by_ref()
                    .take(MAX_HEADER_DATA_BYTES)
                    .read_to_end(&mut data)
                    .map_err(archive_error)?;
                pending_name = if kind.is_gnu_longname() {
                    Some(long_name(&data)?)
                } else {
                    pax_path(&data)?
                };
                continue;
            }
            if kind.is_gnu_longlink() || kind.is_pax_global_extensions() {
                // Link targets and archive-wide settings mean nothing in a
                // package; they are skipped, but never large.
                if size > MAX_HEADER_DATA_BYTES {
                    return Err(PackageError::HeaderTooLarge {
                        size,
                        limit: MAX_HEADER_DATA_BYTES,
                    });
                }
                continue;
            }
            let name_override = pending_name.take();
            if !kind.is_file() {
                // Directories and the like carry no data; one that claims
                // some would make the reader skip through it.
                if size > 0 {
                    return Err(PackageError::Archive(format!(
                        "a member of type {:?} declares {size} bytes of data",
                        kind.as_byte() as char
                    )));
                }
                continue;
            }
            count += 1;
            if count > MAX_ENTRIES {
                return Err(PackageError::TooManyEntries(MAX_ENTRIES));
            }
            let name = match name_override {
                Some(name) => safe_name(Path::new(&name))?,
                None => safe_name(&entry.path().map_err(archive_error)?)?,
            };
            let limit = if name == COMPONENT_FILE {
                MAX_COMPONENT_BYTES
            } else {
                MAX_FILE_BYTES
            };
            if size > limit {
                return Err(PackageError::EntryTooLarge { name, size, limit });
            }
            let mut data = Vec::with_capacity(size as usize);
            entry
                .by_ref()
                .take(limit + 1)
                .read_to_end(&mut data)
                .map_err(archive_error)?;
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

    /// Read a `.tbpkg` file, refusing one larger than [`MAX_PACKAGE_BYTES`]
    /// before reading it.
    pub fn read(path: &Path) -> Result<Package, PackageError> {
        let size = std::fs::metadata(path).map_err(|source| io(path, source))?.len();
        if size > MAX_PACKAGE_BYTES {
            return Err(PackageError::TooLarge {
                size,
                limit: MAX_PACKAGE_BYTES,
            });
        }
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

/// Reads at most `left` bytes from `inner`, then fails: what a package may
/// unpack to, however well it compresses.
struct BoundedReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for BoundedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a stream that ends exactly here from one
            // that goes on.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(UnpackedTooLarge)),
            };
        }
        let wanted = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let read = self.inner.read(&mut buf[..wanted])?;
        self.left -= read as u64;
        Ok(read)
    }
}

/// The error a [`BoundedReader`] raises past its bound.
#[derive(Debug)]
struct UnpackedTooLarge;

impl std::fmt::Display for UnpackedTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the package unpacks to more than {MAX_UNPACKED_BYTES} bytes")
    }
}

impl std::error::Error for UnpackedTooLarge {}

fn archive_error(e: std::io::Error) -> PackageError {
    if e.get_ref().is_some_and(|inner| inner.is::<UnpackedTooLarge>()) {
        return PackageError::UnpackedTooLarge(MAX_UNPACKED_BYTES);
    }
    PackageError::Archive(e.to_string())
}

/// A GNU long name's data: the path, NUL-terminated.
fn long_name(data: &[u8]) -> Result<String, PackageError> {
    let name = data.split(|b| *b == 0).next().unwrap_or_default();
    String::from_utf8(name.to_vec()).map_err(|_| PackageError::UnsafePath(String::from_utf8_lossy(name).into_owned()))
}

/// The `path` of a PAX extension header, if it sets one. A record that would
/// make other tar readers see a different archive than this one (a `size`, a
/// link, sparse files) is refused: the member boundaries here are the
/// headers' own.
fn pax_path(data: &[u8]) -> Result<Option<String>, PackageError> {
    let mut path = None;
    for extension in tar::PaxExtensions::new(data) {
        let extension = extension.map_err(archive_error)?;
        let key = extension.key().unwrap_or("");
        if key == "path" {
            let value = extension
                .value()
                .map_err(|_| PackageError::UnsafePath(String::from_utf8_lossy(extension.value_bytes()).into_owned()))?;
            path = Some(value.to_owned());
        } else if key == "size" || key == "linkpath" || key.starts_with("GNU.") || key.starts_with("SCHILY.") {
            return Err(PackageError::Archive(format!(
                "a PAX header sets `{key}`, which a package may not use"
            )));
        }
    }
    Ok(path)
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

/// A grant's checks read the package's files through this.
impl crate::capability::PackageFiles for Package {
    fn file(&self, path: &str) -> Option<&[u8]> {
        Package::file(self, path)
    }
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

    /// A gzip stream of one tar member: `header` followed by `data_len`
    /// zero bytes of data, written without holding them in memory.
    fn member_of_zeros(kind: tar::EntryType, name: &str, data_len: u64) -> Vec<u8> {
        use std::io::Write;
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(data_len);
        header.set_mode(0o644);
        header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        gz.write_all(header.as_bytes()).unwrap();
        let zeros = vec![0u8; 1024 * 1024];
        let mut left = data_len;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            gz.write_all(&zeros[..n]).unwrap();
            left -= n as u64;
        }
        gz.write_all(&[0u8; 1024]).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn a_long_name_header_of_a_gigabyte_is_refused_before_it_is_read() {
        // About a megabyte on the wire that unpacks to a 1 GiB long name,
        // which the tar crate's own reader would hold in memory whole.
        let bytes = member_of_zeros(tar::EntryType::GNULongName, "././@LongLink", 1024 * 1024 * 1024);
        assert!(bytes.len() < 2 * 1024 * 1024, "{} bytes", bytes.len());
        let err = Package::from_bytes(&bytes).unwrap_err();
        assert!(matches!(err, PackageError::HeaderTooLarge { .. }), "{err}");
        assert!(err.to_string().contains("4096"), "{err}");
    }

    #[test]
    fn a_pax_header_of_a_gigabyte_is_refused_before_it_is_read() {
        let bytes = member_of_zeros(tar::EntryType::XHeader, "PaxHeaders/x", 256 * 1024 * 1024);
        let err = Package::from_bytes(&bytes).unwrap_err();
        assert!(matches!(err, PackageError::HeaderTooLarge { .. }), "{err}");
    }

    #[test]
    fn a_directory_that_claims_data_is_refused_without_skipping_through_it() {
        let bytes = member_of_zeros(tar::EntryType::Directory, "forms", 256 * 1024 * 1024);
        let err = Package::from_bytes(&bytes).unwrap_err();
        assert!(err.to_string().contains("declares 268435456 bytes"), "{err}");
    }

    #[test]
    fn a_package_that_unpacks_past_the_bound_is_refused() {
        // Many files, each under the per-file limit, that add up past what a
        // package may unpack to.
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        let file = vec![0u8; MAX_FILE_BYTES as usize];
        for i in 0..(MAX_UNPACKED_BYTES / MAX_FILE_BYTES + 2) {
            let mut header = tar::Header::new_gnu();
            header.set_size(file.len() as u64);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, format!("templates/{i}.txt"), file.as_slice())
                .unwrap();
        }
        let bytes = builder.into_inner().unwrap().finish().unwrap();
        let err = Package::from_bytes(&bytes).unwrap_err();
        assert!(matches!(err, PackageError::UnpackedTooLarge(_)), "{err}");
    }

    #[test]
    fn a_long_path_written_by_the_builder_still_reads() {
        let mut package = sample();
        let long = format!("templates/{}.txt", "長".repeat(60));
        package.files.insert(long.clone(), b"x".to_vec());
        let back = Package::from_bytes(&package.to_bytes()).unwrap();
        assert_eq!(back.file(&long), Some(&b"x"[..]));
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
