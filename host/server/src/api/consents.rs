//! `/api/v1/consents`: the citizen's consents. The host builds a request from
//! what the app's approved manifest declares (its identity attributes and the
//! certificate types it reads), for the purpose of one item it serves; the
//! citizen grants or denies it, and can revoke it at any time.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use tongban_services::consent::{Consent, MAX_CONSENT_MS};
use tongban_services::consents::DEFAULT_CONSENT_MS;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::ApiError;
use crate::flows::calls::served;
use crate::flows::{access, consent};
use crate::state::AppState;

/// Ask for the consent an app needs to serve an item.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConsentRequest {
    /// The 6-digit region the citizen is served in.
    pub region: String,
    pub app: String,
    /// The item (实施编码); its code is the consent's purpose. Default: the
    /// app's first item.
    pub item: Option<String>,
}

/// A grant, for a number of days (default 90, at most 366).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct Grant {
    pub days: Option<i64>,
}

/// A consent with the sentence the citizen is shown.
#[derive(Debug, Serialize)]
pub struct ConsentView {
    #[serde(flatten)]
    pub consent: Consent,
    /// The app's name, as the citizen knows it.
    pub app_name: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/consents",
    operation_id = "consents_request",
    request_body = ConsentRequest,
    responses(
        (status = 201, description = "the request, for the citizen to decide", body = Object),
        (status = 400, description = "invalid_input: the body is not JSON, or the app reads no personal data and needs no consent", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: this is for citizens about themselves", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: no version of the app serves the region for this citizen, or it does not serve the item", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input or invalid: a field is missing or malformed", body = super::error::ErrorEnvelope),
        (status = 503, description = "app_busy or unavailable: the app is at its share of the instance slots, or the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn request(
    State(s): State<AppState>,
    caller: Caller,
    Json(body): Json<ConsentRequest>,
) -> Result<(axum::http::StatusCode, Json<ConsentView>), ApiError> {
    let subject = access::citizen(&caller.0)?;
    let (_, loaded) = served(&s, &body.region, &body.app, subject).await?;
    let manifest = &loaded.manifest;
    let item = match &body.item {
        Some(code) => manifest
            .items
            .iter()
            .find(|i| &i.code == code)
            .ok_or_else(|| ApiError::not_found(format!("{} does not serve item {code}", body.app)))?,
        None => manifest
            .items
            .first()
            .ok_or_else(|| ApiError::not_found(format!("{} declares no items", body.app)))?,
    };
    let consent = consent::request(&s, subject, manifest, item).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(ConsentView {
            consent,
            app_name: manifest.app.name.zh_cn.clone(),
        }),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/consents/{id}/grant",
    operation_id = "consents_grant",
    params(
        ("id" = String, Path, description = "the consent's id"),
    ),
    request_body(content = Grant, description = "optional: for how many days; without a body, 90"),
    responses(
        (status = 200, description = "the consent, granted", body = Object),
        (status = 400, description = "invalid_input: the body is not JSON, or the days are not 1 to 366", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: this is for citizens about themselves", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the citizen has no such consent", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the consent is not waiting for a decision", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input: a field is malformed", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn grant(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Option<Json<Grant>>,
) -> Result<Json<Consent>, ApiError> {
    let subject = access::citizen(&caller.0)?;
    let valid_for = match body.and_then(|Json(g)| g.days) {
        Some(days) if (1..=366).contains(&days) => days * 24 * 60 * 60 * 1000,
        Some(days) => {
            return Err(ApiError::bad_request(format!(
                "a consent lasts 1 to 366 days, not {days}"
            )));
        }
        None => DEFAULT_CONSENT_MS,
    };
    Ok(Json(
        s.services
            .grant_consent(subject, &id, valid_for.min(MAX_CONSENT_MS))
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/consents/{id}/deny",
    operation_id = "consents_deny",
    params(
        ("id" = String, Path, description = "the consent's id"),
    ),
    responses(
        (status = 200, description = "the consent, denied", body = Object),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: this is for citizens about themselves", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the citizen has no such consent", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the consent is not waiting for a decision", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn deny(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Consent>, ApiError> {
    let subject = access::citizen(&caller.0)?;
    Ok(Json(s.services.deny_consent(subject, &id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/consents/{id}/revoke",
    operation_id = "consents_revoke",
    params(
        ("id" = String, Path, description = "the consent's id"),
    ),
    responses(
        (status = 200, description = "the consent, revoked; the app's next read is refused", body = Object),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: this is for citizens about themselves", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the citizen has no such consent", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the consent is not granted", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn revoke(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Consent>, ApiError> {
    let subject = access::citizen(&caller.0)?;
    Ok(Json(s.services.revoke_consent(subject, &id).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/me/consents",
    operation_id = "consents_mine",
    responses(
        (status = 200, description = "the citizen's consents, newest first", body = Vec<Object>),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: this is for citizens about themselves", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn mine(State(s): State<AppState>, caller: Caller) -> Result<Json<Vec<Consent>>, ApiError> {
    let subject = access::citizen(&caller.0)?;
    Ok(Json(s.services.consents_of(subject).await?))
}
