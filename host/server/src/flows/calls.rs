//! The one way a hook call's environment is built ([`call_env`]), and the
//! version of an app that serves a subject ([`served`]).

use std::sync::Arc;

use tongban_registry::market::serving::Served;
use tongban_runtime::{Assurance, CallEnv, Channel, LoadedApp, Session, SubjectKind};
use tongban_services::subjects::Subject;

use super::error::{FlowError, FlowResult};
use crate::state::AppState;

/// The handle an operator's call runs under: it stands for no one, so the
/// app sees neither the subject the operator named nor any platform id.
pub const OPERATOR_HANDLE: &str = "ph-operator";

/// Whom a hook call serves, as the app may see them.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The app's pairwise handle of the subject.
    pub handle: String,
    pub kind: SubjectKind,
    pub assurance: Assurance,
    /// The platform subject, kept on the host side for the capabilities.
    pub subject: Option<String>,
}

impl Principal {
    /// A subject as the app `app` sees them: its pairwise handle, their kind
    /// and their assurance.
    pub async fn of(state: &AppState, person: &Subject, app: &str) -> FlowResult<Principal> {
        Ok(Principal {
            handle: state.services.handle_for(&person.id, app).await?,
            kind: if person.kind == "legal-person" {
                SubjectKind::LegalPerson
            } else {
                SubjectKind::Person
            },
            assurance: match person.assurance.as_str() {
                "high" => Assurance::High,
                "substantial" => Assurance::Substantial,
                _ => Assurance::Low,
            },
            subject: Some(person.id.clone()),
        })
    }

    /// An operator's or a developer's call: a handle that resolves to no
    /// platform subject.
    pub fn nobody(handle: &str) -> Principal {
        Principal {
            handle: handle.to_owned(),
            kind: SubjectKind::Person,
            assurance: Assurance::Substantial,
            subject: None,
        }
    }
}

/// What a hook call is for.
#[derive(Debug, Clone)]
pub struct CallFor {
    pub region: String,
    pub item: String,
    pub channel: Channel,
    pub on_behalf_of: Option<String>,
    pub case: Option<String>,
    /// The outbox event an `on-event` call delivers.
    pub event: Option<i64>,
}

/// The environment of one hook call: the app sees the principal's handle,
/// kind and assurance and the channel; the platform subject stays on the
/// host side. Every hook call the platform makes is built here.
pub fn call_env(who: &Principal, call: CallFor) -> CallEnv {
    CallEnv {
        session: Session {
            subject: who.handle.clone(),
            kind: who.kind,
            assurance: who.assurance,
            channel: call.channel,
            on_behalf_of: call.on_behalf_of,
            locale: "zh-CN".into(),
        },
        item: call.item,
        region: call.region,
        subject: who.subject.clone(),
        case: call.case,
        event: call.event,
    }
}

/// The version of `app` that serves `subject` in `region`, loaded.
pub async fn served(state: &AppState, region: &str, app: &str, subject: &str) -> FlowResult<(Served, Arc<LoadedApp>)> {
    let served = state.serving.load().resolve(app, region, subject).ok_or_else(|| {
        FlowError::NotFound(format!(
            "no version of {app} serves region {region} (not deployed, halted, or revoked)"
        ))
    })?;
    let loaded = state.loaded_app(&served.package_digest).await?;
    Ok((served, loaded))
}
