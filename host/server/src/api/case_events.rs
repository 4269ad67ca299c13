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
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ParkedQuery {
    /// At most this many events (1 to 1,000; 100 by default).
    pub limit: Option<i64>,
}

/// The parked events, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ParkedAnswer {
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<ParkedEvent>,
}

#[utoipa::path(
    get,
    path = "/api/v1/case-events/parked",
    operation_id = "case_events_parked",
    params(
        ParkedQuery,
    ),
    responses(
        (status = 200, description = "the parked case events, oldest first", body = ParkedAnswer),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only platform admins manage the outbox", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Requeued {
    pub case: String,
    pub seq: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/case-events/{case}/{seq}/requeue",
    operation_id = "case_events_requeue",
    params(
        ("case" = String, Path, description = "the case"),
        ("seq" = i64, Path, description = "the event's number within the case"),
    ),
    responses(
        (status = 200, description = "the event is back in the outbox, its attempts reset", body = Requeued),
        (status = 400, description = "invalid_input: seq is not a number", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only platform admins manage the outbox", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the case has no parked event with this number", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn requeue(
    State(s): State<AppState>,
    caller: Caller,
    Path((case, seq)): Path<(String, i64)>,
) -> Result<Json<Requeued>, ApiError> {
    caller.require(&[Role::PlatformAdmin])?;
    s.services.requeue_case_event(&caller.0.user, &case, seq).await?;
    Ok(Json(Requeued { case, seq }))
}
