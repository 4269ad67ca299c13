//! The marketplace core: what a package is, what its manifest may say, and the
//! checks every release passes before a reviewer sees it.
//!
//! Architecture invariant: this crate knows nothing about wasmtime. It inspects
//! components with `wasmparser` and `wit-component` only, so the registry can run
//! where no runtime does.

pub mod audit;
pub mod capability;
pub mod check;
pub mod component;
pub mod cost;
pub mod diff;
pub mod error;
pub mod form;
pub mod manifest;
pub mod market;
pub mod org;
pub mod package;
pub mod platform;
pub mod release;
pub mod signing;

pub use capability::Capability;
pub use check::{CheckReport, Problem, check_package};
pub use component::ComponentInfo;
pub use error::{ManifestError, PackageError};
pub use manifest::{AppKind, Manifest};
pub use package::Package;
