//! The capabilities a manifest may grant, and which component imports each one
//! allows. This is the single table that links `[capabilities]` in `tongban.toml`
//! to the interfaces of `wit/platform.wit`.
//!
//! Each capability's registry half is one module here: its manifest section
//! (a type implementing [`Grant`]) with its checks at publish and what a
//! reviewer sees of it. `registered!` below registers each one in one line,
//! and generates from that list the [`Capability`] enum, the
//! `[capabilities]` section of the manifest ([`Capabilities`]) and the walks
//! over every section that the checks, the capability diff and the manifest
//! use. The runtime half of each capability (its `Host` impl) lives in
//! `tongban-runtime`, because this crate must not depend on wasmtime.

pub mod cases;
pub mod certificates;
pub mod exchange;
pub mod grant;
pub mod identity;
pub mod notify;
pub mod payments;
pub mod storage;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use grant::{Grant, PackageFiles};

use crate::platform::WIT_PACKAGE;

/// Generates, from one line per capability, the [`Capability`] enum and
/// the manifest's [`Capabilities`] section. A line under `sections` is
/// `field: Variant = "interface" => GrantType`: the manifest key and the WIT
/// interface are `interface`, and `GrantType` (a [`Grant`]) is its section.
/// A line under `implicit` is a capability every app has without a section.
macro_rules! registered {
    (
        sections { $($field:ident: $variant:ident = $interface:literal => $grant:ty,)* }
        implicit { $($implicit:ident = $implicit_interface:literal,)* }
    ) => {
        /// One host capability, named as its WIT interface.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Capability {
            $($variant,)*
            $($implicit,)*
        }

        impl Capability {
            /// Every capability, in the order of the WIT file.
            pub const ALL: [Capability; [$($interface,)* $($implicit_interface,)*].len()] =
                [$(Capability::$variant,)* $(Capability::$implicit,)*];

            /// The WIT interface name, which is also the manifest key.
            pub fn interface(self) -> &'static str {
                match self {
                    $(Capability::$variant => $interface,)*
                    $(Capability::$implicit => $implicit_interface,)*
                }
            }

            /// Capabilities every app has without declaring them.
            pub fn is_implicit(self) -> bool {
                match self {
                    $(Capability::$variant => false,)*
                    $(Capability::$implicit => true,)*
                }
            }
        }

        /// `[capabilities]`: what the app asks the host for. Absent means not
        /// granted.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Capabilities {
            $(
                #[serde(default, rename = $interface, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$grant>,
            )*
        }

        impl Capabilities {
            /// The capabilities whose section is present, implicit ones not
            /// included.
            pub fn declared(&self) -> Vec<Capability> {
                let mut declared = Vec::new();
                $(if self.$field.is_some() {
                    declared.push(Capability::$variant);
                })*
                declared
            }

            /// Every section's numbers outside the platform's bounds.
            pub fn limit_problems(&self) -> Vec<String> {
                let mut problems = Vec::new();
                $(problems.extend(self.$field.iter().flat_map(Grant::limit_problems));)*
                problems
            }

            /// Everything else wrong with the sections, against the
            /// package's files.
            pub fn problems(&self, files: &dyn PackageFiles) -> Vec<String> {
                let mut problems = Vec::new();
                $(problems.extend(self.$field.iter().flat_map(|g| g.problems(files)));)*
                problems
            }

            /// Every section's scopes, as the ids a reviewer acknowledges.
            pub fn scopes(&self) -> Vec<String> {
                let mut scopes = Vec::new();
                $(scopes.extend(self.$field.iter().flat_map(Grant::scopes));)*
                scopes
            }

            /// Every section's limits as `(id, value)`, absent sections
            /// included (as 0), always the same ids in the same order.
            pub fn limits(&self) -> Vec<(&'static str, u64)> {
                let mut limits = Vec::new();
                $(limits.extend(<$grant as Grant>::limits(self.$field.as_ref()));)*
                limits
            }

            /// Every package file a section refers to.
            pub fn files(&self) -> Vec<String> {
                let mut files = Vec::new();
                $(files.extend(self.$field.iter().flat_map(Grant::files));)*
                files
            }
        }
    };
}

registered! {
    sections {
        identity: Identity = "identity" => identity::IdentityGrant,
        certificates: Certificates = "certificates" => certificates::CertificatesGrant,
        payments: Payments = "payments" => payments::PaymentsGrant,
        notify: Notify = "notify" => notify::NotifyGrant,
        cases: Cases = "cases" => cases::CasesGrant,
        storage: Storage = "storage" => storage::StorageGrant,
        exchange: Exchange = "exchange" => exchange::ExchangeGrant,
    }
    // Logging touches no personal data and only writes to the app's own log.
    implicit {
        Log = "log",
    }
}

impl Capability {
    /// The capability behind an interface name, if there is one.
    pub fn from_interface(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.interface() == name)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.interface())
    }
}

/// What a component import is, as far as granting goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportKind {
    /// A `tongban:platform` interface that needs this capability.
    Platform(Capability),
    /// `tongban:platform/types`: type definitions only, always allowed.
    PlatformTypes,
    /// A WASI interface the sandbox provides to every app (clocks, random,
    /// stdio, and empty environment and filesystem views).
    SandboxWasi,
    /// A WASI interface the sandbox never provides (sockets, HTTP, ...).
    ForbiddenWasi,
    /// Anything else: an interface no host provides.
    Unknown,
}

/// The WASI interfaces every app may import. The environment is empty, there
/// are no preopened directories and stdin is empty, so these grant clocks,
/// randomness and captured stdout/stderr, and nothing else.
pub const SANDBOX_WASI_INTERFACES: &[&str] = &[
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

/// Classify an import name such as `tongban:platform/storage@0.1.0`.
pub fn classify_import(name: &str) -> ImportKind {
    let unversioned = name.split('@').next().unwrap_or(name);
    if let Some(interface) = unversioned
        .strip_prefix(WIT_PACKAGE)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        if interface == "types" {
            return ImportKind::PlatformTypes;
        }
        return match Capability::from_interface(interface) {
            Some(capability) => ImportKind::Platform(capability),
            None => ImportKind::Unknown,
        };
    }
    if SANDBOX_WASI_INTERFACES.contains(&unversioned) {
        return ImportKind::SandboxWasi;
    }
    if unversioned.starts_with("wasi:") {
        return ImportKind::ForbiddenWasi;
    }
    ImportKind::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_classified_by_package_and_interface() {
        assert_eq!(
            classify_import("tongban:platform/storage@0.1.0"),
            ImportKind::Platform(Capability::Storage)
        );
        assert_eq!(
            classify_import("tongban:platform/types@0.1.0"),
            ImportKind::PlatformTypes
        );
        assert_eq!(classify_import("wasi:cli/stdout@0.2.6"), ImportKind::SandboxWasi);
        assert_eq!(classify_import("wasi:sockets/tcp@0.2.6"), ImportKind::ForbiddenWasi);
        assert_eq!(classify_import("tongban:platform/teleport@0.1.0"), ImportKind::Unknown);
        assert_eq!(classify_import("acme:evil/x"), ImportKind::Unknown);
    }
}
