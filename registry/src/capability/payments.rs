//! `[capabilities] payments`: fees for the app's own cases, up to an amount.

use serde::{Deserialize, Serialize};

use super::grant::Grant;

/// `payments = { max-amount-fen = N }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PaymentsGrant {
    #[serde(default)]
    pub max_amount_fen: u64,
}

impl Grant for PaymentsGrant {
    fn limits(grant: Option<&Self>) -> Vec<(&'static str, u64)> {
        vec![("payments.max-amount-fen", grant.map(|p| p.max_amount_fen).unwrap_or(0))]
    }
}
