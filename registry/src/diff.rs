//! The capability diff a reviewer sees: what a submitted version gains, loses
//! or changes against the last approved version of the same app. Every gain
//! (a new interface, a new scope, a raised limit) needs the reviewer's explicit
//! acknowledgement before approval.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::manifest::Manifest;

/// How an entry changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Removed,
    Raised,
    Lowered,
}

/// One line of the diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityChange {
    /// A stable id the reviewer acknowledges, e.g. `identity.attributes/phone`.
    pub id: String,
    pub kind: ChangeKind,
    /// Before and after, for limits and paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl CapabilityChange {
    /// Whether the reviewer must tick this change before approving.
    pub fn needs_acknowledgement(&self) -> bool {
        matches!(self.kind, ChangeKind::Added | ChangeKind::Raised)
    }
}

/// The diff of `new` against `old` (`None` for a first version, where every
/// capability is an addition).
pub fn capability_diff(old: Option<&Manifest>, new: &Manifest) -> Vec<CapabilityChange> {
    let mut changes = Vec::new();
    let scopes = |m: Option<&Manifest>| -> BTreeSet<String> { m.map(scope_set).unwrap_or_default() };
    let (before, after) = (scopes(old), scopes(Some(new)));
    for added in after.difference(&before) {
        changes.push(simple(added, ChangeKind::Added));
    }
    for removed in before.difference(&after) {
        changes.push(simple(removed, ChangeKind::Removed));
    }
    for (id, old_value, new_value) in limit_pairs(old, new) {
        let kind = match (old_value, new_value) {
            (a, b) if a == b => continue,
            (a, b) if b > a => ChangeKind::Raised,
            _ => ChangeKind::Lowered,
        };
        changes.push(CapabilityChange {
            id: id.into(),
            kind,
            before: Some(old_value.to_string()),
            after: Some(new_value.to_string()),
        });
    }
    changes.sort_by(|a, b| a.id.cmp(&b.id));
    changes
}

fn simple(id: &str, kind: ChangeKind) -> CapabilityChange {
    CapabilityChange {
        id: id.into(),
        kind,
        before: None,
        after: None,
    }
}

/// Every grant of a manifest as a flat set of ids.
fn scope_set(m: &Manifest) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for capability in m.granted() {
        if !capability.is_implicit() {
            set.insert(format!("capability/{capability}"));
        }
    }
    set.extend(m.capabilities.scopes());
    set
}

fn limit_pairs(old: Option<&Manifest>, new: &Manifest) -> Vec<(&'static str, u64, u64)> {
    let values = |m: &Manifest| -> Vec<(&'static str, u64)> {
        let mut values = vec![
            ("limits.memory-mib", m.limits.memory_mib() as u64),
            ("limits.timeout-ms", m.limits.timeout_ms() as u64),
            ("limits.fuel", m.limits.fuel.unwrap_or(0)),
        ];
        values.extend(m.capabilities.limits());
        values
    };
    let after = values(new);
    let before = old
        .map(values)
        .unwrap_or_else(|| after.iter().map(|(id, _)| (*id, 0)).collect());
    before
        .into_iter()
        .zip(after)
        .map(|((id, a), (_, b))| (id, a, b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(capabilities: &str, limits: &str) -> Manifest {
        Manifest::parse(&format!(
            r#"
[app]
id = "cn.gov.test.app"
version = "1.0.0"
kind = "service-app"
publisher = "113301000024891238"
platform = "^0.1"
name = {{ zh-CN = "测试" }}

[capabilities]
{capabilities}

[limits]
{limits}
"#
        ))
        .unwrap()
    }

    #[test]
    fn additions_removals_and_limit_changes_are_listed() {
        let old = manifest(
            "identity = { attributes = [\"name\"], purpose = \"p\" }\nstorage = { quota-kib = 64 }",
            "memory-mib = 32",
        );
        let new = manifest(
            "identity = { attributes = [\"name\", \"phone\"], purpose = \"p\" }\npayments = { max-amount-fen = 5000 }",
            "memory-mib = 16",
        );
        let diff = capability_diff(Some(&old), &new);
        let summary: Vec<(String, ChangeKind)> = diff.iter().map(|c| (c.id.clone(), c.kind)).collect();
        assert_eq!(
            summary,
            vec![
                ("capability/payments".into(), ChangeKind::Added),
                ("capability/storage".into(), ChangeKind::Removed),
                ("identity.attributes/phone".into(), ChangeKind::Added),
                ("limits.memory-mib".into(), ChangeKind::Lowered),
                ("payments.max-amount-fen".into(), ChangeKind::Raised),
                ("storage.quota-kib".into(), ChangeKind::Lowered),
            ]
        );
        let needs: Vec<&str> = diff
            .iter()
            .filter(|c| c.needs_acknowledgement())
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(
            needs,
            [
                "capability/payments",
                "identity.attributes/phone",
                "payments.max-amount-fen"
            ]
        );
    }

    #[test]
    fn a_first_version_gains_everything_it_declares() {
        let new = manifest("storage = { quota-kib = 64 }", "");
        let diff = capability_diff(None, &new);
        assert!(
            diff.iter()
                .any(|c| c.id == "capability/storage" && c.kind == ChangeKind::Added)
        );
        assert!(
            diff.iter()
                .any(|c| c.id == "storage.quota-kib" && c.kind == ChangeKind::Raised)
        );
        assert!(diff.iter().all(|c| c.kind != ChangeKind::Removed));
    }

    #[test]
    fn an_unchanged_manifest_has_an_empty_diff() {
        let m = manifest("storage = { quota-kib = 64 }", "memory-mib = 32");
        assert!(capability_diff(Some(&m), &m).is_empty());
    }
}
