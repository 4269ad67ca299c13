//! `tongban:platform/identity`: who is being served. `current` answers from the
//! call's session. Attribute release needs consent, which arrives with the
//! shared-capabilities release; until then declared attributes answer
//! `unavailable` and undeclared ones `not-granted`.

use std::collections::BTreeSet;

use tongban_registry::Manifest;
use wasmtime::component::{HasData, Linker};

use crate::bindings::tongban::platform::identity::{self as wit, Attribute, Session, SubjectKind};
use crate::bindings::types::{self, Purpose};
use crate::call::{CallEnv, CallState};
use crate::limits::HostCallBudget;

/// Per-call state.
#[derive(Debug, Clone)]
pub struct IdentityCtx {
    granted: bool,
    attributes: BTreeSet<String>,
    session: crate::Session,
}

impl IdentityCtx {
    pub fn prepare(manifest: &Manifest, env: &CallEnv) -> IdentityCtx {
        let grant = manifest.capabilities.identity.as_ref();
        IdentityCtx {
            granted: grant.is_some(),
            attributes: grant
                .map(|g| g.attributes.iter().cloned().collect())
                .unwrap_or_default(),
            session: env.session.clone(),
        }
    }
}

/// What the `Host` impl sees.
pub struct IdentityView<'a> {
    ctx: &'a mut IdentityCtx,
    budget: &'a mut HostCallBudget,
}

/// Marker for linking.
pub struct IdentityCapability;

impl HasData for IdentityCapability {
    type Data<'a> = IdentityView<'a>;
}

pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<CallState, IdentityCapability>(linker, |s| IdentityView {
        ctx: &mut s.caps.identity,
        budget: &mut s.budget,
    })
}

impl wit::Host for IdentityView<'_> {
    async fn current(&mut self) -> wasmtime::Result<Result<Session, types::Error>> {
        self.budget.charge()?;
        if !self.ctx.granted {
            return Ok(Err(super::not_granted("identity")));
        }
        let s = &self.ctx.session;
        Ok(Ok(Session {
            subject: s.subject.clone(),
            kind: match s.kind {
                crate::SubjectKind::Person => SubjectKind::Person,
                crate::SubjectKind::LegalPerson => SubjectKind::LegalPerson,
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
        self.budget.charge()?;
        if !self.ctx.granted {
            return Ok(Err(super::not_granted("identity")));
        }
        if let Some(name) = names.iter().find(|n| !self.ctx.attributes.contains(*n)) {
            return Ok(Err(super::not_granted(format!(
                "identity attribute `{name}` is not declared in the manifest"
            ))));
        }
        if why.code.trim().is_empty() {
            return Ok(Err(types::Error::Invalid("a purpose code is required".into())));
        }
        Ok(Err(super::not_yet("identity attributes")))
    }
}
