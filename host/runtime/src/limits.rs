//! The per-call bounds that are enforced from inside the store: memory growth
//! (with peak tracking) and the host-call budget. Time is bounded by epochs and
//! output by the capture pipes; see `call.rs`.

use tongban_registry::platform;
use wasmtime::ResourceLimiter;

use crate::error::{LimitBreach, LimitKind};

/// The largest table a component may grow to, in elements: the pooling
/// allocator's table slots hold no more.
pub const MAX_TABLE_ELEMENTS: usize = platform::MAX_TABLE_ELEMENTS as usize;

/// Caps the total linear memory of one call's instance and records its peak.
#[derive(Debug)]
pub struct MemoryLimiter {
    cap_bytes: usize,
    current_bytes: usize,
    peak_bytes: usize,
}

impl MemoryLimiter {
    pub fn new(cap_mib: u32) -> MemoryLimiter {
        MemoryLimiter {
            cap_bytes: cap_mib.min(platform::MAX_MEMORY_MIB) as usize * 1024 * 1024,
            current_bytes: 0,
            peak_bytes: 0,
        }
    }

    /// The most linear memory the call had at once, in bytes.
    pub fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.current_bytes - current.min(self.current_bytes) + desired;
        if total > self.cap_bytes {
            return Err(LimitBreach {
                kind: LimitKind::Memory,
                detail: format!(
                    "the app asked for {} MiB of linear memory; its cap is {} MiB",
                    total.div_ceil(1024 * 1024),
                    self.cap_bytes / (1024 * 1024)
                ),
            }
            .into());
        }
        self.current_bytes = total;
        self.peak_bytes = self.peak_bytes.max(total);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Err(LimitBreach {
                kind: LimitKind::Memory,
                detail: format!("the app asked for a table of {desired} elements; the cap is {MAX_TABLE_ELEMENTS}"),
            }
            .into());
        }
        Ok(true)
    }
}

/// Counts host capability calls and the bytes they copy out of the guest;
/// past [`platform::MAX_HOST_CALLS`] calls, or past the call's copy
/// allowance ([`copy_allowance`]: a multiple of the app's memory cap), the
/// call is stopped as the app's limit breach. Every capability function
/// charges it first, with the size of its lifted arguments.
#[derive(Debug)]
pub struct HostCallBudget {
    used: u32,
    copied: u64,
    copy_allowance: u64,
}

/// How many bytes the host may copy out of a guest in one hook call, for an
/// app whose memory cap is `memory_mib`: every string and list it hands the
/// host (capability arguments, the hook's result), however often they alias
/// the same guest memory. Also the bound on any single transfer (wasmtime's
/// hostcall fuel).
pub fn copy_allowance(memory_mib: u32) -> u64 {
    u64::from(memory_mib.min(platform::MAX_MEMORY_MIB)) * 1024 * 1024 * platform::HOST_COPY_FACTOR
}

impl HostCallBudget {
    pub fn new(copy_allowance: u64) -> HostCallBudget {
        HostCallBudget {
            used: 0,
            copied: 0,
            copy_allowance,
        }
    }

    /// Charge one host call that copied `lifted_bytes` out of the guest, or
    /// stop the hook.
    pub fn charge(&mut self, lifted_bytes: usize) -> wasmtime::Result<()> {
        self.used += 1;
        if self.used > platform::MAX_HOST_CALLS {
            return Err(LimitBreach {
                kind: LimitKind::HostCalls,
                detail: format!(
                    "the app made more than {} host calls in one hook call",
                    platform::MAX_HOST_CALLS
                ),
            }
            .into());
        }
        self.copied = self.copied.saturating_add(lifted_bytes as u64);
        if self.copied > self.copy_allowance {
            return Err(copy_breach(self.copy_allowance));
        }
        Ok(())
    }

    pub fn used(&self) -> u32 {
        self.used
    }

    /// Bytes the host copied out of the guest through capability calls.
    pub fn copied(&self) -> u64 {
        self.copied
    }
}

/// The breach of a call's copy allowance.
pub(crate) fn copy_breach(allowance: u64) -> wasmtime::Error {
    LimitBreach {
        kind: LimitKind::Copy,
        detail: format!(
            "the app made the host copy more than {} MiB out of its memory in one call ({}× its memory cap)",
            allowance / (1024 * 1024),
            platform::HOST_COPY_FACTOR
        ),
    }
    .into()
}

/// The bytes a value lifted out of the guest occupies on the host, for the
/// copy allowance.
pub trait Lifted {
    fn lifted_bytes(&self) -> usize;
}

impl Lifted for String {
    fn lifted_bytes(&self) -> usize {
        self.len()
    }
}

impl Lifted for Vec<u8> {
    fn lifted_bytes(&self) -> usize {
        self.len()
    }
}

impl Lifted for Vec<String> {
    fn lifted_bytes(&self) -> usize {
        self.iter().map(|s| s.len() + std::mem::size_of::<String>()).sum()
    }
}

impl Lifted for Vec<(String, String)> {
    fn lifted_bytes(&self) -> usize {
        self.iter()
            .map(|(a, b)| a.len() + b.len() + 2 * std::mem::size_of::<String>())
            .sum()
    }
}

impl<T: Lifted> Lifted for Option<T> {
    fn lifted_bytes(&self) -> usize {
        self.as_ref().map_or(0, Lifted::lifted_bytes)
    }
}
