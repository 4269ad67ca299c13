//! The clerk's and the handler's pages: the org's intake queue (accept,
//! request a correction, reject with a reason), handling queue (due dates,
//! overdue marks; approve, deny, hand off to another org) and open
//! remediation items (整改) from bad ratings, resolved with a note. Who may
//! take which step is the case state machine's rule, and who may resolve an
//! item the rating service's; the pages only offer the steps.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::html;
use tongban_registry::market::orgs;
use tongban_registry::release::Role;
use tongban_services::{InputProblemKind, ServiceError, now_ms};

use super::citizen::cases::case_details;
use super::design::{ButtonKind, row, summary_list, table_box};
use super::error::{PageError, PageResult, status_of};
use super::layout::{Lang, Problem, page};
use super::session::{PageLang, Staff, WebUser};
use super::vocabulary::{channel_label, or_code, rating_label, stage_tag};
use crate::flows::access;
use crate::flows::steps::{self, StepInput};
use crate::flows::{FlowError, rating};
use crate::state::AppState;

/// The org of a window clerk or handler; anyone else is refused.
fn staff_org(user: &WebUser) -> Result<String, PageError> {
    Ok(access::staff_org(&user.case_actor(), access::CASE_STAFF)?.to_owned())
}

/// `GET /work`.
pub async fn queues(State(s): State<AppState>, lang: PageLang, Staff { user, .. }: Staff) -> PageResult {
    work_page(&s, &lang, &user, None, StatusCode::OK).await
}

/// The work queues, with a refused resolution's problem when there is one.
async fn work_page(
    s: &AppState,
    lang: &PageLang,
    user: &WebUser,
    problem: Option<Problem>,
    status: StatusCode,
) -> PageResult {
    let org = staff_org(user)?;
    let l = lang.lang;
    let intake = s.services.case_queue(&org, true).await?;
    let handling = s.services.case_queue(&org, false).await?;
    let remediations = s.services.remediations_of_org(&org, true).await?;
    let now = now_ms();
    let when = super::layout::local_time;
    let body = html! {
        h2 { (l.t("受理队列", "Intake queue")) " (" (intake.len()) ")" }
        @if intake.is_empty() { p { (l.t("没有待受理的办件。", "No cases wait for intake.")) } } @else {
            (table_box(l.t("受理队列", "Intake queue"), html! { table {
                thead { tr { th scope="col" { (l.t("办件", "Case")) } th scope="col" { (l.t("事项", "Item")) } th scope="col" { (l.t("渠道", "Channel")) } th scope="col" { (l.t("提交时间", "Submitted")) } } }
                tbody { @for c in &intake { tr {
                    td { a href={ "/work/cases/" (c.id) } { (c.id) } } td { (c.item) } td data-channel=(c.channel) { (or_code(channel_label(&c.channel, l), &c.channel)) } td { (when(c.submitted_at)) }
                } } }
            } }))
        }
        h2 { (l.t("办理队列", "Handling queue")) " (" (handling.len()) ")" }
        @if handling.is_empty() { p { (l.t("没有待办理的办件。", "No cases wait for handling.")) } } @else {
            (table_box(l.t("办理队列", "Handling queue"), html! { table {
                thead { tr { th scope="col" { (l.t("办件", "Case")) } th scope="col" { (l.t("事项", "Item")) } th scope="col" { (l.t("状态", "Stage")) } th scope="col" { (l.t("承诺办结时间", "Due")) } } }
                tbody { @for c in &handling { tr {
                    td { a href={ "/work/cases/" (c.id) } { (c.id) } }
                    td { (c.item) }
                    td { (stage_tag(c.stage.as_str(), l)) }
                    td { @if let Some(due) = c.due_at { (when(due)) } @if c.overdue(now) { " " span.overdue { (l.t("已超期", "Overdue")) } } }
                } } }
            } }))
        }
        section id="remediation" {
            h2 { (l.t("差评整改", "Remediation of bad ratings")) " (" (remediations.len()) ")" }
            @if remediations.is_empty() { p { (l.t("没有待整改的差评。", "No open remediation items.")) } }
            @for item in &remediations {
                @let note_id = format!("note-{}", item.id);
                @let error = problem.as_ref().filter(|p| p.field_id == note_id);
                article id=(item.id) {
                    h3 { a href={ "/work/cases/" (item.case) } { (item.case) } }
                    (summary_list([
                        row(l.t("评价", "Rating"), html! { (rating_label(item.level, l)) }),
                        row(l.t("评价意见", "Comment"), html! { (item.comment.as_deref().unwrap_or(l.t("（无）", "(none)"))) }),
                        row(l.t("整改期限", "Due"), html! { (when(item.due_at)) @if item.overdue(now) { " " span.overdue { (l.t("已超期", "Overdue")) } } }),
                    ]))
                    form method="post" action={ "/work/remediation/" (item.id) } {
                        input type="hidden" name="csrf" value=(user.csrf);
                        label for=(note_id) { (l.t("整改情况", "What was done")) }
                        @if let Some(p) = error { span.field-error id={ (note_id) "-error" } { (p.message) } }
                        textarea id=(note_id) name="note" rows="3" aria-describedby=[error.map(|_| format!("{note_id}-error"))] {}
                        div.button-group { button type="submit" { (l.t("整改完成", "Mark as remediated")) } }
                    }
                }
            }
        }
    };
    let problems: Vec<Problem> = problem.into_iter().collect();
    Ok(lang.respond((
        status,
        page(l, Some(user), l.t("工作台", "Work queues"), &problems, body),
    )))
}

/// `POST /work/remediation/{id}`: a window clerk or handler of the owning
/// org resolves a remediation item with a note, back to `/work`. A blank or
/// over-long note comes back on the work page naming the problem; staff of
/// another org are refused.
pub async fn resolve(
    State(s): State<AppState>,
    lang: PageLang,
    Staff { user, .. }: Staff,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    let note = f.get("note").cloned().unwrap_or_default();
    match rating::resolve_remediation(&s, &user.case_actor(), &id, &note).await {
        Ok(_) => Ok(Redirect::to("/work").into_response()),
        Err(FlowError::Input(p)) => {
            let problem = Problem {
                field_id: format!("note-{id}"),
                message: match p.kind {
                    InputProblemKind::Missing => lang.lang.summarised("请填写整改情况", &p.message),
                    _ => lang.lang.summarised("整改情况过长", &p.message),
                },
            };
            work_page(&s, &lang, &user, Some(problem), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /work/cases/{id}`: the case and the steps the user may offer.
pub async fn case(
    State(s): State<AppState>,
    lang: PageLang,
    Staff { user, .. }: Staff,
    Path(id): Path<String>,
) -> PageResult {
    case_page(&s, &lang, &user, &id, &StepTyped::default(), None, StatusCode::OK).await
}

/// What was typed and chosen in the step form, kept when a step comes back
/// refused.
#[derive(Debug, Default)]
struct StepTyped {
    reason: String,
    to_org: String,
}

/// The staff case page, with a refused step's problem when there is one.
async fn case_page(
    s: &AppState,
    lang: &PageLang,
    user: &WebUser,
    id: &str,
    typed: &StepTyped,
    problem: Option<Problem>,
    status: StatusCode,
) -> PageResult {
    staff_org(user)?;
    let case = s.services.case_for(&user.case_actor(), id).await?;
    let l = lang.lang;
    let details = case_details(s, id, l).await?;
    let orgs = orgs::list_orgs(s.market.db()).await.unwrap_or_default();
    let stage = case.stage.as_str();
    let reason_error = problem.as_ref().filter(|p| p.field_id == "reason");
    let org_error = problem.as_ref().filter(|p| p.field_id == "to_org");
    let body = html! {
        (details)
        h2 id="steps" { (l.t("办理操作", "Steps")) }
        form method="post" action={ "/work/cases/" (id) } {
            input type="hidden" name="csrf" value=(user.csrf);
            label for="reason" { (l.t("理由或意见", "Reason or decision")) }
            @if let Some(p) = reason_error { span.field-error id="reason-error" { (p.message) } }
            textarea id="reason" name="reason" rows="3" maxlength=(MAX_REASON_CHARS)
                aria-describedby=[reason_error.map(|_| "reason-error")] { (typed.reason) }
            @if stage == "submitted" && user.actor.role == Role::WindowClerk {
                div.button-group {
                    button type="submit" name="action" value="accept" { (l.t("受理", "Accept")) }
                    button type="submit" class=(ButtonKind::Secondary.class()) name="action" value="request-correction" { (l.t("要求补正", "Request a correction")) }
                    button type="submit" class=(ButtonKind::Warning.class()) name="action" value="reject" { (l.t("不予受理", "Reject")) }
                }
            }
            @if matches!(stage, "accepted" | "handling") {
                label for="to_org" { (l.t("移交机构（受办分离）", "Hand off to (another org)")) }
                @if let Some(p) = org_error { span.field-error id="to_org-error" { (p.message) } }
                select id="to_org" name="to_org" aria-describedby=[org_error.map(|_| "to_org-error")] {
                    option value="" { (l.t("请选择", "Choose")) }
                    @for o in &orgs { @if o.code != case.handling_org {
                        option value=(o.code) selected[typed.to_org == o.code] { (o.name) " (" (o.code) ")" }
                    } }
                }
                div.button-group {
                    button type="submit" class=(ButtonKind::Secondary.class()) name="action" value="hand-off" { (l.t("移交", "Hand off")) }
                    @if user.actor.role == Role::Handler {
                        button type="submit" name="action" value="approve" { (l.t("批准", "Approve")) }
                        button type="submit" class=(ButtonKind::Warning.class()) name="action" value="deny" { (l.t("不予批准", "Deny")) }
                    }
                }
            }
            @if matches!(stage, "approved") {
                div.button-group { button type="submit" name="action" value="deliver" { (l.t("出件", "Deliver")) } }
            }
            @if matches!(stage, "delivered" | "denied") {
                div.button-group { button type="submit" name="action" value="close" { (l.t("办结", "Close")) } }
            }
        }
    };
    let problems: Vec<Problem> = problem.into_iter().collect();
    Ok(lang.respond((
        status,
        page(l, Some(user), &format!("{} {id}", l.t("办件", "Case")), &problems, body),
    )))
}

/// The longest reason the step form lets a browser type: the case service
/// bounds reasons in bytes, and no character takes more than four in UTF-8,
/// so any reason of this many characters fits. A longer post is still
/// refused by the service and comes back with the problem named.
const MAX_REASON_CHARS: usize = tongban_services::cases::MAX_REASON_BYTES / 4;

/// The field a refused step's problem belongs to, and the problem in the
/// page's language: in Chinese a summary, then the service's own words.
fn step_problem(e: &FlowError, l: Lang) -> Problem {
    use InputProblemKind as K;
    let said = |zh: &str, m: &str| l.summarised(zh, m);
    let (field_id, message) = match e {
        FlowError::Input(p) => match (p.field, p.kind) {
            ("to_org", K::Missing) => ("to_org", said("请选择移交机构", &p.message)),
            ("to_org", K::NotAllowed) => ("to_org", said("请选择另一个机构", &p.message)),
            ("to_org", _) => ("to_org", said("移交机构未登记", &p.message)),
            ("reason", K::Missing) => ("reason", said("请填写理由", &p.message)),
            ("reason", _) => ("reason", said("理由过长", &p.message)),
            _ => ("steps", said("无法进行此操作", &p.message)),
        },
        FlowError::Service(ServiceError::Invalid(m)) => ("steps", said("无法进行此操作", m)),
        FlowError::Service(ServiceError::Conflict(m)) => ("steps", said("当前状态不能进行此操作", m)),
        FlowError::Service(ServiceError::Forbidden(m)) => ("steps", said("您不能进行此操作", m)),
        other => ("steps", other.to_string()),
    };
    Problem {
        field_id: field_id.into(),
        message,
    }
}

/// `POST /work/cases/{id}`: take a step. A refused step comes back on the
/// case page with the problem named and what was typed kept.
pub async fn step(
    State(s): State<AppState>,
    lang: PageLang,
    Staff { user, .. }: Staff,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    let action = steps::parse_action(f.get("action").map(String::as_str).unwrap_or_default())?;
    let typed = StepTyped {
        reason: f.get("reason").cloned().unwrap_or_default(),
        to_org: f.get("to_org").cloned().unwrap_or_default(),
    };
    let input = StepInput {
        reason: typed.reason.clone(),
        to_org: Some(typed.to_org.clone()).filter(|o| !o.is_empty()),
        form: None,
    };
    match steps::take(&s, &user.case_actor(), &id, action, input, steps::From::WorkQueue).await {
        Ok(_) => Ok(Redirect::to(&format!("/work/cases/{id}")).into_response()),
        // A case the user may not see, or a step not taken here, stays a
        // plain refusal: there is no page of it to come back to.
        Err(
            e @ (FlowError::Service(ServiceError::NotFound(_)) | FlowError::Forbidden(_) | FlowError::BadRequest(_)),
        ) => Err(e.into()),
        Err(e) => {
            let problem = step_problem(&e, lang.lang);
            let (status, _) = status_of(&e);
            case_page(&s, &lang, &user, &id, &typed, Some(problem), status).await
        }
    }
}
