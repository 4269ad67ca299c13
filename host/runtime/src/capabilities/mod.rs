//! The host capabilities, one module per WIT interface, each of the same shape
//! (after Spin's factors):
//!
//! - a `*Ctx`: the per-call state, built by `prepare` from the app's grant and
//!   the call's environment. It always exists; an ungranted ctx denies every
//!   call with `not-granted`, as a second line behind linking by grant;
//! - a `*View<'a>`: the narrowest state the `Host` impl needs (its ctx and the
//!   host-call budget), and a marker type implementing `HasData` for it;
//! - `link`: adds the interface to a linker;
//! - the `Host` impl, which charges the budget and answers denials as values.
//!
//! The manifest section of each capability lives in `tongban_registry::manifest`
//! and its publish-time validation in `tongban_registry::check`, because the
//! registry must not depend on wasmtime.
//!
//! Adding a capability touches the WIT, the manifest section, one module here,
//! and one line in each of [`link_granted`] and [`CapabilityCtxs::prepare`].

pub mod cases;
pub mod certificates;
pub mod exchange;
pub mod identity;
pub mod kv;
pub mod log;
pub mod notify;
pub mod payments;
pub mod storage;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tongban_registry::{Capability, Manifest};
use tongban_services::provenance::ProvenanceRecord;
use tongban_services::{ServiceError, Services};
use wasmtime::component::Linker;

use crate::bindings::types;
use crate::call::{CallEnv, CallState};
use crate::loaded::LoadedApp;
use tongban_store::Database;

/// Host services the capabilities draw on, typed; capabilities read no
/// environment variables or files themselves.
#[derive(Clone)]
pub struct HostServices {
    pub db: Database,
    pub services: Services,
}

/// What every capability of one call knows about it: the app and version,
/// whom it serves (the platform subject stays here, on the host side; the app
/// only ever sees `handle`), and the case and item it is about.
#[derive(Clone)]
pub struct CallScope {
    pub services: Services,
    pub app: String,
    pub version: String,
    /// The app's org (its publisher's unified social credit code).
    pub org: String,
    pub subject: Option<String>,
    pub handle: String,
    pub case: Option<String>,
    /// The case event an `on-event` call delivers (its sequence number).
    pub event: Option<i64>,
    pub item: String,
    /// The app's notification templates, name to text.
    pub templates: Arc<BTreeMap<String, String>>,
}

impl CallScope {
    fn prepare(app: &LoadedApp, env: &CallEnv, services: &HostServices) -> CallScope {
        CallScope {
            services: services.services.clone(),
            app: app.manifest.app.id.clone(),
            version: app.manifest.app.version.to_string(),
            org: app.manifest.app.publisher.clone(),
            subject: env.subject.clone(),
            handle: env.session.subject.clone(),
            case: env.case.clone(),
            event: env.event,
            item: env.item.clone(),
            templates: app.templates.clone(),
        }
    }

    /// The platform subject this call serves, or `not-found` for a call that
    /// serves nobody (a local `tongban app run` without a subject).
    pub(crate) fn subject(&self) -> Result<&str, types::Error> {
        self.subject
            .as_deref()
            .ok_or_else(|| types::Error::NotFound("this call serves no signed-in subject".into()))
    }

    /// The one purpose and consent check of every personal-data read: the
    /// read's purpose code must be the item the call serves (so a consent
    /// given for one item is never used while serving another), and a live
    /// consent of the subject for this app must cover `scope` for that
    /// purpose. Capabilities never ask the consent store directly; a test
    /// (`personal_data_reads_go_through_one_purpose_check`) holds them to it.
    pub(crate) async fn consent_for(
        &self,
        scope: &str,
        why: &types::Purpose,
    ) -> Result<tongban_services::consent::Consent, types::Error> {
        let subject = self.subject()?;
        if why.code != self.item {
            return Err(types::Error::ConsentRequired(format!(
                "this call serves item `{}`; a read for purpose `{}` is not covered",
                self.item, why.code
            )));
        }
        self.services
            .covering_consent(subject, &self.app, scope, &why.code)
            .await
            .map_err(service_error)
    }

    /// Append the provenance record of a personal-data access. A read whose
    /// record cannot be written is refused: no access goes unrecorded.
    pub(crate) async fn record(
        &self,
        operation: &str,
        scopes: Vec<String>,
        purpose: &str,
        consent: Option<String>,
        outcome: &str,
    ) -> Result<(), types::Error> {
        let Some(subject) = self.subject.clone() else {
            return Ok(());
        };
        self.services
            .record_provenance(ProvenanceRecord {
                at: 0,
                app: self.app.clone(),
                app_version: self.version.clone(),
                subject,
                subject_handle: self.handle.clone(),
                operation: operation.into(),
                scopes,
                purpose: purpose.into(),
                consent,
                case: self.case.clone(),
                outcome: outcome.into(),
            })
            .await
            .map(|_| ())
            .map_err(service_error)
    }
}

/// A service refusal as the WIT error the app sees. A wrong-org or wrong-role
/// refusal is `not-granted`: the app's grant does not reach that far.
pub(crate) fn service_error(e: ServiceError) -> types::Error {
    match e {
        ServiceError::NotGranted(m) | ServiceError::Forbidden(m) => types::Error::NotGranted(m),
        ServiceError::ConsentRequired(m) => types::Error::ConsentRequired(m),
        ServiceError::NotFound(m) => types::Error::NotFound(m),
        ServiceError::Invalid(m) => types::Error::Invalid(m),
        ServiceError::Conflict(m) => types::Error::Conflict(m),
        ServiceError::QuotaExceeded(m) => types::Error::QuotaExceeded(m),
        ServiceError::Unavailable(m) => types::Error::Unavailable(m),
    }
}

/// The outcome text of a refusal, for provenance.
pub(crate) fn outcome_of(e: &types::Error) -> &'static str {
    match e {
        types::Error::NotGranted(_) => "not-granted",
        types::Error::ConsentRequired(_) => "consent-required",
        types::Error::AssuranceTooLow(_) => "assurance-too-low",
        types::Error::NotFound(_) => "not-found",
        types::Error::Invalid(_) => "invalid",
        types::Error::Conflict(_) => "conflict",
        types::Error::QuotaExceeded(_) => "quota-exceeded",
        types::Error::Unavailable(_) => "unavailable",
    }
}

/// The per-call state of every capability.
pub struct CapabilityCtxs {
    pub identity: identity::IdentityCtx,
    pub certificates: certificates::CertificatesCtx,
    pub payments: payments::PaymentsCtx,
    pub notify: notify::NotifyCtx,
    pub cases: cases::CasesCtx,
    pub storage: storage::StorageCtx,
    pub exchange: exchange::ExchangeCtx,
    pub log: log::LogCtx,
}

impl CapabilityCtxs {
    /// Build every capability's state for one call from the grant.
    pub fn prepare(app: &LoadedApp, env: &CallEnv, services: &HostServices) -> CapabilityCtxs {
        let manifest: &Manifest = &app.manifest;
        let scope = CallScope::prepare(app, env, services);
        CapabilityCtxs {
            identity: identity::IdentityCtx::prepare(manifest, env, scope.clone()),
            certificates: certificates::CertificatesCtx::prepare(manifest, scope.clone()),
            payments: payments::PaymentsCtx::prepare(manifest, scope.clone()),
            notify: notify::NotifyCtx::prepare(manifest, scope.clone()),
            cases: cases::CasesCtx::prepare(manifest, scope),
            storage: storage::StorageCtx::prepare(manifest, env, services),
            exchange: exchange::ExchangeCtx::prepare(manifest, env),
            log: log::LogCtx::prepare(manifest, env),
        }
    }
}

/// Link exactly the granted interfaces (and the type-only `types` interface).
pub fn link_granted(linker: &mut Linker<CallState>, granted: &BTreeSet<Capability>) -> wasmtime::Result<()> {
    types::add_to_linker::<CallState, TypesOnly>(linker, |_| TypesOnly)?;
    for capability in granted {
        match capability {
            Capability::Identity => identity::link(linker)?,
            Capability::Certificates => certificates::link(linker)?,
            Capability::Payments => payments::link(linker)?,
            Capability::Notify => notify::link(linker)?,
            Capability::Cases => cases::link(linker)?,
            Capability::Storage => storage::link(linker)?,
            Capability::Exchange => exchange::link(linker)?,
            Capability::Log => log::link(linker)?,
        }
    }
    Ok(())
}

impl crate::limits::Lifted for types::Purpose {
    fn lifted_bytes(&self) -> usize {
        self.code.len() + self.text.len()
    }
}

/// `tongban:platform/types` has no functions; it only needs to be present.
pub struct TypesOnly;

impl wasmtime::component::HasData for TypesOnly {
    type Data<'a> = TypesOnly;
}

impl types::Host for TypesOnly {}

/// The answer of a capability that this host does not provide yet.
pub(crate) fn not_yet(interface: &str) -> types::Error {
    types::Error::Unavailable(format!(
        "the {interface} capability is not available on this host yet; data providers arrive in a later release"
    ))
}

/// The answer to a call the grant does not cover.
pub(crate) fn not_granted(what: impl Into<String>) -> types::Error {
    types::Error::NotGranted(what.into())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every personal-data read goes through [`super::CallScope::consent_for`]:
    /// no capability module asks the consent store itself, so none can skip
    /// the purpose check. A capability that reads personal data must record
    /// provenance, and one that records a release must have asked
    /// `consent_for` first.
    #[test]
    fn personal_data_reads_go_through_one_purpose_check() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/capabilities");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name == "mod.rs" || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            assert!(
                !code.contains("covering_consent") && !code.contains("consents_of") && !code.contains(".consent("),
                "{name} asks the consent store directly; use CallScope::consent_for, which checks the purpose"
            );
            if code.contains("\"released\"") {
                assert!(
                    code.contains("consent_for("),
                    "{name} releases personal data without CallScope::consent_for"
                );
            }
            checked += 1;
        }
        assert!(checked >= 8, "read only {checked} capability modules");
    }
}
