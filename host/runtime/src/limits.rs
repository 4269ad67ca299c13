//! The per-call bounds that are enforced from inside the store: memory growth
//! (with peak tracking) and the host-call budget. Time is bounded by epochs and
//! output by the capture pipes; see `call.rs`.

use tongban_registry::platform;
use wasmtime::ResourceLimiter;

use crate::error::{LimitBreach, LimitKind};

/// The largest table a component may grow to, in elements.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

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

/// Counts host capability calls; past [`platform::MAX_HOST_CALLS`] the call is
/// stopped. Every capability function charges it first.
#[derive(Debug, Default)]
pub struct HostCallBudget {
    used: u32,
}

impl HostCallBudget {
    /// Charge one host call, or stop the hook.
    pub fn charge(&mut self) -> wasmtime::Result<()> {
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
        Ok(())
    }

    pub fn used(&self) -> u32 {
        self.used
    }
}
