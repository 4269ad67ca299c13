//! `/api/v1/provenance`: the personal-data access records, for auditors,
//! security officers and platform admins; filter by subject or case (one is
//! required, so nobody pages through everyone's records by default).

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use tongban_registry::release::Role;
use tongban_services::provenance::{ProvenanceFilter, StoredProvenance};

use super::auth::Caller;
use super::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProvenanceQuery {
    /// The records about this subject.
    pub subject: Option<String>,
    /// The records of this case.
    pub case: Option<String>,
}

/// The records, and whether the provenance table still matches the chain.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProvenanceAnswer {
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<StoredProvenance>,
}

/// `GET /api/v1/provenance?subject=|case=`.
#[utoipa::path(
    get,
    path = "/api/v1/provenance",
    operation_id = "provenance_list",
    params(
        ProvenanceQuery,
    ),
    responses(
        (status = 200, description = "the personal-data access records that match", body = ProvenanceAnswer),
        (status = 400, description = "invalid_input: neither a subject nor a case is given", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only auditors, security officers and platform admins read the access records", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Query(q): Query<ProvenanceQuery>,
) -> Result<Json<ProvenanceAnswer>, ApiError> {
    caller.require(&[Role::Auditor, Role::SecurityOfficer, Role::PlatformAdmin])?;
    let filter = ProvenanceFilter {
        subject: q.subject.filter(|s| !s.is_empty()),
        case: q.case.filter(|s| !s.is_empty()),
    };
    if filter.subject.is_none() && filter.case.is_none() {
        return Err(ApiError::bad_request("give a subject or a case"));
    }
    Ok(Json(ProvenanceAnswer {
        records: s.services.provenance(&filter).await?,
    }))
}
