//! The steps people take on a case after it is opened: staff accept, ask for
//! a correction, hand off, decide and deliver; the applicant resubmits or
//! withdraws. Who may take which step is the case state machine's rule
//! (`tongban_services::cases::stage`); this flow checks it first, then the
//! step's own inputs (reason, hand-off target), each refusal naming its
//! field, and then takes the step, which checks everything again in its
//! transaction.

use tongban_services::cases::{Action, Case, CaseActor, Step, may_take, reason_problem};

use super::access;
use super::error::{FlowError, FlowResult};
use crate::state::AppState;

/// A step's action from its name, as forms and the API send it.
pub fn parse_action(name: &str) -> FlowResult<Action> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| FlowError::BadRequest(format!("`{name}` is not a case action")))
}

/// Where a step is asked from, which decides the steps it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// The API: any step a person takes (an app's rule decides by itself).
    Api,
    /// A clerk's or handler's work queue: no resubmission and no
    /// withdrawal, which are the applicant's.
    WorkQueue,
}

/// What a step carries besides its action.
#[derive(Debug, Default, Clone)]
pub struct StepInput {
    pub reason: String,
    pub to_org: Option<String>,
    /// The form a step carries (none of the steps taken here uses one).
    pub form: Option<serde_json::Value>,
}

/// Take one step on case `id`; a resubmission is `apply::resubmit`.
pub async fn take(
    state: &AppState,
    actor: &CaseActor,
    id: &str,
    action: Action,
    input: StepInput,
    from: From,
) -> FlowResult<Case> {
    match from {
        From::Api => access::require(actor, access::CASE_ROLES)?,
        From::WorkQueue => {
            access::staff_org(actor, access::CASE_STAFF)?;
        }
    }
    if matches!(action, Action::RuleApprove | Action::RuleDeny) {
        return Err(FlowError::Forbidden(
            "only an app's rule decides an instant item".into(),
        ));
    }
    if from == From::WorkQueue && matches!(action, Action::Resubmit | Action::Withdraw) {
        return Err(FlowError::Forbidden(
            "that step is not taken from the work queue".into(),
        ));
    }
    if action == Action::Resubmit {
        // A resubmission runs the app's hooks on the corrected form: its
        // callers take it through `apply::resubmit`, never through here, so
        // that a route which only takes steps never reaches app code.
        return Err(FlowError::BadRequest(
            "a resubmission goes through the correction form with the corrected form".into(),
        ));
    }
    let case = state.services.case_for(actor, id).await?;
    may_take(actor, &case, action)?;
    if let Some(problem) = reason_problem(action, &input.reason) {
        return Err(problem.into());
    }
    if action == Action::HandOff
        && let Some(problem) = state.services.hand_off_problem(&case, input.to_org.as_deref()).await?
    {
        return Err(problem.into());
    }
    let step = Step {
        action,
        reason: input.reason,
        to_org: input.to_org,
        form: input.form.map(|f| f.to_string()),
    };
    Ok(state.services.step_case(actor, id, step).await?)
}
