//! The server's typed configuration file (`tongban serve --config FILE`, or
//! `TONGBAN_CONFIG`). Every setting is optional; a flag (or its environment
//! variable) given on the command line overrides the file, and what neither
//! sets takes the embedded default: SQLite and blobs under `./data`, listening
//! on `127.0.0.1:8080`.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! node-id = "web-1:8080"
//! data-dir = "/var/lib/tongban"
//! database-url = "postgres://tongban@db/tongban"
//! blob-url = "s3://tongban-packages/prod"
//! max-upload-mib = 32
//! holidays = "/etc/tongban/calendar-2026.toml"
//! meter-fuel = true
//!
//! [smtp]
//! server = "smtp.example.gov.cn:25"
//! from = "通办 Tongban <noreply@example.gov.cn>"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::CliError;

/// The file, as typed settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeConfig {
    pub listen: Option<SocketAddr>,
    /// This node's id among the nodes on one database (default: the host
    /// name and the listening port).
    pub node_id: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub blob_url: Option<String>,
    pub max_upload_mib: Option<usize>,
    pub holidays: Option<PathBuf>,
    /// Meter fuel in every hook call, so `/metrics` reports each app's fuel
    /// (default on; off trades that figure for some speed).
    pub meter_fuel: Option<bool>,
    pub smtp: Option<SmtpConfig>,
    pub admission: Option<AdmissionConfig>,
}

/// `[admission]`: how many applications run at once on a node, per app and
/// in all, before more are refused with a retry hint (`admission.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AdmissionConfig {
    pub applications_per_app: Option<usize>,
    pub applications_on_node: Option<usize>,
    pub retry_after_secs: Option<u32>,
}

impl AdmissionConfig {
    /// The bounds, the defaults where the file is silent.
    pub fn limits(&self) -> crate::admission::AdmissionLimits {
        let default = crate::admission::AdmissionLimits::default();
        crate::admission::AdmissionLimits {
            per_app: self.applications_per_app.unwrap_or(default.per_app),
            total: self.applications_on_node.unwrap_or(default.total),
            retry_after_secs: self.retry_after_secs.unwrap_or(default.retry_after_secs),
        }
    }
}

/// `[smtp]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SmtpConfig {
    /// `HOST:PORT`.
    pub server: String,
    pub from: Option<String>,
}

impl ServeConfig {
    /// Read and check a file; the error names the file and the problem.
    pub fn read(path: &Path) -> Result<ServeConfig, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
        ServeConfig::parse(&text).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
    }

    /// Parse the text of a file.
    pub fn parse(text: &str) -> Result<ServeConfig, String> {
        let config: ServeConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(id) = &config.node_id {
            tongban_registry::market::nodes::check_node_id(id).map_err(|e| format!("node-id: {e}"))?;
        }
        if config.max_upload_mib == Some(0) {
            return Err("max-upload-mib must be at least 1".into());
        }
        if let Some(admission) = &config.admission {
            let limits = admission.limits();
            if limits.per_app == 0 || limits.total == 0 || limits.retry_after_secs == 0 {
                return Err(
                    "[admission] applications-per-app, applications-on-node and retry-after-secs must be at least 1"
                        .into(),
                );
            }
            if limits.per_app > limits.total {
                return Err("[admission] applications-per-app may not exceed applications-on-node".into());
            }
        }
        Ok(config)
    }
}

/// Whether a flag was given on the command line or through its environment
/// variable (so it overrides the file even when it equals the default).
pub fn given(flag: &str, env: &str) -> bool {
    std::env::var_os(env).is_some()
        || std::env::args_os().any(|a| {
            let a = a.to_string_lossy();
            a == flag || a.starts_with(&format!("{flag}="))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses_into_typed_settings() {
        let config = ServeConfig::parse(
            r#"
            listen = "127.0.0.1:9000"
            node-id = "web-1"
            data-dir = "/srv/tongban"
            max-upload-mib = 8
            meter-fuel = false
            [smtp]
            server = "127.0.0.1:2525"
            [admission]
            applications-per-app = 4
            applications-on-node = 16
            "#,
        )
        .unwrap();
        let admission = config.admission.unwrap().limits();
        assert_eq!(
            (admission.per_app, admission.total, admission.retry_after_secs),
            (4, 16, 1)
        );
        assert_eq!(config.listen, Some("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(config.node_id.as_deref(), Some("web-1"));
        assert_eq!(config.data_dir, Some(PathBuf::from("/srv/tongban")));
        assert_eq!(config.max_upload_mib, Some(8));
        assert_eq!(config.meter_fuel, Some(false));
        assert_eq!(config.smtp.unwrap().server, "127.0.0.1:2525");
    }

    #[test]
    fn mistakes_are_named() {
        let err = ServeConfig::parse("lisen = \"127.0.0.1:1\"").unwrap_err();
        assert!(err.contains("lisen"), "a misspelt key is named: {err}");
        let err = ServeConfig::parse("listen = \"nowhere\"").unwrap_err();
        assert!(err.contains("listen"), "{err}");
        let err = ServeConfig::parse("node-id = \"web 1\"").unwrap_err();
        assert!(err.contains("node-id"), "{err}");
        let err = ServeConfig::parse("max-upload-mib = 0").unwrap_err();
        assert!(err.contains("max-upload-mib"), "{err}");
        let err = ServeConfig::parse("[admission]\napplications-per-app = 0").unwrap_err();
        assert!(err.contains("applications-per-app"), "{err}");
        let err = ServeConfig::parse("[admission]\napplications-per-app = 9\napplications-on-node = 8").unwrap_err();
        assert!(err.contains("may not exceed"), "{err}");
    }
}
