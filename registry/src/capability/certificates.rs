//! `[capabilities] certificates`: which certificate types the app may read
//! (under the subject's consent) and issue.

use serde::{Deserialize, Serialize};

use super::grant::{Grant, PackageFiles};

/// `certificates = { read = [...], issue = [...], purpose = "..." }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificatesGrant {
    #[serde(default)]
    pub read: Vec<String>,
    #[serde(default)]
    pub issue: Vec<String>,
    #[serde(default)]
    pub purpose: String,
}

impl Grant for CertificatesGrant {
    fn problems(&self, _: &dyn PackageFiles) -> Vec<String> {
        if !self.read.is_empty() && self.purpose.trim().is_empty() {
            return vec!["capabilities.certificates reads certificates, so it needs a purpose".into()];
        }
        Vec::new()
    }

    fn scopes(&self) -> Vec<String> {
        let read = self.read.iter().map(|t| format!("certificates.read/{t}"));
        let issue = self.issue.iter().map(|t| format!("certificates.issue/{t}"));
        read.chain(issue).collect()
    }
}
