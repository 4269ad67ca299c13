//! `tongban:platform/payments`: fees for the app's own cases. Create is
//! idempotent per key, amounts are bounded by the manifest's
//! `max-amount-fen`, refunds never exceed what remains; the state machine, the
//! sandbox provider and signed callbacks live in `tongban_services::payments`.

use tongban_registry::{Capability, Manifest, Package};
use tongban_services::payments::{NewPayment, Payment as StoredPayment, PaymentStatus};
use wasmtime::component::Linker;

use super::host_capability::{CallScope, CallSetup, HostCapability, View, ViewOf, not_granted, service_error};
use crate::bindings::tongban::platform::payments::{self as wit, Payment, Status};
use crate::bindings::types;
use crate::error::LoadError;
use crate::limits::Lifted;

/// Per-call state.
#[derive(Clone)]
pub struct PaymentsCtx {
    max_amount_fen: Option<u64>,
    scope: CallScope,
}

impl PaymentsCtx {
    pub fn prepare(manifest: &Manifest, scope: CallScope) -> PaymentsCtx {
        PaymentsCtx {
            max_amount_fen: manifest.capabilities.payments.as_ref().map(|p| p.max_amount_fen),
            scope,
        }
    }

    fn max(&self) -> Result<u64, types::Error> {
        self.max_amount_fen.ok_or_else(|| not_granted("payments"))
    }

    async fn create(
        &self,
        case: &str,
        amount_fen: u64,
        description: String,
        key: String,
    ) -> Result<Payment, types::Error> {
        let max = self.max()?;
        if amount_fen > max {
            return Err(types::Error::QuotaExceeded(format!(
                "an amount of {amount_fen} fen; the manifest allows at most {max}"
            )));
        }
        let services = &self.scope.services;
        let case = services.case(case).await.map_err(service_error)?;
        if case.app != self.scope.app {
            return Err(types::Error::NotFound(format!("case {}", case.id)));
        }
        let payment = services
            .create_payment(NewPayment {
                app: self.scope.app.clone(),
                org: case.accepting_org.clone(),
                case: case.id.clone(),
                amount_fen,
                description,
                idempotency_key: key,
            })
            .await
            .map_err(service_error)?;
        Ok(to_wit(payment))
    }
}

fn to_wit(p: StoredPayment) -> Payment {
    Payment {
        id: p.id,
        case: p.case,
        amount_fen: p.amount_fen,
        description: p.description,
        status: match p.status {
            PaymentStatus::Created => Status::Created,
            PaymentStatus::Started => Status::Started,
            PaymentStatus::Submitted => Status::Submitted,
            PaymentStatus::Success => Status::Success,
            PaymentStatus::Failed => Status::Failed,
            PaymentStatus::Cancelled => Status::Cancelled,
            PaymentStatus::Error => Status::Error,
        },
        refunded_fen: p.refunded_fen,
    }
}

/// The payments capability, as the registration table links it.
pub struct Payments;

impl HostCapability for Payments {
    const GRANT: Capability = Capability::Payments;
    type App = ();
    type Ctx = PaymentsCtx;

    fn load(_: &Manifest, _: &Package) -> Result<(), LoadError> {
        Ok(())
    }

    fn prepare(_: &(), call: &CallSetup<'_>) -> PaymentsCtx {
        PaymentsCtx::prepare(call.manifest, call.scope.clone())
    }

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> View<'_, PaymentsCtx>,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, ViewOf<PaymentsCtx>>(linker, view)
    }
}

impl wit::Host for View<'_, PaymentsCtx> {
    async fn create(
        &mut self,
        case: String,
        amount_fen: u64,
        description: String,
        idempotency_key: String,
    ) -> wasmtime::Result<Result<Payment, types::Error>> {
        self.budget
            .charge(case.lifted_bytes() + description.lifted_bytes() + idempotency_key.lifted_bytes())?;
        Ok(self.ctx.create(&case, amount_fen, description, idempotency_key).await)
    }

    async fn get(&mut self, id: String) -> wasmtime::Result<Result<Payment, types::Error>> {
        self.budget.charge(id.lifted_bytes())?;
        if let Err(e) = self.ctx.max() {
            return Ok(Err(e));
        }
        Ok(self
            .ctx
            .scope
            .services
            .payment_for_app(&self.ctx.scope.app, &id)
            .await
            .map(to_wit)
            .map_err(service_error))
    }

    async fn refund(
        &mut self,
        id: String,
        amount_fen: u64,
        key: String,
    ) -> wasmtime::Result<Result<Payment, types::Error>> {
        self.budget.charge(id.lifted_bytes() + key.lifted_bytes())?;
        if let Err(e) = self.ctx.max() {
            return Ok(Err(e));
        }
        Ok(self
            .ctx
            .scope
            .services
            .refund_payment(&self.ctx.scope.app, &id, amount_fen, &key)
            .await
            .map(to_wit)
            .map_err(service_error))
    }
}
