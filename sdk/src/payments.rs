//! Fees (`tongban:platform/payments`).

use crate::{Error, Payment};

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::payments as wit;

/// Create a payment; idempotent per key.
pub fn create(case: &str, amount_fen: u64, description: &str, idempotency_key: &str) -> Result<Payment, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::create(case, amount_fen, description, idempotency_key)
        .map(Into::into)
        .map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.payments_create(case, amount_fen, description, idempotency_key));
}

/// One payment of this app.
pub fn get(id: &str) -> Result<Payment, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::get(id).map(Into::into).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.payments_get(id));
}

/// Refund part or all of a payment.
pub fn refund(id: &str, amount_fen: u64, idempotency_key: &str) -> Result<Payment, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::refund(id, amount_fen, idempotency_key)
        .map(Into::into)
        .map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.payments_refund(id, amount_fen, idempotency_key));
}
