//! Payments over HTTP: the sandbox bank's hosted pay page (`/pay/{id}`, pay
//! or decline, no JavaScript), provider callbacks
//! (`/api/v1/payments/callbacks/{provider}`, HMAC-signed in the
//! `X-Tongban-Signature` header, applied exactly once), and the per-org daily
//! reconciliation report.
//!
//! The pay page is addressed by the payment id, which is random and
//! unguessable, the way a provider's hosted page is reached by its link; it
//! shows the amount and the description, nothing about the applicant. Its
//! form carries a pre-session token (`web::session::form_token`), so another
//! site cannot pay or decline on a visitor's behalf.
//!
//! Opening the page (a `GET`) never changes the payment. Paying stays open to
//! whoever holds the link, as a provider's hosted page allows; declining ends
//! the citizen's fee, so only the citizen the fee belongs to, signed in with
//! their own session, may decline it.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use tongban_registry::release::Role;
use tongban_services::payments::{CallbackOutcome, PayDecision, Payment, PaymentStatus, Reconciliation};

use super::auth::Caller;
use super::error::ApiError;
use super::state::AppState;
use crate::web::session::{Visitor, form_token, form_token_matches};

/// The header a provider signs its callbacks in.
pub const SIGNATURE_HEADER: &str = "x-tongban-signature";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head><body><main>{body}</main></body></html>"
    ))
}

/// The page, with the form token and the cookie that pairs it with the browser.
/// The decline button is shown only to the citizen the fee belongs to.
fn pay_page(payment: &Payment, note: &str, headers: &HeaderMap, may_decline: bool) -> Response {
    let status = payment.status.as_str();
    let (token, set_cookie) = form_token(headers);
    let actions = if matches!(payment.status, PaymentStatus::Created | PaymentStatus::Started) {
        let decline = if may_decline {
            "<button type=\"submit\" name=\"decision\" value=\"decline\">取消 / Decline</button>"
        } else {
            ""
        };
        format!(
            "<form method=\"post\" action=\"/pay/{id}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
             <button type=\"submit\" name=\"decision\" value=\"pay\">确认支付 / Pay</button> {decline}</form>",
            id = escape(&payment.id),
            token = escape(&token),
        )
    } else {
        // The bank sends the citizen back to the platform, as a provider's
        // return link does.
        "<p><a href=\"/my/cases\">返回我的办件 / Back to my cases</a></p>".to_owned()
    };
    let mut response = page(
        "沙箱银行支付 / Sandbox bank payment",
        &format!(
            "<h1>沙箱银行 / Sandbox bank</h1>\
             <p>这是测试支付环境，不会产生真实扣款。/ This is a test payment; no money moves.</p>\
             <dl><dt>事项 / For</dt><dd>{description}</dd>\
             <dt>金额 / Amount</dt><dd id=\"amount\">¥{amount}</dd>\
             <dt>状态 / Status</dt><dd id=\"status\">{status}</dd></dl>{note}{actions}",
            description = escape(&payment.description),
            amount = yuan(payment.amount_fen),
        ),
    )
    .into_response();
    if let Some(value) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Whether the visitor is the citizen the fee belongs to: signed in, and the
/// applicant of the payment's case.
async fn is_fee_owner(s: &AppState, payment: &Payment, visitor: &Visitor) -> Result<bool, ApiError> {
    let Some(subject) = visitor.0.as_ref().and_then(|user| user.subject.as_deref()) else {
        return Ok(false);
    };
    Ok(s.services.case(&payment.case).await?.subject == subject)
}

/// `GET /pay/{id}`: the hosted pay page. Opening it changes nothing; the
/// payment starts when the citizen confirms.
pub async fn show(
    State(s): State<AppState>,
    Path(id): Path<String>,
    visitor: Visitor,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let payment = s.services.payment(&id).await?;
    let owner = is_fee_owner(&s, &payment, &visitor).await?;
    Ok(pay_page(&payment, "", &headers, owner))
}

/// `POST /pay/{id}`: the citizen pays or declines. The sandbox bank settles
/// and its signed callbacks go through the same path a real provider's do.
pub async fn decide(
    State(s): State<AppState>,
    Path(id): Path<String>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    // An unknown payment is named first: its page would say so too.
    let payment = s.services.payment(&id).await?;
    let owner = is_fee_owner(&s, &payment, &visitor).await?;
    if !form_token_matches(&headers, &form) {
        // The page again, with a fresh form to confirm from.
        let mut page = pay_page(
            &payment,
            "<p role=\"alert\">表单已失效或并非来自本页，请重新确认。/ The form expired or did not come from this page; confirm again.</p>",
            &headers,
            owner,
        );
        *page.status_mut() = StatusCode::FORBIDDEN;
        return Ok(page);
    }
    let decision = match form.get("decision").map(String::as_str).unwrap_or_default() {
        "pay" => PayDecision::Pay,
        "decline" => PayDecision::Decline,
        other => {
            return Err(ApiError::bad_request(format!(
                "decision `{other}` is neither pay nor decline"
            )));
        }
    };
    if decision == PayDecision::Decline && !owner {
        let mut page = pay_page(
            &payment,
            "<p role=\"alert\">只有缴费人本人登录后才能取消支付。/ Only the citizen this fee belongs to, signed in, can decline it.</p>",
            &headers,
            owner,
        );
        *page.status_mut() = StatusCode::FORBIDDEN;
        return Ok(page);
    }
    if payment.status == PaymentStatus::Created {
        s.services.start_payment(&id).await?;
    }
    let callbacks = s.services.sandbox_settle(&id, decision).await?;
    for callback in callbacks {
        s.services
            .apply_callback(&callback.provider, &callback.body, &callback.signature)
            .await?;
    }
    let payment = s.services.payment(&id).await?;
    let note = match payment.status {
        PaymentStatus::Success => "<p role=\"status\">支付成功 / Paid.</p>",
        PaymentStatus::Failed => "<p role=\"status\">已取消支付 / Declined.</p>",
        _ => "",
    };
    Ok(pay_page(&payment, note, &headers, owner))
}

/// `POST /api/v1/payments/callbacks/{provider}`: a provider's signed callback.
#[utoipa::path(
    post,
    path = "/api/v1/payments/callbacks/{provider}",
    operation_id = "payments_callback",
    params(
        ("provider" = String, Path, description = "the payment provider, e.g. sandbox"),
        ("x-tongban-signature" = String, Header, description = "the provider's signature of the body (for the sandbox, hex HMAC-SHA256)"),
    ),
    request_body(content = Vec<u8>, content_type = "application/json", description = "the provider's callback, byte for byte as it was signed"),
    responses(
        (status = 200, description = "what the callback did: applied, stale or duplicate, with the payment", body = Object),
        (status = 400, description = "invalid_input: the signature header is missing", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: the signature does not match the body", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: no such provider or payment", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the callback contradicts the payment", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid: the body is not a callback of this provider", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn callback(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CallbackOutcome>, ApiError> {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::bad_request(format!("a callback is signed in the {SIGNATURE_HEADER} header")))?;
    Ok(Json(s.services.apply_callback(&provider, &body, signature).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationQuery {
    /// The org's unified social credit code.
    pub org: String,
    /// The civil day (UTC+8), `YYYY-MM-DD`.
    pub date: String,
}

/// `GET /api/v1/payments/reconciliation?org=&date=`: for the org's own staff,
/// auditors and platform admins.
#[utoipa::path(
    get,
    path = "/api/v1/payments/reconciliation",
    operation_id = "payments_reconciliation",
    params(
        ReconciliationQuery,
    ),
    responses(
        (status = 200, description = "the org's payments of the day and their totals", body = Object),
        (status = 400, description = "invalid_input: org or date is missing, or the date is not YYYY-MM-DD", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only the org's window clerks and handlers, auditors and platform admins read its reconciliation", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the org is not registered", body = super::error::ErrorEnvelope),
        (status = 503, description = "unavailable: the platform database failed for now; retry after Retry-After seconds", body = super::error::ErrorEnvelope),
    )
)]
pub async fn reconciliation(
    State(s): State<AppState>,
    caller: Caller,
    Query(q): Query<ReconciliationQuery>,
) -> Result<(StatusCode, Json<Reconciliation>), ApiError> {
    let own_org =
        caller.0.org.as_deref() == Some(q.org.as_str()) && matches!(caller.0.role, Role::WindowClerk | Role::Handler);
    if !own_org {
        caller.require(&[Role::Auditor, Role::PlatformAdmin])?;
    }
    let date = chrono::NaiveDate::parse_from_str(&q.date, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request(format!("date `{}` is not YYYY-MM-DD", q.date)))?;
    Ok((StatusCode::OK, Json(s.services.reconciliation(&q.org, date).await?)))
}
