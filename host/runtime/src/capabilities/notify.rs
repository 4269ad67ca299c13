//! `tongban:platform/notify`: template-only messages. Delivery (inbox, SMTP)
//! arrives with the shared-capabilities release; until then a declared template
//! answers `unavailable` and an undeclared one `not-granted`.

use std::collections::BTreeSet;

use tongban_registry::Manifest;
use wasmtime::component::{HasData, Linker};

use crate::bindings::tongban::platform::notify as wit;
use crate::bindings::types;
use crate::call::{CallEnv, CallState};
use crate::limits::HostCallBudget;

/// Per-call state.
#[derive(Debug, Clone)]
pub struct NotifyCtx {
    templates: Option<BTreeSet<String>>,
}

impl NotifyCtx {
    pub fn prepare(manifest: &Manifest, _env: &CallEnv) -> NotifyCtx {
        NotifyCtx {
            templates: manifest
                .capabilities
                .notify
                .as_ref()
                .map(|n| n.templates.keys().cloned().collect()),
        }
    }
}

/// What the `Host` impl sees.
pub struct NotifyView<'a> {
    ctx: &'a mut NotifyCtx,
    budget: &'a mut HostCallBudget,
}

/// Marker for linking.
pub struct NotifyCapability;

impl HasData for NotifyCapability {
    type Data<'a> = NotifyView<'a>;
}

pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<CallState, NotifyCapability>(linker, |s| NotifyView {
        ctx: &mut s.caps.notify,
        budget: &mut s.budget,
    })
}

impl wit::Host for NotifyView<'_> {
    async fn send(
        &mut self,
        _to: String,
        template: String,
        _params: Vec<(String, String)>,
        _case: Option<String>,
    ) -> wasmtime::Result<Result<String, types::Error>> {
        self.budget.charge()?;
        Ok(match &self.ctx.templates {
            None => Err(super::not_granted("notify")),
            Some(t) if !t.contains(&template) => Err(super::not_granted(format!("notify template `{template}`"))),
            Some(_) => Err(super::not_yet("notify")),
        })
    }
}
