//! What one capability is on the host, after Spin's factors: the
//! [`HostCapability`] trait every capability module implements, the
//! [`View`] its `Host` impl runs on, the [`CallScope`] every capability of a
//! call shares, and the one mapping from [`ServiceError`] to the WIT `error`.
//!
//! Nothing here knows which capabilities exist or what the store data of a
//! call looks like: the capability modules import this module, and the
//! registration table in `capabilities/mod.rs` imports them, so the imports
//! go one way.

use std::marker::PhantomData;
use std::sync::Arc;

use tokio::sync::Mutex;
use tongban_services::consent::Consent;
use tongban_services::consents::covering;
use tongban_services::subjects::Subject;
use tongban_store::now_ms;

use tongban_registry::package::Package;
use tongban_registry::{Capability, Manifest};
use tongban_services::provenance::ProvenanceRecord;
use tongban_services::{ServiceError, Services};
use tongban_store::Database;
use wasmtime::component::{HasData, Linker};

use crate::bindings::types;
use crate::env::CallEnv;
use crate::error::LoadError;
use crate::limits::{HostCallBudget, Lifted};

/// The runtime half of one capability. The registry half (its manifest
/// section and its checks at publish) is `tongban_registry::capability`'s
/// module of the same name; the two meet in [`HostCapability::GRANT`].
pub trait HostCapability {
    /// The grant that links this capability: the registry's table maps it
    /// to the WIT interface, and a component may import the interface only
    /// when its manifest grants it.
    const GRANT: Capability;

    /// What the capability keeps of one loaded app version, built once at
    /// load from the manifest and the package (for example, notify's
    /// template texts). Most capabilities keep nothing (`()`).
    type App: Send + Sync + 'static;

    /// The per-call state, built by [`HostCapability::prepare`]. It always
    /// exists, granted or not: an ungranted one denies every call with
    /// `not-granted`, as a second line behind linking by grant.
    type Ctx: Send + 'static;

    /// Build the per-app state; an error refuses the load.
    fn load(manifest: &Manifest, package: &Package) -> Result<Self::App, LoadError>;

    /// Build the per-call state from the grant and the call's situation.
    fn prepare(app: &Self::App, call: &CallSetup<'_>) -> Self::Ctx;

    /// Add the capability's interface to a linker. The store data is
    /// generic and `view` projects it onto the capability's [`View`], as
    /// wasmtime-wasi's `add_to_linker` does, so a capability module knows
    /// nothing of the store data.
    fn link<T: Send + 'static>(linker: &mut Linker<T>, view: fn(&mut T) -> View<'_, Self::Ctx>)
    -> wasmtime::Result<()>;
}

/// What a capability's `Host` impl runs on: its own per-call state and the
/// call's host-call budget, nothing else of the store.
pub struct View<'a, C> {
    pub ctx: &'a mut C,
    pub budget: &'a mut HostCallBudget,
}

/// The `HasData` marker of a capability's [`View`], for `add_to_linker`.
pub struct ViewOf<C>(PhantomData<fn() -> C>);

impl<C: 'static> HasData for ViewOf<C> {
    type Data<'a> = View<'a, C>;
}

/// Host services the capabilities draw on, typed; capabilities read no
/// environment variables or files themselves.
#[derive(Clone)]
pub struct HostServices {
    pub db: Database,
    pub services: Services,
}

/// What every capability's [`HostCapability::prepare`] is given: the app's
/// manifest, the call's environment, the host services, and the call's
/// [`CallScope`].
pub struct CallSetup<'a> {
    pub manifest: &'a Manifest,
    pub env: &'a CallEnv,
    pub services: &'a HostServices,
    pub scope: CallScope,
}

impl<'a> CallSetup<'a> {
    pub fn new(manifest: &'a Manifest, env: &'a CallEnv, services: &'a HostServices) -> CallSetup<'a> {
        CallSetup {
            manifest,
            env,
            services,
            scope: CallScope::prepare(manifest, env, services),
        }
    }
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
    /// What this call has read that does not change within it, shared by
    /// its capabilities.
    cache: Arc<Mutex<CallCache>>,
}

/// Reads a call repeats, kept for the call's length (at most its wall
/// bound): the subject it serves, and the subject's consents for the app. A
/// consent decided while a call runs takes effect from the next call.
#[derive(Default)]
struct CallCache {
    person: Option<Subject>,
    consents: Option<Arc<Vec<Consent>>>,
}

impl CallScope {
    fn prepare(manifest: &Manifest, env: &CallEnv, services: &HostServices) -> CallScope {
        CallScope {
            services: services.services.clone(),
            app: manifest.app.id.clone(),
            version: manifest.app.version.to_string(),
            org: manifest.app.publisher.clone(),
            subject: env.subject.clone(),
            handle: env.session.subject.clone(),
            case: env.case.clone(),
            event: env.event,
            item: env.item.clone(),
            cache: Default::default(),
        }
    }

    /// The subject this call serves, read once per call.
    pub(crate) async fn person(&self) -> Result<Subject, types::Error> {
        let mut cache = self.cache.lock().await;
        if let Some(person) = &cache.person {
            return Ok(person.clone());
        }
        let person = self.services.subject(self.subject()?).await.map_err(service_error)?;
        cache.person = Some(person.clone());
        Ok(person)
    }

    /// The subject's consents for this app, read once per call.
    async fn consents(&self, subject: &str) -> Result<Arc<Vec<Consent>>, types::Error> {
        let mut cache = self.cache.lock().await;
        if let Some(consents) = &cache.consents {
            return Ok(consents.clone());
        }
        let consents = Arc::new(
            self.services
                .consents_of_app(subject, &self.app)
                .await
                .map_err(service_error)?,
        );
        cache.consents = Some(consents.clone());
        Ok(consents)
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
        let consents = self.consents(subject).await?;
        covering(&consents, subject, &self.app, scope, &why.code, now_ms()).map_err(service_error)
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

impl Lifted for types::Purpose {
    fn lifted_bytes(&self) -> usize {
        self.code.len() + self.text.len()
    }
}
