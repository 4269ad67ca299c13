//! Authentication: `Authorization: Bearer <token>` resolves to an
//! [`Actor`]. Authorization (which role may do what) is decided by the
//! marketplace, where the rules live.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tongban_registry::market::{Actor, accounts};
use tongban_registry::release::Role;
use tongban_services::cases::CaseActor;

use super::error::ApiError;
use crate::flows::access;
use crate::state::AppState;

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

/// The authenticated person acting on cases, consents, payments and
/// certificates: the actor plus, for a citizen, the subject they are.
pub struct Caller(pub CaseActor);

impl Caller {
    /// The citizen's subject, or 403 for anyone else.
    pub fn citizen(&self) -> Result<&str, ApiError> {
        Ok(access::citizen(&self.0)?)
    }

    /// The staff member's org, if they are one of `roles`, or 403.
    pub fn staff(&self, roles: &[Role]) -> Result<&str, ApiError> {
        Ok(access::staff_org(&self.0, roles)?)
    }

    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        Ok(access::require(&self.0, roles)?)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Authenticated(actor) = Authenticated::from_request_parts(parts, state).await?;
        let subject = if actor.role == Role::Citizen {
            accounts::subject_of(state.market.db(), &actor.user).await?
        } else {
            None
        };
        Ok(Caller(CaseActor {
            user: actor.user,
            role: actor.role,
            org: actor.org,
            subject,
        }))
    }
}
