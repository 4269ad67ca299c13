//! `tongban:platform/certificates`: electronic certificates. The certificate
//! store and SM2/SM3 signing arrive with the shared-capabilities release; until
//! then granted calls answer `unavailable`. Grant checks already apply: reading
//! or issuing a type the manifest does not register is `not-granted`.

use std::collections::BTreeSet;

use tongban_registry::Manifest;
use wasmtime::component::{HasData, Linker};

use crate::bindings::tongban::platform::certificates::{self as wit, AnnotatedCopy, Certificate, Status};
use crate::bindings::types::{self, Purpose};
use crate::call::{CallEnv, CallState};
use crate::limits::HostCallBudget;

/// Per-call state.
#[derive(Debug, Clone)]
pub struct CertificatesCtx {
    granted: bool,
    read: BTreeSet<String>,
    issue: BTreeSet<String>,
}

impl CertificatesCtx {
    pub fn prepare(manifest: &Manifest, _env: &CallEnv) -> CertificatesCtx {
        let grant = manifest.capabilities.certificates.as_ref();
        CertificatesCtx {
            granted: grant.is_some(),
            read: grant.map(|g| g.read.iter().cloned().collect()).unwrap_or_default(),
            issue: grant.map(|g| g.issue.iter().cloned().collect()).unwrap_or_default(),
        }
    }

    fn granted(&self) -> Result<(), types::Error> {
        if self.granted {
            Ok(())
        } else {
            Err(super::not_granted("certificates"))
        }
    }
}

/// What the `Host` impl sees.
pub struct CertificatesView<'a> {
    ctx: &'a mut CertificatesCtx,
    budget: &'a mut HostCallBudget,
}

/// Marker for linking.
pub struct CertificatesCapability;

impl HasData for CertificatesCapability {
    type Data<'a> = CertificatesView<'a>;
}

pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<CallState, CertificatesCapability>(linker, |s| CertificatesView {
        ctx: &mut s.caps.certificates,
        budget: &mut s.budget,
    })
}

impl wit::Host for CertificatesView<'_> {
    async fn held(
        &mut self,
        type_codes: Vec<String>,
        _why: Purpose,
    ) -> wasmtime::Result<Result<Vec<Certificate>, types::Error>> {
        self.budget.charge()?;
        Ok((|| {
            self.ctx.granted()?;
            if let Some(code) = type_codes.iter().find(|c| !self.ctx.read.contains(*c)) {
                return Err(super::not_granted(format!("reading certificates of type `{code}`")));
            }
            Err(super::not_yet("certificates"))
        })())
    }

    async fn copy(&mut self, _id: String, _why: Purpose) -> wasmtime::Result<Result<AnnotatedCopy, types::Error>> {
        self.budget.charge()?;
        Ok(self.ctx.granted().and(Err(super::not_yet("certificates"))))
    }

    async fn verify(&mut self, _id: String) -> wasmtime::Result<Result<Status, types::Error>> {
        self.budget.charge()?;
        Ok(self.ctx.granted().and(Err(super::not_yet("certificates"))))
    }

    async fn issue(
        &mut self,
        _case: String,
        type_code: String,
        _valid_until: Option<u64>,
        _fields: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<Certificate, types::Error>> {
        self.budget.charge()?;
        Ok((|| {
            self.ctx.granted()?;
            if !self.ctx.issue.contains(&type_code) {
                return Err(super::not_granted(format!(
                    "issuing certificates of type `{type_code}`"
                )));
            }
            Err(super::not_yet("certificates"))
        })())
    }

    async fn set_status(
        &mut self,
        _id: String,
        _status: Status,
        _reason: String,
    ) -> wasmtime::Result<Result<(), types::Error>> {
        self.budget.charge()?;
        Ok(self.ctx.granted().and(Err(super::not_yet("certificates"))))
    }
}
