//! The case state machine of LIFECYCLES.md §2 as one transition table, with
//! the role each step needs. Anything not in the table is refused with the
//! stage and the action named.

use serde::{Deserialize, Serialize};

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Submitted,
    Accepted,
    CorrectionRequested,
    Rejected,
    Handling,
    Approved,
    Denied,
    Delivered,
    Closed,
    Withdrawn,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Submitted => "submitted",
            Stage::Accepted => "accepted",
            Stage::CorrectionRequested => "correction-requested",
            Stage::Rejected => "rejected",
            Stage::Handling => "handling",
            Stage::Approved => "approved",
            Stage::Denied => "denied",
            Stage::Delivered => "delivered",
            Stage::Closed => "closed",
            Stage::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Stage> {
        serde_json::from_value(serde_json::Value::String(text.into())).ok()
    }

    /// Whether the case is finished (no further step but closing).
    pub fn is_final(self) -> bool {
        matches!(self, Stage::Rejected | Stage::Closed | Stage::Withdrawn)
    }
}

/// Who may take a step, relative to the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Party {
    /// The applicant, or the window clerk acting for them.
    Applicant,
    /// A window clerk of the accepting org.
    AcceptingClerk,
    /// A handler of the handling org.
    Handler,
    /// A window clerk of the accepting org or a handler of the handling org.
    Staff,
    /// The app's own rule (即办件), through the host.
    Rule,
}

/// What can happen to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Accept,
    RequestCorrection,
    Reject,
    Resubmit,
    HandOff,
    StartHandling,
    Approve,
    Deny,
    Deliver,
    Close,
    Withdraw,
    RuleApprove,
    RuleDeny,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::RequestCorrection => "request-correction",
            Action::Reject => "reject",
            Action::Resubmit => "resubmit",
            Action::HandOff => "hand-off",
            Action::StartHandling => "start-handling",
            Action::Approve => "approve",
            Action::Deny => "deny",
            Action::Deliver => "deliver",
            Action::Close => "close",
            Action::Withdraw => "withdraw",
            Action::RuleApprove => "rule-approve",
            Action::RuleDeny => "rule-deny",
        }
    }

    /// Whether the action must carry a reason or decision text.
    pub fn needs_reason(self) -> bool {
        matches!(
            self,
            Action::RequestCorrection | Action::Reject | Action::HandOff | Action::Deny | Action::RuleDeny
        )
    }
}

/// The table: from which stages an action leads where, and who takes it.
pub fn step(from: Stage, action: Action) -> Option<(Stage, Party)> {
    use Action as A;
    use Stage as S;
    Some(match (from, action) {
        (S::Submitted, A::Accept) => (S::Accepted, Party::AcceptingClerk),
        (S::Submitted, A::RequestCorrection) => (S::CorrectionRequested, Party::AcceptingClerk),
        (S::Submitted, A::Reject) => (S::Rejected, Party::AcceptingClerk),
        (S::CorrectionRequested, A::Resubmit) => (S::Submitted, Party::Applicant),
        (S::Accepted | S::Handling, A::HandOff) => (S::Handling, Party::Staff),
        (S::Accepted, A::StartHandling) => (S::Handling, Party::Handler),
        (S::Accepted | S::Handling, A::Approve) => (S::Approved, Party::Handler),
        (S::Accepted | S::Handling, A::Deny) => (S::Denied, Party::Handler),
        (S::Approved, A::Deliver) => (S::Delivered, Party::Staff),
        (S::Delivered | S::Denied, A::Close) => (S::Closed, Party::Staff),
        (S::Submitted | S::CorrectionRequested | S::Accepted | S::Handling, A::Withdraw) => {
            (S::Withdrawn, Party::Applicant)
        }
        (S::Submitted, A::RuleApprove) => (S::Approved, Party::Rule),
        (S::Submitted, A::RuleDeny) => (S::Denied, Party::Rule),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commitment_path() {
        let (s, p) = step(Stage::Submitted, Action::Accept).unwrap();
        assert_eq!((s, p), (Stage::Accepted, Party::AcceptingClerk));
        let (s, p) = step(s, Action::HandOff).unwrap();
        assert_eq!((s, p), (Stage::Handling, Party::Staff));
        let (s, p) = step(s, Action::Approve).unwrap();
        assert_eq!((s, p), (Stage::Approved, Party::Handler));
        let (s, _) = step(s, Action::Deliver).unwrap();
        assert_eq!(step(s, Action::Close).unwrap().0, Stage::Closed);
    }

    #[test]
    fn rules_decide_only_at_submission_and_nothing_leaves_a_final_stage() {
        assert!(step(Stage::Accepted, Action::RuleApprove).is_none());
        for stage in [Stage::Rejected, Stage::Closed, Stage::Withdrawn] {
            for action in [
                Action::Accept,
                Action::Approve,
                Action::Withdraw,
                Action::Close,
                Action::HandOff,
            ] {
                assert!(step(stage, action).is_none(), "{stage:?} {action:?}");
            }
        }
        assert!(step(Stage::Approved, Action::Withdraw).is_none());
    }
}
