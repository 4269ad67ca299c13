//! Certificates over HTTP: the holder's wallet and signed copies, the public
//! status check (status only, no personal data, no login), the platform's
//! seal key for offline verification, and status changes by the issuing org.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tongban_registry::release::Role;
use tongban_services::certificates::{Certificate, CertificateStatus};
use tongban_services::now_ms;

use super::auth::Caller;
use super::error::ApiError;
use crate::state::AppState;

/// `GET /api/v1/me/certificates`: the citizen's wallet.
#[utoipa::path(
    get,
    path = "/api/v1/me/certificates",
    operation_id = "certificates_mine",
    responses(
        (status = 200, description = "the certificates the citizen holds", body = Vec<Object>),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: this is for citizens about themselves", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn mine(State(s): State<AppState>, caller: Caller) -> Result<Json<Vec<Certificate>>, ApiError> {
    let subject = caller.citizen()?;
    Ok(Json(s.services.certificates_held(subject, None).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CopyQuery {
    /// What the copy is for (printed on it).
    pub purpose: String,
    /// How many days the copy is valid (default 30, at most 366).
    pub days: Option<i64>,
}

/// `GET /api/v1/me/certificates/{id}/copy?purpose=`: a sealed annotated copy
/// (加注件) of one of the citizen's certificates, as a download that
/// `tongban cert verify` checks offline.
#[utoipa::path(
    get,
    path = "/api/v1/me/certificates/{id}/copy",
    operation_id = "certificates_copy",
    params(
        ("id" = String, Path, description = "the certificate's id"),
        CopyQuery,
    ),
    responses(
        (status = 200, description = "a sealed annotated copy (加注件) as a download, which `tongban cert verify` checks offline", content_type = "application/json", body = Object, headers(("content-disposition" = String, description = "attachment; filename=\"<id>.sealed.json\""))),
        (status = 400, description = "invalid_input: the purpose is missing or over 256 bytes, or the validity is not 1 to 366 days", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: this is for citizens about themselves", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the citizen holds no such certificate", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the certificate is not valid now", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid: the copy cannot be made as asked", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn copy(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<CopyQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let subject = caller.citizen()?;
    let days = q.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::bad_request(format!(
            "a copy is valid 1 to 366 days, not {days}"
        )));
    }
    if q.purpose.trim().is_empty() || q.purpose.len() > 256 {
        return Err(ApiError::bad_request(
            "say what the copy is for: purpose, 1 to 256 bytes",
        ));
    }
    let copy = s
        .services
        .annotated_copy(
            subject,
            &id,
            q.purpose.trim(),
            q.purpose.trim(),
            now_ms() + days * 86_400_000,
        )
        .await?;
    let file = format!("{}.sealed.json", id.replace(['/', '\\', '"'], "_"));
    Ok((
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        copy.sealed.to_json_pretty(),
    ))
}

/// The public answer of a status check.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusAnswer {
    pub id: String,
    #[schema(value_type = String, example = "valid")]
    pub status: CertificateStatus,
}

/// `GET /api/v1/certificates/{id}/status`: public; status only.
#[utoipa::path(
    get,
    path = "/api/v1/certificates/{id}/status",
    operation_id = "certificates_status",
    params(
        ("id" = String, Path, description = "the certificate's id"),
    ),
    responses(
        (status = 200, description = "the certificate's status only; public, no personal data", body = StatusAnswer),
        (status = 404, description = "not_found: no such certificate", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid: the id is not a certificate id", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn status(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<StatusAnswer>, ApiError> {
    let status = s.services.certificate_status(&id).await?;
    Ok(Json(StatusAnswer { id, status }))
}

/// The platform's seal key, for offline verification.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SealKeyAnswer {
    pub algorithm: &'static str,
    /// The SM2 public key, SEC1 hex; pass it to `tongban cert verify --public-key`.
    pub public_key: String,
}

/// `GET /api/v1/certificates/seal-key`: public.
#[utoipa::path(
    get,
    path = "/api/v1/certificates/seal-key",
    operation_id = "certificates_seal_key",
    responses(
        (status = 200, description = "the platform's seal key, for offline verification; public", body = SealKeyAnswer),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn seal_key(State(s): State<AppState>) -> Result<Json<SealKeyAnswer>, ApiError> {
    Ok(Json(SealKeyAnswer {
        algorithm: tongban_services::certificates::seal::ALGORITHM,
        public_key: s.services.keys().await?.seal.public_key_hex(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusChange {
    #[schema(value_type = String, example = "valid")]
    pub status: CertificateStatus,
    pub reason: String,
}

/// `POST /api/v1/certificates/{id}/status`: staff of the issuing org.
#[utoipa::path(
    post,
    path = "/api/v1/certificates/{id}/status",
    operation_id = "certificates_set_status",
    params(
        ("id" = String, Path, description = "the certificate's id"),
    ),
    request_body = StatusChange,
    responses(
        (status = 200, description = "the certificate with its new status", body = Object),
        (status = 400, description = "invalid_input: the body is not JSON, or asks for `expired`, which follows from the validity period", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only handlers and window clerks of the issuing org change a certificate's status", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: no such certificate", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the certificate cannot move from its status to the one asked", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input or invalid: a field is missing or malformed, or the reason is empty", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn set_status(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<StatusChange>,
) -> Result<Json<Certificate>, ApiError> {
    let org = caller.staff(&[Role::Handler, Role::WindowClerk])?.to_owned();
    if body.status == CertificateStatus::Expired {
        return Err(ApiError::bad_request(
            "`expired` follows from the validity period; it is not set",
        ));
    }
    Ok(Json(
        s.services
            .set_certificate_status(&id, body.status, &body.reason, &caller.0.user, &org)
            .await?,
    ))
}
