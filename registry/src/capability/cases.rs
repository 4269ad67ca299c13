//! `[capabilities] cases`: the app's own cases, and the follow-on cases
//! (接续服务) it may open.

use serde::{Deserialize, Serialize};

use super::grant::Grant;

/// `cases = {}`: read the app's own cases and open follow-on cases.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CasesGrant {
    /// Item codes this app may open follow-on cases for (接续服务).
    #[serde(default)]
    pub follow_on: Vec<String>,
}

impl Grant for CasesGrant {
    fn scopes(&self) -> Vec<String> {
        self.follow_on.iter().map(|i| format!("cases.follow-on/{i}")).collect()
    }
}
