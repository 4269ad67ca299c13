//! Consent, owned by the host (after the DEPA / ABDM consent artefact): a
//! citizen grants an app a set of scopes for one purpose, until an expiry, and
//! can revoke it at any time. LIFECYCLES.md §4:
//! `requested → granted | denied`, `granted → revoked | expired`.
//!
//! This module is the pure artefact and its rules; storing artefacts and the
//! pages where citizens grant and revoke them build on it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The longest a consent may last: one year.
pub const MAX_CONSENT_MS: i64 = 366 * 24 * 60 * 60 * 1000;

/// Where an artefact stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsentState {
    Requested,
    Granted,
    Denied,
    Revoked,
    Expired,
}

/// A consent artefact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub id: String,
    /// The platform subject (never shown to apps).
    pub subject: String,
    pub app: String,
    /// What may be read, e.g. `identity.attributes/name`, `certificates/ID-CARD`.
    pub scopes: BTreeSet<String>,
    /// The purpose's code: the item code (实施编码) of the service the data
    /// is read for. A read for another purpose is not covered.
    pub purpose: String,
    /// The sentence the citizen was shown and agreed to.
    #[serde(default)]
    pub purpose_text: String,
    pub state: ConsentState,
    pub requested_at: i64,
    pub granted_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub ended_at: Option<i64>,
}

/// Why a consent action or read is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    #[error("a consent request needs at least one scope and a purpose")]
    Incomplete,
    #[error("a consent lasts 1 ms to one year, not {0} ms")]
    Duration(i64),
    #[error("cannot {action} consent {id}: it is {state:?}")]
    Transition {
        id: String,
        action: &'static str,
        state: ConsentState,
    },
    /// The read is not covered: no live consent, another app or subject, a
    /// scope outside it, or another purpose. Maps to WIT `consent-required`.
    #[error("consent required: {0}")]
    Required(String),
}

impl Consent {
    /// A new request, shown to the citizen before the app may read.
    pub fn request(
        id: &str,
        subject: &str,
        app: &str,
        scopes: impl IntoIterator<Item = String>,
        purpose: &str,
        now: i64,
    ) -> Result<Consent, ConsentError> {
        let scopes: BTreeSet<String> = scopes.into_iter().filter(|s| !s.trim().is_empty()).collect();
        if scopes.is_empty() || purpose.trim().is_empty() {
            return Err(ConsentError::Incomplete);
        }
        Ok(Consent {
            id: id.into(),
            subject: subject.into(),
            app: app.into(),
            scopes,
            purpose: purpose.into(),
            purpose_text: String::new(),
            state: ConsentState::Requested,
            requested_at: now,
            granted_at: None,
            expires_at: None,
            ended_at: None,
        })
    }

    /// The state at `now`: a granted consent past its expiry is expired.
    pub fn state_at(&self, now: i64) -> ConsentState {
        match (self.state, self.expires_at) {
            (ConsentState::Granted, Some(expires)) if now >= expires => ConsentState::Expired,
            (state, _) => state,
        }
    }

    fn refuse(&self, action: &'static str, now: i64) -> ConsentError {
        ConsentError::Transition {
            id: self.id.clone(),
            action,
            state: self.state_at(now),
        }
    }

    /// The citizen grants the request for `valid_for_ms`.
    pub fn grant(&mut self, now: i64, valid_for_ms: i64) -> Result<(), ConsentError> {
        if self.state_at(now) != ConsentState::Requested {
            return Err(self.refuse("grant", now));
        }
        if !(1..=MAX_CONSENT_MS).contains(&valid_for_ms) {
            return Err(ConsentError::Duration(valid_for_ms));
        }
        self.state = ConsentState::Granted;
        self.granted_at = Some(now);
        self.expires_at = Some(now + valid_for_ms);
        Ok(())
    }

    /// The citizen declines the request.
    pub fn deny(&mut self, now: i64) -> Result<(), ConsentError> {
        if self.state_at(now) != ConsentState::Requested {
            return Err(self.refuse("deny", now));
        }
        self.state = ConsentState::Denied;
        self.ended_at = Some(now);
        Ok(())
    }

    /// The citizen revokes a live consent; the next read is refused.
    pub fn revoke(&mut self, now: i64) -> Result<(), ConsentError> {
        if self.state_at(now) != ConsentState::Granted {
            return Err(self.refuse("revoke", now));
        }
        self.state = ConsentState::Revoked;
        self.ended_at = Some(now);
        Ok(())
    }

    /// Whether this consent lets `app` read `scope` of `subject` for
    /// `purpose` at `now`; the refusal says which condition failed.
    pub fn covers(&self, subject: &str, app: &str, scope: &str, purpose: &str, now: i64) -> Result<(), ConsentError> {
        let required = |why: String| Err(ConsentError::Required(why));
        if self.subject != subject || self.app != app {
            return required(format!("consent {} is for another subject or app", self.id));
        }
        match self.state_at(now) {
            ConsentState::Granted => {}
            state => return required(format!("consent {} is {state:?}", self.id).to_lowercase()),
        }
        if !self.scopes.contains(scope) {
            return required(format!("consent {} does not cover `{scope}`", self.id));
        }
        if self.purpose != purpose {
            return required(format!(
                "consent {} was given for `{}`, not for `{purpose}`",
                self.id, self.purpose
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 60 * 60 * 1000;

    fn requested() -> Consent {
        Consent::request(
            "c-1",
            "subject-1",
            "cn.gov.hz.amr.sole-proprietor",
            [
                "identity.attributes/name".to_string(),
                "certificates/ID-CARD".to_string(),
            ],
            "免提交身份证明",
            1_000,
        )
        .unwrap()
    }

    #[test]
    fn a_granted_consent_covers_its_scopes_for_its_purpose_until_it_expires() {
        let mut c = requested();
        let app = "cn.gov.hz.amr.sole-proprietor";
        assert!(
            c.covers("subject-1", app, "certificates/ID-CARD", "免提交身份证明", 2_000)
                .is_err()
        );
        c.grant(2_000, 30 * DAY).unwrap();
        c.covers("subject-1", app, "certificates/ID-CARD", "免提交身份证明", 3_000)
            .unwrap();
        let wrong_purpose = c
            .covers("subject-1", app, "certificates/ID-CARD", "营销", 3_000)
            .unwrap_err();
        assert!(wrong_purpose.to_string().contains("not for `营销`"), "{wrong_purpose}");
        let wrong_scope = c.covers("subject-1", app, "identity.attributes/phone", "免提交身份证明", 3_000);
        assert!(wrong_scope.unwrap_err().to_string().contains("does not cover"));
        let other_app = c.covers(
            "subject-1",
            "cn.gov.x.other",
            "certificates/ID-CARD",
            "免提交身份证明",
            3_000,
        );
        assert!(other_app.unwrap_err().to_string().contains("another subject or app"));
        let later = 2_000 + 30 * DAY;
        assert_eq!(c.state_at(later), ConsentState::Expired);
        let expired = c.covers("subject-1", app, "certificates/ID-CARD", "免提交身份证明", later);
        assert!(expired.unwrap_err().to_string().contains("expired"));
    }

    #[test]
    fn revocation_takes_effect_at_once_and_transitions_are_guarded() {
        let mut c = requested();
        c.grant(2_000, DAY).unwrap();
        c.revoke(5_000).unwrap();
        let err = c
            .covers(
                "subject-1",
                &c.app.clone(),
                "certificates/ID-CARD",
                "免提交身份证明",
                5_000,
            )
            .unwrap_err();
        assert!(
            matches!(err, ConsentError::Required(ref why) if why.contains("revoked")),
            "{err}"
        );
        assert!(matches!(
            c.revoke(6_000),
            Err(ConsentError::Transition { action: "revoke", .. })
        ));
        assert!(matches!(
            c.grant(6_000, DAY),
            Err(ConsentError::Transition { action: "grant", .. })
        ));

        let mut d = requested();
        d.deny(2_000).unwrap();
        assert_eq!(d.state_at(3_000), ConsentState::Denied);
        assert!(d.grant(3_000, DAY).is_err());

        let mut e = requested();
        assert_eq!(e.grant(2_000, 0), Err(ConsentError::Duration(0)));
        assert_eq!(
            e.grant(2_000, MAX_CONSENT_MS + 1),
            Err(ConsentError::Duration(MAX_CONSENT_MS + 1))
        );
        e.grant(2_000, DAY).unwrap();
        assert!(matches!(
            e.revoke(2_000 + DAY),
            Err(ConsentError::Transition {
                state: ConsentState::Expired,
                ..
            })
        ));
    }

    #[test]
    fn a_request_needs_scopes_and_a_purpose() {
        assert_eq!(
            Consent::request("c", "s", "a", Vec::<String>::new(), "p", 0),
            Err(ConsentError::Incomplete)
        );
        assert_eq!(
            Consent::request("c", "s", "a", ["x".to_string()], "  ", 0),
            Err(ConsentError::Incomplete)
        );
    }
}
