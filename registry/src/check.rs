//! Every automated check the marketplace runs on a package. `tongban app check`
//! and the publish endpoint call [`check_package`]; both see the same problems.
//!
//! The checks never stop at the first problem: a publisher gets the whole list.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::capability::{ImportKind, classify_import};
use crate::component::ComponentInfo;
use crate::manifest::{ItemMode, Manifest};
use crate::package::Package;
use crate::platform;

/// Which check found a problem. The names are stable and shown to publishers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckName {
    ManifestSchema,
    AppId,
    Publisher,
    Component,
    Imports,
    World,
    Platform,
    Limits,
    Items,
    Forms,
    Capabilities,
    /// What the component costs to compile and load: functions, body sizes,
    /// locals, memories and tables, against the platform's bounds.
    Cost,
    /// The component compiled on the platform (at publish only).
    Compile,
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            CheckName::ManifestSchema => "manifest-schema",
            CheckName::AppId => "app-id",
            CheckName::Publisher => "publisher",
            CheckName::Component => "component",
            CheckName::Imports => "imports",
            CheckName::World => "world",
            CheckName::Platform => "platform",
            CheckName::Limits => "limits",
            CheckName::Items => "items",
            CheckName::Forms => "forms",
            CheckName::Capabilities => "capabilities",
            CheckName::Cost => "cost",
            CheckName::Compile => "compile",
        };
        f.write_str(name)
    }
}

/// One problem found by one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub check: CheckName,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.check, self.message)
    }
}

/// The outcome of all checks on one package.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The checks that ran, in order.
    pub ran: Vec<CheckName>,
    pub problems: Vec<Problem>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, check: CheckName, message: impl Into<String>) {
        self.problems.push(Problem {
            check,
            message: message.into(),
        });
    }

    fn ran(&mut self, check: CheckName) {
        if !self.ran.contains(&check) {
            self.ran.push(check);
        }
    }
}

/// Run every check on a package.
pub fn check_package(package: &Package) -> CheckReport {
    let mut report = CheckReport::default();

    report.ran(CheckName::ManifestSchema);
    let manifest = match package.manifest() {
        Ok(m) => Some(m),
        Err(e) => {
            report.problem(CheckName::ManifestSchema, e.to_string());
            None
        }
    };

    report.ran(CheckName::Component);
    let component = match ComponentInfo::inspect(&package.component) {
        Ok(info) => Some(info),
        Err(e) => {
            report.problem(CheckName::Component, e.to_string());
            None
        }
    };
    if package.component.len() as u64 > platform::MAX_COMPONENT_BYTES {
        report.problem(
            CheckName::Component,
            format!(
                "component is {} bytes, over the platform limit of {} bytes",
                package.component.len(),
                platform::MAX_COMPONENT_BYTES
            ),
        );
    }

    if let Some(manifest) = &manifest {
        check_app_id(manifest, &mut report);
        check_publisher(manifest, &mut report);
        check_platform(manifest, component.as_ref(), &mut report);
        check_limits(manifest, &mut report);
        check_items(manifest, &mut report);
        check_forms(manifest, package, &mut report);
        check_capabilities(manifest, package, &mut report);
        if let Some(component) = &component {
            check_imports(manifest, component, &mut report);
            check_world(manifest, component, &mut report);
        }
        check_cost(manifest, package, &mut report);
    }
    report
}

/// Whether an app id has reverse-DNS form: at least three dot-separated labels
/// of lower-case letters, digits and inner hyphens, starting with a letter.
pub fn is_reverse_dns(id: &str) -> bool {
    let labels: Vec<&str> = id.split('.').collect();
    id.len() <= 128
        && labels.len() >= 3
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.starts_with(|c: char| c.is_ascii_lowercase())
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

fn check_app_id(manifest: &Manifest, report: &mut CheckReport) {
    report.ran(CheckName::AppId);
    let id = &manifest.app.id;
    if !is_reverse_dns(id) {
        report.problem(
            CheckName::AppId,
            format!(
                "app id `{id}` is not in reverse-DNS form (at least three dot-separated lower-case labels, e.g. `cn.gov.hz.amr.sole-proprietor`)"
            ),
        );
    }
}

fn check_publisher(manifest: &Manifest, report: &mut CheckReport) {
    report.ran(CheckName::Publisher);
    if let Err(e) = crate::org::validate_uscc(&manifest.app.publisher) {
        report.problem(CheckName::Publisher, format!("app.publisher: {e}"));
    }
}

fn check_platform(manifest: &Manifest, component: Option<&ComponentInfo>, report: &mut CheckReport) {
    report.ran(CheckName::Platform);
    let wanted = &manifest.app.platform;
    if !platform::SERVED_WIT_VERSIONS.iter().any(|v| wanted.matches(v)) {
        report.problem(
            CheckName::Platform,
            format!(
                "platform `{wanted}` matches none of the contract versions this platform serves ({})",
                served_list()
            ),
        );
    }
    for version in component.map(ComponentInfo::platform_versions).unwrap_or_default() {
        if !platform::serves_wit_version(&version) {
            report.problem(
                CheckName::Platform,
                format!(
                    "the component was built against {}@{version}, which this platform does not serve ({})",
                    platform::WIT_PACKAGE,
                    served_list()
                ),
            );
        } else if !wanted.matches(&version) {
            report.problem(
                CheckName::Platform,
                format!(
                    "the component uses {}@{version}, outside the manifest's platform `{wanted}`",
                    platform::WIT_PACKAGE
                ),
            );
        }
    }
}

fn served_list() -> String {
    platform::SERVED_WIT_VERSIONS
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_limits(manifest: &Manifest, report: &mut CheckReport) {
    report.ran(CheckName::Limits);
    let limits = &manifest.limits;
    if let Some(m) = limits.memory_mib
        && !(1..=platform::MAX_MEMORY_MIB).contains(&m)
    {
        report.problem(
            CheckName::Limits,
            format!(
                "limits.memory-mib = {m} is outside 1..={} MiB",
                platform::MAX_MEMORY_MIB
            ),
        );
    }
    if let Some(t) = limits.timeout_ms
        && !(1..=platform::MAX_TIMEOUT_MS).contains(&t)
    {
        report.problem(
            CheckName::Limits,
            format!("limits.timeout-ms = {t} is outside 1..={} ms", platform::MAX_TIMEOUT_MS),
        );
    }
    if let Some(f) = limits.fuel
        && !(1..=platform::MAX_FUEL).contains(&f)
    {
        report.problem(
            CheckName::Limits,
            format!("limits.fuel = {f} is outside 1..={}", platform::MAX_FUEL),
        );
    }
    for message in manifest.capabilities.limit_problems() {
        report.problem(CheckName::Limits, message);
    }
}

fn check_items(manifest: &Manifest, report: &mut CheckReport) {
    report.ran(CheckName::Items);
    if manifest.app.kind == crate::AppKind::ServiceApp && manifest.items.is_empty() {
        report.problem(
            CheckName::Items,
            "a service app must declare at least one [[items]] entry",
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for item in &manifest.items {
        if !seen.insert(item.code.as_str()) {
            report.problem(CheckName::Items, format!("item code `{}` is declared twice", item.code));
        }
        if item.code.trim().is_empty() {
            report.problem(CheckName::Items, "an item has an empty code");
        }
        match (item.mode, item.promised_days) {
            (ItemMode::Commitment, None | Some(0)) => report.problem(
                CheckName::Items,
                format!("commitment item `{}` needs promised-days of at least 1", item.code),
            ),
            (ItemMode::Instant, Some(_)) => report.problem(
                CheckName::Items,
                format!(
                    "instant item `{}` is decided at once and takes no promised-days",
                    item.code
                ),
            ),
            _ => {}
        }
    }
}

fn check_forms(manifest: &Manifest, package: &Package, report: &mut CheckReport) {
    report.ran(CheckName::Forms);
    for item in &manifest.items {
        let Some(bytes) = package.file(&item.form) else {
            report.problem(
                CheckName::Forms,
                format!(
                    "item `{}` refers to form `{}`, which is not in the package",
                    item.code, item.form
                ),
            );
            continue;
        };
        let schema: serde_json::Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                report.problem(CheckName::Forms, format!("form `{}` is not valid JSON: {e}", item.form));
                continue;
            }
        };
        if let Err(e) = jsonschema::meta::validate(&schema) {
            report.problem(
                CheckName::Forms,
                format!(
                    "form `{}` is not a valid JSON Schema: {e} (at {})",
                    item.form,
                    e.instance_path()
                ),
            );
            continue;
        }
        if let Err(e) = jsonschema::validator_for(&schema) {
            report.problem(
                CheckName::Forms,
                format!("form `{}` cannot be compiled: {e}", item.form),
            );
            continue;
        }
        if schema.get("type").and_then(|t| t.as_str()) != Some("object") {
            report.problem(
                CheckName::Forms,
                format!("form `{}` must describe an object (\"type\": \"object\")", item.form),
            );
        }
    }
}

fn check_capabilities(manifest: &Manifest, package: &Package, report: &mut CheckReport) {
    report.ran(CheckName::Capabilities);
    for message in manifest.capabilities.problems(package) {
        report.problem(CheckName::Capabilities, message);
    }
}

/// What compiling and instantiating the component would cost, against the
/// platform's bounds, before anything is compiled.
fn check_cost(manifest: &Manifest, package: &Package, report: &mut CheckReport) {
    report.ran(CheckName::Cost);
    let (_, problems) = crate::cost::component_cost(&package.component, manifest.limits.memory_mib());
    for message in problems {
        report.problem(CheckName::Cost, message);
    }
}

fn check_imports(manifest: &Manifest, component: &ComponentInfo, report: &mut CheckReport) {
    report.ran(CheckName::Imports);
    report.problems.extend(import_problems(manifest, component));
}

/// The imports of a component that its manifest does not grant, or that no
/// host provides. The runtime refuses to load a component with any.
pub fn import_problems(manifest: &Manifest, component: &ComponentInfo) -> Vec<Problem> {
    let granted = manifest.granted();
    let mut report = CheckReport::default();
    for import in &component.imports {
        match classify_import(import) {
            ImportKind::Platform(capability) if !granted.contains(&capability) => report.problem(
                CheckName::Imports,
                format!(
                    "the component imports `{import}`, but the manifest does not grant `{capability}` (add it under [capabilities])"
                ),
            ),
            ImportKind::ForbiddenWasi => report.problem(
                CheckName::Imports,
                format!("the component imports `{import}`, which the sandbox never provides"),
            ),
            ImportKind::Unknown => report.problem(
                CheckName::Imports,
                format!("the component imports `{import}`, which no Tongban host provides"),
            ),
            _ => {}
        }
    }
    report.problems
}

fn check_world(manifest: &Manifest, component: &ComponentInfo, report: &mut CheckReport) {
    report.ran(CheckName::World);
    let kind = manifest.app.kind;
    let wanted = format!("{}/{}", platform::WIT_PACKAGE, kind.exported_interface());
    let exported = component
        .exports
        .iter()
        .any(|e| e.split('@').next() == Some(wanted.as_str()));
    if !exported {
        report.problem(
            CheckName::World,
            format!(
                "kind `{}` must export `{wanted}` (world `{}`), but the component exports [{}]",
                kind.as_str(),
                kind.world(),
                component.exports.join(", ")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_dns_ids() {
        assert!(is_reverse_dns("cn.gov.hz.amr.sole-proprietor"));
        assert!(is_reverse_dns("cn.gov.x1"));
        assert!(!is_reverse_dns("sole-proprietor"));
        assert!(!is_reverse_dns("cn.gov"));
        assert!(!is_reverse_dns("cn.Gov.hz"));
        assert!(!is_reverse_dns("cn..hz"));
        assert!(!is_reverse_dns("cn.gov.-x"));
        assert!(!is_reverse_dns("cn.gov.x-"));
        assert!(!is_reverse_dns("cn.gov.1x"));
    }
}
