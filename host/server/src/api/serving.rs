//! `/api/v1/serving`: which version of an app serves a subject in a region,
//! and a `validate` call through that version, so operators (and the tests)
//! can see a release change take effect.
//!
//! The `validate` route drives an app's hook for a subject the caller names,
//! so it is for operators only (platform admins, and region admins in their
//! own region). The call serves no platform subject: every personal-data
//! capability answers it `not-found`. Citizens reach hooks only through their
//! own applications.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use tongban_registry::market::serving::Served;
use tongban_registry::release::Role;
use tongban_runtime::{Channel, Hook, HookResult};
use utoipa::ToSchema;

use super::auth::Authenticated;
use super::error::ApiError;
use crate::flows::calls::{CallFor, OPERATOR_HANDLE, Principal, call_env};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubjectQuery {
    /// The subject to resolve the serving version for (a pilot or a share of a rollout may pick them).
    pub subject: String,
}

fn resolve(s: &AppState, region: &str, app: &str, subject: &str) -> Result<Served, ApiError> {
    s.serving.load().resolve(app, region, subject).ok_or_else(|| {
        ApiError::not_found(format!(
            "no version of {app} serves region {region} for this subject (not deployed, halted, or revoked)"
        ))
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/serving/{region}/{app}",
    operation_id = "serving_which",
    params(
        ("region" = String, Path, description = "the 6-digit GB/T 2260 region code"),
        ("app" = String, Path, description = "the app's id, e.g. cn.gov.hz.amr.permit"),
        SubjectQuery,
    ),
    responses(
        (status = 200, description = "the version that serves the subject, and why", body = Object),
        (status = 400, description = "invalid_input: the subject is missing", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: no version of the app serves the region for this subject", body = super::error::ErrorEnvelope),
    )
)]
pub async fn which(
    State(s): State<AppState>,
    Authenticated(_): Authenticated,
    Path((region, app)): Path<(String, String)>,
    Query(q): Query<SubjectQuery>,
) -> Result<Json<Served>, ApiError> {
    Ok(Json(resolve(&s, &region, &app, &q.subject)?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ValidateRequest {
    pub subject: String,
    /// The form, as JSON.
    pub form: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateResponse {
    pub version: String,
    pub reason: String,
    #[schema(value_type = Object)]
    pub result: HookResult,
}

#[utoipa::path(
    post,
    path = "/api/v1/serving/{region}/{app}/validate",
    operation_id = "serving_validate",
    params(
        ("region" = String, Path, description = "the 6-digit GB/T 2260 region code"),
        ("app" = String, Path, description = "the app's id, e.g. cn.gov.hz.amr.permit"),
    ),
    request_body = ValidateRequest,
    responses(
        (status = 200, description = "the hook result and the version that ran it", body = ValidateResponse),
        (status = 400, description = "invalid_input: the body is not JSON", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only platform admins, and region admins in their own region, run an app's hook", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: no version of the app serves the region for this subject", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input: a field is missing or malformed", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
        (status = 502, description = "app_failed: the app trapped, ran out of fuel or answered for another hook", body = super::error::ErrorEnvelope),
        (status = 503, description = "app_busy or unavailable: the app is at its share of the instance slots, or its package could not be loaded now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn validate(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((region, app)): Path<(String, String)>,
    Json(body): Json<ValidateRequest>,
) -> Result<Json<ValidateResponse>, ApiError> {
    actor.require(
        &[Role::PlatformAdmin, Role::RegionAdmin],
        "running an app's validate hook",
    )?;
    if actor.role == Role::RegionAdmin && actor.region.as_deref() != Some(region.as_str()) {
        return Err(ApiError::forbidden(format!(
            "{} administers region {}, not region {region}",
            actor.user,
            actor.region.as_deref().unwrap_or("(none)")
        )));
    }
    let served = resolve(&s, &region, &app, &body.subject)?;
    let loaded = s.loaded_app(&served.package_digest).await?;
    // The app sees neither the subject the operator named nor any platform
    // id: only a handle that stands for no one.
    let env = call_env(
        &Principal::nobody(OPERATOR_HANDLE),
        CallFor {
            region: region.clone(),
            item: loaded
                .manifest
                .items
                .first()
                .map(|i| i.code.clone())
                .unwrap_or_default(),
            channel: Channel::Web,
            on_behalf_of: None,
            case: None,
            event: None,
        },
    );
    let outcome = s
        .call_app(
            &loaded,
            &env,
            Hook::Validate {
                form: body.form.to_string(),
            },
        )
        .await;
    let result = outcome.result.map_err(|e| ApiError::call_failed(&e))?;
    Ok(Json(ValidateResponse {
        version: served.version,
        reason: served.reason,
        result,
    }))
}
