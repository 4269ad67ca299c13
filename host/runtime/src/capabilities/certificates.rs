//! `tongban:platform/certificates`: electronic certificates (电子证照).
//!
//! - `held` and `copy` read the subject's certificates: each type needs a
//!   `read` grant and a live consent for `certificates/TYPE` with the call's
//!   purpose, and every attempt is recorded in the provenance log.
//! - `verify` answers a status only; it touches no personal data.
//! - `issue` issues a type the manifest registers, for one of the app's own
//!   cases once it is approved, in the name of the case's handling org; a
//!   redelivered event issues nothing new.
//! - `set-status` changes a certificate the app's org issued, with a reason.

use std::collections::BTreeSet;

use tongban_registry::{Capability, Manifest, Package};
use tongban_services::certificates::{Certificate as StoredCertificate, CertificateStatus, IssueRequest};
use tongban_services::consents::certificate_scope;
use tongban_services::now_ms;
use wasmtime::component::Linker;

use super::host_capability::{
    CallScope, CallSetup, HostCapability, View, ViewOf, not_granted, outcome_of, service_error,
};
use crate::bindings::tongban::platform::certificates::{self as wit, AnnotatedCopy, Certificate, Status};
use crate::bindings::types::{self, Purpose};
use crate::error::LoadError;
use crate::limits::Lifted;

/// How long an annotated copy made through the capability stays valid.
pub const COPY_VALID_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// The field an app may use to set the holder's printed name.
pub const HOLDER_NAME_FIELD: &str = "holder-name";

/// Per-call state.
#[derive(Clone)]
pub struct CertificatesCtx {
    granted: bool,
    read: BTreeSet<String>,
    issue: BTreeSet<String>,
    scope: CallScope,
}

impl CertificatesCtx {
    pub fn prepare(manifest: &Manifest, scope: CallScope) -> CertificatesCtx {
        let grant = manifest.capabilities.certificates.as_ref();
        CertificatesCtx {
            granted: grant.is_some(),
            read: grant.map(|g| g.read.iter().cloned().collect()).unwrap_or_default(),
            issue: grant.map(|g| g.issue.iter().cloned().collect()).unwrap_or_default(),
            scope,
        }
    }

    fn granted(&self) -> Result<(), types::Error> {
        if self.granted {
            Ok(())
        } else {
            Err(not_granted("certificates"))
        }
    }

    fn readable(&self, type_code: &str) -> Result<(), types::Error> {
        if self.read.contains(type_code) {
            Ok(())
        } else {
            Err(not_granted(format!("reading certificates of type `{type_code}`")))
        }
    }

    /// The certificate as this app sees it: the holder is its pairwise handle.
    async fn to_wit(&self, c: StoredCertificate) -> Result<Certificate, types::Error> {
        // ID numbers are only ever released masked, also when they are
        // printed on a certificate.
        let c = c.masked_for_apps();
        let holder = self
            .scope
            .services
            .handle_for(&c.holder, &self.scope.app)
            .await
            .map_err(service_error)?;
        Ok(Certificate {
            id: c.id,
            type_code: c.type_code,
            type_name: c.type_name,
            issuer_code: c.issuer_code,
            issuer_name: c.issuer_name,
            holder,
            holder_name: c.holder_name,
            issued_at: c.issued_at.max(0) as u64,
            valid_from: c.valid_from.max(0) as u64,
            valid_until: c.valid_until.map(|u| u.max(0) as u64),
            status: status_to_wit(c.status),
            fields: c.fields,
        })
    }

    async fn held(
        &self,
        type_codes: &[String],
        why: &Purpose,
    ) -> Result<(Vec<Certificate>, Vec<String>), types::Error> {
        let mut consents = Vec::new();
        for code in type_codes {
            let consent = self.scope.consent_for(&certificate_scope(code), why).await?;
            if !consents.contains(&consent.id) {
                consents.push(consent.id);
            }
        }
        let held = self
            .scope
            .services
            .certificates_held(self.scope.subject()?, Some(type_codes))
            .await
            .map_err(service_error)?;
        let mut out = Vec::with_capacity(held.len());
        for c in held {
            out.push(self.to_wit(c).await?);
        }
        Ok((out, consents))
    }

    async fn copy(&self, id: &str, why: &Purpose) -> Result<(AnnotatedCopy, String), types::Error> {
        let subject = self.scope.subject()?;
        let services = &self.scope.services;
        let stored = services.certificate(id).await.map_err(service_error)?;
        if stored.holder != subject {
            return Err(types::Error::NotFound(format!("certificate {id}")));
        }
        self.readable(&stored.type_code)?;
        let consent = self
            .scope
            .consent_for(&certificate_scope(&stored.type_code), why)
            .await?;
        let expires_at = (now_ms() + COPY_VALID_MS).min(consent.expires_at.unwrap_or(i64::MAX));
        let copy = services
            .annotated_copy_for_app(subject, id, &why.code, &why.text, expires_at)
            .await
            .map_err(service_error)?;
        Ok((
            AnnotatedCopy {
                certificate: self.to_wit(copy.certificate).await?,
                why: why.clone(),
                expires_at: copy.expires_at.max(0) as u64,
                signature: copy.sealed.signature,
            },
            consent.id,
        ))
    }

    async fn issue(
        &self,
        case: &str,
        type_code: &str,
        valid_until: Option<u64>,
        mut fields: Vec<(String, String)>,
    ) -> Result<Certificate, types::Error> {
        let services = &self.scope.services;
        let case = services.case(case).await.map_err(service_error)?;
        if case.app != self.scope.app {
            return Err(types::Error::NotFound(format!("case {}", case.id)));
        }
        if !matches!(case.stage.as_str(), "approved" | "delivered") {
            return Err(types::Error::Conflict(format!(
                "case {} is {}; a certificate is issued once the case is approved",
                case.id,
                case.stage.as_str()
            )));
        }
        let holder_name = match fields.iter().position(|(name, _)| name == HOLDER_NAME_FIELD) {
            Some(at) => fields.remove(at).1,
            None => services.subject(&case.subject).await.map_err(service_error)?.name,
        };
        let issued = services
            .issue_certificate(IssueRequest {
                type_code: type_code.into(),
                issuer_code: case.handling_org.clone(),
                holder: case.subject.clone(),
                holder_name,
                valid_from: now_ms(),
                valid_until: valid_until.map(|u| u.min(i64::MAX as u64) as i64),
                fields,
                app: Some(self.scope.app.clone()),
                case: Some(case.id.clone()),
                actor: format!("app:{}@{}", self.scope.app, self.scope.version),
            })
            .await
            .map_err(service_error)?;
        self.to_wit(issued).await
    }
}

fn status_to_wit(status: CertificateStatus) -> Status {
    match status {
        CertificateStatus::Valid => Status::Valid,
        CertificateStatus::Suspended => Status::Suspended,
        CertificateStatus::Revoked => Status::Revoked,
        CertificateStatus::Cancelled => Status::Cancelled,
        CertificateStatus::Expired => Status::Expired,
    }
}

fn status_from_wit(status: Status) -> CertificateStatus {
    match status {
        Status::Valid => CertificateStatus::Valid,
        Status::Suspended => CertificateStatus::Suspended,
        Status::Revoked => CertificateStatus::Revoked,
        Status::Cancelled => CertificateStatus::Cancelled,
        Status::Expired => CertificateStatus::Expired,
    }
}

/// The certificates capability, as the registration table links it.
pub struct Certificates;

impl HostCapability for Certificates {
    const GRANT: Capability = Capability::Certificates;
    type App = ();
    type Ctx = CertificatesCtx;

    fn load(_: &Manifest, _: &Package) -> Result<(), LoadError> {
        Ok(())
    }

    fn prepare(_: &(), call: &CallSetup<'_>) -> CertificatesCtx {
        CertificatesCtx::prepare(call.manifest, call.scope.clone())
    }

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> View<'_, CertificatesCtx>,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, ViewOf<CertificatesCtx>>(linker, view)
    }
}

impl wit::Host for View<'_, CertificatesCtx> {
    async fn held(
        &mut self,
        type_codes: Vec<String>,
        why: Purpose,
    ) -> wasmtime::Result<Result<Vec<Certificate>, types::Error>> {
        self.budget.charge(type_codes.lifted_bytes() + why.lifted_bytes())?;
        if let Err(e) = self.ctx.granted() {
            return Ok(Err(e));
        }
        if type_codes.is_empty() || type_codes.len() > 16 {
            return Ok(Err(types::Error::Invalid("ask for 1 to 16 certificate types".into())));
        }
        if let Some(code) = type_codes.iter().find(|c| self.ctx.readable(c).is_err()) {
            return Ok(Err(not_granted(format!("reading certificates of type `{code}`"))));
        }
        if why.code.trim().is_empty() {
            return Ok(Err(types::Error::Invalid("a purpose code is required".into())));
        }
        let answer = self.ctx.held(&type_codes, &why).await;
        let (outcome, consent) = match &answer {
            Ok((_, consents)) => ("released", Some(consents.join(","))),
            Err(e) => (outcome_of(e), None),
        };
        let scopes = type_codes.iter().map(|c| certificate_scope(c)).collect();
        if let Err(e) = self
            .ctx
            .scope
            .record("certificates.held", scopes, &why.code, consent, outcome)
            .await
        {
            return Ok(Err(e));
        }
        Ok(answer.map(|(certificates, _)| certificates))
    }

    async fn copy(&mut self, id: String, why: Purpose) -> wasmtime::Result<Result<AnnotatedCopy, types::Error>> {
        self.budget.charge(id.lifted_bytes() + why.lifted_bytes())?;
        if let Err(e) = self.ctx.granted() {
            return Ok(Err(e));
        }
        if why.code.trim().is_empty() {
            return Ok(Err(types::Error::Invalid("a purpose code is required".into())));
        }
        let answer = self.ctx.copy(&id, &why).await;
        let (outcome, consent) = match &answer {
            Ok((_, consent)) => ("released", Some(consent.clone())),
            Err(e) => (outcome_of(e), None),
        };
        let scopes = vec![format!("certificates/{id}")];
        if let Err(e) = self
            .ctx
            .scope
            .record("certificates.copy", scopes, &why.code, consent, outcome)
            .await
        {
            return Ok(Err(e));
        }
        Ok(answer.map(|(copy, _)| copy))
    }

    async fn verify(&mut self, id: String) -> wasmtime::Result<Result<Status, types::Error>> {
        self.budget.charge(id.lifted_bytes())?;
        if let Err(e) = self.ctx.granted() {
            return Ok(Err(e));
        }
        Ok(self
            .ctx
            .scope
            .services
            .certificate_status(&id)
            .await
            .map(status_to_wit)
            .map_err(service_error))
    }

    async fn issue(
        &mut self,
        case: String,
        type_code: String,
        valid_until: Option<u64>,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<Certificate, types::Error>> {
        self.budget
            .charge(case.lifted_bytes() + type_code.lifted_bytes() + fields.lifted_bytes())?;
        if let Err(e) = self.ctx.granted() {
            return Ok(Err(e));
        }
        if !self.ctx.issue.contains(&type_code) {
            return Ok(Err(not_granted(format!("issuing certificates of type `{type_code}`"))));
        }
        let answer = self.ctx.issue(&case, &type_code, valid_until, fields).await;
        let outcome = match &answer {
            Ok(_) => "issued",
            Err(e) => outcome_of(e),
        };
        let mut scope = self.ctx.scope.clone();
        scope.case = Some(case);
        if let Err(e) = scope
            .record(
                "certificates.issue",
                vec![format!("certificates/{type_code}")],
                "issue",
                None,
                outcome,
            )
            .await
        {
            return Ok(Err(e));
        }
        Ok(answer)
    }

    async fn set_status(
        &mut self,
        id: String,
        status: Status,
        reason: String,
    ) -> wasmtime::Result<Result<(), types::Error>> {
        self.budget.charge(id.lifted_bytes() + reason.lifted_bytes())?;
        if let Err(e) = self.ctx.granted() {
            return Ok(Err(e));
        }
        if status == Status::Expired {
            return Ok(Err(types::Error::Invalid(
                "`expired` follows from the validity period; it is not set".into(),
            )));
        }
        let scope = &self.ctx.scope;
        let certificate = match scope.services.certificate(&id).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(service_error(e))),
        };
        // The app acts for the org that issued the certificate: it issued it
        // itself (for a case its handling org decided), or its own org did.
        if certificate.app.as_deref() != Some(scope.app.as_str()) && certificate.issuer_code != scope.org {
            return Ok(Err(not_granted(format!(
                "certificate {id} was issued by {}, not by this app or its org",
                certificate.issuer_code
            ))));
        }
        Ok(scope
            .services
            .set_certificate_status(
                &id,
                status_from_wit(status),
                &reason,
                &format!("app:{}@{}", scope.app, scope.version),
                &certificate.issuer_code,
            )
            .await
            .map(|_| ())
            .map_err(service_error))
    }
}
