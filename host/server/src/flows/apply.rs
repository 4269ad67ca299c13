//! Applying for an item, online or at a window, and resubmitting after a
//! correction request (补正): the one path for the API and the pages.
//!
//! An application resolves the serving version once, reads the subject once
//! and looks up the app's pairwise handle once: [`begin`] finds who applies
//! and the version that serves them, [`submit`] checks the form (its size,
//! the item's JSON Schema, the app's `validate`), opens the case, runs the
//! app's `submit`, and lets an instant item's rule decide. A refused
//! submission leaves no case behind; a repeated submission key answers the
//! first case, and first runs `submit` for it if that never answered (the
//! node died between opening the case and the app taking it), so a retry
//! after a crash finds the case with its fees. The case records that
//! `submit` answered before the application is answered. Both pass
//! admission control first (`admission.rs`): past the app's or the node's
//! bound of applications at once, they are refused before any work, with a
//! retry hint.

use std::sync::Arc;

use tongban_registry::form::schema_violations;
use tongban_registry::manifest::{Item, ItemMode};
use tongban_registry::market::serving::Served;
use tongban_registry::release::Role;
use tongban_runtime::{Channel, FieldError, Hook, HookResult, LoadedApp, Outcome};
use tongban_services::cases::{Action, Case, CaseActor, MAX_FORM_BYTES, NewCase, Stage, Step};
use tongban_services::payments::Payment;
use tongban_services::subjects::Subject;

use super::calls::{CallFor, Principal, call_env, served};
use super::error::{FlowError, FlowResult};
use crate::state::AppState;

/// An application under way: who applies, through which channel, and the
/// version and item that serve them.
pub struct Applying {
    /// The citizen the case is for (at a window, the one at the counter).
    pub person: Subject,
    pub region: String,
    pub channel: Channel,
    /// The window clerk applying for the citizen (代办).
    pub on_behalf_of: Option<String>,
    /// At a window, the clerk's org accepts the case; online, the publisher.
    pub clerk_org: Option<String>,
    pub served: Served,
    pub loaded: Arc<LoadedApp>,
    pub item: Item,
}

impl Applying {
    /// The item's JSON Schema, if the package has one.
    pub fn schema(&self) -> Option<&serde_json::Value> {
        self.loaded.forms.get(&self.item.code)
    }
}

/// What an application became.
#[derive(Debug)]
pub struct Applied {
    pub case: Case,
    /// False when the submission key had been used: this is the first case.
    pub created: bool,
    pub outcome: Option<Outcome>,
    pub payments: Vec<Payment>,
}

/// Who applies and what serves them: a citizen for themselves (in `region`,
/// or the region they live in), or a window clerk for the citizen at the
/// counter, named by `applicant_id_number`. The item is `item`, or the app's
/// first.
pub async fn begin(
    state: &AppState,
    actor: &CaseActor,
    app: &str,
    region: Option<&str>,
    item: Option<&str>,
    applicant_id_number: Option<&str>,
) -> FlowResult<Applying> {
    let (person, channel, on_behalf_of, clerk_org) = match (actor.role, &actor.subject, &actor.org) {
        (Role::Citizen, Some(subject), _) => (state.services.subject(subject).await?, Channel::Web, None, None),
        (Role::WindowClerk, _, Some(org)) => {
            let id_number = applicant_id_number.ok_or_else(|| {
                FlowError::BadRequest("a window clerk applies for a citizen: give applicant_id_number".into())
            })?;
            let person = state.services.subject_by_id_number(id_number).await?;
            (person, Channel::Window, Some(actor.user.clone()), Some(org.clone()))
        }
        _ => {
            return Err(FlowError::Forbidden(
                "applications are made by citizens, or by window clerks for them".into(),
            ));
        }
    };
    let region = region.map(str::to_owned).unwrap_or_else(|| person.region.clone());
    let (served, loaded) = served(state, &region, app, &person.id).await?;
    let item = match item {
        Some(code) => loaded.manifest.items.iter().find(|i| i.code == code),
        None => loaded.manifest.items.first(),
    }
    .cloned()
    .ok_or_else(|| FlowError::NotFound(format!("{app} does not serve that item")))?;
    Ok(Applying {
        person,
        region,
        channel,
        on_behalf_of,
        clerk_org,
        served,
        loaded,
        item,
    })
}

/// Take the application: check the form, open the case, run the app's
/// `submit`, and let an instant item's rule decide.
pub async fn submit(
    state: &AppState,
    applying: &Applying,
    form: &serde_json::Value,
    submission_key: Option<String>,
) -> FlowResult<Applied> {
    let loaded = &applying.loaded;
    let manifest = &loaded.manifest;
    // Held until the case is written (or the application refused).
    let _admitted = state.admission.admit(&manifest.app.id)?;
    let who = Principal::of(state, &applying.person, &manifest.app.id).await?;
    let call = CallFor {
        region: applying.region.clone(),
        item: applying.item.code.clone(),
        channel: applying.channel,
        on_behalf_of: applying.on_behalf_of.clone(),
        case: None,
        event: None,
    };
    let form = check_form(state, loaded, &who, &call, form).await?;
    let (case, created) = state
        .services
        .open_case(NewCase {
            app: manifest.app.id.clone(),
            app_version: applying.served.version.clone(),
            item: applying.item.code.clone(),
            item_mode: match applying.item.mode {
                ItemMode::Instant => "instant".into(),
                ItemMode::Commitment => "commitment".into(),
            },
            promised_days: applying.item.promised_days,
            subject: applying.person.id.clone(),
            region: applying.region.clone(),
            channel: channel_name(applying.channel),
            on_behalf_of: applying.on_behalf_of.clone(),
            accepting_org: applying
                .clerk_org
                .clone()
                .unwrap_or_else(|| manifest.app.publisher.clone()),
            form: form.clone(),
            follow_on_of: None,
            submission_key,
        })
        .await?;
    // A repeated submission key answers the first case, unless the app's
    // `submit` never answered for it: the application that opened it failed
    // before anyone was told of the case (its node died), so the app has not
    // taken it and its fees may not exist. Then `submit` runs now, on the
    // form the case keeps. The app keys its effects by the case (a payment
    // key), so whatever that first run did is not done twice.
    if !created && state.services.submit_answered(&case.id).await? {
        let payments = state.services.payments_of_case(&case.id).await?;
        return Ok(Applied {
            case,
            created,
            outcome: None,
            payments,
        });
    }
    let form = if created { form } else { case.form.clone() };
    let env = call_env(
        &who,
        CallFor {
            case: Some(case.id.clone()),
            ..call
        },
    );
    let submitted = state
        .call_app(
            loaded,
            &env,
            Hook::Submit {
                case: case.id.clone(),
                form,
            },
        )
        .await;
    let outcome = match submitted.result {
        Ok(HookResult::Submit(Ok(outcome))) => outcome,
        Ok(HookResult::Submit(Err(e))) => {
            discard(state, &case.id).await;
            return Err(FlowError::AppRefused {
                app: manifest.app.id.clone(),
                kind: e.kind,
                detail: e.detail,
            });
        }
        Ok(_) => {
            discard(state, &case.id).await;
            return Err(FlowError::AppFailed("submit answered for another hook".into()));
        }
        Err(e) => {
            discard(state, &case.id).await;
            return Err(FlowError::Call(e));
        }
    };
    let rule = match &outcome {
        Outcome::Queued => None,
        Outcome::Approved(text) => Some((Action::RuleApprove, text.clone())),
        Outcome::Denied(reason) => Some((Action::RuleDeny, reason.clone())),
    };
    let case = match rule {
        // An earlier run of this submission let the rule decide already.
        Some(_) if case.item_mode == "instant" && case.stage != Stage::Submitted => case,
        Some((action, text)) if case.item_mode == "instant" => {
            match state
                .services
                .step_case(&CaseActor::system("rule"), &case.id, Step::new(action, text))
                .await
            {
                Ok(case) => case,
                // A repeat of this submission, racing this one, let the rule
                // decide first.
                Err(e) => {
                    let now = state.services.case(&case.id).await?;
                    if now.stage == Stage::Submitted {
                        return Err(e.into());
                    }
                    now
                }
            }
        }
        Some(_) => {
            tracing::warn!(case = %case.id, "a commitment item's submit decided by rule; the case stays queued for intake");
            case
        }
        None => case,
    };
    state.services.record_submit_answered(&case.id).await?;
    let payments = state.services.payments_of_case(&case.id).await?;
    Ok(Applied {
        case,
        created,
        outcome: Some(outcome),
        payments,
    })
}

/// The name a case records for a channel.
fn channel_name(channel: Channel) -> String {
    serde_json::to_value(channel)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "web".into())
}

/// Check a form the way every submission is checked, before anything is
/// written: its size, the item's JSON Schema, then the app's `validate` for
/// the principal `call` serves. Answers the form's text.
async fn check_form(
    state: &AppState,
    loaded: &LoadedApp,
    who: &Principal,
    call: &CallFor,
    form: &serde_json::Value,
) -> FlowResult<String> {
    let text = form.to_string();
    if text.len() > MAX_FORM_BYTES {
        return Err(FlowError::BadRequest(format!(
            "the form is {} bytes; at most {MAX_FORM_BYTES}",
            text.len()
        )));
    }
    if let Some(schema) = loaded.forms.get(&call.item) {
        let violations = schema_violations(schema, &text).map_err(|e| FlowError::BadRequest(e.to_string()))?;
        if !violations.is_empty() {
            return Err(FlowError::Form(
                violations
                    .into_iter()
                    .map(|v| FieldError {
                        field: v.field,
                        message: v.message,
                    })
                    .collect(),
            ));
        }
    }
    let env = call_env(who, call.clone());
    let validated = state
        .call_app(loaded, &env, Hook::Validate { form: text.clone() })
        .await;
    match validated.result {
        Ok(HookResult::Validate(Ok(()))) => Ok(text),
        Ok(HookResult::Validate(Err(fields))) => Err(FlowError::Form(fields)),
        Ok(_) => Err(FlowError::AppFailed("validate answered for another hook".into())),
        Err(e) => Err(FlowError::Call(e)),
    }
}

/// Resubmit a case after a correction was requested (补正). The applicant
/// (or the clerk who applied for them) is checked first, by the case state
/// machine's rule; then the corrected form, read by `read_form` with the
/// item's JSON Schema of the version that serves the applicant now, is
/// checked like an application (schema, then the app's `validate`), and only
/// then does the case go back to intake with it.
pub async fn resubmit(
    state: &AppState,
    actor: &CaseActor,
    id: &str,
    read_form: impl FnOnce(Option<&serde_json::Value>) -> Option<serde_json::Value>,
    reason: String,
) -> FlowResult<Case> {
    let case = state.services.case_for(actor, id).await?;
    tongban_services::cases::may_take(actor, &case, Action::Resubmit)?;
    let (_, loaded) = served(state, &case.region, &case.app, &case.subject).await?;
    let _admitted = state.admission.admit(&case.app)?;
    let form = read_form(loaded.forms.get(&case.item))
        .ok_or_else(|| FlowError::BadRequest("a resubmission carries the corrected form".into()))?;
    let channel = if actor.role == Role::WindowClerk {
        Channel::Window
    } else {
        Channel::Web
    };
    let person = state.services.subject(&case.subject).await?;
    let who = Principal::of(state, &person, &case.app).await?;
    let call = CallFor {
        region: case.region.clone(),
        item: case.item.clone(),
        channel,
        on_behalf_of: (channel == Channel::Window).then(|| actor.user.clone()),
        case: Some(case.id.clone()),
        event: None,
    };
    let form = check_form(state, &loaded, &who, &call, &form).await?;
    let step = Step {
        action: Action::Resubmit,
        reason,
        to_org: None,
        form: Some(form),
    };
    Ok(state.services.step_case(actor, id, step).await?)
}

async fn discard(state: &AppState, case: &str) {
    if let Err(e) = state.services.discard_case(case).await {
        tracing::error!(%case, error = %e, "a refused submission's case could not be discarded");
    }
}
