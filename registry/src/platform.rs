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
/// How many times its memory cap the host copies out of an app's memory in
/// one hook call at most (capability arguments and the hook's result, however
/// often they alias one region).
pub const HOST_COPY_FACTOR: u64 = 2;
/// The most bytes one transfer out of an app (one capability call's
/// arguments, a hook's result) may carry, whatever its memory cap: many calls
/// at once can each hold one on the host.
pub const MAX_TRANSFER_BYTES: u64 = 16 * 1024 * 1024;
/// The largest component a package may carry, in bytes.
pub const MAX_COMPONENT_BYTES: u64 = 32 * 1024 * 1024;

/// Messages one hook call may send (attempts count, refused or not), when the
/// manifest does not say.
pub const DEFAULT_NOTIFY_PER_CALL: u32 = 3;
/// The most messages one hook call may send, whatever the manifest says.
pub const MAX_NOTIFY_PER_CALL: u32 = 20;
/// Messages an app may send one subject per civil day (UTC+8), when the
/// manifest does not say.
pub const DEFAULT_NOTIFY_PER_SUBJECT_PER_DAY: u32 = 20;
/// The most messages an app may send one subject per civil day.
pub const MAX_NOTIFY_PER_SUBJECT_PER_DAY: u32 = 100;
/// Messages an app may send in all per civil day, when the manifest does not
/// say.
pub const DEFAULT_NOTIFY_PER_APP_PER_DAY: u32 = 10_000;
/// The most messages an app may send in all per civil day.
pub const MAX_NOTIFY_PER_APP_PER_DAY: u32 = 1_000_000;

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

// What a component may cost to compile and to instantiate. `check` reads
// these with wasmparser before anything is compiled (`cost.rs`), and the
// runtime's pooling allocator is configured with the same numbers, so a
// component that passes the check also loads.

// A Rust app of this repository defines 300 to 800 functions in 80 to 350
// KB of code, its largest body about 10 KB; the bounds leave room for apps
// that bring a language runtime, and the compiler child's limits catch what
// is expensive within them.

/// Functions a component may define, over all its core modules.
pub const MAX_FUNCTIONS: u64 = 50_000;
/// The largest function body, in bytes.
pub const MAX_FUNCTION_BODY_BYTES: u64 = 512 * 1024;
/// Function body bytes in all, over all core modules.
pub const MAX_CODE_BYTES: u64 = 24 * 1024 * 1024;
/// Locals one function may declare.
pub const MAX_LOCALS_PER_FUNCTION: u64 = 10_000;
/// Globals one core module may define.
pub const MAX_GLOBALS_PER_MODULE: u64 = 1_000;
/// Imports one core module may have.
pub const MAX_IMPORTS_PER_MODULE: u64 = 1_000;
/// Canonical functions (lifts, lowers, resource functions) a component may
/// declare; a Rust app of this repository has a few dozen.
pub const MAX_CANONICAL_FUNCTIONS: u64 = 2_000;
/// Core module instances a component may create, counting nested components.
pub const MAX_CORE_INSTANCES: u32 = 8;
/// Linear memories one core module may define.
pub const MAX_MEMORIES_PER_MODULE: u32 = 1;
/// Linear memories a component may instantiate, over all its core instances.
pub const MAX_MEMORIES_PER_COMPONENT: u32 = 2;
/// Tables one core module may define.
pub const MAX_TABLES_PER_MODULE: u32 = 1;
/// Tables a component may instantiate, over all its core instances.
pub const MAX_TABLES_PER_COMPONENT: u32 = 4;
/// The most elements a table may start with or grow to.
pub const MAX_TABLE_ELEMENTS: u64 = 20_000;
/// The largest instance state of one core module instance (its `VMContext`)
/// and of one component instance (its own context plus its core instances'),
/// in bytes; the function, global, import and canonical-function bounds keep
/// a component well under it.
pub const MAX_CORE_INSTANCE_BYTES: usize = 4 * 1024 * 1024;
