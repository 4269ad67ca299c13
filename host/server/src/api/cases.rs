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
use serde::{Deserialize, Serialize};
use tongban_registry::form::schema_violations;
use tongban_registry::manifest::ItemMode;
use tongban_registry::release::Role;
use tongban_runtime::{Channel, FieldError, Hook, HookResult, LoadedApp, Outcome};
use tongban_services::cases::{Action, Case, CaseActor, NewCase, Step, TimelineEntry};
use tongban_services::payments::Payment;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::ApiError;
use super::state::{AppState, CallFor};

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

/// A form that failed its checks: every problem, against its field.
#[derive(Debug, Serialize)]
pub struct FormRejected {
    pub error: FormRejectedBody,
}

#[derive(Debug, Serialize)]
pub struct FormRejectedBody {
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
}

fn form_rejected(fields: Vec<FieldError>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(FormRejected {
            error: FormRejectedBody {
                code: "form_invalid",
                message: format!(
                    "表单有 {} 处问题 / the form has {} problem(s)",
                    fields.len(),
                    fields.len()
                ),
                fields,
            },
        }),
    )
        .into_response()
}

/// Why an application was not taken.
pub enum Refusal {
    /// The form's problems, by field (schema or the app's `validate`).
    Fields(Vec<FieldError>),
    /// Anything else, as the API answers it.
    Api(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        Refusal::Api(e)
    }
}

impl From<tongban_services::ServiceError> for Refusal {
    fn from(e: tongban_services::ServiceError) -> Refusal {
        Refusal::Api(e.into())
    }
}

/// Take an application, the one path for the API and the web form: who
/// applies (a citizen, or a window clerk for a citizen at the counter), the
/// item's JSON Schema, the app's `validate`, the case, the app's `submit`,
/// and an instant item's decision by rule.
pub async fn submit_application(s: &AppState, actor: &CaseActor, body: &Application) -> Result<Applied, Refusal> {
    let (subject, channel, on_behalf_of, clerk_org) = match (actor.role, &actor.subject, &actor.org) {
        (Role::Citizen, Some(subject), _) => (subject.clone(), Channel::Web, None, None),
        (Role::WindowClerk, _, Some(org)) => {
            let id_number = body.applicant_id_number.as_deref().ok_or_else(|| {
                ApiError::bad_request("a window clerk applies for a citizen: give applicant_id_number")
            })?;
            let person = s.services.subject_by_id_number(id_number).await?;
            (person.id, Channel::Window, Some(actor.user.clone()), Some(org.clone()))
        }
        _ => {
            return Err(ApiError::forbidden("applications are made by citizens, or by window clerks for them").into());
        }
    };
    let (served, loaded) = s.serving_app(&body.region, &body.app, &subject).await?;
    let manifest = &loaded.manifest;
    let item = match &body.item {
        Some(code) => manifest.items.iter().find(|i| &i.code == code),
        None => manifest.items.first(),
    }
    .ok_or_else(|| ApiError::not_found(format!("{} does not serve that item", body.app)))?;
    let call = CallFor {
        subject: subject.clone(),
        region: body.region.clone(),
        item: item.code.clone(),
        channel,
        on_behalf_of: on_behalf_of.clone(),
        case: None,
    };
    let form = check_form(s, &loaded, &body.form, &call).await?;
    let (case, created) = s
        .services
        .open_case(NewCase {
            app: manifest.app.id.clone(),
            app_version: served.version.clone(),
            item: item.code.clone(),
            item_mode: match item.mode {
                ItemMode::Instant => "instant".into(),
                ItemMode::Commitment => "commitment".into(),
            },
            promised_days: item.promised_days,
            subject: subject.clone(),
            region: body.region.clone(),
            channel: serde_json::to_value(channel)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "web".into()),
            on_behalf_of,
            accepting_org: clerk_org.unwrap_or_else(|| manifest.app.publisher.clone()),
            form: form.clone(),
            follow_on_of: None,
            submission_key: body.submission_key.clone(),
        })
        .await?;
    if !created {
        let payments = s.services.payments_of_case(&case.id).await?;
        return Ok(Applied {
            case,
            created,
            outcome: None,
            payments: payments.into_iter().map(PaymentView::of).collect(),
        });
    }
    let env = s
        .call_env(
            &loaded,
            CallFor {
                case: Some(case.id.clone()),
                ..call
            },
        )
        .await?;
    let submitted = s
        .call_app(
            &loaded,
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
            discard(s, &case.id).await;
            return Err(ApiError::new(
                if e.kind == "consent-required" {
                    StatusCode::PRECONDITION_REQUIRED
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                },
                "submission_refused",
                format!(
                    "{} 拒绝了申请 / refused the application: {}: {}",
                    manifest.app.id, e.kind, e.detail
                ),
            )
            .into());
        }
        Ok(_) => {
            discard(s, &case.id).await;
            return Err(app_failed("submit answered for another hook").into());
        }
        Err(e) => {
            discard(s, &case.id).await;
            return Err(ApiError::call_failed(&e).into());
        }
    };
    let rule = match &outcome {
        Outcome::Queued => None,
        Outcome::Approved(text) => Some((Action::RuleApprove, text.clone())),
        Outcome::Denied(reason) => Some((Action::RuleDeny, reason.clone())),
    };
    let case = match rule {
        Some((action, text)) if case.item_mode == "instant" => {
            s.services
                .step_case(&CaseActor::system("rule"), &case.id, Step::new(action, text))
                .await?
        }
        Some(_) => {
            tracing::warn!(case = %case.id, "a commitment item's submit decided by rule; the case stays queued for intake");
            case
        }
        None => case,
    };
    let payments = s.services.payments_of_case(&case.id).await?;
    Ok(Applied {
        case,
        created,
        outcome: Some(outcome),
        payments: payments.into_iter().map(PaymentView::of).collect(),
    })
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
        (status = 503, description = "app_busy or unavailable: the app is at its share of the instance slots, or the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn apply(
    State(s): State<AppState>,
    caller: Caller,
    Json(body): Json<Application>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    match submit_application(&s, &caller.0, &body).await {
        Ok(applied) => {
            let status = if applied.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, Json(applied)).into_response())
        }
        Err(Refusal::Fields(fields)) => Ok(form_rejected(fields)),
        Err(Refusal::Api(e)) => Err(e),
    }
}

/// Check a form the way every submission is checked, before anything is
/// written: its size, the item's JSON Schema, then the app's `validate` for
/// the subject `call` serves. Answers the form's text.
async fn check_form(
    s: &AppState,
    loaded: &LoadedApp,
    form: &serde_json::Value,
    call: &CallFor,
) -> Result<String, Refusal> {
    let text = form.to_string();
    if text.len() > tongban_services::cases::MAX_FORM_BYTES {
        return Err(ApiError::bad_request(format!(
            "the form is {} bytes; at most {}",
            text.len(),
            tongban_services::cases::MAX_FORM_BYTES
        ))
        .into());
    }
    if let Some(schema) = loaded.forms.get(&call.item) {
        let violations = schema_violations(schema, &text).map_err(|e| ApiError::bad_request(e.to_string()))?;
        if !violations.is_empty() {
            return Err(Refusal::Fields(
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
    let env = s.call_env(loaded, call.clone()).await?;
    let validated = s.call_app(loaded, &env, Hook::Validate { form: text.clone() }).await;
    match validated.result {
        Ok(HookResult::Validate(Ok(()))) => Ok(text),
        Ok(HookResult::Validate(Err(fields))) => Err(Refusal::Fields(fields)),
        Ok(_) => Err(app_failed("validate answered for another hook").into()),
        Err(e) => Err(ApiError::call_failed(&e).into()),
    }
}

/// Resubmit a case after a correction was requested (补正), the one path for
/// the API and the citizen's page. The applicant (or the clerk who applied
/// for them) is checked first, by the case state machine's rule; then the
/// corrected form, read by `read_form` with the item's JSON Schema of the
/// version that serves the applicant now, is checked like an application
/// (schema, then the app's `validate`), and only then does the case go back
/// to intake with it.
pub async fn resubmit_correction(
    s: &AppState,
    actor: &CaseActor,
    id: &str,
    read_form: impl FnOnce(Option<&serde_json::Value>) -> Option<serde_json::Value>,
    reason: String,
) -> Result<Case, Refusal> {
    let case = s.services.case_for(actor, id).await?;
    tongban_services::cases::may_take(actor, &case, Action::Resubmit)?;
    let (_, loaded) = s.serving_app(&case.region, &case.app, &case.subject).await?;
    let form = read_form(loaded.forms.get(&case.item))
        .ok_or_else(|| ApiError::bad_request("a resubmission carries the corrected form"))?;
    let channel = if actor.role == Role::WindowClerk {
        Channel::Window
    } else {
        Channel::Web
    };
    let call = CallFor {
        subject: case.subject.clone(),
        region: case.region.clone(),
        item: case.item.clone(),
        channel,
        on_behalf_of: (channel == Channel::Window).then(|| actor.user.clone()),
        case: Some(case.id.clone()),
    };
    let form = check_form(s, &loaded, &form, &call).await?;
    let step = Step {
        action: Action::Resubmit,
        reason,
        to_org: None,
        form: Some(form),
    };
    Ok(s.services.step_case(actor, id, step).await?)
}

async fn discard(s: &AppState, case: &str) {
    if let Err(e) = s.services.discard_case(case).await {
        tracing::error!(%case, error = %e, "a refused submission's case could not be discarded");
    }
}

fn app_failed(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "app_failed",
        format!("the app failed: {message}"),
    )
}

/// A case with its timeline and fees.
#[derive(Debug, Serialize)]
pub struct CaseView {
    pub case: Case,
    pub overdue: bool,
    pub timeline: Vec<TimelineEntry>,
    pub payments: Vec<PaymentView>,
}

/// Who may read or step a case at all: its applicant, and the staff of the
/// orgs that take and handle it. Which case is theirs the case services
/// decide; other roles are refused before any case is looked up.
const CASE_ROLES: &[Role] = &[Role::Citizen, Role::WindowClerk, Role::Handler];

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
    caller.require(CASE_ROLES)?;
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
    let subject = caller.citizen()?;
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
    let org = caller.staff(&[Role::WindowClerk, Role::Handler])?;
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
        (status = 503, description = "app_busy or unavailable: the app is at its share of the instance slots, or the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn step(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<StepRequest>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    caller.require(CASE_ROLES)?;
    let action: Action = serde_json::from_value(serde_json::Value::String(body.action.clone()))
        .map_err(|_| ApiError::bad_request(format!("`{}` is not a case action", body.action)))?;
    if matches!(action, Action::RuleApprove | Action::RuleDeny) {
        return Err(ApiError::forbidden("only an app's rule decides an instant item"));
    }
    if action == Action::Resubmit {
        return match resubmit_correction(&s, &caller.0, &id, |_| body.form, body.reason).await {
            Ok(case) => Ok(Json(case).into_response()),
            Err(Refusal::Fields(fields)) => Ok(form_rejected(fields)),
            Err(Refusal::Api(e)) => Err(e),
        };
    }
    let step = Step {
        action,
        reason: body.reason,
        to_org: body.to_org,
        form: body.form.map(|f| f.to_string()),
    };
    Ok(Json(s.services.step_case(&caller.0, &id, step).await?).into_response())
}
