//! The store data of one hook call: the sandbox's WASI state, the call's
//! limits as the store enforces them, and every capability's per-call state.
//! The WASI and capability modules are linked through the projections this
//! module implements ([`WasiView`], [`CapabilityData`]), so neither knows
//! this struct.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::capabilities::{CapabilityCtxs, CapabilityData};
use crate::limits::{HostCallBudget, MemoryLimiter};

/// The store data of one call.
pub struct CallState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) budget: HostCallBudget,
    pub(crate) caps: CapabilityCtxs,
    /// The call's guest time, which capability calls do not count in.
    pub(crate) clock: crate::guest_clock::GuestClock,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl CapabilityData for CallState {
    fn capabilities(&mut self) -> (&mut CapabilityCtxs, &mut HostCallBudget) {
        // Every capability call projects the store data through here first,
        // which marks the host call in progress as a capability's.
        self.clock.entered_capability();
        (&mut self.caps, &mut self.budget)
    }
}
