//! `tongban:platform/notify`: template-only messages. The template must be
//! declared in the manifest (and so reviewed); the recipient is a handle this
//! app holds, resolved on the host side (another app's handle is
//! `not-found`); the message goes to the subject's inbox and, when SMTP is
//! configured, by email. Every send is recorded in the provenance log.
//!
//! Sends are bounded (`NotifyQuota`: the manifest's values within the
//! platform's maxima): per call, attempts count whether or not they are
//! refused, and a call past its bound is refused before any recipient is
//! resolved, so it adds no provenance entry either; per subject per day and
//! per app per day, the services count the messages actually stored.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tongban_registry::manifest::NotifyQuota;
use tongban_registry::{Capability, Manifest, Package};
use wasmtime::component::Linker;

use super::host_capability::{
    CallScope, CallSetup, HostCapability, View, ViewOf, not_granted, outcome_of, service_error,
};
use crate::bindings::tongban::platform::notify as wit;
use crate::bindings::types;
use crate::error::LoadError;
use crate::limits::Lifted;

/// The texts of the templates a manifest declares, name to text, read from
/// the package once at load.
pub type Templates = Arc<BTreeMap<String, String>>;

/// Per-call state.
#[derive(Clone)]
pub struct NotifyCtx {
    templates: Option<BTreeSet<String>>,
    texts: Templates,
    quota: NotifyQuota,
    scope: CallScope,
    /// Sends attempted so far in this call, refused or not: bounded by
    /// `quota.per_call`.
    attempts: u32,
    /// Messages sent so far in this call: the ordinal keys a message sent
    /// while delivering a case event, so a redelivery sends it once.
    sent: u32,
}

impl NotifyCtx {
    pub fn prepare(manifest: &Manifest, texts: Templates, scope: CallScope) -> NotifyCtx {
        let grant = manifest.capabilities.notify.as_ref();
        NotifyCtx {
            templates: grant.map(|n| n.templates.keys().cloned().collect()),
            texts,
            quota: grant.map(|n| n.quota()).unwrap_or(NotifyQuota::DEFAULT),
            scope,
            attempts: 0,
            sent: 0,
        }
    }

    async fn send(
        &mut self,
        to: &str,
        template: &str,
        params: &[(String, String)],
        case: Option<&str>,
    ) -> Result<(String, String), types::Error> {
        let services = &self.scope.services;
        let subject = services
            .resolve_handle(to, &self.scope.app)
            .await
            .map_err(service_error)?;
        if let Some(case) = case {
            let found = services.case(case).await.map_err(service_error)?;
            if found.app != self.scope.app || found.subject != subject {
                return Err(types::Error::NotFound(format!("case {case} of this recipient")));
            }
        }
        let text = self
            .texts
            .get(template)
            .ok_or_else(|| types::Error::NotFound(format!("template `{template}` is not in the package")))?;
        // While a case event is delivered (at least once), the n-th message
        // of the call is keyed by the event, so a redelivery after a crash
        // finds the message already sent instead of sending it again.
        self.sent += 1;
        let once = match (&self.scope.case, self.scope.event) {
            (Some(event_case), Some(seq)) => Some(format!("{event_case}#{seq}#{}#{template}", self.sent)),
            _ => None,
        };
        let id = services
            .send_app_notification(
                once.as_deref(),
                &self.scope.app,
                &subject,
                template,
                text,
                params,
                case,
                &self.quota,
            )
            .await
            .map_err(service_error)?;
        Ok((id, subject))
    }
}

/// The notify capability, as the registration table links it.
pub struct Notify;

impl HostCapability for Notify {
    const GRANT: Capability = Capability::Notify;
    type App = Templates;
    type Ctx = NotifyCtx;

    /// Read every declared template's text from the package: a template
    /// that is missing or not UTF-8 refuses the load.
    fn load(manifest: &Manifest, package: &Package) -> Result<Templates, LoadError> {
        let mut templates = BTreeMap::new();
        if let Some(notify) = &manifest.capabilities.notify {
            for (name, path) in &notify.templates {
                let text = package
                    .file(path)
                    .ok_or_else(|| LoadError::Manifest(format!("template `{name}` ({path}) is not in the package")))?;
                let text = String::from_utf8(text.to_vec())
                    .map_err(|_| LoadError::Manifest(format!("template `{name}` ({path}) is not UTF-8")))?;
                templates.insert(name.clone(), text);
            }
        }
        Ok(Arc::new(templates))
    }

    fn prepare(texts: &Templates, call: &CallSetup<'_>) -> NotifyCtx {
        NotifyCtx::prepare(call.manifest, texts.clone(), call.scope.clone())
    }

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> View<'_, NotifyCtx>,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, ViewOf<NotifyCtx>>(linker, view)
    }
}

impl wit::Host for View<'_, NotifyCtx> {
    async fn send(
        &mut self,
        to: String,
        template: String,
        params: Vec<(String, String)>,
        case: Option<String>,
    ) -> wasmtime::Result<Result<String, types::Error>> {
        self.budget
            .charge(to.lifted_bytes() + template.lifted_bytes() + params.lifted_bytes() + case.lifted_bytes())?;
        match &self.ctx.templates {
            None => return Ok(Err(not_granted("notify"))),
            Some(t) if !t.contains(&template) => {
                return Ok(Err(not_granted(format!("notify template `{template}`"))));
            }
            Some(_) => {}
        }
        if self.ctx.attempts >= self.ctx.quota.per_call {
            return Ok(Err(types::Error::QuotaExceeded(format!(
                "one call may send at most {} messages",
                self.ctx.quota.per_call
            ))));
        }
        self.ctx.attempts += 1;
        let answer = self.ctx.send(&to, &template, &params, case.as_deref()).await;
        // Provenance names the recipient, by the handle the app used. A
        // handle that resolves to nobody touched no one's data: no record.
        let recipient = match &answer {
            Ok((_, subject)) => Some(subject.clone()),
            Err(_) => self
                .ctx
                .scope
                .services
                .resolve_handle(&to, &self.ctx.scope.app)
                .await
                .ok(),
        };
        if let Some(subject) = recipient {
            let mut scope = self.ctx.scope.clone();
            scope.handle = to;
            scope.subject = Some(subject);
            if let Some(case) = case {
                scope.case = Some(case);
            }
            let outcome = match &answer {
                Ok(_) => "sent",
                Err(e) => outcome_of(e),
            };
            if let Err(e) = scope
                .record(
                    "notify.send",
                    vec![format!("notify/{template}")],
                    &template,
                    None,
                    outcome,
                )
                .await
            {
                return Ok(Err(e));
            }
        }
        Ok(answer.map(|(id, _)| id))
    }
}
