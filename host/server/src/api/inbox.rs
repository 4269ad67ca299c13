//! `/api/v1/me/inbox`: the citizen's messages from apps (template-only).

use axum::Json;
use axum::extract::{Path, State};
use tongban_services::notifications::Message;

use super::auth::Caller;
use super::error::ApiError;
use super::state::AppState;

/// `GET /api/v1/me/inbox`: newest first.
pub async fn list(State(s): State<AppState>, caller: Caller) -> Result<Json<Vec<Message>>, ApiError> {
    let subject = caller.citizen()?;
    Ok(Json(s.services.inbox(subject).await?))
}

/// `POST /api/v1/me/inbox/{id}/read`.
pub async fn read(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<()>, ApiError> {
    let subject = caller.citizen()?;
    s.services.mark_read(subject, &id).await?;
    Ok(Json(()))
}
