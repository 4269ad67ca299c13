//! `/api/v1/catalog`: apps with an approved version, searchable. Public.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use tongban_registry::market::catalog::CatalogEntry;

use super::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogQuery {
    /// Search text, at most 100 characters.
    pub q: Option<String>,
    /// The page, from 1 (default 1).
    pub page: Option<i64>,
    /// Apps per page (default 20).
    pub per_page: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/catalog",
    operation_id = "catalog_list",
    params(
        CatalogQuery,
    ),
    responses(
        (status = 200, description = "one page of the catalog; public", body = Vec<Object>),
        (status = 400, description = "invalid_input: the search text is over 100 characters", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input: the page or the page size is out of range", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn list(
    State(s): State<AppState>,
    Query(q): Query<CatalogQuery>,
) -> Result<Json<Vec<CatalogEntry>>, ApiError> {
    if q.q.as_deref().is_some_and(|t| t.chars().count() > 100) {
        return Err(ApiError::bad_request("search text is at most 100 characters"));
    }
    Ok(Json(
        s.market
            .catalog(q.q.as_deref(), q.page.unwrap_or(1), q.per_page.unwrap_or(20))
            .await?,
    ))
}
