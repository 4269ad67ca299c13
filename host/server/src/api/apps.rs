//! `/api/v1/apps`: publishing (the body is the `.tbpkg` bytes), withdrawing,
//! release actions and deployments.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use tongban_registry::market::deploy::{Deployment, ReleaseAction};
use tongban_registry::market::publish::PublishReceipt;
use utoipa::ToSchema;

use super::auth::Authenticated;
use super::error::ApiError;
use super::state::AppState;

#[utoipa::path(post, path = "/api/v1/apps", request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "a signed .tbpkg package"),
    responses((status = 200, description = "the receipt, with the capability diff"), (status = "4XX", body = super::error::ErrorEnvelope)))]
pub async fn publish(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    body: Bytes,
) -> Result<Json<PublishReceipt>, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body must be the package file"));
    }
    Ok(Json(s.market.publish(&actor, &body).await?))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Outcome {
    pub summary: String,
}

#[utoipa::path(post, path = "/api/v1/apps/{app}/versions/{version}/withdraw", responses((status = 200, body = Outcome), (status = "4XX", body = super::error::ErrorEnvelope)))]
pub async fn withdraw(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((app, version)): Path<(String, String)>,
) -> Result<Json<Outcome>, ApiError> {
    let state = s.market.withdraw(&actor, &app, &version).await?;
    Ok(Json(Outcome {
        summary: format!("{app}@{version} is {state}"),
    }))
}

#[utoipa::path(post, path = "/api/v1/apps/{app}/versions/{version}/release",
    request_body(content = Object, description = "a release action: {\"action\": \"pilot\"|\"rollout\"|\"halt\"|\"rollback\"|\"deprecate\"|\"yank\"|\"revoke\", ...}; yank and revoke take a \"reason\""),
    responses((status = 200, body = Outcome), (status = "4XX", body = super::error::ErrorEnvelope)))]
pub async fn release(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((app, version)): Path<(String, String)>,
    Json(action): Json<ReleaseAction>,
) -> Result<Json<Outcome>, ApiError> {
    let summary = s.market.release(&actor, &app, &version, action).await?;
    // Apply at once on this node; other nodes follow the epoch.
    if let Err(e) = s.refresh_serving().await {
        tracing::warn!(error = %e, "refreshing the serving table after a release failed");
    }
    Ok(Json(Outcome { summary }))
}

#[derive(Debug, Deserialize)]
pub struct RegionFilter {
    pub region: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/apps/{app}/deployments", params(("region" = Option<String>, Query, description = "only this region")), responses((status = 200, description = "the app's deployments")))]
pub async fn deployments(
    State(s): State<AppState>,
    Authenticated(_): Authenticated,
    Path(app): Path<String>,
    Query(filter): Query<RegionFilter>,
) -> Result<Json<Vec<Deployment>>, ApiError> {
    Ok(Json(s.market.deployments(&app, filter.region.as_deref()).await?))
}
