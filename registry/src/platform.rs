//! What this platform serves, and the bounds every manifest must stay within.
//!
//! Each bound is a named constant so that the check, the runtime and the
//! documentation quote the same number.

use semver::Version;

/// The `tongban:platform` WIT package name.
pub const WIT_PACKAGE: &str = "tongban:platform";

/// Every `tongban:platform` contract version this host serves. A host upgrade
/// keeps every older `0.x` version listed here, so old apps keep running.
pub const SERVED_WIT_VERSIONS: &[Version] = &[Version::new(0, 1, 0)];

/// The largest linear memory an app may ask for, in MiB.
pub const MAX_MEMORY_MIB: u32 = 256;
/// The memory an app gets when its manifest does not say, in MiB.
pub const DEFAULT_MEMORY_MIB: u32 = 32;
/// The longest wall-clock deadline an app may ask for per hook call, in ms.
pub const MAX_TIMEOUT_MS: u32 = 10_000;
/// The deadline an app gets when its manifest does not say, in ms.
pub const DEFAULT_TIMEOUT_MS: u32 = 200;
/// The largest fuel budget an app may ask for per hook call.
pub const MAX_FUEL: u64 = 10_000_000_000;
/// The largest storage quota an app may ask for, in KiB (64 MiB).
pub const MAX_STORAGE_QUOTA_KIB: u32 = 64 * 1024;
/// The most stdout and stderr bytes kept per hook call; writing more traps.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// The largest value a hook may return (strings and lists included), in bytes.
pub const MAX_RESULT_BYTES: usize = 1024 * 1024;
/// The most host capability calls one hook call may make.
pub const MAX_HOST_CALLS: u32 = 10_000;
/// The largest component a package may carry, in bytes.
pub const MAX_COMPONENT_BYTES: u64 = 32 * 1024 * 1024;

/// The newest served contract version.
pub fn newest_wit_version() -> &'static Version {
    SERVED_WIT_VERSIONS
        .iter()
        .max()
        .expect("at least one WIT version is served")
}

/// Whether a contract version an app was built against is served. Within `0.x`
/// a minor version is a breaking line, so `0.1.3` is served by `0.1.0`.
pub fn serves_wit_version(version: &Version) -> bool {
    SERVED_WIT_VERSIONS
        .iter()
        .any(|served| served.major == version.major && served.minor == version.minor)
}
