//! 好差评: the applicant rates a finished case once, and the accepting org
//! resolves the remediation item a dissatisfied rating opens. Each flow
//! checks in the order the service does, so that an input's refusal names
//! its field; the services check everything again with the rest.

use tongban_services::cases::CaseActor;
use tongban_services::ratings::{Rating, Remediation, may_resolve, note_problem, rating_problem};

use super::access;
use super::error::FlowResult;
use crate::state::AppState;

/// The applicant rates case `id` at `level`, with an optional comment.
pub async fn rate(state: &AppState, actor: &CaseActor, id: &str, level: &str, comment: &str) -> FlowResult<Rating> {
    let subject = access::citizen(actor)?;
    if let Some(problem) = rating_problem(level, comment) {
        return Err(problem.into());
    }
    Ok(state.services.rate_case(subject, id, level, comment).await?)
}

/// The accepting org's staff resolve a remediation item with a note.
pub async fn resolve_remediation(state: &AppState, actor: &CaseActor, id: &str, note: &str) -> FlowResult<Remediation> {
    access::staff_org(actor, access::CASE_STAFF)?;
    may_resolve(actor, &state.services.remediation(id).await?)?;
    if let Some(problem) = note_problem(note) {
        return Err(problem.into());
    }
    Ok(state.services.resolve_remediation(actor, id, note).await?)
}
