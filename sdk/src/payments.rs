//! Fees (`tongban:platform/payments`).

use serde::{Deserialize, Serialize};

use crate::Error;

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::payments as wit;

/// A payment's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaymentStatus {
    Created,
    Started,
    Submitted,
    Success,
    Failed,
    Cancelled,
    Error,
}

/// A fee for a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    pub case: String,
    pub amount_fen: u64,
    pub description: String,
    pub status: PaymentStatus,
    pub refunded_fen: u64,
}

/// Create a payment; idempotent per key.
pub fn create(case: &str, amount_fen: u64, description: &str, idempotency_key: &str) -> Result<Payment, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::create(case, amount_fen, description, idempotency_key)
        .map(Into::into)
        .map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.payments.create(case, amount_fen, description, idempotency_key));
}

/// One payment of this app.
pub fn get(id: &str) -> Result<Payment, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::get(id).map(Into::into).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.payments.get(id));
}

/// Refund part or all of a payment.
pub fn refund(id: &str, amount_fen: u64, idempotency_key: &str) -> Result<Payment, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::refund(id, amount_fen, idempotency_key)
        .map(Into::into)
        .map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.payments.refund(id, amount_fen, idempotency_key));
}

// On wasm, the generated bindings' values convert to and from the types above.

#[cfg(target_arch = "wasm32")]
impl From<wit::Payment> for Payment {
    fn from(p: wit::Payment) -> Payment {
        Payment {
            id: p.id,
            case: p.case,
            amount_fen: p.amount_fen,
            description: p.description,
            status: match p.status {
                wit::Status::Created => PaymentStatus::Created,
                wit::Status::Started => PaymentStatus::Started,
                wit::Status::Submitted => PaymentStatus::Submitted,
                wit::Status::Success => PaymentStatus::Success,
                wit::Status::Failed => PaymentStatus::Failed,
                wit::Status::Cancelled => PaymentStatus::Cancelled,
                wit::Status::Error => PaymentStatus::Error,
            },
            refunded_fen: p.refunded_fen,
        }
    }
}
