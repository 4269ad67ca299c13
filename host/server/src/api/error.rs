//! The API's one error envelope: `{"error": {"code": "...", "message": "..."}}`
//! with a stable code and a 4xx/5xx status. Internal details are logged, never
//! sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tongban_registry::market::MarketError;
use tongban_runtime::FieldError;
use utoipa::ToSchema;

use crate::flows::FlowError;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// A stable code and a message naming the problem; a form's problems
/// (`form_invalid`) also list each field's.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<FieldError>,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// For a 503: the seconds after which a retry may succeed, sent as
    /// `Retry-After`.
    pub retry_after: Option<u32>,
    /// A form's problems, by field.
    pub fields: Vec<FieldError>,
}

impl ApiError {
    /// An answer with no retry hint.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            fields: Vec::new(),
        }
    }

    /// A hook call that failed: an app at its share of the instance slots
    /// (the call never ran) is a fast 503 with `Retry-After` naming the app;
    /// any other failure is the app's (502 `app_failed`).
    pub fn call_failed(e: &tongban_runtime::CallError) -> ApiError {
        match e {
            tongban_runtime::CallError::Busy {
                detail,
                retry_after_secs,
            } => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "app_busy",
                message: detail.clone(),
                retry_after: Some(*retry_after_secs),
                fields: Vec::new(),
            },
            other => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "app_failed",
                format!("the app failed: {other}"),
            ),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<MarketError> for ApiError {
    fn from(e: MarketError) -> ApiError {
        let status = match &e {
            MarketError::Invalid(_) | MarketError::Checks(_) => StatusCode::UNPROCESSABLE_ENTITY,
            MarketError::NotFound(_) => StatusCode::NOT_FOUND,
            MarketError::Forbidden(_) => StatusCode::FORBIDDEN,
            MarketError::Conflict(_) | MarketError::Transition(_) => StatusCode::CONFLICT,
            MarketError::Signature(_) => StatusCode::UNPROCESSABLE_ENTITY,
            MarketError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            MarketError::Tampered(_) | MarketError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry_after = matches!(e, MarketError::Busy(_))
            .then_some(tongban_registry::market::package_work::PACKAGE_RETRY_AFTER_SECS);
        ApiError {
            status,
            code: e.code(),
            message: e.to_string(),
            retry_after,
            fields: Vec::new(),
        }
    }
}

impl From<tongban_services::ServiceError> for ApiError {
    fn from(e: tongban_services::ServiceError) -> ApiError {
        use tongban_services::ServiceError as E;
        let status = match &e {
            E::NotGranted(_) | E::Forbidden(_) => StatusCode::FORBIDDEN,
            E::ConsentRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            E::NotFound(_) => StatusCode::NOT_FOUND,
            E::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            E::Conflict(_) => StatusCode::CONFLICT,
            E::QuotaExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            E::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        let retry_after = matches!(e, E::Unavailable(_)).then_some(1);
        ApiError {
            status,
            code: e.code(),
            message: e.to_string(),
            retry_after,
            fields: Vec::new(),
        }
    }
}

/// The API's one mapping of a flow's refusal to a status and a code.
impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> ApiError {
        match e {
            FlowError::Form(fields) => ApiError {
                message: format!(
                    "表单有 {} 处问题 / the form has {} problem(s)",
                    fields.len(),
                    fields.len()
                ),
                fields,
                ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "form_invalid", "")
            },
            FlowError::Input(problem) => problem.into_error().into(),
            FlowError::BadRequest(m) => ApiError::bad_request(m),
            FlowError::Forbidden(m) => ApiError::forbidden(m),
            FlowError::NotFound(m) => ApiError::not_found(m),
            // A capability the app needed was unavailable (the platform's
            // database past its wait bound, say) and the app passed that on:
            // nothing was kept, and trying again later is the answer.
            e @ FlowError::AppRefused { .. } if matches!(&e, FlowError::AppRefused { kind, .. } if kind == "unavailable") => {
                ApiError {
                    retry_after: Some(1),
                    ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string())
                }
            }
            e @ FlowError::AppRefused { .. } => {
                let status = match &e {
                    FlowError::AppRefused { kind, .. } if kind == "consent-required" => {
                        StatusCode::PRECONDITION_REQUIRED
                    }
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                ApiError::new(status, "submission_refused", e.to_string())
            }
            e @ FlowError::AppFailed(_) => ApiError::new(StatusCode::BAD_GATEWAY, "app_failed", e.to_string()),
            FlowError::Call(e) => ApiError::call_failed(&e),
            FlowError::Overloaded(refused) => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "overloaded",
                message: refused.to_string(),
                retry_after: Some(refused.retry_after_secs),
                fields: Vec::new(),
            },
            FlowError::Service(e) => e.into(),
            FlowError::Market(e) => e.into(),
        }
    }
}

impl ApiError {
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code.into(),
                message: self.message,
                fields: self.fields,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response
    }
}

/// Turn axum's own rejections (bad JSON, oversized bodies) into the envelope.
pub async fn envelope_rejections(response: Response) -> Response {
    let status = response.status();
    // Answers that already have a body of their own (the API's JSON, the
    // pages' HTML) pass; axum's plain-text rejections get the envelope.
    let own_body = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || own_body {
        return response;
    }
    let (code, default_message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body is larger than the configured upload limit",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "the request has the wrong content type"),
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this route does not take that method"),
        s if s.is_server_error() => ("internal", "internal error"),
        _ => ("invalid_input", "the request is malformed"),
    };
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&bytes).trim().to_owned();
    let message = if detail.is_empty() || status.is_server_error() {
        default_message.to_owned()
    } else {
        format!("{default_message}: {detail}")
    };
    ApiError::new(status, code, message).into_response()
}
