//! Who is being served (`tongban:platform/identity`).

use serde::{Deserialize, Serialize};

use crate::{Assurance, Channel, Error, Purpose, Timestamp};

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::identity as wit;

/// Whether the subject is a person or a legal person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubjectKind {
    Person,
    LegalPerson,
}

/// The session a hook call runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub subject: String,
    pub kind: SubjectKind,
    pub assurance: Assurance,
    pub channel: Channel,
    pub on_behalf_of: Option<String>,
    pub locale: String,
}

/// One released attribute of the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    pub value: String,
    pub source: String,
    pub verified_at: Timestamp,
}

/// The session of the current hook call.
pub fn current() -> Result<Session, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::current().map(Into::into).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.identity.current(&h.served));
}

/// Declared attributes, released under the subject's consent for this purpose.
pub fn attributes(names: &[&str], why: &Purpose) -> Result<Vec<Attribute>, Error> {
    #[cfg(target_arch = "wasm32")]
    {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        return wit::attributes(&names, &why.into())
            .map(|v| v.into_iter().map(Into::into).collect())
            .map_err(Into::into);
    }
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.identity.attributes(names, why, &h.served));
}

// On wasm, the generated bindings' values convert to and from the types above.

#[cfg(target_arch = "wasm32")]
impl From<wit::Session> for Session {
    fn from(s: wit::Session) -> Session {
        Session {
            subject: s.subject,
            kind: match s.kind {
                wit::SubjectKind::Person => SubjectKind::Person,
                wit::SubjectKind::LegalPerson => SubjectKind::LegalPerson,
            },
            assurance: s.assurance.into(),
            channel: s.channel.into(),
            on_behalf_of: s.on_behalf_of,
            locale: s.locale,
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl From<wit::Attribute> for Attribute {
    fn from(a: wit::Attribute) -> Attribute {
        Attribute {
            name: a.name,
            value: a.value,
            source: a.source,
            verified_at: a.verified_at,
        }
    }
}
