//! Errors of the runtime.
//!
//! - [`LoadError`]: a package cannot become a runnable app (bad component, an
//!   ungranted import, a compile failure). Loading never half-succeeds.
//! - [`CallError`]: one hook call failed. [`CallError::Limit`] names the limit an
//!   untrusted component hit; [`CallError::Trap`] is a bug in the app (a panic);
//!   [`CallError::Host`] is the host's own failure and is logged, not blamed on
//!   the app. [`CallError::Busy`] means the call never started (the app is at
//!   its share of the instance slots). A denial by a capability is never a
//!   `CallError`: it reaches the app as a WIT `error` value.

use std::fmt;

use thiserror::Error;

/// A package could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("the package's manifest is invalid: {0}")]
    Manifest(String),
    #[error("the component cannot be loaded: {0}")]
    Component(String),
    /// The component imports interfaces the manifest does not grant. Each entry
    /// names one import.
    #[error("the component is refused: {}", .0.join("; "))]
    NotGranted(Vec<String>),
    #[error("the component failed to compile: {0}")]
    Compile(String),
    #[error("the component cannot be linked: {0}")]
    Link(String),
}

/// A resource bound of the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// The memory cap from the manifest (bounded by the platform maximum).
    Memory,
    /// The wall-clock deadline (`timeout-ms`).
    Time,
    /// The fuel budget, when fuel is metered.
    Fuel,
    /// The wasm call stack.
    Stack,
    /// The stdout/stderr capture cap.
    Output,
    /// The size of the value a hook returns.
    Result,
    /// The number of host capability calls per hook call.
    HostCalls,
    /// The bytes the host copies out of the guest per hook call.
    Copy,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Memory => "memory limit",
            LimitKind::Time => "time limit",
            LimitKind::Fuel => "fuel limit",
            LimitKind::Stack => "stack limit",
            LimitKind::Output => "output limit",
            LimitKind::Result => "result size limit",
            LimitKind::HostCalls => "host call limit",
            LimitKind::Copy => "copy limit",
        })
    }
}

/// One hook call failed.
#[derive(Debug, Error)]
pub enum CallError {
    /// The app hit a sandbox limit; the call was stopped.
    #[error("{kind} exceeded: {detail}")]
    Limit { kind: LimitKind, detail: String },
    /// The app trapped on its own (a panic, an unreachable instruction).
    #[error("the app trapped: {0}")]
    Trap(String),
    /// The host failed; details are in the host log.
    #[error("the host failed: {0}")]
    Host(String),
    /// The call did not start: the app is at its share of the instance
    /// slots, or the platform's slots are all in use. Nothing ran; the caller
    /// may retry after `retry_after_secs`.
    #[error("{detail}")]
    Busy { detail: String, retry_after_secs: u32 },
}

impl CallError {
    /// The limit that was hit, if this is a limit breach.
    pub fn limit(&self) -> Option<LimitKind> {
        match self {
            CallError::Limit { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// The error a resource limiter or host function raises to stop a call. It
/// travels through wasmtime as the trap's cause and is turned back into a
/// [`CallError::Limit`].
#[derive(Debug, Error)]
#[error("{kind} exceeded: {detail}")]
pub struct LimitBreach {
    pub kind: LimitKind,
    pub detail: String,
}
