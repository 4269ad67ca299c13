//! Errors of the registry crate.
//!
//! - [`ManifestError`]: `tongban.toml` cannot be read as a manifest at all. Once a
//!   manifest parses, its semantic problems are reported as [`crate::Problem`]s
//!   by the checks, all of them at once, not as errors.
//! - [`PackageError`]: a package file cannot be opened, is malformed, or breaks a
//!   size bound. Nothing is extracted from a package that fails.
//! - [`ComponentError`]: the bytes are not a WebAssembly component.

use thiserror::Error;

/// `tongban.toml` could not be parsed.
#[derive(Debug, Error)]
pub enum ManifestError {
    /// The file is not valid TOML, or does not match the manifest schema. The
    /// message carries the line and column.
    #[error("tongban.toml does not match the manifest schema: {0}")]
    Schema(String),
}

/// A package file is unusable.
#[derive(Debug, Error)]
pub enum PackageError {
    #[error("cannot read package {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("package is not a gzip-compressed tar archive: {0}")]
    Archive(String),
    #[error("package entry `{0}` has an unsafe path (absolute, `..` or not UTF-8)")]
    UnsafePath(String),
    #[error("package entry `{name}` is {size} bytes, over the limit of {limit} bytes")]
    EntryTooLarge { name: String, size: u64, limit: u64 },
    #[error("package holds more than {0} entries")]
    TooManyEntries(usize),
    #[error("package file is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("package unpacks to more than {0} bytes")]
    UnpackedTooLarge(u64),
    #[error("package has a long-name or PAX header of {size} bytes, over the limit of {limit} bytes")]
    HeaderTooLarge { size: u64, limit: u64 },
    #[error("package has no `{0}`")]
    Missing(&'static str),
    #[error("package entry `{0}` appears twice")]
    Duplicate(String),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// The component bytes could not be inspected.
#[derive(Debug, Error)]
pub enum ComponentError {
    #[error("not a WebAssembly component (a core module or other bytes were given)")]
    NotAComponent,
    #[error("the component does not validate: {0}")]
    Invalid(String),
    #[error("the component's WIT world cannot be decoded: {0}")]
    Undecodable(String),
}
