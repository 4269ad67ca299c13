//! `/api/v1/catalog`: apps with an approved version, searchable. Public.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use tongban_registry::market::catalog::CatalogEntry;

use super::error::ApiError;
use super::state::AppState;

#[derive(Debug, Deserialize)]
pub struct CatalogQuery {
    pub q: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/catalog", params(("q" = Option<String>, Query, description = "search text"), ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)), responses((status = 200, description = "one page of the catalog")))]
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
