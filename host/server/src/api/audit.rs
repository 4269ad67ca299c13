//! `/api/v1/audit`: the chain's recent entries and its verification.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use tongban_registry::audit::AuditEntry;
use tongban_registry::market::audit_log;
use tongban_registry::release::Role;
use utoipa::ToSchema;

use super::auth::Authenticated;
use super::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Recent {
    /// The last N entries (1 to 10,000; 100 by default).
    pub limit: Option<i64>,
}

fn auditor(role: Role) -> Result<(), ApiError> {
    if matches!(role, Role::PlatformAdmin | Role::SecurityOfficer | Role::Auditor) {
        Ok(())
    } else {
        Err(tongban_registry::market::MarketError::forbidden(
            "the audit log is for auditors, security officers and platform admins",
        )
        .into())
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "audit_recent",
    params(
        Recent,
    ),
    responses(
        (status = 200, description = "the most recent entries", body = Vec<Object>),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only auditors, security officers and platform admins read the audit log", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn recent(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Query(q): Query<Recent>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    auditor(actor.role)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    Ok(Json(audit_log::entries(s.market.db(), Some(limit)).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    pub intact: bool,
    /// Sealed entries, all checked (0 when the chain is broken).
    pub entries: u64,
    /// Signed batch heads, all checked.
    pub batches: u64,
    /// Entries appended but not yet sealed into the chain: not yet protected
    /// by it, and not counted in `entries`.
    pub pending: u64,
    /// When the oldest pending entry was appended (milliseconds since the
    /// Unix epoch).
    pub oldest_pending_at: Option<i64>,
    /// The first broken entry and why, when the chain is broken.
    pub broken: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    operation_id = "audit_verify",
    responses(
        (status = 200, description = "whether the chain is intact", body = Verification),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only auditors, security officers and platform admins read the audit log", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn verify(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<Verification>, ApiError> {
    auditor(actor.role)?;
    Ok(Json(match audit_log::verify(s.market.db()).await? {
        Ok(v) => Verification {
            intact: true,
            entries: v.sealed,
            batches: v.batches,
            pending: v.pending,
            oldest_pending_at: v.oldest_pending_at,
            broken: None,
        },
        Err(b) => Verification {
            intact: false,
            entries: 0,
            batches: 0,
            pending: 0,
            oldest_pending_at: None,
            broken: Some(b.to_string()),
        },
    }))
}
