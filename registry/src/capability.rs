//! The capabilities a manifest may grant, and which component imports each one
//! allows. This is the single table that links `[capabilities]` in `tongban.toml`
//! to the interfaces of `wit/platform.wit`.

use std::fmt;

use crate::platform::WIT_PACKAGE;

/// One host capability, named as its WIT interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    Identity,
    Certificates,
    Payments,
    Notify,
    Cases,
    Storage,
    Exchange,
    Log,
}

impl Capability {
    /// Every capability, in the order of the WIT file.
    pub const ALL: [Capability; 8] = [
        Capability::Identity,
        Capability::Certificates,
        Capability::Payments,
        Capability::Notify,
        Capability::Cases,
        Capability::Storage,
        Capability::Exchange,
        Capability::Log,
    ];

    /// The WIT interface name, which is also the manifest key.
    pub fn interface(self) -> &'static str {
        match self {
            Capability::Identity => "identity",
            Capability::Certificates => "certificates",
            Capability::Payments => "payments",
            Capability::Notify => "notify",
            Capability::Cases => "cases",
            Capability::Storage => "storage",
            Capability::Exchange => "exchange",
            Capability::Log => "log",
        }
    }

    /// Capabilities every app has without declaring them. Logging touches no
    /// personal data and only writes to the app's own log.
    pub fn is_implicit(self) -> bool {
        matches!(self, Capability::Log)
    }

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
