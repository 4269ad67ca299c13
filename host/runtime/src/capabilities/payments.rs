//! `tongban:platform/payments`: fees. The payment state machine and the sandbox
//! provider arrive with the shared-capabilities release; until then granted
//! calls answer `unavailable`, and amounts over the grant are `not-granted`.

use tongban_registry::Manifest;
use wasmtime::component::{HasData, Linker};

use crate::bindings::tongban::platform::payments::{self as wit, Payment};
use crate::bindings::types;
use crate::call::{CallEnv, CallState};
use crate::limits::HostCallBudget;

/// Per-call state.
#[derive(Debug, Clone)]
pub struct PaymentsCtx {
    max_amount_fen: Option<u64>,
}

impl PaymentsCtx {
    pub fn prepare(manifest: &Manifest, _env: &CallEnv) -> PaymentsCtx {
        PaymentsCtx {
            max_amount_fen: manifest.capabilities.payments.as_ref().map(|p| p.max_amount_fen),
        }
    }

    fn max(&self) -> Result<u64, types::Error> {
        self.max_amount_fen.ok_or_else(|| super::not_granted("payments"))
    }
}

/// What the `Host` impl sees.
pub struct PaymentsView<'a> {
    ctx: &'a mut PaymentsCtx,
    budget: &'a mut HostCallBudget,
}

/// Marker for linking.
pub struct PaymentsCapability;

impl HasData for PaymentsCapability {
    type Data<'a> = PaymentsView<'a>;
}

pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<CallState, PaymentsCapability>(linker, |s| PaymentsView {
        ctx: &mut s.caps.payments,
        budget: &mut s.budget,
    })
}

impl wit::Host for PaymentsView<'_> {
    async fn create(
        &mut self,
        _case: String,
        amount_fen: u64,
        _description: String,
        _idempotency_key: String,
    ) -> wasmtime::Result<Result<Payment, types::Error>> {
        self.budget.charge()?;
        Ok((|| {
            let max = self.ctx.max()?;
            if amount_fen > max {
                return Err(super::not_granted(format!(
                    "an amount of {amount_fen} fen; the manifest allows at most {max}"
                )));
            }
            Err(super::not_yet("payments"))
        })())
    }

    async fn get(&mut self, _id: String) -> wasmtime::Result<Result<Payment, types::Error>> {
        self.budget.charge()?;
        Ok(self.ctx.max().and(Err(super::not_yet("payments"))))
    }

    async fn refund(
        &mut self,
        _id: String,
        _amount_fen: u64,
        _key: String,
    ) -> wasmtime::Result<Result<Payment, types::Error>> {
        self.budget.charge()?;
        Ok(self.ctx.max().and(Err(super::not_yet("payments"))))
    }
}
