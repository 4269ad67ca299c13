//! The clerk's and the handler's pages: the org's intake queue (accept,
//! request a correction, reject with a reason) and handling queue (due dates,
//! overdue marks; approve, deny, hand off to another org). Who may take which
//! step is the case state machine's rule; the pages only offer the steps.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use tongban_registry::market::orgs;
use tongban_registry::release::Role;
use tongban_services::cases::{Action, Step};
use tongban_services::now_ms;

use super::citizen::case_details;
use super::layout::page;
use super::session::{PageLang, WebUser};
use crate::api::AppState;
use crate::api::error::ApiError;

fn staff_org(user: &WebUser) -> Result<String, Response> {
    match (&user.actor.role, &user.actor.org) {
        (Role::WindowClerk | Role::Handler, Some(org)) => Ok(org.clone()),
        _ => Err(ApiError::forbidden("these pages are for window clerks and handlers").into_response()),
    }
}

/// `GET /work`.
pub async fn queues(State(s): State<AppState>, lang: PageLang, user: WebUser) -> Response {
    let org = match staff_org(&user) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let l = lang.lang;
    let (intake, handling) = match (
        s.services.case_queue(&org, true).await,
        s.services.case_queue(&org, false).await,
    ) {
        (Ok(i), Ok(h)) => (i, h),
        (Err(e), _) | (_, Err(e)) => return ApiError::from(e).into_response(),
    };
    let now = now_ms();
    let when = super::layout::local_time;
    let body = html! {
        h2 { (l.t("受理队列", "Intake queue")) " (" (intake.len()) ")" }
        table {
            thead { tr { th { (l.t("办件", "Case")) } th { (l.t("事项", "Item")) } th { (l.t("渠道", "Channel")) } th { (l.t("提交时间", "Submitted")) } } }
            tbody { @for c in &intake { tr {
                td { a href={ "/work/cases/" (c.id) } { (c.id) } } td { (c.item) } td { (c.channel) } td { (when(c.submitted_at)) }
            } } }
        }
        h2 { (l.t("办理队列", "Handling queue")) " (" (handling.len()) ")" }
        table {
            thead { tr { th { (l.t("办件", "Case")) } th { (l.t("事项", "Item")) } th { (l.t("承诺办结时间", "Due")) } } }
            tbody { @for c in &handling { tr {
                td { a href={ "/work/cases/" (c.id) } { (c.id) } }
                td { (c.item) }
                td { @if let Some(due) = c.due_at { (when(due)) } @if c.overdue(now) { " " span.overdue { (l.t("已超期", "Overdue")) } } }
            } } }
        }
    };
    lang.respond(page(l, Some(&user), l.t("工作台", "Work queues"), &[], body))
}

/// `GET /work/cases/{id}`: the case and the steps the user may offer.
pub async fn case(State(s): State<AppState>, lang: PageLang, user: WebUser, Path(id): Path<String>) -> Response {
    if let Err(r) = staff_org(&user) {
        return r;
    }
    let case = match s.services.case_for(&user.case_actor(), &id).await {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let l = lang.lang;
    let details = match case_details(&s, &id, l).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let orgs = orgs::list_orgs(s.market.db()).await.unwrap_or_default();
    let stage = case.stage.as_str();
    let body = html! {
        (details)
        h2 { (l.t("办理操作", "Steps")) }
        form method="post" action={ "/work/cases/" (id) } {
            input type="hidden" name="csrf" value=(user.csrf);
            label for="reason" { (l.t("理由或意见", "Reason or decision")) }
            textarea id="reason" name="reason" rows="3" maxlength="2000" {}
            @if stage == "submitted" && user.actor.role == Role::WindowClerk {
                div {
                    button type="submit" name="action" value="accept" { (l.t("受理", "Accept")) }
                    button type="submit" name="action" value="request-correction" { (l.t("要求补正", "Request a correction")) }
                    button type="submit" name="action" value="reject" { (l.t("不予受理", "Reject")) }
                }
            }
            @if matches!(stage, "accepted" | "handling") {
                label for="to_org" { (l.t("移交机构（受办分离）", "Hand off to (another org)")) }
                select id="to_org" name="to_org" {
                    option value="" { (l.t("请选择", "Choose")) }
                    @for o in &orgs { @if o.code != case.handling_org { option value=(o.code) { (o.name) " (" (o.code) ")" } } }
                }
                div {
                    button type="submit" name="action" value="hand-off" { (l.t("移交", "Hand off")) }
                    @if user.actor.role == Role::Handler {
                        button type="submit" name="action" value="approve" { (l.t("批准", "Approve")) }
                        button type="submit" name="action" value="deny" { (l.t("不予批准", "Deny")) }
                    }
                }
            }
            @if matches!(stage, "approved") {
                div { button type="submit" name="action" value="deliver" { (l.t("出件", "Deliver")) } }
            }
            @if matches!(stage, "delivered" | "denied") {
                div { button type="submit" name="action" value="close" { (l.t("办结", "Close")) } }
            }
        }
    };
    lang.respond(page(
        l,
        Some(&user),
        &format!("{} {id}", l.t("办件", "Case")),
        &[],
        body,
    ))
}

/// `POST /work/cases/{id}`: take a step.
pub async fn step(
    State(s): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = user.check_csrf(&f) {
        return r;
    }
    if let Err(r) = staff_org(&user) {
        return r;
    }
    let action = f.get("action").cloned().unwrap_or_default();
    let Ok(action) = serde_json::from_value::<Action>(serde_json::Value::String(action.clone())) else {
        return ApiError::bad_request(format!("`{action}` is not a case action")).into_response();
    };
    if matches!(
        action,
        Action::RuleApprove | Action::RuleDeny | Action::Resubmit | Action::Withdraw
    ) {
        return ApiError::forbidden("that step is not taken from the work queue").into_response();
    }
    let step = Step {
        action,
        reason: f.get("reason").cloned().unwrap_or_default(),
        to_org: f.get("to_org").cloned().filter(|o| !o.is_empty()),
        form: None,
    };
    match s.services.step_case(&user.case_actor(), &id, step).await {
        Ok(_) => Redirect::to(&format!("/work/cases/{id}")).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
