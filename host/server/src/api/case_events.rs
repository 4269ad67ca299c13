//! `/api/v1/case-events`: the outbox's parked events (after eight failed
//! deliveries into an app's `on-event`), and putting one back. For platform
//! admins: a parked event holds back its case's later events until then.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use tongban_registry::release::Role;
use tongban_services::cases::outbox::ParkedEvent;

use super::auth::Caller;
use super::error::ApiError;
use super::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ParkedQuery {
    /// At most this many events (1 to 1,000; 100 by default).
    pub limit: Option<i64>,
}

/// The parked events, oldest first.
#[derive(Debug, Serialize)]
pub struct ParkedAnswer {
    pub events: Vec<ParkedEvent>,
}

#[utoipa::path(get, path = "/api/v1/case-events/parked", params(("limit" = Option<i64>, Query, description = "at most this many, 1 to 1000")),
    responses((status = 200, description = "the parked case events, oldest first"), (status = "4XX", body = super::error::ErrorEnvelope)))]
pub async fn parked(
    State(s): State<AppState>,
    caller: Caller,
    Query(q): Query<ParkedQuery>,
) -> Result<Json<ParkedAnswer>, ApiError> {
    caller.require(&[Role::PlatformAdmin])?;
    Ok(Json(ParkedAnswer {
        events: s.services.parked_case_events(q.limit.unwrap_or(100)).await?,
    }))
}

/// What a requeue did.
#[derive(Debug, Serialize)]
pub struct Requeued {
    pub case: String,
    pub seq: i64,
}

#[utoipa::path(post, path = "/api/v1/case-events/{case}/{seq}/requeue",
    params(("case" = String, Path, description = "the case"), ("seq" = i64, Path, description = "the event's number within the case")),
    responses((status = 200, description = "the event is back in the outbox, its attempts reset"), (status = "4XX", body = super::error::ErrorEnvelope)))]
pub async fn requeue(
    State(s): State<AppState>,
    caller: Caller,
    Path((case, seq)): Path<(String, i64)>,
) -> Result<Json<Requeued>, ApiError> {
    caller.require(&[Role::PlatformAdmin])?;
    s.services.requeue_case_event(&caller.0.user, &case, seq).await?;
    Ok(Json(Requeued { case, seq }))
}
