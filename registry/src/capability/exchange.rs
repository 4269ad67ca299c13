//! `[capabilities] exchange`: the data services of other bureaus the app
//! may call.

use serde::{Deserialize, Serialize};

use super::grant::Grant;

/// `exchange = { services = [...] }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeGrant {
    #[serde(default)]
    pub services: Vec<String>,
}

impl Grant for ExchangeGrant {
    fn scopes(&self) -> Vec<String> {
        self.services.iter().map(|s| format!("exchange.services/{s}")).collect()
    }
}
