//! `/api/v1/apps`: publishing (the body is the `.tbpkg` bytes), withdrawing,
//! release actions and deployments.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use tongban_registry::market::deploy::ReleaseAction;
use tongban_registry::market::nodes::DeploymentReadiness;
use tongban_registry::market::publish::PublishReceipt;
use utoipa::ToSchema;

use super::auth::Authenticated;
use super::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/v1/apps",
    operation_id = "apps_publish",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "a signed .tbpkg package"),
    responses(
        (status = 200, description = "the receipt, with the capability diff", body = Object),
        (status = 400, description = "invalid_input: the body is empty or broke off", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only a publisher of the org that owns the app's namespace publishes it", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the version is published already", body = super::error::ErrorEnvelope),
        (status = 413, description = "payload_too_large: the package is larger than the server's upload limit", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input, checks_failed or signature_invalid: the package is malformed, fails its checks or is not signed by a registered key", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal or blob_tampered: the marketplace's storage failed", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: too many packages are being uploaded or checked; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/apps/{app}/versions/{version}/withdraw",
    operation_id = "apps_withdraw",
    params(
        ("app" = String, Path, description = "the app's id, e.g. cn.gov.hz.amr.permit"),
        ("version" = String, Path, description = "the app's version"),
    ),
    responses(
        (status = 200, description = "the version's new state", body = Outcome),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only a publisher of the app's org withdraws it", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: no such version", body = super::error::ErrorEnvelope),
        (status = 409, description = "illegal_transition: the version cannot be withdrawn from its state", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/apps/{app}/versions/{version}/release",
    operation_id = "apps_release",
    params(
        ("app" = String, Path, description = "the app's id, e.g. cn.gov.hz.amr.permit"),
        ("version" = String, Path, description = "the app's version"),
    ),
    request_body(content = Object, description = "a release action: {\"action\": \"pilot\"|\"rollout\"|\"halt\"|\"rollback\"|\"deprecate\"|\"yank\"|\"revoke\", ...}; yank and revoke take a \"reason\""),
    responses(
        (status = 200, description = "what the release action did", body = Outcome),
        (status = 400, description = "invalid_input: the body is not JSON", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: the caller may not take this release action for this app or region", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: no such version", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict or illegal_transition: the action does not follow from the version's state", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input: the action is unknown or lacks its fields (a reason, a region, a share)", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn release(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((app, version)): Path<(String, String)>,
    Json(action): Json<ReleaseAction>,
) -> Result<Json<Outcome>, ApiError> {
    let summary = s.market.release(&actor, &app, &version, action).await?;
    // Apply at once on this node; other nodes follow the deployment log.
    if let Err(e) = s.refresh_serving().await {
        tracing::warn!(error = %e, "refreshing the serving table after a release failed");
    }
    Ok(Json(Outcome { summary }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegionFilter {
    /// Only the deployments in this 6-digit region.
    pub region: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/apps/{app}/deployments",
    operation_id = "apps_deployments",
    params(
        ("app" = String, Path, description = "the app's id, e.g. cn.gov.hz.amr.permit"),
        RegionFilter,
    ),
    responses(
        (status = 200, description = "the app's deployments, each with its readiness: {\"seq\", \"ready\", \"nodes\"}, how many of the live nodes (nodes) serve its latest change (seq) so far (ready)", body = Vec<Object>),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn deployments(
    State(s): State<AppState>,
    Authenticated(_): Authenticated,
    Path(app): Path<String>,
    Query(filter): Query<RegionFilter>,
) -> Result<Json<Vec<DeploymentReadiness>>, ApiError> {
    Ok(Json(
        s.market
            .deployments_with_readiness(&app, filter.region.as_deref())
            .await?,
    ))
}
