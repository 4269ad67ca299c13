//! `/api/v1/me/inbox`: the citizen's messages from apps (template-only).

use axum::Json;
use axum::extract::{Path, State};
use tongban_services::notifications::Message;

use super::auth::Caller;
use super::error::ApiError;
use crate::state::AppState;

/// `GET /api/v1/me/inbox`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/me/inbox",
    operation_id = "inbox_list",
    responses(
        (status = 200, description = "the citizen's messages, newest first", body = Vec<Object>),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: this is for citizens about themselves", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the citizen is not known to the platform", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn list(State(s): State<AppState>, caller: Caller) -> Result<Json<Vec<Message>>, ApiError> {
    let subject = caller.citizen()?;
    Ok(Json(s.services.inbox(subject).await?))
}

/// `POST /api/v1/me/inbox/{id}/read`.
#[utoipa::path(
    post,
    path = "/api/v1/me/inbox/{id}/read",
    operation_id = "inbox_read",
    params(
        ("id" = String, Path, description = "the message's id"),
    ),
    responses(
        (status = 200, description = "the message is marked read; the body is JSON null"),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: this is for citizens about themselves", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the citizen has no such message", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn read(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<()>, ApiError> {
    let subject = caller.citizen()?;
    s.services.mark_read(subject, &id).await?;
    Ok(Json(()))
}
