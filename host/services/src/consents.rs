//! The consent store: artefacts as the citizen requested, granted, denied and
//! revoked them. Every read of personal data asks [`Services::covering_consent`]
//! first; a revocation is a committed row, so it takes effect on the next call.
//!
//! Why consent is a host service and not an app import: the citizen must see
//! the request on a page the app cannot draw or pre-tick, and an app that could
//! create or extend consents could grant itself access. Apps only ever see the
//! effect (`consent-required`), and the host asks the citizen.

use std::collections::BTreeSet;

use sqlx::Row;
use sqlx::any::AnyRow;
use tongban_store::now_ms;

use crate::Services;
use crate::consent::{Consent, ConsentState};
use crate::error::{ServiceError, ServiceResult};

/// How long a consent lasts unless the citizen chooses otherwise: 90 days.
pub const DEFAULT_CONSENT_MS: i64 = 90 * 24 * 60 * 60 * 1000;

/// The scope of reading one identity attribute.
pub fn attribute_scope(name: &str) -> String {
    format!("identity.attributes/{name}")
}

/// The scope of reading certificates of one type.
pub fn certificate_scope(type_code: &str) -> String {
    format!("certificates/{type_code}")
}

const COLUMNS: &str =
    "id, subject_id, app_id, scopes, purpose, purpose_text, state, requested_at, granted_at, expires_at, ended_at";

fn from_row(r: &AnyRow) -> Result<Consent, sqlx::Error> {
    let scopes: String = r.try_get(3)?;
    let state: String = r.try_get(6)?;
    Ok(Consent {
        id: r.try_get(0)?,
        subject: r.try_get(1)?,
        app: r.try_get(2)?,
        scopes: serde_json::from_str::<BTreeSet<String>>(&scopes).map_err(|e| sqlx::Error::Decode(e.into()))?,
        purpose: r.try_get(4)?,
        purpose_text: r.try_get(5)?,
        state: serde_json::from_value(serde_json::Value::String(state)).map_err(|e| sqlx::Error::Decode(e.into()))?,
        requested_at: r.try_get(7)?,
        granted_at: r.try_get(8)?,
        expires_at: r.try_get(9)?,
        ended_at: r.try_get(10)?,
    })
}

fn state_text(state: ConsentState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Services {
    /// Record a request the citizen will see on the consent page.
    pub async fn request_consent(
        &self,
        subject: &str,
        app: &str,
        scopes: impl IntoIterator<Item = String>,
        purpose: &str,
        purpose_text: &str,
    ) -> ServiceResult<Consent> {
        let mut consent = Consent::request(&crate::fresh_id("consent"), subject, app, scopes, purpose, now_ms())?;
        consent.purpose_text = purpose_text.trim().to_owned();
        self.subject(subject).await?;
        sqlx::query(&format!(
            "INSERT INTO consents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&consent.id)
        .bind(&consent.subject)
        .bind(&consent.app)
        .bind(serde_json::to_string(&consent.scopes).expect("scopes serialize"))
        .bind(&consent.purpose)
        .bind(&consent.purpose_text)
        .bind(state_text(consent.state))
        .bind(consent.requested_at)
        .bind(consent.granted_at)
        .bind(consent.expires_at)
        .bind(consent.ended_at)
        .execute(self.db().pool())
        .await?;
        Ok(consent)
    }

    /// One consent of `subject`; another subject's is not found.
    pub async fn consent(&self, subject: &str, id: &str) -> ServiceResult<Consent> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM consents WHERE id = $1 AND subject_id = $2"
        ))
        .bind(id)
        .bind(subject)
        .fetch_optional(self.db().pool())
        .await?
        .ok_or_else(|| ServiceError::not_found(format!("consent {id}")))?;
        Ok(from_row(&row)?)
    }

    /// Every consent of a subject, newest first.
    pub async fn consents_of(&self, subject: &str) -> ServiceResult<Vec<Consent>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM consents WHERE subject_id = $1 ORDER BY requested_at DESC, id DESC"
        ))
        .bind(subject)
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Apply a citizen's decision with a compare-and-set on the state, so two
    /// concurrent decisions cannot both win.
    async fn decide_consent(
        &self,
        subject: &str,
        id: &str,
        decide: impl FnOnce(&mut Consent, i64) -> Result<(), crate::consent::ConsentError>,
    ) -> ServiceResult<Consent> {
        let mut consent = self.consent(subject, id).await?;
        let before = state_text(consent.state);
        decide(&mut consent, now_ms())?;
        let done = sqlx::query(
            "UPDATE consents SET state = $1, granted_at = $2, expires_at = $3, ended_at = $4
             WHERE id = $5 AND state = $6",
        )
        .bind(state_text(consent.state))
        .bind(consent.granted_at)
        .bind(consent.expires_at)
        .bind(consent.ended_at)
        .bind(id)
        .bind(&before)
        .execute(self.db().pool())
        .await?;
        if done.rows_affected() != 1 {
            return Err(ServiceError::conflict(format!(
                "consent {id} changed at the same time; look at it again"
            )));
        }
        Ok(consent)
    }

    /// The citizen grants a request for `valid_for_ms` (at most a year). A
    /// grant supersedes the subject's other live consents for the same app
    /// and purpose (they end as revoked), so one revocation always ends the
    /// app's access for that purpose.
    pub async fn grant_consent(&self, subject: &str, id: &str, valid_for_ms: i64) -> ServiceResult<Consent> {
        let granted = self
            .decide_consent(subject, id, |c, now| c.grant(now, valid_for_ms))
            .await?;
        sqlx::query(
            "UPDATE consents SET state = 'revoked', ended_at = $1
             WHERE subject_id = $2 AND app_id = $3 AND purpose = $4 AND state = 'granted' AND id <> $5",
        )
        .bind(now_ms())
        .bind(subject)
        .bind(&granted.app)
        .bind(&granted.purpose)
        .bind(&granted.id)
        .execute(self.db().pool())
        .await?;
        Ok(granted)
    }

    /// The citizen declines a request.
    pub async fn deny_consent(&self, subject: &str, id: &str) -> ServiceResult<Consent> {
        self.decide_consent(subject, id, |c, now| c.deny(now)).await
    }

    /// The citizen revokes a live consent; the app's next read is refused.
    pub async fn revoke_consent(&self, subject: &str, id: &str) -> ServiceResult<Consent> {
        self.decide_consent(subject, id, |c, now| c.revoke(now)).await
    }

    /// The live consent that lets `app` read `scope` of `subject` for
    /// `purpose`, or `consent-required` naming the scope and why.
    pub async fn covering_consent(
        &self,
        subject: &str,
        app: &str,
        scope: &str,
        purpose: &str,
    ) -> ServiceResult<Consent> {
        let consents = self.consents_of_app(subject, app).await?;
        covering(&consents, subject, app, scope, purpose, now_ms())
    }

    /// Every consent `subject` has given or been asked for `app`, newest
    /// first: what [`covering`] chooses from. A call reads them once and
    /// checks each of its reads against them.
    pub async fn consents_of_app(&self, subject: &str, app: &str) -> ServiceResult<Vec<Consent>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM consents WHERE subject_id = $1 AND app_id = $2
             ORDER BY requested_at DESC, id DESC"
        ))
        .bind(subject)
        .bind(app)
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }
}

/// Of `consents` (newest first), the live one that lets `app` read `scope`
/// of `subject` for `purpose` at `now`, or `consent-required` naming the
/// scope and why.
pub fn covering(
    consents: &[Consent],
    subject: &str,
    app: &str,
    scope: &str,
    purpose: &str,
    now: i64,
) -> ServiceResult<Consent> {
    let mut reason = None;
    for consent in consents {
        match consent.covers(subject, app, scope, purpose, now) {
            Ok(()) => return Ok(consent.clone()),
            Err(crate::consent::ConsentError::Required(why)) => reason = reason.or(Some(why)),
            Err(other) => reason = reason.or(Some(other.to_string())),
        }
    }
    Err(ServiceError::ConsentRequired(match reason {
        Some(why) => format!("`{scope}` for purpose `{purpose}`: {why}"),
        None => format!("`{scope}` for purpose `{purpose}`: the citizen has not granted this app a consent"),
    }))
}
