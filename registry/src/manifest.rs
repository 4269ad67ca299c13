//! `tongban.toml`: what an app is, which items it serves, which capabilities it
//! asks for and which limits it runs under. See `shared/design/LIFECYCLES.md`.
//!
//! Parsing is strict (`deny_unknown_fields`), so a misspelt key is a schema error
//! instead of a silently ignored grant. Semantic rules (id form, bounds, files)
//! are checked by [`crate::check`], which reports all problems at once.

use std::collections::BTreeSet;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::capability::Capability;
use crate::error::ManifestError;
use crate::platform;

// The `[capabilities]` section is generated from the capabilities' own
// modules; each grant's type stays at its path here as well.
pub use crate::capability::Capabilities;
pub use crate::capability::cases::CasesGrant;
pub use crate::capability::certificates::CertificatesGrant;
pub use crate::capability::exchange::ExchangeGrant;
pub use crate::capability::identity::IdentityGrant;
pub use crate::capability::notify::{NotifyGrant, NotifyQuota};
pub use crate::capability::payments::PaymentsGrant;
pub use crate::capability::storage::StorageGrant;

/// The file name of the manifest inside an app directory and a package.
pub const MANIFEST_FILE: &str = "tongban.toml";

/// A whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub app: AppSection,
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub limits: Limits,
}

/// `[app]`: identity of the app and its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSection {
    /// Reverse-DNS id, inside a namespace of the publishing org.
    pub id: String,
    pub version: Version,
    pub kind: AppKind,
    /// The publishing org's unified social credit code.
    pub publisher: String,
    /// The `tongban:platform` versions the app works with, e.g. `^0.1`.
    pub platform: VersionReq,
    pub name: LocalizedText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<LocalizedText>,
}

/// Which world the component exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppKind {
    ServiceApp,
    DataProvider,
}

impl AppKind {
    /// The manifest spelling of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::ServiceApp => "service-app",
            AppKind::DataProvider => "data-provider",
        }
    }

    /// The WIT world of this kind.
    pub fn world(self) -> &'static str {
        match self {
            AppKind::ServiceApp => "service-app",
            AppKind::DataProvider => "data-provider",
        }
    }

    /// The interface the component must export.
    pub fn exported_interface(self) -> &'static str {
        match self {
            AppKind::ServiceApp => "app",
            AppKind::DataProvider => "data-service",
        }
    }
}

/// Text in Chinese, with an optional English rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalizedText {
    #[serde(rename = "zh-CN")]
    pub zh_cn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

/// `[[items]]`: one government service item the app implements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Item {
    /// 实施编码.
    pub code: String,
    pub name: LocalizedText,
    pub mode: ItemMode,
    /// Working days to a decision; required for commitment items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promised_days: Option<u32>,
    /// Path of the JSON Schema of the application form, inside the package.
    pub form: String,
}

/// 即办件 or 承诺件.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemMode {
    Instant,
    Commitment,
}

/// `[limits]`: resource bounds per hook call. Absent values take the platform
/// defaults; present values must be within the platform bounds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    /// Fuel per hook call when the host meters fuel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
}

impl Limits {
    /// Memory cap in MiB, defaulted and clamped to the platform maximum.
    pub fn memory_mib(&self) -> u32 {
        self.memory_mib
            .unwrap_or(platform::DEFAULT_MEMORY_MIB)
            .clamp(1, platform::MAX_MEMORY_MIB)
    }

    /// Deadline in ms, defaulted and clamped to the platform maximum.
    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms
            .unwrap_or(platform::DEFAULT_TIMEOUT_MS)
            .clamp(1, platform::MAX_TIMEOUT_MS)
    }
}

impl Manifest {
    /// Parse `tongban.toml` text.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        toml::from_str(text).map_err(|e| ManifestError::Schema(e.to_string().trim().to_owned()))
    }

    /// Render the manifest as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a manifest always serializes")
    }

    /// The capabilities this manifest grants, implicit ones included.
    pub fn granted(&self) -> BTreeSet<Capability> {
        self.capabilities
            .declared()
            .into_iter()
            .chain(Capability::ALL.into_iter().filter(|c| c.is_implicit()))
            .collect()
    }

    /// The item with this code.
    pub fn item(&self, code: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.code == code)
    }

    /// Every file the manifest refers to (forms, and what the capability
    /// sections name, such as notify templates), package-relative.
    pub fn referenced_files(&self) -> Vec<String> {
        let forms = self.items.iter().map(|i| i.form.clone());
        let mut files: Vec<String> = forms.chain(self.capabilities.files()).collect();
        files.sort();
        files.dedup();
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[app]
id = "cn.gov.hz.amr.sole-proprietor"
version = "1.2.0"
kind = "service-app"
publisher = "113301000024891238"
platform = "^0.1"
name = { zh-CN = "个体工商户设立登记", en = "Sole proprietorship registration" }

[[items]]
code = "330100-XK-00012-001"
name = { zh-CN = "个体工商户设立登记", en = "Register a sole proprietorship" }
mode = "commitment"
promised-days = 5
form = "forms/apply.json"

[capabilities]
identity = { attributes = ["name"], purpose = "填写申请人信息" }
storage = { quota-kib = 1024 }

[limits]
memory-mib = 32
timeout-ms = 200
"#;

    #[test]
    fn the_design_sample_parses_and_grants_what_it_declares() {
        let m = Manifest::parse(SAMPLE).unwrap();
        assert_eq!(m.app.kind, AppKind::ServiceApp);
        assert_eq!(m.items[0].promised_days, Some(5));
        let granted: Vec<_> = m.granted().into_iter().collect();
        assert_eq!(
            granted,
            vec![Capability::Identity, Capability::Storage, Capability::Log]
        );
        assert_eq!(m.referenced_files(), vec!["forms/apply.json".to_owned()]);
        let again = Manifest::parse(&m.to_toml()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn a_misspelt_key_is_a_schema_error_naming_it() {
        let bad = SAMPLE.replace("quota-kib", "quota-kb");
        let err = Manifest::parse(&bad).unwrap_err().to_string();
        assert!(err.contains("quota-kb"), "{err}");
    }

    #[test]
    fn limits_default_and_clamp_to_platform_bounds() {
        let limits = Limits {
            memory_mib: Some(100_000),
            timeout_ms: None,
            fuel: None,
        };
        assert_eq!(limits.memory_mib(), platform::MAX_MEMORY_MIB);
        assert_eq!(limits.timeout_ms(), platform::DEFAULT_TIMEOUT_MS);
    }
}
