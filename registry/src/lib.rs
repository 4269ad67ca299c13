//! The marketplace core: what a package is, what its manifest may say, and the
//! checks every release passes before a reviewer sees it.
//!
//! Architecture invariant: this crate knows nothing about wasmtime. It inspects
//! components with `wasmparser` and `wit-component` only, so the registry can run
//! where no runtime does.
//!
//! Without its default `market` feature the crate is the manifest schema
//! alone (`manifest`, `capability`, `platform`, `error`), so the SDK's native
//! test kit reads an app's `tongban.toml` with the same parser as the
//! marketplace without building the rest.

pub mod capability;
pub mod error;
pub mod manifest;
pub mod platform;

#[cfg(feature = "market")]
pub mod audit;
#[cfg(feature = "market")]
pub mod check;
#[cfg(feature = "market")]
pub mod component;
#[cfg(feature = "market")]
pub mod cost;
#[cfg(feature = "market")]
pub mod diff;
#[cfg(feature = "market")]
pub mod form;
#[cfg(feature = "market")]
pub mod market;
#[cfg(feature = "market")]
pub mod org;
#[cfg(feature = "market")]
pub mod package;
#[cfg(feature = "market")]
pub mod release;
#[cfg(feature = "market")]
pub mod signing;

pub use capability::Capability;
#[cfg(feature = "market")]
pub use check::{CheckReport, Problem, check_package};
#[cfg(feature = "market")]
pub use component::ComponentInfo;
pub use error::{ManifestError, PackageError};
pub use manifest::{AppKind, Manifest};
#[cfg(feature = "market")]
pub use package::Package;
