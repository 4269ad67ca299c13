//! The sandbox bank: the default provider, so the whole payment flow runs
//! locally. Its hosted pay page (served by the server) lets the citizen press
//! pay or decline; the bank then reports the outcome the way a real gateway
//! would, as callbacks whose body is JSON (`event_id`, `payment_id`, `status`,
//! `at`) and whose signature header is the hex HMAC-SHA256 of that body under
//! a secret every node shares (`payments-sandbox-hmac` in the platform
//! secrets).
//!
//! The bank keeps its own record of each decision (`sandbox_bank_decisions`:
//! pay or decline, and the amount), written with the payment's move to
//! `submitted`. The callbacks of a decision are made from that record with
//! event ids of their own, so the bank can send them again until the
//! payment is final ([`Services::sandbox_redeliver`](crate::Services::sandbox_redeliver)),
//! and a node that dies before applying them loses no payment.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tongban_store::{Database, now_ms};

use super::provider::{PaymentProvider, ProviderEvent};
use super::{PayDecision, PaymentStatus, SignedCallback};
use crate::error::{ServiceError, ServiceResult};

/// The sandbox bank's provider name.
pub const NAME: &str = "sandbox";

/// The name of its signing secret among the platform secrets.
pub const SECRET: &str = "payments-sandbox-hmac";

/// The longest event or payment id a callback may carry, in characters.
pub const MAX_ID_CHARS: usize = 128;

/// A callback body as the sandbox bank writes it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackBody {
    event_id: String,
    payment_id: String,
    status: PaymentStatus,
    at: i64,
}

/// The sandbox bank with its signing key.
#[derive(Clone)]
pub struct SandboxBank {
    key: Vec<u8>,
}

impl std::fmt::Debug for SandboxBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SandboxBank(..)")
    }
}

impl SandboxBank {
    /// The bank with the shared secret, creating the secret if no node has yet.
    pub async fn load(db: &Database) -> ServiceResult<SandboxBank> {
        let hex_key = crate::keys::secret(db, SECRET, crate::keys::random_secret_hex).await?;
        let key = hex::decode(&hex_key)
            .map_err(|_| ServiceError::Unavailable(format!("platform secret `{SECRET}` is corrupt")))?;
        Ok(SandboxBank { key })
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    /// The signature header value of `body`: hex HMAC-SHA256.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    /// The signed callback the bank POSTs to report that `payment_id` has
    /// reached `status`, under a fresh event id.
    pub fn callback(&self, payment_id: &str, status: PaymentStatus) -> SignedCallback {
        self.signed(crate::fresh_id("sandbox-evt"), payment_id, status)
    }

    /// The callbacks that report the payer's decision on the bank's page, in
    /// order: `submitted`, then `success` for pay or `failed` for decline.
    /// Their event ids are made from the payment and the status, so sending
    /// them again (after a node died before applying them) is recognised as
    /// the same events and applied at most once.
    pub fn decision_callbacks(&self, payment_id: &str, decision: PayDecision) -> Vec<SignedCallback> {
        let outcome = match decision {
            PayDecision::Pay => PaymentStatus::Success,
            PayDecision::Decline => PaymentStatus::Failed,
        };
        [PaymentStatus::Submitted, outcome]
            .into_iter()
            .map(|status| self.signed(format!("{payment_id}/{}", status.as_str()), payment_id, status))
            .collect()
    }

    fn signed(&self, event_id: String, payment_id: &str, status: PaymentStatus) -> SignedCallback {
        let body = serde_json::to_vec(&CallbackBody {
            event_id,
            payment_id: payment_id.to_owned(),
            status,
            at: now_ms(),
        })
        .expect("a callback body serializes");
        SignedCallback {
            provider: NAME.to_owned(),
            signature: self.sign(&body),
            body,
        }
    }
}

impl PaymentProvider for SandboxBank {
    fn name(&self) -> &'static str {
        NAME
    }

    fn verify_callback(&self, body: &[u8], signature: &str) -> Result<ProviderEvent, ServiceError> {
        let tag = hex::decode(signature.trim())
            .map_err(|_| ServiceError::forbidden("the sandbox callback signature is not hex HMAC-SHA256"))?;
        let mut mac = self.mac();
        mac.update(body);
        // `verify_slice` compares in constant time, so a forger learns nothing
        // from how long a wrong signature took to refuse.
        mac.verify_slice(&tag)
            .map_err(|_| ServiceError::forbidden("the sandbox callback signature does not match its body"))?;
        let parsed: CallbackBody = serde_json::from_slice(body)
            .map_err(|e| ServiceError::invalid(format!("the sandbox callback body is not a callback: {e}")))?;
        for (what, id) in [("event id", &parsed.event_id), ("payment id", &parsed.payment_id)] {
            let chars = id.chars().count();
            if chars == 0 || chars > MAX_ID_CHARS {
                return Err(ServiceError::invalid(format!(
                    "the sandbox callback's {what} is {chars} characters; it must be 1 to {MAX_ID_CHARS}"
                )));
            }
        }
        Ok(ProviderEvent {
            event_id: parsed.event_id,
            payment_id: parsed.payment_id,
            status: parsed.status,
            at: parsed.at,
        })
    }
}
