//! One vocabulary: every state's label in each language, used by every
//! page, so the same state reads the same everywhere. Each function takes
//! the state (or its stable name) and the page's language; pages put the
//! stable name beside the label in a `data-*` attribute for scripts.

use tongban_registry::release::{DeploymentState, VersionState};
use tongban_services::certificates::CertificateStatus;
use tongban_services::consent::ConsentState;
use tongban_services::payments::PaymentStatus;
use tongban_services::ratings::RatingLevel;

use super::layout::Lang;

/// A case's stage, by its stable name.
pub fn stage_label(stage: &str, l: Lang) -> &'static str {
    match stage {
        "submitted" => l.t("已提交", "Submitted"),
        "accepted" => l.t("已受理", "Accepted"),
        "correction-requested" => l.t("待补正", "Correction requested"),
        "rejected" => l.t("不予受理", "Rejected"),
        "handling" => l.t("办理中", "Being handled"),
        "approved" => l.t("已批准", "Approved"),
        "denied" => l.t("不予批准", "Denied"),
        "delivered" => l.t("已出件", "Delivered"),
        "closed" => l.t("已办结", "Closed"),
        "withdrawn" => l.t("已撤回", "Withdrawn"),
        _ => "",
    }
}

/// A timeline event as people read it; the machine name stays on the
/// element (`data-kind`).
pub fn event_label(kind: &str, l: Lang) -> &'static str {
    match kind {
        "submitted" => l.t("提交申请", "Submitted"),
        "paid" => l.t("缴费成功", "Fee paid"),
        "accept" => l.t("受理", "Accepted"),
        "request-correction" => l.t("要求补正", "Correction requested"),
        "resubmit" => l.t("补正后重新提交", "Resubmitted after correction"),
        "reject" => l.t("不予受理", "Rejected"),
        "hand-off" => l.t("移交办理", "Handed off"),
        "start-handling" => l.t("开始办理", "Handling started"),
        "approve" => l.t("批准", "Approved"),
        "deny" => l.t("不予批准", "Denied"),
        "rule-approve" => l.t("即办批准", "Approved by rule"),
        "rule-deny" => l.t("即办不予批准", "Denied by rule"),
        "deliver" => l.t("出件", "Delivered"),
        "close" => l.t("办结", "Closed"),
        "withdraw" => l.t("撤回申请", "Withdrawn"),
        _ => "",
    }
}

/// A channel as people read it.
pub fn channel_label(channel: &str, l: Lang) -> &'static str {
    match channel {
        "web" => l.t("网上办理", "Online"),
        "mobile" => l.t("移动端办理", "Mobile"),
        "window" => l.t("窗口办理", "At a window"),
        "kiosk" => l.t("自助终端", "Self-service kiosk"),
        "hotline" => l.t("热线办理", "Hotline"),
        _ => "",
    }
}

/// A payment's status as people read it.
pub fn payment_label(status: PaymentStatus, l: Lang) -> &'static str {
    use PaymentStatus as P;
    match status {
        P::Created => l.t("待支付", "To pay"),
        P::Started => l.t("支付中", "Being paid"),
        P::Submitted => l.t("银行处理中", "With the bank"),
        P::Success => l.t("已支付", "Paid"),
        P::Failed => l.t("支付未成功", "Not paid"),
        P::Cancelled => l.t("已取消", "Cancelled"),
        P::Error => l.t("支付出错", "Payment error"),
    }
}

/// A rating level as the citizen reads it.
pub fn rating_label(level: RatingLevel, l: Lang) -> &'static str {
    match level {
        RatingLevel::VerySatisfied => l.t("非常满意", "Very satisfied"),
        RatingLevel::Satisfied => l.t("满意", "Satisfied"),
        RatingLevel::BasicallySatisfied => l.t("基本满意", "Basically satisfied"),
        RatingLevel::Dissatisfied => l.t("不满意", "Dissatisfied"),
        RatingLevel::VeryDissatisfied => l.t("非常不满意", "Very dissatisfied"),
    }
}

/// A version's state in the marketplace.
pub fn version_state_label(state: VersionState, l: Lang) -> &'static str {
    match state {
        VersionState::Draft => l.t("草稿", "Draft"),
        VersionState::Submitted => l.t("已提交", "Submitted"),
        VersionState::Checking => l.t("检查中", "Checking"),
        VersionState::InReview => l.t("审核中", "In review"),
        VersionState::ChangesRequested => l.t("待修改", "Changes requested"),
        VersionState::Rejected => l.t("已驳回", "Rejected"),
        VersionState::Withdrawn => l.t("已撤回", "Withdrawn"),
        VersionState::Approved => l.t("已批准", "Approved"),
        VersionState::Yanked => l.t("已下架（停止新部署）", "Yanked (no new deployments)"),
        VersionState::Revoked => l.t("已吊销", "Revoked"),
    }
}

/// A deployment's state in a region.
pub fn deployment_state_label(state: DeploymentState, l: Lang) -> &'static str {
    match state {
        DeploymentState::Piloting => l.t("试点中", "Piloting"),
        DeploymentState::RollingOut => l.t("灰度上线中", "Rolling out"),
        DeploymentState::Halted => l.t("已暂停", "Halted"),
        DeploymentState::Active => l.t("全量上线", "Active"),
        DeploymentState::RolledBack => l.t("已回滚", "Rolled back"),
        DeploymentState::Deprecated => l.t("已弃用", "Deprecated"),
        DeploymentState::Superseded => l.t("已被新版本取代", "Superseded"),
    }
}

/// An e-certificate's status.
pub fn certificate_status_label(status: CertificateStatus, l: Lang) -> &'static str {
    match status {
        CertificateStatus::Valid => l.t("有效", "Valid"),
        CertificateStatus::Suspended => l.t("已暂停", "Suspended"),
        CertificateStatus::Revoked => l.t("已撤销", "Revoked"),
        CertificateStatus::Cancelled => l.t("已注销", "Cancelled"),
        CertificateStatus::Expired => l.t("已过期", "Expired"),
    }
}

/// A consent's state.
pub fn consent_state_label(state: ConsentState, l: Lang) -> &'static str {
    match state {
        ConsentState::Requested => l.t("待确认", "Requested"),
        ConsentState::Granted => l.t("已同意", "Granted"),
        ConsentState::Denied => l.t("已拒绝", "Denied"),
        ConsentState::Revoked => l.t("已撤回", "Revoked"),
        ConsentState::Expired => l.t("已过期", "Expired"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stage, event and channel the case services name has a label in
    /// both languages, so no page falls back to a machine name.
    #[test]
    fn every_case_state_has_a_label_in_both_languages() {
        let stages = [
            "submitted",
            "accepted",
            "correction-requested",
            "rejected",
            "handling",
            "approved",
            "denied",
            "delivered",
            "closed",
            "withdrawn",
        ];
        let events = [
            "submitted",
            "paid",
            "accept",
            "request-correction",
            "resubmit",
            "reject",
            "hand-off",
            "start-handling",
            "approve",
            "deny",
            "rule-approve",
            "rule-deny",
            "deliver",
            "close",
            "withdraw",
        ];
        for l in [Lang::Zh, Lang::En] {
            for stage in stages {
                assert!(tongban_services::cases::Stage::parse(stage).is_some(), "{stage}");
                assert!(!stage_label(stage, l).is_empty(), "{stage}");
            }
            for event in events {
                assert!(!event_label(event, l).is_empty(), "{event}");
            }
            for channel in ["web", "mobile", "window", "kiosk", "hotline"] {
                assert!(!channel_label(channel, l).is_empty(), "{channel}");
            }
        }
    }
}
