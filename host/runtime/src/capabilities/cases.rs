//! `tongban:platform/cases`: the app's cases. The case state machine arrives
//! with the shared-capabilities release; until then granted calls answer
//! `unavailable`.

use std::collections::BTreeSet;

use tongban_registry::Manifest;
use wasmtime::component::{HasData, Linker};

use crate::bindings::tongban::platform::cases::{self as wit, CaseInfo};
use crate::bindings::types;
use crate::call::{CallEnv, CallState};
use crate::limits::HostCallBudget;

/// Per-call state.
#[derive(Debug, Clone)]
pub struct CasesCtx {
    follow_on: Option<BTreeSet<String>>,
}

impl CasesCtx {
    pub fn prepare(manifest: &Manifest, _env: &CallEnv) -> CasesCtx {
        CasesCtx {
            follow_on: manifest
                .capabilities
                .cases
                .as_ref()
                .map(|c| c.follow_on.iter().cloned().collect()),
        }
    }
}

/// What the `Host` impl sees.
pub struct CasesView<'a> {
    ctx: &'a mut CasesCtx,
    budget: &'a mut HostCallBudget,
}

/// Marker for linking.
pub struct CasesCapability;

impl HasData for CasesCapability {
    type Data<'a> = CasesView<'a>;
}

pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<CallState, CasesCapability>(linker, |s| CasesView {
        ctx: &mut s.caps.cases,
        budget: &mut s.budget,
    })
}

impl wit::Host for CasesView<'_> {
    async fn get(&mut self, _id: String) -> wasmtime::Result<Result<CaseInfo, types::Error>> {
        self.budget.charge()?;
        Ok(match &self.ctx.follow_on {
            None => Err(super::not_granted("cases")),
            Some(_) => Err(super::not_yet("cases")),
        })
    }

    async fn start_follow_on(
        &mut self,
        _from: String,
        item: String,
        _form: String,
    ) -> wasmtime::Result<Result<String, types::Error>> {
        self.budget.charge()?;
        Ok(match &self.ctx.follow_on {
            None => Err(super::not_granted("cases")),
            Some(items) if !items.contains(&item) => Err(super::not_granted(format!("follow-on item `{item}`"))),
            Some(_) => Err(super::not_yet("cases")),
        })
    }
}
