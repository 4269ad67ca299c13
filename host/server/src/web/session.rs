//! Who is signed in. The `tb_session` cookie (HttpOnly, SameSite=Lax) holds a
//! random token; the database holds its hash. A page that needs a signed-in
//! user redirects anonymous visitors to `/login`; every form post carries the
//! session's CSRF token and is refused without it.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use tongban_registry::market::Actor;
use tongban_registry::market::sessions;
use tongban_services::cases::CaseActor;

use super::error::PageError;
pub use super::lang::{PageLang, cookie};
use crate::flows::access;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tb_session";

/// The signed-in user of a page request.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub actor: Actor,
    pub subject: Option<String>,
    pub display_name: String,
    pub csrf: String,
}

impl WebUser {
    /// The user as the case services know them.
    pub fn case_actor(&self) -> CaseActor {
        CaseActor {
            user: self.actor.user.clone(),
            role: self.actor.role,
            org: self.actor.org.clone(),
            subject: self.subject.clone(),
        }
    }

    /// Refuse a form post whose CSRF token is missing or wrong.
    pub fn check_csrf(&self, form: &HashMap<String, String>) -> Result<(), Response> {
        match form.get("csrf") {
            Some(token) if constant_time_eq(token.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err((
                StatusCode::FORBIDDEN,
                "表单已失效，请返回重新提交 / the form has expired or did not come from this site; go back and submit it again",
            )
                .into_response()),
        }
    }
}

/// The cookie of a form shown before any session exists (sign-in, the sandbox
/// bank's pay page). Such a form carries the same random value in a hidden
/// `csrf` field (double-submit), so another site cannot post it: it can
/// neither read the cookie nor, with `SameSite=Strict`, send it.
pub const FORM_COOKIE: &str = "tb_form";

/// A pre-session form token: the value for the hidden field, and the
/// `Set-Cookie` header that pairs it with the browser. Reuses the browser's
/// current token when it has one, so two open forms both stay valid.
pub fn form_token(headers: &HeaderMap) -> (String, Option<axum::http::HeaderValue>) {
    if let Some(existing) = cookie(headers, FORM_COOKIE)
        && existing.len() == 64
        && existing.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return (existing.to_owned(), None);
    }
    let mut random = [0u8; 32];
    // Without the operating system's randomness the token would be guessable;
    // an empty token never matches, so the form is refused rather than weak.
    if getrandom::fill(&mut random).is_err() {
        return (String::new(), None);
    }
    let token = hex::encode(random);
    let header = format!("{FORM_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict")
        .parse()
        .ok();
    (token, header)
}

/// Whether a pre-session form post carries the token its cookie holds.
pub fn form_token_matches(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    match (cookie(headers, FORM_COOKIE), form.get("csrf")) {
        (Some(held), Some(sent)) if !held.is_empty() => constant_time_eq(held.as_bytes(), sent.as_bytes()),
        _ => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session of a request, if any.
pub async fn current(parts: &Parts, state: &AppState) -> Result<Option<WebUser>, Response> {
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let found = sessions::session(state.market.db(), token)
        .await
        .map_err(|e| PageError::from(e).into_response())?;
    Ok(found.map(|s| WebUser {
        actor: s.actor,
        subject: s.subject,
        display_name: s.display_name,
        csrf: s.csrf,
    }))
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match current(parts, state).await? {
            Some(user) => Ok(user),
            None => {
                let back = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
                Err(Redirect::to(&format!("/login?next={next}")).into_response())
            }
        }
    }
}

/// A signed-in citizen and the platform subject they are; anyone else is
/// refused with 403 before the handler runs, by the same guard the API's
/// `Caller` uses (`flows::access`).
pub struct Citizen {
    pub user: WebUser,
    pub subject: String,
}

impl FromRequestParts<AppState> for Citizen {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = WebUser::from_request_parts(parts, state).await?;
        let subject = access::citizen(&user.case_actor())
            .map_err(|e| PageError::from(e).into_response())?
            .to_owned();
        Ok(Citizen { user, subject })
    }
}

/// A signed-in window clerk or handler and their org; anyone else is
/// refused with 403 before the handler runs.
pub struct Staff {
    pub user: WebUser,
    pub org: String,
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = WebUser::from_request_parts(parts, state).await?;
        let org = access::staff_org(&user.case_actor(), access::CASE_STAFF)
            .map_err(|e| PageError::from(e).into_response())?
            .to_owned();
        Ok(Staff { user, org })
    }
}

/// The visitor of a public page: signed in or not.
pub struct Visitor(pub Option<WebUser>);

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Visitor(current(parts, state).await?))
    }
}
