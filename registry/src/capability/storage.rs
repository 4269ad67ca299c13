//! `[capabilities] storage`: app-scoped key-value storage, up to a quota.

use serde::{Deserialize, Serialize};

use super::grant::Grant;
use crate::platform;

/// `storage = { quota-kib = N }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StorageGrant {
    pub quota_kib: u32,
}

impl Grant for StorageGrant {
    fn limit_problems(&self) -> Vec<String> {
        if (1..=platform::MAX_STORAGE_QUOTA_KIB).contains(&self.quota_kib) {
            return Vec::new();
        }
        vec![format!(
            "capabilities.storage.quota-kib = {} is outside 1..={} KiB",
            self.quota_kib,
            platform::MAX_STORAGE_QUOTA_KIB
        )]
    }

    fn limits(grant: Option<&Self>) -> Vec<(&'static str, u64)> {
        vec![("storage.quota-kib", grant.map(|s| s.quota_kib as u64).unwrap_or(0))]
    }
}
