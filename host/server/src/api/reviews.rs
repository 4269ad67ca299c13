//! `/api/v1/reviews`: the queue, one submission with its diff, decisions.

use axum::Json;
use axum::extract::{Path, State};
use tongban_registry::market::review::{Decision, QueueEntry, Submission};
use tongban_registry::release::Role;

use super::apps::Outcome;
use super::auth::Authenticated;
use super::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/v1/reviews",
    operation_id = "reviews_queue",
    responses(
        (status = 200, description = "versions waiting for review, without the reviewer's own org's", body = Vec<Object>),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only reviewers and platform admins read the queue", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn queue(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<Vec<QueueEntry>>, ApiError> {
    Ok(Json(s.market.review_queue(&actor).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/reviews/{app}/{version}",
    operation_id = "reviews_show",
    params(
        ("app" = String, Path, description = "the app's id, e.g. cn.gov.hz.amr.permit"),
        ("version" = String, Path, description = "the app's version"),
    ),
    responses(
        (status = 200, description = "the submission with its capability diff", body = Object),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only reviewers, platform admins and the publishing org's publishers read a submission", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the version was never published", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn show(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((app, version)): Path<(String, String)>,
) -> Result<Json<Submission>, ApiError> {
    // A submission (its manifest, check report and the reviewer's reasons) is
    // for reviewers, platform admins and the publishing org's own publishers.
    actor.require(
        &[Role::Reviewer, Role::PlatformAdmin, Role::Publisher],
        "reading a submission",
    )?;
    let submission = s.market.submission(&app, &version).await?;
    if actor.role == Role::Publisher && actor.org.as_deref() != Some(submission.org.as_str()) {
        return Err(ApiError::forbidden(format!(
            "{app}@{version} is submitted by org {}, not yours",
            submission.org
        )));
    }
    Ok(Json(submission))
}

#[utoipa::path(
    post,
    path = "/api/v1/reviews/{app}/{version}/decision",
    operation_id = "reviews_decide",
    params(
        ("app" = String, Path, description = "the app's id, e.g. cn.gov.hz.amr.permit"),
        ("version" = String, Path, description = "the app's version"),
    ),
    request_body(content = Object, description = "{\"decision\": \"approve\", \"acknowledged\": [...]} or {\"decision\": \"request-changes\"|\"reject\", \"reason\": \"...\"}"),
    responses(
        (status = 200, description = "the version's new state", body = Outcome),
        (status = 400, description = "invalid_input: the body is not JSON", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only a reviewer of another org decides", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the version was never published", body = super::error::ErrorEnvelope),
        (status = 409, description = "illegal_transition: the version is not waiting for review", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input: the decision is malformed, lacks its reason, or does not acknowledge every capability that needs it", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn decide(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((app, version)): Path<(String, String)>,
    Json(decision): Json<Decision>,
) -> Result<Json<Outcome>, ApiError> {
    let state = s.market.decide(&actor, &app, &version, decision).await?;
    if state == tongban_registry::release::VersionState::Approved {
        s.warm_approved(&app, &version);
    }
    Ok(Json(Outcome {
        summary: format!("{app}@{version} is {state}"),
    }))
}
