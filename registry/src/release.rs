//! The release state machines of LIFECYCLES.md §1, as explicit transition
//! tables. Two machines cooperate:
//!
//! - a **version** moves through review once: `submitted → checking →
//!   in-review → approved` (or back to `draft`, or `changes-requested`,
//!   `rejected`, `withdrawn`), and can later be `yanked` or `revoked`;
//! - a **deployment** is one approved version in one region: `piloting →
//!   rolling-out(p%) → active` (the pilot is optional), `halted`, `rolled-back`,
//!   `deprecated`, and `superseded` once a newer version reaches 100%.
//!
//! Every change goes through [`VersionState::apply`] or
//! [`DeploymentState::apply`]; anything not in the table is an
//! [`IllegalTransition`] naming the state and the action.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Who acts, as far as the machines care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Publisher,
    Reviewer,
    RegionAdmin,
    SecurityOfficer,
    PlatformAdmin,
    System,
    /// A person served by the platform; acts only on their own cases.
    Citizen,
    /// A window clerk (窗口人员) of an org: intake, and applying for a citizen
    /// at the counter (代办).
    WindowClerk,
    /// A handler (审批人员) of an org: decides the cases the org handles.
    Handler,
    /// An auditor: reads the audit chain and provenance records.
    Auditor,
}

/// Where a version stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionState {
    Draft,
    Submitted,
    Checking,
    InReview,
    ChangesRequested,
    Rejected,
    Withdrawn,
    Approved,
    Yanked,
    Revoked,
}

/// What can happen to a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionAction {
    Submit,
    StartChecks,
    ChecksPassed,
    ChecksFailed,
    Approve,
    RequestChanges,
    Reject,
    Withdraw,
    /// A publisher key was revoked: back to review.
    Quarantine,
    Yank,
    Revoke,
}

/// Where an approved version stands in one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentState {
    Piloting,
    RollingOut,
    Halted,
    Active,
    RolledBack,
    Deprecated,
    /// Replaced when another version of the app reached 100% in the region.
    Superseded,
}

/// What can happen to a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentAction {
    Pilot,
    Rollout,
    Halt,
    Rollback,
    Deprecate,
}

impl VersionState {
    /// Every state, for questions asked of the whole table.
    pub const ALL: [VersionState; 10] = [
        VersionState::Draft,
        VersionState::Submitted,
        VersionState::Checking,
        VersionState::InReview,
        VersionState::ChangesRequested,
        VersionState::Rejected,
        VersionState::Withdrawn,
        VersionState::Approved,
        VersionState::Yanked,
        VersionState::Revoked,
    ];

    /// Whether `who` may take `action` on a version in any state: the role
    /// half of the table, asked before anything is read, so that a role which
    /// may never act is refused as forbidden without learning whether the
    /// version exists.
    pub fn role_may_ever(action: VersionAction, who: Role) -> bool {
        VersionState::ALL.iter().any(|s| s.apply(action, who).is_ok())
    }
}

impl DeploymentState {
    /// Every state, for questions asked of the whole table.
    pub const ALL: [DeploymentState; 7] = [
        DeploymentState::Piloting,
        DeploymentState::RollingOut,
        DeploymentState::Halted,
        DeploymentState::Active,
        DeploymentState::RolledBack,
        DeploymentState::Deprecated,
        DeploymentState::Superseded,
    ];

    /// Whether `who` may take `action` on a deployment in any state (or none
    /// yet); see [`VersionState::role_may_ever`].
    pub fn role_may_ever(action: DeploymentAction, who: Role) -> bool {
        std::iter::once(None)
            .chain(DeploymentState::ALL.iter().copied().map(Some))
            .any(|s| DeploymentState::apply(s, action, who).is_ok())
    }
}

/// A transition the table does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a release that is {state}{}", .who.map(|r| format!(" as {}", kebab(&r))).unwrap_or_default())]
pub struct IllegalTransition {
    pub state: String,
    pub action: String,
    pub who: Option<Role>,
}

fn kebab<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

macro_rules! display_kebab {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&kebab(self))
            }
        }
    )*};
}
display_kebab!(Role, VersionState, VersionAction, DeploymentState, DeploymentAction);

impl VersionState {
    /// The transition table of a version.
    pub fn apply(self, action: VersionAction, who: Role) -> Result<VersionState, IllegalTransition> {
        use Role::*;
        use VersionAction as A;
        use VersionState as S;
        let next = match (self, action, who) {
            (S::Draft | S::ChangesRequested, A::Submit, Publisher) => S::Submitted,
            (S::Submitted, A::StartChecks, System) => S::Checking,
            (S::Checking, A::ChecksPassed, System) => S::InReview,
            (S::Checking, A::ChecksFailed, System) => S::Draft,
            (S::InReview, A::Approve, Reviewer) => S::Approved,
            (S::InReview, A::RequestChanges, Reviewer) => S::ChangesRequested,
            (S::InReview, A::Reject, Reviewer) => S::Rejected,
            (S::Submitted | S::InReview, A::Withdraw, Publisher) => S::Withdrawn,
            (S::Approved | S::InReview | S::Submitted, A::Quarantine, System | SecurityOfficer) => S::InReview,
            (S::Approved, A::Yank, Publisher | PlatformAdmin | RegionAdmin) => S::Yanked,
            (s, A::Revoke, SecurityOfficer) if s != S::Revoked => S::Revoked,
            _ => {
                return Err(IllegalTransition {
                    state: self.to_string(),
                    action: action.to_string(),
                    who: Some(who),
                });
            }
        };
        Ok(next)
    }

    /// Whether a version in this state may be newly deployed somewhere.
    pub fn may_deploy(self) -> bool {
        self == VersionState::Approved
    }

    /// Whether a version in this state may serve calls where deployed.
    pub fn may_serve(self) -> bool {
        matches!(self, VersionState::Approved | VersionState::Yanked)
    }
}

impl DeploymentState {
    /// The transition table of a deployment. `None` is a version not yet
    /// deployed in the region. Rollout percentages are checked by the caller
    /// with [`check_rollout_percentage`].
    pub fn apply(
        current: Option<DeploymentState>,
        action: DeploymentAction,
        who: Role,
    ) -> Result<DeploymentState, IllegalTransition> {
        use DeploymentAction as A;
        use DeploymentState as S;
        use Role::*;
        let admin = matches!(who, RegionAdmin | PlatformAdmin);
        let next = match (current, action) {
            (None, A::Pilot) if admin => S::Piloting,
            // A pilot is optional: a region admin may start a staged rollout directly.
            (None | Some(S::Piloting | S::RollingOut | S::Halted), A::Rollout) if admin => S::RollingOut,
            (Some(S::Piloting | S::RollingOut), A::Halt) if admin || matches!(who, Publisher | SecurityOfficer) => {
                S::Halted
            }
            (Some(S::Halted), A::Rollback) if admin => S::RolledBack,
            (Some(S::Active), A::Deprecate) if matches!(who, Publisher) || admin => S::Deprecated,
            _ => {
                return Err(IllegalTransition {
                    state: current
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "not deployed here".into()),
                    action: action.to_string(),
                    who: Some(who),
                });
            }
        };
        Ok(next)
    }
}

/// A rollout percentage only rises, and stays within 1..=100.
pub fn check_rollout_percentage(current: Option<u8>, requested: u8) -> Result<(), String> {
    if !(1..=100).contains(&requested) {
        return Err(format!("a rollout percentage is 1 to 100, not {requested}"));
    }
    if let Some(current) = current
        && requested < current
    {
        return Err(format!(
            "a rollout percentage only rises: it is {current}%, so {requested}% is refused"
        ));
    }
    Ok(())
}

/// The bucket (0..100) of a subject for an app. The same subject always lands
/// in the same bucket of the same app, and buckets of different apps are
/// independent.
pub fn rollout_bucket(subject: &str, app: &str) -> u8 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(app.as_bytes())
        .chain_update([0])
        .chain_update(subject.as_bytes())
        .finalize();
    (u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % 100) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_review_path_and_its_guards() {
        let s = VersionState::Draft
            .apply(VersionAction::Submit, Role::Publisher)
            .unwrap();
        let s = s.apply(VersionAction::StartChecks, Role::System).unwrap();
        let s = s.apply(VersionAction::ChecksPassed, Role::System).unwrap();
        assert_eq!(s, VersionState::InReview);
        let err = s.apply(VersionAction::Approve, Role::Publisher).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot approve a release that is in-review as publisher"
        );
        let s = s.apply(VersionAction::Approve, Role::Reviewer).unwrap();
        assert_eq!(s, VersionState::Approved);
        assert!(s.apply(VersionAction::Approve, Role::Reviewer).is_err());
        let s = s.apply(VersionAction::Revoke, Role::SecurityOfficer).unwrap();
        assert!(!s.may_serve());
        assert!(s.apply(VersionAction::Revoke, Role::SecurityOfficer).is_err());
    }

    #[test]
    fn deployments_move_forward_only_by_the_table() {
        use DeploymentAction as A;
        let p = DeploymentState::apply(None, A::Pilot, Role::RegionAdmin).unwrap();
        let r = DeploymentState::apply(Some(p), A::Rollout, Role::RegionAdmin).unwrap();
        let h = DeploymentState::apply(Some(r), A::Halt, Role::SecurityOfficer).unwrap();
        assert_eq!(
            DeploymentState::apply(Some(h), A::Rollback, Role::RegionAdmin).unwrap(),
            DeploymentState::RolledBack
        );
        assert!(DeploymentState::apply(None, A::Rollout, Role::Publisher).is_err());
        assert!(DeploymentState::apply(None, A::Pilot, Role::Publisher).is_err());
        assert!(DeploymentState::role_may_ever(A::Halt, Role::Publisher));
        assert!(!DeploymentState::role_may_ever(A::Halt, Role::Citizen));
        assert!(!DeploymentState::role_may_ever(A::Rollout, Role::SecurityOfficer));
        assert!(VersionState::role_may_ever(
            VersionAction::Revoke,
            Role::SecurityOfficer
        ));
        assert!(!VersionState::role_may_ever(VersionAction::Revoke, Role::PlatformAdmin));
        let err = DeploymentState::apply(Some(DeploymentState::RolledBack), A::Halt, Role::RegionAdmin).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot halt a release that is rolled-back as region-admin"
        );
    }

    #[test]
    fn percentages_only_rise() {
        assert!(check_rollout_percentage(None, 10).is_ok());
        assert!(check_rollout_percentage(Some(10), 50).is_ok());
        assert!(
            check_rollout_percentage(Some(50), 10)
                .unwrap_err()
                .contains("only rises")
        );
        assert!(check_rollout_percentage(None, 0).is_err());
        assert!(check_rollout_percentage(None, 101).is_err());
    }

    #[test]
    fn buckets_are_stable_and_spread() {
        assert_eq!(
            rollout_bucket("alice", "cn.gov.a.b"),
            rollout_bucket("alice", "cn.gov.a.b")
        );
        let in_half = (0..1000)
            .filter(|i| rollout_bucket(&format!("subject-{i}"), "cn.gov.a.b") < 50)
            .count();
        assert!((400..600).contains(&in_half), "{in_half} of 1000 in the lower half");
    }
}
