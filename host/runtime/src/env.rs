//! The situation of one hook call as the host describes it: whom it serves
//! (the session as the app sees it, and the platform subject, which stays on
//! the host side), the item, the region and the case. The server builds a
//! [`CallEnv`] for every call; the capabilities read it when they prepare
//! their per-call state.

use serde::{Deserialize, Serialize};

use crate::bindings::types as wit_types;

/// Whether the subject is a person or a legal person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubjectKind {
    Person,
    LegalPerson,
}

/// How sure the platform is of the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Assurance {
    Low,
    Substantial,
    High,
}

/// The channel of an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Web,
    Mobile,
    Window,
    Kiosk,
    Hotline,
}

/// Who a call serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The pairwise handle the app sees.
    pub subject: String,
    pub kind: SubjectKind,
    pub assurance: Assurance,
    pub channel: Channel,
    /// The clerk acting for the subject at a window (代办).
    pub on_behalf_of: Option<String>,
    pub locale: String,
}

/// Everything a call needs to know about its situation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEnv {
    /// The session as the app sees it; `session.subject` is the pairwise
    /// handle of `subject` for this app.
    pub session: Session,
    /// The item code the call is about.
    pub item: String,
    /// The region served, as a 6-digit GB/T 2260 code.
    pub region: String,
    /// The platform subject served. It stays on the host side: capabilities
    /// use it to find consents, attributes and certificates. None for a call
    /// that serves nobody (a local `tongban app run`), where every
    /// personal-data capability answers `not-found`.
    #[serde(default)]
    pub subject: Option<String>,
    /// The case the call is about, if any (recorded with provenance).
    #[serde(default)]
    pub case: Option<String>,
    /// For an `on-event` delivery: the sequence number of the case event
    /// delivered. Delivery is at least once, so effects keyed by it (a
    /// notification) happen once however often the event is delivered.
    #[serde(default)]
    pub event: Option<i64>,
}

impl From<Channel> for wit_types::Channel {
    fn from(c: Channel) -> Self {
        match c {
            Channel::Web => wit_types::Channel::Web,
            Channel::Mobile => wit_types::Channel::Mobile,
            Channel::Window => wit_types::Channel::Window,
            Channel::Kiosk => wit_types::Channel::Kiosk,
            Channel::Hotline => wit_types::Channel::Hotline,
        }
    }
}

impl From<Assurance> for wit_types::Assurance {
    fn from(a: Assurance) -> Self {
        match a {
            Assurance::Low => wit_types::Assurance::Low,
            Assurance::Substantial => wit_types::Assurance::Substantial,
            Assurance::High => wit_types::Assurance::High,
        }
    }
}
