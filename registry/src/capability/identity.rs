//! `[capabilities] identity`: who is being served, and which of their
//! attributes the app may read under the subject's consent.

use serde::{Deserialize, Serialize};

use super::grant::{Grant, PackageFiles};

/// `identity = { attributes = [...], purpose = "..." }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityGrant {
    #[serde(default)]
    pub attributes: Vec<String>,
    #[serde(default)]
    pub purpose: String,
}

impl Grant for IdentityGrant {
    fn problems(&self, _: &dyn PackageFiles) -> Vec<String> {
        if !self.attributes.is_empty() && self.purpose.trim().is_empty() {
            return vec!["capabilities.identity releases attributes, so it needs a purpose".into()];
        }
        Vec::new()
    }

    fn scopes(&self) -> Vec<String> {
        self.attributes
            .iter()
            .map(|a| format!("identity.attributes/{a}"))
            .collect()
    }
}
