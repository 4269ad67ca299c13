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

use std::collections::BTreeSet;

use tongban_registry::Manifest;
use tongban_registry::manifest::NotifyQuota;
use wasmtime::component::{HasData, Linker};

use super::{CallScope, outcome_of, service_error};
use crate::bindings::tongban::platform::notify as wit;
use crate::bindings::types;
use crate::call::CallState;
use crate::limits::{HostCallBudget, Lifted};

/// Per-call state.
#[derive(Clone)]
pub struct NotifyCtx {
    templates: Option<BTreeSet<String>>,
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
    pub fn prepare(manifest: &Manifest, scope: CallScope) -> NotifyCtx {
        let grant = manifest.capabilities.notify.as_ref();
        NotifyCtx {
            templates: grant.map(|n| n.templates.keys().cloned().collect()),
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
            .scope
            .templates
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
        to: String,
        template: String,
        params: Vec<(String, String)>,
        case: Option<String>,
    ) -> wasmtime::Result<Result<String, types::Error>> {
        self.budget
            .charge(to.lifted_bytes() + template.lifted_bytes() + params.lifted_bytes() + case.lifted_bytes())?;
        match &self.ctx.templates {
            None => return Ok(Err(super::not_granted("notify"))),
            Some(t) if !t.contains(&template) => {
                return Ok(Err(super::not_granted(format!("notify template `{template}`"))));
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
