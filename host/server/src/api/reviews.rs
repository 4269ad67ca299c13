//! `/api/v1/reviews`: the queue, one submission with its diff, decisions.

use axum::Json;
use axum::extract::{Path, State};
use tongban_registry::market::review::{Decision, QueueEntry, Submission};
use tongban_registry::release::Role;

use super::apps::Outcome;
use super::auth::Authenticated;
use super::error::ApiError;
use super::state::AppState;

#[utoipa::path(get, path = "/api/v1/reviews", responses((status = 200, description = "versions waiting for review, without the reviewer's own org")))]
pub async fn queue(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<Vec<QueueEntry>>, ApiError> {
    Ok(Json(s.market.review_queue(&actor).await?))
}

#[utoipa::path(get, path = "/api/v1/reviews/{app}/{version}", responses((status = 200, description = "the submission with its capability diff"), (status = "4XX", body = super::error::ErrorEnvelope)))]
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

#[utoipa::path(post, path = "/api/v1/reviews/{app}/{version}/decision",
    request_body(content = Object, description = "{\"decision\": \"approve\", \"acknowledged\": [...]} or {\"decision\": \"request-changes\"|\"reject\", \"reason\": \"...\"}"),
    responses((status = 200, body = Outcome), (status = "4XX", body = super::error::ErrorEnvelope)))]
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
