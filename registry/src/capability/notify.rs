//! `[capabilities] notify`: template-only messages to the subjects the app
//! serves, bounded per call, per subject per day and per app per day.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::grant::{Grant, PackageFiles};
use crate::platform;

/// `notify = { templates = { name = "path" }, max-per-call = N, ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NotifyGrant {
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
    /// Messages one hook call may send; the platform default when absent,
    /// never more than [`platform::MAX_NOTIFY_PER_CALL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_call: Option<u32>,
    /// Messages the app may send one subject per civil day (UTC+8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_subject_per_day: Option<u32>,
    /// Messages the app may send in all per civil day (UTC+8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_app_per_day: Option<u32>,
}

/// The bounds an app's messages are held to, after the manifest's overrides
/// and the platform's maxima.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyQuota {
    pub per_call: u32,
    pub per_subject_per_day: u32,
    pub per_app_per_day: u32,
}

impl NotifyQuota {
    /// The platform's defaults.
    pub const DEFAULT: NotifyQuota = NotifyQuota {
        per_call: platform::DEFAULT_NOTIFY_PER_CALL,
        per_subject_per_day: platform::DEFAULT_NOTIFY_PER_SUBJECT_PER_DAY,
        per_app_per_day: platform::DEFAULT_NOTIFY_PER_APP_PER_DAY,
    };
}

impl NotifyGrant {
    /// The bounds in force: the manifest's values where given, each capped by
    /// the platform's maximum.
    pub fn quota(&self) -> NotifyQuota {
        let pick = |asked: Option<u32>, default: u32, max: u32| asked.unwrap_or(default).min(max);
        NotifyQuota {
            per_call: pick(
                self.max_per_call,
                platform::DEFAULT_NOTIFY_PER_CALL,
                platform::MAX_NOTIFY_PER_CALL,
            ),
            per_subject_per_day: pick(
                self.max_per_subject_per_day,
                platform::DEFAULT_NOTIFY_PER_SUBJECT_PER_DAY,
                platform::MAX_NOTIFY_PER_SUBJECT_PER_DAY,
            ),
            per_app_per_day: pick(
                self.max_per_app_per_day,
                platform::DEFAULT_NOTIFY_PER_APP_PER_DAY,
                platform::MAX_NOTIFY_PER_APP_PER_DAY,
            ),
        }
    }
}

impl Grant for NotifyGrant {
    fn limit_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, asked, max) in [
            ("max-per-call", self.max_per_call, platform::MAX_NOTIFY_PER_CALL),
            (
                "max-per-subject-per-day",
                self.max_per_subject_per_day,
                platform::MAX_NOTIFY_PER_SUBJECT_PER_DAY,
            ),
            (
                "max-per-app-per-day",
                self.max_per_app_per_day,
                platform::MAX_NOTIFY_PER_APP_PER_DAY,
            ),
        ] {
            if let Some(n) = asked
                && !(1..=max).contains(&n)
            {
                problems.push(format!("capabilities.notify.{key} = {n} is outside 1..={max}"));
            }
        }
        problems
    }

    /// Every template must be a UTF-8 file of the package.
    fn problems(&self, files: &dyn PackageFiles) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, path) in &self.templates {
            match files.file(path) {
                None => {
                    problems.push(format!(
                        "notify template `{name}` refers to `{path}`, which is not in the package"
                    ));
                }
                Some(bytes) if std::str::from_utf8(bytes).is_err() => {
                    problems.push(format!("notify template `{name}` (`{path}`) is not UTF-8"));
                }
                Some(_) => {}
            }
        }
        problems
    }

    fn scopes(&self) -> Vec<String> {
        self.templates
            .iter()
            .map(|(name, path)| format!("notify.templates/{name}={path}"))
            .collect()
    }

    fn limits(grant: Option<&Self>) -> Vec<(&'static str, u64)> {
        let quota = grant.map(NotifyGrant::quota);
        vec![
            ("notify.max-per-call", quota.map(|q| q.per_call as u64).unwrap_or(0)),
            (
                "notify.max-per-subject-per-day",
                quota.map(|q| q.per_subject_per_day as u64).unwrap_or(0),
            ),
            (
                "notify.max-per-app-per-day",
                quota.map(|q| q.per_app_per_day as u64).unwrap_or(0),
            ),
        ]
    }

    fn files(&self) -> Vec<String> {
        self.templates.values().cloned().collect()
    }
}
