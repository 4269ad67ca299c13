//! One vocabulary: every state's label in each language, used by every
//! page, so the same state reads the same everywhere. Each function takes
//! the state (or its stable name) and the page's language; pages put the
//! stable name beside the label in a `data-*` attribute for scripts.

use tongban_registry::release::{DeploymentState, VersionState};
use tongban_services::certificates::CertificateStatus;
use tongban_services::consent::ConsentState;
use tongban_services::payments::PaymentStatus;
use tongban_services::ratings::RatingLevel;

use maud::Markup;

use super::design::{Tone, tag};
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

/// A case's stage as a tag, in colour and words.
pub fn stage_tag(stage: &str, l: Lang) -> Markup {
    let tone = match stage {
        "submitted" | "accepted" | "handling" => Tone::Info,
        "correction-requested" => Tone::Warning,
        "rejected" | "denied" => Tone::Danger,
        "approved" | "delivered" | "closed" => Tone::Success,
        _ => Tone::Neutral,
    };
    tag(stage, or_code(stage_label(stage, l), stage), tone)
}

/// Who took a step on a case, when it was not a person: the applicant, the
/// app's rule, the payment platform. `None` for a staff account's name.
pub fn actor_label(actor: &str, l: Lang) -> Option<&'static str> {
    match actor {
        "applicant" => Some(l.t("申请人", "Applicant")),
        "rule" => Some(l.t("即办规则", "The item's rule")),
        "payments" => Some(l.t("支付平台", "Payment platform")),
        "system" => Some(l.t("平台", "The platform")),
        _ => None,
    }
}

/// The label, or the stable name when the vocabulary has none (a newer
/// state than this page knows), so nothing is left blank.
pub fn or_code<'a>(label: &'a str, code: &'a str) -> &'a str {
    if label.is_empty() { code } else { label }
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

/// A payment's status as a tag.
pub fn payment_tag(status: PaymentStatus, l: Lang) -> Markup {
    use PaymentStatus as P;
    let tone = match status {
        P::Created | P::Started | P::Submitted => Tone::Warning,
        P::Success => Tone::Success,
        P::Failed | P::Error => Tone::Danger,
        P::Cancelled => Tone::Neutral,
    };
    tag(status.as_str(), payment_label(status, l), tone)
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

/// A version's state as a tag.
pub fn version_state_tag(state: VersionState, l: Lang) -> Markup {
    use VersionState as V;
    let tone = match state {
        V::Draft | V::Withdrawn => Tone::Neutral,
        V::Submitted | V::Checking | V::InReview => Tone::Info,
        V::ChangesRequested | V::Yanked => Tone::Warning,
        V::Rejected | V::Revoked => Tone::Danger,
        V::Approved => Tone::Success,
    };
    tag(&state.to_string(), version_state_label(state, l), tone)
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

/// A deployment's state as a tag.
pub fn deployment_state_tag(state: DeploymentState, l: Lang) -> Markup {
    use DeploymentState as D;
    let tone = match state {
        D::Piloting | D::RollingOut => Tone::Info,
        D::Active => Tone::Success,
        D::Halted => Tone::Warning,
        D::RolledBack => Tone::Danger,
        D::Deprecated | D::Superseded => Tone::Neutral,
    };
    tag(&state.to_string(), deployment_state_label(state, l), tone)
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

/// An e-certificate's status as a tag.
pub fn certificate_status_tag(status: CertificateStatus, l: Lang) -> Markup {
    let tone = match status {
        CertificateStatus::Valid => Tone::Success,
        CertificateStatus::Suspended => Tone::Warning,
        _ => Tone::Danger,
    };
    tag(status.as_str(), certificate_status_label(status, l), tone)
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

/// A consent's state as a tag.
pub fn consent_state_tag(state: ConsentState, l: Lang) -> Markup {
    let tone = match state {
        ConsentState::Requested => Tone::Info,
        ConsentState::Granted => Tone::Success,
        ConsentState::Denied | ConsentState::Revoked => Tone::Neutral,
        ConsentState::Expired => Tone::Warning,
    };
    tag(
        &format!("{state:?}").to_lowercase(),
        consent_state_label(state, l),
        tone,
    )
}

/// Every case stage's stable name.
pub const STAGES: [&str; 10] = [
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

/// Every timeline event's stable name.
pub const EVENTS: [&str; 15] = [
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

/// Every channel's stable name.
pub const CHANNELS: [&str; 5] = ["web", "mobile", "window", "kiosk", "hotline"];

/// Every non-person actor's stable name.
pub const ACTORS: [&str; 4] = ["applicant", "rule", "payments", "system"];

/// One word of the vocabulary: what it names, its stable name, and its
/// label in each language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub kind: &'static str,
    pub code: String,
    pub zh: &'static str,
    pub en: &'static str,
}

/// The whole vocabulary, for the test that no page shows a word in the
/// other language (`tests/language.rs`).
pub fn every_word() -> Vec<Word> {
    use PaymentStatus as P;
    let word = |kind: &'static str, code: &str, label: &dyn Fn(Lang) -> &'static str| Word {
        kind,
        code: code.to_owned(),
        zh: label(Lang::Zh),
        en: label(Lang::En),
    };
    let mut words = Vec::new();
    for code in STAGES {
        words.push(word("stage", code, &|l| stage_label(code, l)));
    }
    for code in EVENTS {
        words.push(word("event", code, &|l| event_label(code, l)));
    }
    for code in CHANNELS {
        words.push(word("channel", code, &|l| channel_label(code, l)));
    }
    for code in ACTORS {
        words.push(word("actor", code, &|l| actor_label(code, l).unwrap_or_default()));
    }
    for status in [
        P::Created,
        P::Started,
        P::Submitted,
        P::Success,
        P::Failed,
        P::Cancelled,
        P::Error,
    ] {
        words.push(word("payment", status.as_str(), &|l| payment_label(status, l)));
    }
    for level in RatingLevel::ALL {
        words.push(word("rating", level.as_str(), &|l| rating_label(level, l)));
    }
    for state in VersionState::ALL {
        words.push(word("version", &state.to_string(), &|l| version_state_label(state, l)));
    }
    for state in DeploymentState::ALL {
        words.push(word("deployment", &state.to_string(), &|l| {
            deployment_state_label(state, l)
        }));
    }
    for status in [
        CertificateStatus::Valid,
        CertificateStatus::Suspended,
        CertificateStatus::Revoked,
        CertificateStatus::Cancelled,
        CertificateStatus::Expired,
    ] {
        words.push(word("certificate", status.as_str(), &|l| {
            certificate_status_label(status, l)
        }));
    }
    for (state, code) in [
        (ConsentState::Requested, "requested"),
        (ConsentState::Granted, "granted"),
        (ConsentState::Denied, "denied"),
        (ConsentState::Revoked, "revoked"),
        (ConsentState::Expired, "expired"),
    ] {
        words.push(word("consent", code, &|l| consent_state_label(state, l)));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stage, event and channel the case services name has a label in
    /// both languages, so no page falls back to a machine name.
    #[test]
    fn every_case_state_has_a_label_in_both_languages() {
        for l in [Lang::Zh, Lang::En] {
            for stage in STAGES {
                assert!(tongban_services::cases::Stage::parse(stage).is_some(), "{stage}");
                assert!(!stage_label(stage, l).is_empty(), "{stage}");
            }
            for event in EVENTS {
                assert!(!event_label(event, l).is_empty(), "{event}");
            }
            for channel in CHANNELS {
                assert!(!channel_label(channel, l).is_empty(), "{channel}");
            }
            for actor in ACTORS {
                assert!(actor_label(actor, l).is_some(), "{actor}");
            }
        }
    }

    /// Every word has a label in both languages, and the two differ.
    #[test]
    fn every_word_has_both_labels() {
        let words = every_word();
        assert!(words.len() > 60, "{}", words.len());
        for w in words {
            assert!(!w.zh.is_empty() && !w.en.is_empty() && w.zh != w.en, "{w:?}");
            assert!(!w.zh.is_ascii(), "{w:?}");
        }
    }
}
