//! Payments over the API: provider callbacks
//! (`/api/v1/payments/callbacks/{provider}`, HMAC-signed in the
//! `X-Tongban-Signature` header, applied exactly once), and the per-org daily
//! reconciliation report. The sandbox bank's hosted pay page is a page
//! (`web/pay.rs`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use tongban_registry::release::Role;
use tongban_services::payments::{CallbackOutcome, Reconciliation};

use super::auth::Caller;
use super::error::ApiError;
use crate::state::AppState;

/// The header a provider signs its callbacks in.
pub const SIGNATURE_HEADER: &str = "x-tongban-signature";

/// `POST /api/v1/payments/callbacks/{provider}`: a provider's signed callback.
#[utoipa::path(
    post,
    path = "/api/v1/payments/callbacks/{provider}",
    operation_id = "payments_callback",
    params(
        ("provider" = String, Path, description = "the payment provider, e.g. sandbox"),
        ("x-tongban-signature" = String, Header, description = "the provider's signature of the body (for the sandbox, hex HMAC-SHA256)"),
    ),
    request_body(content = Vec<u8>, content_type = "application/json", description = "the provider's callback, byte for byte as it was signed"),
    responses(
        (status = 200, description = "what the callback did: applied, stale or duplicate, with the payment", body = Object),
        (status = 400, description = "invalid_input: the signature header is missing", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: the signature does not match the body", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: no such provider or payment", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the callback contradicts the payment", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid: the body is not a callback of this provider", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn callback(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CallbackOutcome>, ApiError> {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::bad_request(format!("a callback is signed in the {SIGNATURE_HEADER} header")))?;
    Ok(Json(s.services.apply_callback(&provider, &body, signature).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationQuery {
    /// The org's unified social credit code.
    pub org: String,
    /// The civil day (UTC+8), `YYYY-MM-DD`.
    pub date: String,
}

/// `GET /api/v1/payments/reconciliation?org=&date=`: for the org's own staff,
/// auditors and platform admins.
#[utoipa::path(
    get,
    path = "/api/v1/payments/reconciliation",
    operation_id = "payments_reconciliation",
    params(
        ReconciliationQuery,
    ),
    responses(
        (status = 200, description = "the org's payments of the day and their totals", body = Object),
        (status = 400, description = "invalid_input: org or date is missing, or the date is not YYYY-MM-DD", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only the org's window clerks and handlers, auditors and platform admins read its reconciliation", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the org is not registered", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn reconciliation(
    State(s): State<AppState>,
    caller: Caller,
    Query(q): Query<ReconciliationQuery>,
) -> Result<(StatusCode, Json<Reconciliation>), ApiError> {
    let own_org =
        caller.0.org.as_deref() == Some(q.org.as_str()) && matches!(caller.0.role, Role::WindowClerk | Role::Handler);
    if !own_org {
        caller.require(&[Role::Auditor, Role::PlatformAdmin])?;
    }
    let date = chrono::NaiveDate::parse_from_str(&q.date, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request(format!("date `{}` is not YYYY-MM-DD", q.date)))?;
    Ok((StatusCode::OK, Json(s.services.reconciliation(&q.org, date).await?)))
}
