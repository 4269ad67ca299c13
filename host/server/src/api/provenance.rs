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
use super::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ProvenanceQuery {
    pub subject: Option<String>,
    pub case: Option<String>,
}

/// The records, and whether the provenance table still matches the chain.
#[derive(Debug, Serialize)]
pub struct ProvenanceAnswer {
    pub records: Vec<StoredProvenance>,
}

/// `GET /api/v1/provenance?subject=|case=`.
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
