//! The publisher's and the reviewer's pages over the marketplace, and what
//! they share (the state badge, the check report, the capability diff, and
//! how a refusal is shown).
//!
//! - `/publish`: the publisher's org's apps with every version and where it
//!   stands in review, an upload form for a signed `.tbpkg`, the receipt with
//!   the check report and the capability diff, and withdrawing a version that
//!   is still in review.
//! - `/reviews`: the review queue (without the reviewer's own org), and one
//!   submission with its manifest, check report and capability diff, where
//!   every added capability is ticked one by one before approving, and
//!   requesting changes or rejecting needs a reason.
//!
//! Who may publish, withdraw or decide, and what a decision needs, are the
//! marketplace's rules (roles, orgs, separation of duties, acknowledgements);
//! the pages additionally refuse users of other roles with 403, and show a
//! refusal as the page again with an error summary naming the problem.

pub mod publisher;
pub mod reviews;

use axum::http::StatusCode;
use maud::{Markup, html};
use tongban_registry::check::CheckReport;
use tongban_registry::diff::{CapabilityChange, ChangeKind};
use tongban_registry::market::MarketError;
use tongban_registry::release::{Role, VersionState};

use super::design::{Tone, table_box, tag};
use super::error::PageError;
use super::layout::{Lang, Problem};
use super::session::WebUser;
use super::vocabulary::version_state_tag;
use crate::flows::access;

/// The form field that carries the package file.
pub(super) const PACKAGE_FIELD: &str = "package";

/// The org a publisher publishes for; anyone else gets 403.
pub(super) fn publisher_org(user: &WebUser) -> Result<String, PageError> {
    Ok(access::staff_org(&user.case_actor(), &[Role::Publisher])?.to_owned())
}

/// Only reviewers use the review pages; anyone else gets 403.
pub(super) fn reviewer_only(user: &WebUser) -> Result<(), PageError> {
    Ok(access::require(&user.case_actor(), &[Role::Reviewer])?)
}

/// The state as a tag, its stable name in `data-state`, so both people and
/// scripts find it.
pub(super) fn state_badge(l: Lang, state: VersionState) -> Markup {
    html! {
        span.version-state data-state=(state) { (version_state_tag(state, l)) }
    }
}

/// A refusal of the marketplace as problems for the error summary: the
/// marketplace names the problem (in English); the page says first, in the
/// page's language, what kind of refusal it is (`invalid` for invalid input,
/// which the caller knows best). A failed check is one problem per finding.
pub(super) fn refusal_problems(l: Lang, e: &MarketError, field_id: &str, invalid: &str) -> Vec<Problem> {
    let problem = |message: String| Problem {
        field_id: field_id.to_owned(),
        message,
    };
    if let MarketError::Checks(found) = e {
        return found
            .iter()
            .map(|p| problem(format!("{}{}{p}", l.t("未通过检查", "Check failed"), l.t("：", ": "))))
            .collect();
    }
    let kind = match e {
        MarketError::Invalid(_) => invalid,
        MarketError::NotFound(_) => l.t("未找到", "Not found"),
        MarketError::Forbidden(_) => l.t("无权操作", "Not allowed"),
        MarketError::Conflict(_) | MarketError::Transition(_) => l.t("状态冲突", "Conflict"),
        MarketError::Signature(_) => l.t("签名无效", "Bad signature"),
        _ => l.t("操作失败", "Failed"),
    };
    vec![problem(format!("{kind}{}{e}", l.t("：", ": ")))]
}

/// The status a marketplace refusal answers with.
pub(super) fn refusal_status(e: MarketError) -> StatusCode {
    PageError::from(e).status()
}

/// The automated checks a version passed, and any findings.
pub(super) fn check_report(l: Lang, report: &CheckReport) -> Markup {
    html! {
        @if report.is_ok() {
            p { (l.t("全部自动检查通过。", "Every automated check passed.")) }
        }
        ul.check-report {
            @for check in &report.ran {
                @let failed = report.problems.iter().any(|p| p.check == *check);
                li {
                    code { (check) } " "
                    @if failed { (tag("failed", l.t("未通过", "Failed"), Tone::Danger)) } @else { (tag("passed", l.t("通过", "Passed"), Tone::Success)) }
                }
            }
        }
        @if !report.is_ok() {
            ul { @for p in &report.problems { li { (p) } } }
        }
    }
}

pub(super) fn change_label(l: Lang, kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => l.t("新增", "Added"),
        ChangeKind::Removed => l.t("移除", "Removed"),
        ChangeKind::Raised => l.t("提高", "Raised"),
        ChangeKind::Lowered => l.t("降低", "Lowered"),
    }
}

pub(super) fn change_class(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => "cap-added",
        ChangeKind::Removed => "cap-removed",
        ChangeKind::Raised => "cap-raised",
        ChangeKind::Lowered => "cap-lowered",
    }
}

/// The capability diff against the last approved version: every change
/// (gains highlighted, since each needs the reviewer's acknowledgement), then
/// what stays as it was.
pub(super) fn diff_table(l: Lang, diff: &[CapabilityChange], unchanged: &[String]) -> Markup {
    const GAIN: &str = "background:#fff3bf";
    html! {
        @if diff.is_empty() && unchanged.is_empty() {
            p { (l.t("没有申请任何权限。", "No capabilities are requested.")) }
        } @else {
            (table_box(l.t("权限变化", "Capability changes"), html! { table.capability-diff {
                caption { (l.t("与上一个已通过版本相比", "Against the last approved version")) }
                thead { tr {
                    th scope="col" { (l.t("权限", "Capability")) }
                    th scope="col" { (l.t("变化", "Change")) }
                    th scope="col" { (l.t("之前", "Before")) }
                    th scope="col" { (l.t("之后", "After")) }
                } }
                tbody {
                    @for c in diff {
                        @let gain = c.needs_acknowledgement();
                        tr class=(change_class(c.kind)) style=[gain.then_some(GAIN)] {
                            td { code { (c.id) } }
                            td { @if gain { mark { strong { (change_label(l, c.kind)) } } } @else { (change_label(l, c.kind)) } }
                            td { (c.before.as_deref().unwrap_or("")) }
                            td { (c.after.as_deref().unwrap_or("")) }
                        }
                    }
                    @for id in unchanged {
                        tr.cap-unchanged {
                            td { code { (id) } }
                            td { (l.t("未变", "Unchanged")) }
                            td {} td {}
                        }
                    }
                }
            } }))
        }
    }
}
