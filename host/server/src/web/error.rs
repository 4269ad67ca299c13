//! The pages' one mapping of a refusal to a status and an answer: a page of
//! its own, with the refusal's stable code. A page
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
        FlowError::Overloaded(refused) => (StatusCode::SERVICE_UNAVAILABLE, Some(refused.retry_after_secs)),
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
        let mut response = (status, refusal_page(status, code_of(&e), &e.to_string(), retry_after)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A refusal as a page of its own, in Chinese with English beside it (the
/// refusal is answered before the page's language is known): what happened
/// in words, the refusal's stable code and message, and the way on.
fn refusal_page(
    status: StatusCode,
    code: &str,
    message: &str,
    retry_after: Option<u32>,
) -> axum::response::Html<String> {
    use maud::{DOCTYPE, html};
    let (zh, en) = match status {
        StatusCode::NOT_FOUND => ("找不到您要的内容", "Not found"),
        StatusCode::FORBIDDEN => ("您无权进行此操作", "Not allowed"),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => ("请求无法办理", "The request cannot be handled"),
        StatusCode::CONFLICT => ("当前状态下无法进行此操作", "Not possible in the current state"),
        StatusCode::PRECONDITION_REQUIRED => ("需要您先授权", "Your consent is needed first"),
        StatusCode::SERVICE_UNAVAILABLE => ("服务繁忙，请稍后再试", "Busy; try again shortly"),
        s if s.is_server_error() => ("服务暂时出现问题", "Something went wrong on our side"),
        _ => ("请求未能完成", "The request was not completed"),
    };
    let markup = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (zh) " — 通办" }
                link rel="stylesheet" href=(super::design::stylesheet::PATH.as_str());
            }
            body {
                header.site-header { div.site-header__inner { a.site-header__name href="/" { "通办" } } }
                main.page id="main" {
                    h1 { (zh) " " span lang="en" { (en) } }
                    div.page-body {
                        p { "错误代码 " span lang="en" { "Code" } " " code { (code) } }
                        p lang="en" { (message) }
                        @if let Some(seconds) = retry_after {
                            p { "请于 " (seconds) " 秒后重试。" span lang="en" { " Try again in " (seconds) " s." } }
                        }
                        p { a href="/" { "返回首页" } " · " a href="/" lang="en" { "Home" } }
                    }
                }
            }
        }
    };
    axum::response::Html(markup.into_string())
}

/// A refused form's problems by field path and the status to answer with:
/// a form's field errors as they are, any other refusal as one problem of
/// the whole form (the empty path).
pub fn form_refusal(e: FlowError) -> (std::collections::BTreeMap<String, String>, StatusCode) {
    match e {
        FlowError::Form(fields) => (
            fields.into_iter().map(|e| (e.field, e.message)).collect(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        e => {
            let (status, _) = status_of(&e);
            ([(String::new(), e.to_string())].into_iter().collect(), status)
        }
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
        FlowError::Overloaded(_) => "overloaded",
        FlowError::Call(_) => "app_failed",
        FlowError::Service(e) => e.code(),
        FlowError::Market(e) => e.code(),
    }
}
