//! Authentication: `Authorization: Bearer <token>` resolves to an
//! [`Actor`]. Authorization (which role may do what) is decided by the
//! marketplace, where the rules live.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tongban_registry::market::{Actor, accounts};
use tongban_registry::release::Role;
use tongban_services::cases::CaseActor;

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

/// The authenticated person acting on cases, consents, payments and
/// certificates: the actor plus, for a citizen, the subject they are.
pub struct Caller(pub CaseActor);

impl Caller {
    /// The citizen's subject, or 403 for anyone else.
    pub fn citizen(&self) -> Result<&str, ApiError> {
        match (&self.0.role, &self.0.subject) {
            (Role::Citizen, Some(subject)) => Ok(subject),
            _ => Err(ApiError::forbidden(format!(
                "this is for citizens about themselves; {} is a {}",
                self.0.user, self.0.role
            ))),
        }
    }

    /// The staff member's org, if they are one of `roles`, or 403.
    pub fn staff(&self, roles: &[Role]) -> Result<&str, ApiError> {
        match &self.0.org {
            Some(org) if roles.contains(&self.0.role) => Ok(org),
            _ => Err(ApiError::forbidden(format!(
                "this needs the role {} of an org; {} is a {}",
                roles.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" or "),
                self.0.user,
                self.0.role
            ))),
        }
    }

    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.0.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the role {}; {} is a {}",
                roles.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" or "),
                self.0.user,
                self.0.role
            )))
        }
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
