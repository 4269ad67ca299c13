//! Consent: what an app's approved manifest asks a citizen to consent to,
//! for the purpose of one item, and the citizen's decision. The API's
//! `/consents` and the consent page ask for exactly this.

use tongban_registry::Manifest;
use tongban_registry::manifest::Item;
use tongban_services::consent::Consent;
use tongban_services::consents::{attribute_scope, certificate_scope};

use super::error::{FlowError, FlowResult};
use crate::state::AppState;

/// What an app's approved manifest reads (its declared identity attributes
/// and certificate types, as consent scopes) and the sentences that say why.
pub fn requested_scopes(manifest: &Manifest) -> (Vec<String>, String) {
    let caps = &manifest.capabilities;
    let mut scopes = Vec::new();
    let mut sentences = Vec::new();
    if let Some(identity) = &caps.identity {
        scopes.extend(identity.attributes.iter().map(|a| attribute_scope(a)));
        sentences.push(identity.purpose.clone());
    }
    if let Some(certificates) = &caps.certificates {
        scopes.extend(certificates.read.iter().map(|t| certificate_scope(t)));
        sentences.push(certificates.purpose.clone());
    }
    let purpose = sentences
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("；");
    (scopes, purpose)
}

/// The sentence a consent records: the item and why its data is read.
pub fn consent_text(item: &Item, purpose: &str) -> String {
    format!("{}（{}）：{purpose}", item.name.zh_cn, item.code)
}

/// The scopes the app asks for that no live consent of `subject` covers
/// for `item`: empty when the application may go ahead.
pub async fn uncovered(state: &AppState, subject: &str, manifest: &Manifest, item: &str) -> Vec<String> {
    let (scopes, _) = requested_scopes(manifest);
    let mut uncovered = Vec::new();
    for scope in scopes {
        if state
            .services
            .covering_consent(subject, &manifest.app.id, &scope, item)
            .await
            .is_err()
        {
            uncovered.push(scope);
        }
    }
    uncovered
}

/// Ask `subject`'s consent for what `manifest`'s app reads to serve `item`.
/// An app that reads no personal data needs none.
pub async fn request(state: &AppState, subject: &str, manifest: &Manifest, item: &Item) -> FlowResult<Consent> {
    let (scopes, purpose) = requested_scopes(manifest);
    if scopes.is_empty() {
        return Err(FlowError::BadRequest(format!(
            "{} reads no personal data, so it needs no consent",
            manifest.app.id
        )));
    }
    let text = consent_text(item, &purpose);
    Ok(state
        .services
        .request_consent(subject, &manifest.app.id, scopes, &item.code, &text)
        .await?)
}

/// The citizen's answer to a consent request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Granted for this many milliseconds.
    Grant(i64),
    Deny,
}

/// Ask and answer in one go, as the consent page does: the request is made
/// for what the app reads now, and decided at once.
pub async fn decide(
    state: &AppState,
    subject: &str,
    manifest: &Manifest,
    item: &Item,
    decision: Decision,
) -> FlowResult<Consent> {
    let (scopes, purpose) = requested_scopes(manifest);
    let text = consent_text(item, &purpose);
    let requested = state
        .services
        .request_consent(subject, &manifest.app.id, scopes, &item.code, &text)
        .await?;
    Ok(match decision {
        Decision::Grant(valid_for) => state.services.grant_consent(subject, &requested.id, valid_for).await?,
        Decision::Deny => state.services.deny_consent(subject, &requested.id).await?,
    })
}
