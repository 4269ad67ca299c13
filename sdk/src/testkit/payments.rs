//! The payments half of the test host: payments in memory, bounded by the
//! manifest's maximum amount, idempotent per key.

use std::collections::BTreeMap;

use tongban_registry::Manifest;

use crate::{Error, Payment, PaymentStatus};

pub(crate) struct TestPayments {
    /// The largest amount in fen; `None` when the manifest grants no payments.
    max_fen: Option<u64>,
    /// Payments by id, each with the body its idempotency key was first
    /// used with.
    payments: BTreeMap<String, (Payment, String)>,
}

impl TestPayments {
    pub(crate) fn new(manifest: &Manifest) -> TestPayments {
        TestPayments {
            max_fen: manifest.capabilities.payments.as_ref().map(|p| p.max_amount_fen),
            payments: BTreeMap::new(),
        }
    }

    /// Every payment, by id.
    pub(crate) fn all(&self) -> Vec<Payment> {
        self.payments.values().map(|(p, _)| p.clone()).collect()
    }

    /// Mark a payment as paid, as the provider callback would.
    pub(crate) fn settle(&mut self, id: &str) {
        if let Some((p, _)) = self.payments.get_mut(id) {
            p.status = PaymentStatus::Success;
        }
    }

    pub(crate) fn create(
        &mut self,
        case: &str,
        amount_fen: u64,
        description: &str,
        key: &str,
    ) -> Result<Payment, Error> {
        let max = self.max_fen.ok_or_else(|| Error::NotGranted("payments".into()))?;
        if amount_fen == 0 || amount_fen > max {
            return Err(Error::Invalid(format!("amount must be 1..={max} fen")));
        }
        let body = format!("{case}\n{amount_fen}\n{description}");
        if let Some((payment, existing)) = self.payments.values().find(|(p, _)| p.id == format!("PAY-{key}")) {
            return if *existing == body {
                Ok(payment.clone())
            } else {
                Err(Error::Conflict(format!(
                    "idempotency key `{key}` was used with a different body"
                )))
            };
        }
        let payment = Payment {
            id: format!("PAY-{key}"),
            case: case.into(),
            amount_fen,
            description: description.into(),
            status: PaymentStatus::Created,
            refunded_fen: 0,
        };
        self.payments.insert(payment.id.clone(), (payment.clone(), body));
        Ok(payment)
    }

    pub(crate) fn get(&mut self, id: &str) -> Result<Payment, Error> {
        self.max_fen.ok_or_else(|| Error::NotGranted("payments".into()))?;
        self.payments
            .get(id)
            .map(|(p, _)| p.clone())
            .ok_or_else(|| Error::NotFound(format!("payment `{id}`")))
    }

    pub(crate) fn refund(&mut self, id: &str, amount_fen: u64, _key: &str) -> Result<Payment, Error> {
        self.max_fen.ok_or_else(|| Error::NotGranted("payments".into()))?;
        let (payment, _) = self
            .payments
            .get_mut(id)
            .ok_or_else(|| Error::NotFound(format!("payment `{id}`")))?;
        if payment.status != PaymentStatus::Success {
            return Err(Error::Conflict("only a successful payment can be refunded".into()));
        }
        let remaining = payment.amount_fen - payment.refunded_fen;
        if amount_fen == 0 || amount_fen > remaining {
            return Err(Error::Invalid(format!("refund must be 1..={remaining} fen")));
        }
        payment.refunded_fen += amount_fen;
        Ok(payment.clone())
    }
}
