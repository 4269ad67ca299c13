//! The seam between the platform and whoever moves the money. A provider (the
//! built-in [sandbox bank](super::sandbox), or a real bank's gateway added
//! beside it) tells the platform what happened to a payment by POSTing a
//! signed callback to `/api/v1/payments/callbacks/{provider}`; the provider's
//! only job here is to authenticate that callback and say what it reports.
//! Everything after that (deduplication, forward-only moves, the case's `paid`
//! event) is the platform's and is the same for every provider.
//!
//! Adding a provider means implementing [`PaymentProvider`], loading it by
//! name in [`Services::payment_provider`](crate::Services::payment_provider),
//! and creating payments with that name.

use serde::Serialize;

use super::PaymentStatus;
use crate::error::ServiceError;

/// What an authenticated callback reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderEvent {
    /// The provider's own id of the event, unique per provider; a redelivery
    /// carries the same id, which is how the platform applies it once.
    pub event_id: String,
    /// The platform's payment id the event is about.
    pub payment_id: String,
    /// The status the provider says the payment has reached.
    pub status: PaymentStatus,
    /// When the provider says it happened, in ms since the epoch; informative
    /// only, since the platform orders events by status, not by clock.
    pub at: i64,
}

/// A payment provider as the platform sees it.
///
/// Implementations hold whatever key material they need, loaded before the
/// call, so that verifying is synchronous and touches no database.
pub trait PaymentProvider: Send + Sync {
    /// The provider's name: the `{provider}` of the callback route and the
    /// `provider` column of its payments.
    fn name(&self) -> &'static str;

    /// Authenticate a callback body against its signature header and only
    /// then parse it. A signature that does not match the body (or is not a
    /// signature at all) is [`ServiceError::Forbidden`]; an authentic body
    /// that does not say what a callback must is [`ServiceError::Invalid`].
    /// Either way the message names the problem and nothing is recorded.
    fn verify_callback(&self, body: &[u8], signature: &str) -> Result<ProviderEvent, ServiceError>;
}
