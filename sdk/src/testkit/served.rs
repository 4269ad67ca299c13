//! Whom the test host serves, shared by every capability's half of it: the
//! session, the scopes the subject consented to, and the host's clock.

use std::collections::BTreeSet;

use crate::{Assurance, Channel, Error, Session, SubjectKind, Timestamp};

/// The subject a test host serves.
pub(crate) struct Served {
    pub(crate) session: Session,
    /// Scopes spelt as on the host: `identity.attributes/NAME`,
    /// `certificates/TYPE`.
    pub(crate) consented: BTreeSet<String>,
    pub(crate) now: Timestamp,
}

impl Served {
    /// 张三's stand-in: a person signed in on the web with substantial
    /// assurance, consenting to nothing yet, at 2026-01-01 00:00 UTC.
    pub(crate) fn new() -> Served {
        Served {
            session: Session {
                subject: "test-subject".into(),
                kind: SubjectKind::Person,
                assurance: Assurance::Substantial,
                channel: Channel::Web,
                on_behalf_of: None,
                locale: "zh-CN".into(),
            },
            consented: BTreeSet::new(),
            now: 1_767_225_600_000,
        }
    }

    /// `consent-required` naming the scope, unless the subject consented.
    pub(crate) fn consent(&self, scope: String) -> Result<(), Error> {
        if self.consented.contains(&scope) {
            Ok(())
        } else {
            Err(Error::ConsentRequired(scope))
        }
    }
}
