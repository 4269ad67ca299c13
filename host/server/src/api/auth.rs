//! Authentication: `Authorization: Bearer <token>` resolves to an
//! [`Actor`]. Authorization (which role may do what) is decided by the
//! marketplace, where the rules live.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tongban_registry::market::{Actor, accounts};

use super::error::ApiError;
use super::state::AppState;

/// The authenticated actor of a request.
pub struct Authenticated(pub Actor);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("an API token is required: send Authorization: Bearer <token>"))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?;
        let actor = accounts::authenticate(state.market.db(), token.trim())
            .await?
            .ok_or_else(|| ApiError::unauthorized("the API token is not valid"))?;
        Ok(Authenticated(actor))
    }
}
