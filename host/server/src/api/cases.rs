//! `/api/v1/applications` and `/api/v1/cases`: applying (online, or at a
//! window for a citizen who is there), the queues of an org, and the steps of
//! a case. The host checks the form against the item's JSON Schema, runs the
//! app's `validate`, opens the case, and runs `submit`; a refused submission
//! leaves no case behind, and a repeated submission key returns the first
//! case. Who may take which step is the case state machine's rule
//! (`tongban_services::cases::stage`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tongban_runtime::Outcome;
use tongban_services::cases::{Action, Case, TimelineEntry};
use tongban_services::payments::Payment;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::ApiError;
use crate::flows::access::{self, CASE_ROLES};
use crate::flows::apply;
use crate::flows::steps::{self, StepInput};
use crate::state::AppState;

/// An application.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Application {
    /// The 6-digit region the applicant is served in.
    pub region: String,
    pub app: String,
    /// The item (实施编码); default: the app's first item.
    pub item: Option<String>,
    /// The form, as JSON.
    pub form: serde_json::Value,
    /// Set once per filled-in form: submitting it twice opens one case.
    pub submission_key: Option<String>,
    /// For a window clerk: the resident ID number of the citizen at the
    /// counter (代办); the case is theirs, on the window channel.
    pub applicant_id_number: Option<String>,
}

/// A payment with the address of its hosted pay page.
#[derive(Debug, Serialize)]
pub struct PaymentView {
    #[serde(flatten)]
    pub payment: Payment,
    pub pay_url: String,
}

impl PaymentView {
    pub fn of(payment: Payment) -> PaymentView {
        PaymentView {
            pay_url: format!("/pay/{}", payment.id),
            payment,
        }
    }
}

/// What an application became.
#[derive(Debug, Serialize)]
pub struct Applied {
    pub case: Case,
    /// False when the submission key had been used: this is the first case.
    pub created: bool,
    pub outcome: Option<Outcome>,
    pub payments: Vec<PaymentView>,
}

impl Applied {
    fn of(applied: apply::Applied) -> Applied {
        Applied {
            case: applied.case,
            created: applied.created,
            outcome: applied.outcome,
            payments: applied.payments.into_iter().map(PaymentView::of).collect(),
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/applications",
    operation_id = "cases_apply",
    request_body = Application,
    responses(
        (status = 201, description = "the case opened, with the app's outcome and any fees", body = Object),
        (status = 200, description = "the case this submission key opened before", body = Object),
        (status = 400, description = "invalid_input: the body is not JSON, or the form is too large", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only citizens, and window clerks for a citizen at the counter, apply; or the app is not granted what it asks", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: no version of the app serves the region for this applicant, or it does not serve the item", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the submission key was used with another form", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "form_invalid, submission_refused, invalid or invalid_input: the form's problems by field (in `fields`), the app's refusal, or a malformed field", body = super::error::ErrorEnvelope),
        (status = 428, description = "consent_required or submission_refused: the app needs a consent the citizen has not granted", body = super::error::ErrorEnvelope),
        (status = 502, description = "app_failed: the app trapped, ran out of fuel or answered for another hook", body = super::error::ErrorEnvelope),
        (status = 503, description = "overloaded, app_busy or unavailable: as many applications run at once as admission control allows (of this app or on the node), the app is at its share of the instance slots, or the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn apply(
    State(s): State<AppState>,
    caller: Caller,
    Json(body): Json<Application>,
) -> Result<Response, ApiError> {
    let applying = apply::begin(
        &s,
        &caller.0,
        &body.app,
        Some(&body.region),
        body.item.as_deref(),
        body.applicant_id_number.as_deref(),
    )
    .await?;
    let applied = apply::submit(&s, &applying, &body.form, body.submission_key).await?;
    let status = if applied.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(Applied::of(applied))).into_response())
}

/// A case with its timeline and fees.
#[derive(Debug, Serialize)]
pub struct CaseView {
    pub case: Case,
    pub overdue: bool,
    pub timeline: Vec<TimelineEntry>,
    pub payments: Vec<PaymentView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}",
    operation_id = "cases_show",
    params(
        ("id" = String, Path, description = "the case's id"),
    ),
    responses(
        (status = 200, description = "the case, its timeline and its fees", body = Object),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only the applicant and the staff of the orgs that take and handle the case read it", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: no such case is visible to the caller", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn show(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    access::require(&caller.0, CASE_ROLES)?;
    let case = s.services.case_for(&caller.0, &id).await?;
    Ok(Json(CaseView {
        overdue: case.overdue(tongban_services::now_ms()),
        timeline: s.services.case_timeline(&id).await?,
        payments: s
            .services
            .payments_of_case(&id)
            .await?
            .into_iter()
            .map(PaymentView::of)
            .collect(),
        case,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/me/cases",
    operation_id = "cases_mine",
    responses(
        (status = 200, description = "the citizen's cases, newest first", body = Vec<Object>),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: this is for citizens about themselves", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn mine(State(s): State<AppState>, caller: Caller) -> Result<Json<Vec<Case>>, ApiError> {
    let subject = access::citizen(&caller.0)?;
    Ok(Json(s.services.cases_of_subject(subject).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `intake` (to accept) or `handling` (to decide).
    pub queue: String,
}

/// One row of a queue.
#[derive(Debug, Serialize)]
pub struct QueuedCase {
    #[serde(flatten)]
    pub case: Case,
    pub overdue: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/cases",
    operation_id = "cases_queue",
    params(
        QueueQuery,
    ),
    responses(
        (status = 200, description = "the caller's org's queue, with whether each case is overdue", body = Vec<Object>),
        (status = 400, description = "invalid_input: the queue is missing or neither intake nor handling", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only window clerks and handlers of an org read its queues", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn queue(
    State(s): State<AppState>,
    caller: Caller,
    Query(q): Query<QueueQuery>,
) -> Result<Json<Vec<QueuedCase>>, ApiError> {
    let intake = match q.queue.as_str() {
        "intake" => true,
        "handling" => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "queue `{other}` is neither `intake` nor `handling`"
            )));
        }
    };
    let org = access::staff_org(&caller.0, access::CASE_STAFF)?;
    let now = tongban_services::now_ms();
    Ok(Json(
        s.services
            .case_queue(org, intake)
            .await?
            .into_iter()
            .map(|case| QueuedCase {
                overdue: case.overdue(now),
                case,
            })
            .collect(),
    ))
}

/// A step on a case.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StepRequest {
    /// `accept`, `request-correction`, `reject`, `resubmit`, `hand-off`,
    /// `start-handling`, `approve`, `deny`, `deliver`, `close` or `withdraw`.
    pub action: String,
    /// The reason or decision text (required to correct, reject, hand off
    /// and deny).
    #[serde(default)]
    pub reason: String,
    /// For `hand-off`: the org that handles the case from now on.
    pub to_org: Option<String>,
    /// For `resubmit`: the corrected form.
    pub form: Option<serde_json::Value>,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/steps",
    operation_id = "cases_step",
    params(
        ("id" = String, Path, description = "the case's id"),
    ),
    request_body = StepRequest,
    responses(
        (status = 200, description = "the case after the step", body = Object),
        (status = 400, description = "invalid_input: the body is not JSON, the action is unknown, or a resubmission lacks its form", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: the caller may not take this step on this case (the case state machine's rule), or only an app's rule decides an instant item", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: no such case is visible to the caller", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the step does not follow from the case's state", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "form_invalid, submission_refused, invalid or invalid_input: the form's problems by field (in `fields`), the app's refusal, or a malformed field", body = super::error::ErrorEnvelope),
        (status = 502, description = "app_failed: the app trapped, ran out of fuel or answered for another hook", body = super::error::ErrorEnvelope),
        (status = 503, description = "overloaded, app_busy or unavailable: as many applications run at once as admission control allows (of this app or on the node), the app is at its share of the instance slots, or the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn step(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<StepRequest>,
) -> Result<Json<Case>, ApiError> {
    access::require(&caller.0, CASE_ROLES)?;
    let action = steps::parse_action(&body.action)?;
    if action == Action::Resubmit {
        return Ok(Json(
            apply::resubmit(&s, &caller.0, &id, |_| body.form, body.reason).await?,
        ));
    }
    let input = StepInput {
        reason: body.reason,
        to_org: body.to_org,
        form: body.form,
    };
    Ok(Json(
        steps::take(&s, &caller.0, &id, action, input, steps::From::Api).await?,
    ))
}
