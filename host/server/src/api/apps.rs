//! `/api/v1/apps`: publishing (the body is the `.tbpkg` bytes), withdrawing,
//! release actions and deployments.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
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
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PublishReceipt>, ApiError> {
    // An upload over the limit is refused on its declared length, before a
    // byte of it is read: a client that sent `Expect: 100-continue` (the
    // CLI does) then never sends the body, and always gets this answer
    // rather than a connection closed under it.
    let limit = s.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared
        && length > limit as u64
    {
        return Err(payload_too_large(length, limit));
    }
    // Each upload is held in memory until it is checked, so only a few are
    // read at once; past them, a fast refusal with a retry hint.
    let _reading = UPLOADS_IN_FLIGHT.try_acquire().map_err(|_| {
        let mut busy = ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("{MAX_UPLOADS_IN_FLIGHT} packages are being uploaded already; try again shortly"),
        );
        busy.retry_after = Some(5);
        busy
    })?;
    let body = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let over = std::error::Error::source(&e).is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>());
        if over {
            payload_too_large(declared.unwrap_or(limit as u64 + 1), limit)
        } else {
            ApiError::bad_request(format!("the upload broke off: {e}"))
        }
    })?;
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body must be the package file"));
    }
    Ok(Json(s.market.publish(&actor, Vec::from(body)).await?))
}

/// How many package uploads are read into memory at once.
pub const MAX_UPLOADS_IN_FLIGHT: usize = 4;

static UPLOADS_IN_FLIGHT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_UPLOADS_IN_FLIGHT);

fn payload_too_large(length: u64, limit: usize) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the package is {length} bytes; this server takes packages of at most {limit} bytes ({} MiB, `serve --max-upload-mib`)",
            limit / (1024 * 1024)
        ),
    )
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
