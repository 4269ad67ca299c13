//! The pages' one mapping of a refusal to a status and an answer. A page
//! handler returns [`PageResult`], so it uses `?` on flows, services and
//! the marketplace alike; a refusal a page shows in place (a form's
//! problems) is handled by the page before it gets here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tongban_registry::market::MarketError;
use tongban_services::ServiceError;

use crate::flows::FlowError;

/// What a page handler answers.
pub type PageResult = Result<Response, PageError>;

/// A page's refusal: a flow's error, or an answer made already (a redirect
/// to sign in, a refused CSRF token).
#[derive(Debug)]
pub enum PageError {
    Flow(FlowError),
    Answer(Response),
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::Flow(e) => e.fmt(f),
            PageError::Answer(r) => write!(f, "refused with {}", r.status()),
        }
    }
}

impl PageError {
    pub fn forbidden(message: impl Into<String>) -> PageError {
        PageError::Flow(FlowError::Forbidden(message.into()))
    }

    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError::Flow(FlowError::NotFound(message.into()))
    }

    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError::Flow(FlowError::BadRequest(message.into()))
    }

    /// The status this refusal is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            PageError::Flow(e) => status_of(e).0,
            PageError::Answer(r) => r.status(),
        }
    }
}

impl From<FlowError> for PageError {
    fn from(e: FlowError) -> PageError {
        PageError::Flow(e)
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> PageError {
        PageError::Flow(e.into())
    }
}

impl From<MarketError> for PageError {
    fn from(e: MarketError) -> PageError {
        PageError::Flow(e.into())
    }
}

impl From<Response> for PageError {
    fn from(r: Response) -> PageError {
        PageError::Answer(r)
    }
}

/// The status a page answers a refusal with, and the seconds after which a
/// retry may succeed.
pub fn status_of(e: &FlowError) -> (StatusCode, Option<u32>) {
    use tongban_services::ServiceError as S;
    match e {
        FlowError::Form(_) => (StatusCode::UNPROCESSABLE_ENTITY, None),
        FlowError::Input(p) => match p.kind {
            tongban_services::InputProblemKind::Unknown => (StatusCode::NOT_FOUND, None),
            _ => (StatusCode::UNPROCESSABLE_ENTITY, None),
        },
        FlowError::BadRequest(_) => (StatusCode::BAD_REQUEST, None),
        FlowError::Forbidden(_) => (StatusCode::FORBIDDEN, None),
        FlowError::NotFound(_) => (StatusCode::NOT_FOUND, None),
        FlowError::AppRefused { kind, .. } if kind == "consent-required" => (StatusCode::PRECONDITION_REQUIRED, None),
        FlowError::AppRefused { .. } => (StatusCode::UNPROCESSABLE_ENTITY, None),
        FlowError::AppFailed(_) => (StatusCode::BAD_GATEWAY, None),
        FlowError::Call(tongban_runtime::CallError::Busy { retry_after_secs, .. }) => {
            (StatusCode::SERVICE_UNAVAILABLE, Some(*retry_after_secs))
        }
        FlowError::Call(_) => (StatusCode::BAD_GATEWAY, None),
        FlowError::Service(e) => match e {
            S::NotGranted(_) | S::Forbidden(_) => (StatusCode::FORBIDDEN, None),
            S::ConsentRequired(_) => (StatusCode::PRECONDITION_REQUIRED, None),
            S::NotFound(_) => (StatusCode::NOT_FOUND, None),
            S::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, None),
            S::Conflict(_) => (StatusCode::CONFLICT, None),
            S::QuotaExceeded(_) => (StatusCode::PAYLOAD_TOO_LARGE, None),
            S::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, Some(1)),
        },
        FlowError::Market(e) => match e {
            MarketError::Invalid(_) | MarketError::Checks(_) | MarketError::Signature(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, None)
            }
            MarketError::NotFound(_) => (StatusCode::NOT_FOUND, None),
            MarketError::Forbidden(_) => (StatusCode::FORBIDDEN, None),
            MarketError::Conflict(_) | MarketError::Transition(_) => (StatusCode::CONFLICT, None),
            MarketError::Busy(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(tongban_registry::market::package_work::PACKAGE_RETRY_AFTER_SECS),
            ),
            MarketError::Tampered(_) | MarketError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, None),
        },
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = match self {
            PageError::Answer(response) => return response,
            PageError::Flow(e) => e,
        };
        let (status, retry_after) = status_of(&e);
        if status.is_server_error() {
            tracing::error!(code = code_of(&e), error = %e, "a page's request failed");
        }
        let body = serde_json::json!({"error": {"code": code_of(&e), "message": e.to_string()}});
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The stable code of a refusal, as the API names the same refusal.
fn code_of(e: &FlowError) -> &'static str {
    match e {
        FlowError::Form(_) => "form_invalid",
        FlowError::Input(p) => match p.kind {
            tongban_services::InputProblemKind::Unknown => "not_found",
            _ => "invalid",
        },
        FlowError::BadRequest(_) => "invalid_input",
        FlowError::Forbidden(_) => "forbidden",
        FlowError::NotFound(_) => "not_found",
        FlowError::AppRefused { .. } => "submission_refused",
        FlowError::AppFailed(_) => "app_failed",
        FlowError::Call(tongban_runtime::CallError::Busy { .. }) => "app_busy",
        FlowError::Call(_) => "app_failed",
        FlowError::Service(e) => e.code(),
        FlowError::Market(e) => e.code(),
    }
}
