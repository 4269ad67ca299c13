//! `tongban:platform/identity`: who is being served. `current` answers from the
//! call's session (the pairwise handle, never a platform id). `attributes`
//! releases only what the manifest declares and a live consent covers, for
//! the consent's purpose, and records every attempt, released or refused, in
//! the provenance log. ID numbers are only ever released masked.

use std::collections::BTreeSet;

use tongban_registry::{Capability, Manifest, Package};
use wasmtime::component::Linker;

use super::host_capability::{CallScope, CallSetup, HostCapability, View, ViewOf, not_granted, outcome_of};
use crate::bindings::tongban::platform::identity::{self as wit, Attribute, Session, SubjectKind};
use crate::bindings::types::{self, Purpose};
use crate::env::{self, CallEnv};
use crate::error::LoadError;
use crate::limits::Lifted;
use tongban_services::consents::attribute_scope;
use tongban_services::subjects::release;

/// The most attributes one call may ask for.
pub const MAX_NAMES: usize = 32;

/// Per-call state.
#[derive(Clone)]
pub struct IdentityCtx {
    granted: bool,
    attributes: BTreeSet<String>,
    session: env::Session,
    scope: CallScope,
}

impl IdentityCtx {
    pub fn prepare(manifest: &Manifest, env: &CallEnv, scope: CallScope) -> IdentityCtx {
        let grant = manifest.capabilities.identity.as_ref();
        IdentityCtx {
            granted: grant.is_some(),
            attributes: grant
                .map(|g| g.attributes.iter().cloned().collect())
                .unwrap_or_default(),
            session: env.session.clone(),
            scope,
        }
    }

    /// Grant, declaration, purpose and consent checks, then the release.
    async fn release(&self, names: &[String], why: &Purpose) -> Result<(Vec<Attribute>, Vec<String>), types::Error> {
        if names.is_empty() || names.len() > MAX_NAMES {
            return Err(types::Error::Invalid(format!(
                "ask for 1 to {MAX_NAMES} attributes, not {}",
                names.len()
            )));
        }
        let mut consents = Vec::new();
        for name in names {
            let consent = self.scope.consent_for(&attribute_scope(name), why).await?;
            if !consents.contains(&consent.id) {
                consents.push(consent.id);
            }
        }
        let person = self.scope.person().await?;
        let released = release(&person, names)
            .into_iter()
            .map(|a| Attribute {
                name: a.name,
                value: a.value,
                source: a.source,
                verified_at: a.verified_at.max(0) as u64,
            })
            .collect();
        Ok((released, consents))
    }
}

/// The identity capability, as the registration table links it.
pub struct Identity;

impl HostCapability for Identity {
    const GRANT: Capability = Capability::Identity;
    type App = ();
    type Ctx = IdentityCtx;

    fn load(_: &Manifest, _: &Package) -> Result<(), LoadError> {
        Ok(())
    }

    fn prepare(_: &(), call: &CallSetup<'_>) -> IdentityCtx {
        IdentityCtx::prepare(call.manifest, call.env, call.scope.clone())
    }

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> View<'_, IdentityCtx>,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, ViewOf<IdentityCtx>>(linker, view)
    }
}

impl wit::Host for View<'_, IdentityCtx> {
    async fn current(&mut self) -> wasmtime::Result<Result<Session, types::Error>> {
        self.budget.charge(0)?;
        if !self.ctx.granted {
            return Ok(Err(not_granted("identity")));
        }
        let s = &self.ctx.session;
        Ok(Ok(Session {
            subject: s.subject.clone(),
            kind: match s.kind {
                env::SubjectKind::Person => SubjectKind::Person,
                env::SubjectKind::LegalPerson => SubjectKind::LegalPerson,
            },
            assurance: s.assurance.into(),
            channel: s.channel.into(),
            on_behalf_of: s.on_behalf_of.clone(),
            locale: s.locale.clone(),
        }))
    }

    async fn attributes(
        &mut self,
        names: Vec<String>,
        why: Purpose,
    ) -> wasmtime::Result<Result<Vec<Attribute>, types::Error>> {
        self.budget.charge(names.lifted_bytes() + why.lifted_bytes())?;
        if !self.ctx.granted {
            return Ok(Err(not_granted("identity")));
        }
        if let Some(name) = names.iter().find(|n| !self.ctx.attributes.contains(*n)) {
            return Ok(Err(not_granted(format!(
                "identity attribute `{name}` is not declared in the manifest"
            ))));
        }
        if why.code.trim().is_empty() {
            return Ok(Err(types::Error::Invalid("a purpose code is required".into())));
        }
        let scopes: Vec<String> = names.iter().map(|n| attribute_scope(n)).collect();
        let answer = self.ctx.release(&names, &why).await;
        let (outcome, consent) = match &answer {
            Ok((_, consents)) => ("released", Some(consents.join(","))),
            Err(e) => (outcome_of(e), None),
        };
        if let Err(e) = self
            .ctx
            .scope
            .record("identity.attributes", scopes, &why.code, consent, outcome)
            .await
        {
            return Ok(Err(e));
        }
        Ok(answer.map(|(attributes, _)| attributes))
    }
}
