//! `tongban:platform/exchange`: data services of other bureaus. Data providers
//! arrive in a later release; until then granted calls answer `unavailable`
//! and undeclared services `not-granted`.

use std::collections::BTreeSet;

use tongban_registry::Manifest;
use wasmtime::component::{HasData, Linker};

use crate::bindings::tongban::platform::exchange as wit;
use crate::bindings::types::{self, Purpose};
use crate::call::{CallEnv, CallState};
use crate::limits::{HostCallBudget, Lifted};

/// Per-call state.
#[derive(Debug, Clone)]
pub struct ExchangeCtx {
    services: Option<BTreeSet<String>>,
}

impl ExchangeCtx {
    pub fn prepare(manifest: &Manifest, _env: &CallEnv) -> ExchangeCtx {
        ExchangeCtx {
            services: manifest
                .capabilities
                .exchange
                .as_ref()
                .map(|e| e.services.iter().cloned().collect()),
        }
    }
}

/// What the `Host` impl sees.
pub struct ExchangeView<'a> {
    ctx: &'a mut ExchangeCtx,
    budget: &'a mut HostCallBudget,
}

/// Marker for linking.
pub struct ExchangeCapability;

impl HasData for ExchangeCapability {
    type Data<'a> = ExchangeView<'a>;
}

pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<CallState, ExchangeCapability>(linker, |s| ExchangeView {
        ctx: &mut s.caps.exchange,
        budget: &mut s.budget,
    })
}

impl wit::Host for ExchangeView<'_> {
    async fn call(
        &mut self,
        service: String,
        operation: String,
        request: Vec<u8>,
        why: Purpose,
        case: Option<String>,
    ) -> wasmtime::Result<Result<Vec<u8>, types::Error>> {
        self.budget.charge(
            service.lifted_bytes()
                + operation.lifted_bytes()
                + request.lifted_bytes()
                + why.lifted_bytes()
                + case.lifted_bytes(),
        )?;
        Ok(match &self.ctx.services {
            None => Err(super::not_granted("exchange")),
            Some(s) if !s.contains(&service) => Err(super::not_granted(format!("exchange service `{service}`"))),
            Some(_) => Err(super::not_yet("exchange")),
        })
    }
}
