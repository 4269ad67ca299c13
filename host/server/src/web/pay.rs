//! The sandbox bank's hosted pay page (`/pay/{id}`, pay or decline, no
//! JavaScript).
//!
//! The pay page is addressed by the payment id, which is random and
//! unguessable, the way a provider's hosted page is reached by its link; it
//! shows the amount and the description, nothing about the applicant. Its
//! form carries a pre-session token (`session::form_token`), so another
//! site cannot pay or decline on a visitor's behalf.
//!
//! Opening the page (a `GET`) never changes the payment. Paying stays open to
//! whoever holds the link, as a provider's hosted page allows; declining ends
//! the citizen's fee, so only the citizen the fee belongs to, signed in with
//! their own session, may decline it.

use std::collections::HashMap;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use tongban_services::payments::{PayDecision, Payment, PaymentStatus};

use super::design::{BannerKind, ButtonKind, banner, confirmation_panel, row, row_with_id, stylesheet, summary_list};
use super::error::{PageError, PageResult};
use super::layout::Lang;
use super::session::{Visitor, form_token, form_token_matches};
use super::vocabulary::payment_label;
use crate::state::AppState;

fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// What the bank says above its form: nothing, a result, or a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Note {
    None,
    Paid,
    Declined,
    FormExpired,
    OnlyTheOwnerDeclines,
}

/// The bank's page, in both languages (the bank does not know the
/// platform's language choice), with the platform's stylesheet.
fn page(title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="zh-CN" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) }
                    link rel="stylesheet" href=(stylesheet::PATH.as_str());
                }
                body {
                    header.site-header { div.site-header__inner { span.site-header__name { "沙箱银行 " span lang="en" { "Sandbox bank" } } } }
                    main.page id="main" { h1 { (title) } div.page-body { (body) } }
                }
            }
        }
        .into_string(),
    )
}

/// The page, with the form token and the cookie that pairs it with the browser.
/// The decline button is shown only to the citizen the fee belongs to.
fn pay_page(payment: &Payment, note: Note, headers: &HeaderMap, may_decline: bool) -> Response {
    let (token, set_cookie) = form_token(headers);
    let open = matches!(payment.status, PaymentStatus::Created | PaymentStatus::Started);
    let both = |status: PaymentStatus| {
        format!(
            "{} / {}",
            payment_label(status, Lang::Zh),
            payment_label(status, Lang::En)
        )
    };
    let body = html! {
        (banner(BannerKind::Important, "测试环境 / Test environment", html! {
            p { "这是测试支付环境，不会产生真实扣款。" span lang="en" { " This is a test payment; no money moves." } }
        }))
        @match note {
            Note::Paid => (confirmation_panel("支付成功 / Paid.", html! {})),
            Note::Declined => p role="status" { "已取消支付 / Declined." },
            Note::FormExpired => (banner(BannerKind::Warning, "请重新确认 / Confirm again", html! {
                p role="alert" { "表单已失效或并非来自本页，请重新确认。/ The form expired or did not come from this page; confirm again." }
            })),
            Note::OnlyTheOwnerDeclines => (banner(BannerKind::Warning, "无法取消 / Cannot decline", html! {
                p role="alert" { "只有缴费人本人登录后才能取消支付。/ Only the citizen this fee belongs to, signed in, can decline it." }
            })),
            Note::None => {},
        }
        (summary_list([
            row("事项 / For", html! { (payment.description) }),
            row_with_id("amount", "金额 / Amount", html! { "¥" (yuan(payment.amount_fen)) }),
            row("状态 / Status", html! { span id="status" data-status=(payment.status.as_str()) { (both(payment.status)) } }),
        ]))
        @if open {
            form method="post" action={ "/pay/" (payment.id) } {
                input type="hidden" name="csrf" value=(token);
                div.button-group {
                    button type="submit" name="decision" value="pay" { "确认支付 / Pay" }
                    @if may_decline {
                        button type="submit" class=(ButtonKind::Secondary.class()) name="decision" value="decline" { "取消 / Decline" }
                    }
                }
            }
        } @else {
            // The bank sends the citizen back to the platform, as a provider's
            // return link does.
            p { a href="/my/cases" { "返回我的办件 / Back to my cases" } }
        }
    };
    let mut response = page("沙箱银行支付 / Sandbox bank payment", body).into_response();
    if let Some(value) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Whether the visitor is the citizen the fee belongs to: signed in, and the
/// applicant of the payment's case.
async fn is_fee_owner(s: &AppState, payment: &Payment, visitor: &Visitor) -> Result<bool, PageError> {
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
) -> PageResult {
    let payment = s.services.payment(&id).await?;
    let owner = is_fee_owner(&s, &payment, &visitor).await?;
    Ok(pay_page(&payment, Note::None, &headers, owner))
}

/// `POST /pay/{id}`: the citizen pays or declines. The sandbox bank settles
/// and its signed callbacks go through the same path a real provider's do.
pub async fn decide(
    State(s): State<AppState>,
    Path(id): Path<String>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult {
    // An unknown payment is named first: its page would say so too.
    let payment = s.services.payment(&id).await?;
    let owner = is_fee_owner(&s, &payment, &visitor).await?;
    if !form_token_matches(&headers, &form) {
        // The page again, with a fresh form to confirm from.
        let mut page = pay_page(&payment, Note::FormExpired, &headers, owner);
        *page.status_mut() = StatusCode::FORBIDDEN;
        return Ok(page);
    }
    let decision = match form.get("decision").map(String::as_str).unwrap_or_default() {
        "pay" => PayDecision::Pay,
        "decline" => PayDecision::Decline,
        other => {
            return Err(PageError::bad_request(format!(
                "decision `{other}` is neither pay nor decline"
            )));
        }
    };
    if decision == PayDecision::Decline && !owner {
        let mut page = pay_page(&payment, Note::OnlyTheOwnerDeclines, &headers, owner);
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
        PaymentStatus::Success => Note::Paid,
        PaymentStatus::Failed => Note::Declined,
        _ => Note::None,
    };
    Ok(pay_page(&payment, note, &headers, owner))
}
