//! `tongban:platform/exchange`: data services of other bureaus. Data providers
//! arrive in a later release; until then granted calls answer `unavailable`
//! and undeclared services `not-granted`.

use std::collections::BTreeSet;

use tongban_registry::{Capability, Manifest, Package};
use wasmtime::component::Linker;

use super::host_capability::{CallSetup, HostCapability, View, ViewOf, not_granted, not_yet};
use crate::bindings::tongban::platform::exchange as wit;
use crate::bindings::types::{self, Purpose};
use crate::env::CallEnv;
use crate::error::LoadError;
use crate::limits::Lifted;

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

/// The exchange capability, as the registration table links it.
pub struct Exchange;

impl HostCapability for Exchange {
    const GRANT: Capability = Capability::Exchange;
    type App = ();
    type Ctx = ExchangeCtx;

    fn load(_: &Manifest, _: &Package) -> Result<(), LoadError> {
        Ok(())
    }

    fn prepare(_: &(), call: &CallSetup<'_>) -> ExchangeCtx {
        ExchangeCtx::prepare(call.manifest, call.env)
    }

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> View<'_, ExchangeCtx>,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, ViewOf<ExchangeCtx>>(linker, view)
    }
}

impl wit::Host for View<'_, ExchangeCtx> {
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
            None => Err(not_granted("exchange")),
            Some(s) if !s.contains(&service) => Err(not_granted(format!("exchange service `{service}`"))),
            Some(_) => Err(not_yet("exchange")),
        })
    }
}
