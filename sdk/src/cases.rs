//! The app's cases (`tongban:platform/cases`).

use serde::{Deserialize, Serialize};

use crate::{Channel, Error, Timestamp};

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::cases as wit;

/// A case's stage.
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

/// A case as its app sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseInfo {
    pub id: String,
    pub item: String,
    pub applicant: String,
    pub channel: Channel,
    pub stage: Stage,
    pub accepting_org: String,
    pub handling_org: String,
    pub submitted_at: Timestamp,
    pub due_at: Option<Timestamp>,
    pub form: String,
}

/// One case of this app.
pub fn get(id: &str) -> Result<CaseInfo, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::get(id).map(Into::into).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.cases.get(id));
}

/// 接续服务: open a follow-on case, prefilled with a JSON form.
pub fn start_follow_on(from: &str, item: &str, form: &str) -> Result<String, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::start_follow_on(from, item, form).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.cases.start_follow_on(from, item, form));
}

// On wasm, the generated bindings' values convert to and from the types above.

#[cfg(target_arch = "wasm32")]
impl From<wit::CaseInfo> for CaseInfo {
    fn from(c: wit::CaseInfo) -> CaseInfo {
        CaseInfo {
            id: c.id,
            item: c.item,
            applicant: c.applicant,
            channel: c.channel.into(),
            stage: match c.stage {
                wit::Stage::Submitted => Stage::Submitted,
                wit::Stage::Accepted => Stage::Accepted,
                wit::Stage::CorrectionRequested => Stage::CorrectionRequested,
                wit::Stage::Rejected => Stage::Rejected,
                wit::Stage::Handling => Stage::Handling,
                wit::Stage::Approved => Stage::Approved,
                wit::Stage::Denied => Stage::Denied,
                wit::Stage::Delivered => Stage::Delivered,
                wit::Stage::Closed => Stage::Closed,
                wit::Stage::Withdrawn => Stage::Withdrawn,
            },
            accepting_org: c.accepting_org,
            handling_org: c.handling_org,
            submitted_at: c.submitted_at,
            due_at: c.due_at,
            form: c.form,
        }
    }
}
