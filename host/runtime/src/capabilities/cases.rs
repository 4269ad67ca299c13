//! `tongban:platform/cases`: the app's own cases. `get` answers for a case of
//! this app (the applicant as this app's handle); another app's case is
//! `not-found`. `start-follow-on` opens a continuation case (接续服务) for an
//! item the manifest lists under `follow-on`, for the same applicant,
//! prefilled with the form the app passes; it enters the intake queue of the
//! same accepting org.

use std::collections::{BTreeMap, BTreeSet};

use tongban_registry::manifest::ItemMode;
use tongban_registry::{Capability, Manifest, Package};
use tongban_services::cases::{Case, Stage as StoredStage};
use wasmtime::component::Linker;

use super::host_capability::{CallScope, CallSetup, HostCapability, View, ViewOf, not_granted, service_error};
use crate::bindings::tongban::platform::cases::{self as wit, CaseInfo, Stage};
use crate::bindings::types;
use crate::env::Channel;
use crate::error::LoadError;
use crate::limits::Lifted;

/// Per-call state.
#[derive(Clone)]
pub struct CasesCtx {
    follow_on: Option<BTreeSet<String>>,
    /// The manifest's own items: mode and promised working days.
    items: BTreeMap<String, (ItemMode, Option<u32>)>,
    scope: CallScope,
}

impl CasesCtx {
    pub fn prepare(manifest: &Manifest, scope: CallScope) -> CasesCtx {
        CasesCtx {
            follow_on: manifest
                .capabilities
                .cases
                .as_ref()
                .map(|c| c.follow_on.iter().cloned().collect()),
            items: manifest
                .items
                .iter()
                .map(|i| (i.code.clone(), (i.mode, i.promised_days)))
                .collect(),
            scope,
        }
    }

    async fn own_case(&self, id: &str) -> Result<Case, types::Error> {
        let case = self.scope.services.case(id).await.map_err(service_error)?;
        if case.app != self.scope.app {
            return Err(types::Error::NotFound(format!("case {id}")));
        }
        Ok(case)
    }

    async fn get(&self, id: &str) -> Result<CaseInfo, types::Error> {
        let case = self.own_case(id).await?;
        let applicant = self
            .scope
            .services
            .handle_for(&case.subject, &self.scope.app)
            .await
            .map_err(service_error)?;
        let channel: Channel = serde_json::from_value(serde_json::Value::String(case.channel.clone()))
            .map_err(|_| types::Error::Unavailable(format!("case {id} has an unknown channel")))?;
        Ok(CaseInfo {
            id: case.id,
            item: case.item,
            applicant,
            channel: channel.into(),
            stage: stage_to_wit(case.stage),
            accepting_org: case.accepting_org,
            handling_org: case.handling_org,
            submitted_at: case.submitted_at.max(0) as u64,
            due_at: case.due_at.map(|d| d.max(0) as u64),
            form: case.form,
        })
    }

    async fn follow_on(&self, from: &str, item: &str, form: &str) -> Result<String, types::Error> {
        let from = self.own_case(from).await?;
        let (mode, days) = self.items.get(item).copied().unwrap_or((ItemMode::Commitment, None));
        let mode = match mode {
            ItemMode::Instant => "instant",
            ItemMode::Commitment => "commitment",
        };
        let case = self
            .scope
            .services
            .open_follow_on(&from, item, mode, days, form)
            .await
            .map_err(service_error)?;
        Ok(case.id)
    }
}

fn stage_to_wit(stage: StoredStage) -> Stage {
    match stage {
        StoredStage::Submitted => Stage::Submitted,
        StoredStage::Accepted => Stage::Accepted,
        StoredStage::CorrectionRequested => Stage::CorrectionRequested,
        StoredStage::Rejected => Stage::Rejected,
        StoredStage::Handling => Stage::Handling,
        StoredStage::Approved => Stage::Approved,
        StoredStage::Denied => Stage::Denied,
        StoredStage::Delivered => Stage::Delivered,
        StoredStage::Closed => Stage::Closed,
        StoredStage::Withdrawn => Stage::Withdrawn,
    }
}

/// The cases capability, as the registration table links it.
pub struct Cases;

impl HostCapability for Cases {
    const GRANT: Capability = Capability::Cases;
    type App = ();
    type Ctx = CasesCtx;

    fn load(_: &Manifest, _: &Package) -> Result<(), LoadError> {
        Ok(())
    }

    fn prepare(_: &(), call: &CallSetup<'_>) -> CasesCtx {
        CasesCtx::prepare(call.manifest, call.scope.clone())
    }

    fn link<T: Send + 'static>(linker: &mut Linker<T>, view: fn(&mut T) -> View<'_, CasesCtx>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, ViewOf<CasesCtx>>(linker, view)
    }
}

impl wit::Host for View<'_, CasesCtx> {
    async fn get(&mut self, id: String) -> wasmtime::Result<Result<CaseInfo, types::Error>> {
        self.budget.charge(id.lifted_bytes())?;
        if self.ctx.follow_on.is_none() {
            return Ok(Err(not_granted("cases")));
        }
        Ok(self.ctx.get(&id).await)
    }

    async fn start_follow_on(
        &mut self,
        from: String,
        item: String,
        form: String,
    ) -> wasmtime::Result<Result<String, types::Error>> {
        self.budget
            .charge(from.lifted_bytes() + item.lifted_bytes() + form.lifted_bytes())?;
        match &self.ctx.follow_on {
            None => return Ok(Err(not_granted("cases"))),
            Some(items) if !items.contains(&item) => {
                return Ok(Err(not_granted(format!("follow-on item `{item}`"))));
            }
            Some(_) => {}
        }
        Ok(self.ctx.follow_on(&from, &item, &form).await)
    }
}
