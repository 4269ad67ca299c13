//! A citizen's cases: the list, one case with its timeline and fees (the
//! same details the staff see), and the correction form while the accepting
//! org asks for one (补正), resubmitted through the one flow the API uses.

use std::collections::{BTreeMap, HashMap};

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use tongban_services::now_ms;
use tongban_services::ratings::{MAX_COMMENT_CHARS, RatingLevel, open_for_rating};

use super::{field_problems, when};
use crate::flows::apply;
use crate::flows::calls::served;
use crate::state::AppState;
use crate::web::design::{ButtonKind, Step, Task, progress, row, row_with_id, summary_list, table_box, task_list};
use crate::web::error::{PageError, PageResult, form_refusal};
use crate::web::form;
use crate::web::layout::{Lang, Problem, page};
use crate::web::session::{Citizen, PageLang, WebUser};
use crate::web::vocabulary::{actor_label, channel_label, event_label, or_code, payment_tag, rating_label, stage_tag};

/// `GET /my/cases`.
pub async fn cases(State(s): State<AppState>, lang: PageLang, Citizen { user, subject }: Citizen) -> PageResult {
    let l = lang.lang;
    let cases = s.services.cases_of_subject(&subject).await?;
    let body = html! {
        @if cases.is_empty() {
            p { (l.t("您还没有办件。", "You have no cases yet.")) }
            p { a href="/" { (l.t("查找可办理的服务", "Find a service to apply for")) } }
        } @else {
            (table_box(l.t("我的办件", "My cases"), html! {
                table {
                    thead { tr { th scope="col" { (l.t("办件编号", "Case")) } th scope="col" { (l.t("事项", "Item")) } th scope="col" { (l.t("状态", "Stage")) } th scope="col" { (l.t("提交时间", "Submitted")) } } }
                    tbody {
                        @for c in &cases {
                            tr {
                                td { a href={ "/my/cases/" (c.id) } { (c.id) } }
                                td { (c.item) }
                                td { (stage_tag(c.stage.as_str(), l)) }
                                td { (when(c.submitted_at)) }
                            }
                        }
                    }
                }
            }))
        }
    };
    Ok(lang.respond(page(l, Some(&user), l.t("我的办件", "My cases"), &[], body)))
}

/// The timeline and fees of a case, shared by the citizen's and the staff's
/// pages. Orgs are shown by name, events, channels and payment states in
/// the page's language, each with its machine name on the element.
pub async fn case_details(s: &AppState, id: &str, l: Lang) -> Result<Markup, PageError> {
    let case = s.services.case(id).await?;
    let timeline = s.services.case_timeline(id).await?;
    let payments = s.services.payments_of_case(id).await?;
    let orgs = tongban_registry::market::orgs::list_orgs(s.market.db())
        .await
        .unwrap_or_default();
    let org_name = |code: &str| -> String {
        match orgs.iter().find(|o| o.code == code) {
            Some(org) => format!("{} ({code})", org.name),
            None => code.to_owned(),
        }
    };
    // The item's name from the version that serves the applicant, when one
    // does; its code otherwise.
    let item_name = match served(s, &case.region, &case.app, &case.subject).await {
        Ok((_, loaded)) => loaded
            .manifest
            .items
            .iter()
            .find(|i| i.code == case.item)
            .map(|i| match (l, &i.name.en) {
                (Lang::En, Some(en)) => en.clone(),
                _ => i.name.zh_cn.clone(),
            }),
        Err(_) => None,
    };
    let steps: Vec<Step> = timeline
        .iter()
        .map(|e| Step {
            kind: e.kind.clone(),
            what: or_code(event_label(&e.kind, l), &e.kind).to_owned(),
            when: when(e.at),
            who: match (actor_label(&e.actor, l), &e.actor_org) {
                (Some(label), _) => label.to_owned(),
                (None, Some(org)) => format!("{} · {}", org_name(org), e.actor),
                (None, None) => e.actor.clone(),
            },
            detail: event_detail(&e.kind, &e.detail, l, &org_name),
        })
        .collect();
    let item = match &item_name {
        Some(name) => format!("{name} ({})", case.item),
        None => case.item.clone(),
    };
    Ok(html! {
        (summary_list([
            row(l.t("办件编号", "Case number"), html! { code { (case.id) } }),
            row(l.t("事项", "Item"), html! { (item) }),
            row_with_id("stage", l.t("状态", "Stage"), html! { span data-stage=(case.stage.as_str()) { (stage_tag(case.stage.as_str(), l)) } }),
            row(l.t("渠道", "Channel"), html! {
                span data-channel=(case.channel) { (or_code(channel_label(&case.channel, l), &case.channel)) }
                @if let Some(clerk) = &case.on_behalf_of { " · " (l.t("代办人员 ", "clerk ")) (clerk) }
            }),
            row(l.t("受理机构", "Accepting org"), html! { (org_name(&case.accepting_org)) }),
            row(l.t("办理机构", "Handling org"), html! { (org_name(&case.handling_org)) }),
        ].into_iter().chain(case.due_at.map(|due| row(l.t("承诺办结时间", "Due"), html! {
            (when(due)) @if case.overdue(now_ms()) { " " span.overdue { (l.t("已超期", "Overdue")) } }
        })))))
        @if !payments.is_empty() {
            h2 { (l.t("费用", "Fees")) }
            (task_list(l.t("费用", "Fees"), &payments.iter().map(|p| Task {
                name: format!("{} ¥{}.{:02}", l.part_of(&p.description), p.amount_fen / 100, p.amount_fen % 100),
                href: None,
                status: html! {
                    span data-status=(p.status.as_str()) { (payment_tag(p.status, l)) }
                    @if matches!(p.status.as_str(), "created" | "started") {
                        " " a class=(ButtonKind::Primary.class()) href={ "/pay/" (p.id) } { (l.t("去支付", "Pay now")) }
                    }
                },
            }).collect::<Vec<_>>()))
        }
        h2 { (l.t("办理进度", "Progress")) }
        (progress(l.t("办理进度", "Progress"), &steps))
    })
}

/// A timeline event's note in the page's language: the channel of a
/// submission, the payment of a fee, the org a case was handed to; a
/// person's own words (a reason) as they wrote them.
fn event_detail(kind: &str, detail: &str, l: Lang, org_name: &dyn Fn(&str) -> String) -> String {
    match kind {
        "submitted" => {
            let mut parts = detail.split("; ");
            let channel = parts
                .next()
                .and_then(|c| c.strip_prefix("channel "))
                .map(|c| or_code(channel_label(c, l), c).to_owned())
                .unwrap_or_default();
            match parts.next().and_then(|c| c.strip_prefix("continues case ")) {
                Some(from) => format!("{channel} · {}{from}", l.t("接续办件 ", "continues case ")),
                None => channel,
            }
        }
        "paid" => format!("{}{detail}", l.t("支付单号 ", "payment ")),
        "hand-off" => match detail.split_once(": ") {
            Some((org, reason)) if reason.trim().is_empty() => format!("{}{}", l.t("移交至 ", "to "), org_name(org)),
            Some((org, reason)) => format!("{}{} · {reason}", l.t("移交至 ", "to "), org_name(org)),
            None => format!("{}{}", l.t("移交至 ", "to "), org_name(detail.trim_end_matches(':'))),
        },
        _ => detail.to_owned(),
    }
}

/// `GET /my/cases/{id}`: the case and, once it is finished, its rating
/// form or the rating given.
pub async fn case(State(s): State<AppState>, lang: PageLang, citizen: Citizen, Path(id): Path<String>) -> PageResult {
    case_page(&s, &lang, &citizen.user, &id, &Returned::default(), StatusCode::OK).await
}

/// What a refused post on the case page comes back with: what was chosen
/// and typed, and the problems.
#[derive(Debug, Default)]
pub(super) struct Returned {
    pub(super) rating: RatingTyped,
    /// A refused rating's problem.
    pub(super) rating_problem: Option<Problem>,
    /// The fields of a refused correction, as typed.
    pub(super) correction: Option<HashMap<String, String>>,
    /// A refused correction's problems by field path.
    pub(super) correction_errors: BTreeMap<String, String>,
}

/// What the citizen chose and typed in the rating form, kept when it comes
/// back with a problem.
#[derive(Debug, Default)]
pub(super) struct RatingTyped {
    pub(super) level: String,
    pub(super) comment: String,
}

/// The citizen's case page, with a refused post's problems when there are.
pub(super) async fn case_page(
    s: &AppState,
    lang: &PageLang,
    user: &WebUser,
    id: &str,
    returned: &Returned,
    status: StatusCode,
) -> PageResult {
    let case = s.services.case_for(&user.case_actor(), id).await?;
    let l = lang.lang;
    let details = case_details(s, id, l).await?;
    let evaluation = evaluation(s, user, &case, &returned.rating, returned.rating_problem.as_ref(), l).await?;
    let correction = correction_form(s, user, &case, returned, l).await?;
    let body = html! { (details) (correction) (evaluation) };
    let mut problems: Vec<Problem> = returned.rating_problem.clone().into_iter().collect();
    problems.extend(field_problems(&returned.correction_errors));
    Ok(lang.respond((
        status,
        page(l, Some(user), &format!("{} {id}", l.t("办件", "Case")), &problems, body),
    )))
}

/// The correction section (补正): while the accepting org asks for a
/// correction, its reason and the item's form, opened with what was
/// submitted (or, after a refusal, with what was typed). Whether the case
/// began online or at a window, the applicant corrects it here.
async fn correction_form(
    s: &AppState,
    user: &WebUser,
    case: &tongban_services::cases::Case,
    returned: &Returned,
    l: Lang,
) -> Result<Markup, PageError> {
    if case.stage != tongban_services::cases::Stage::CorrectionRequested {
        return Ok(html! {});
    }
    let timeline = s.services.case_timeline(&case.id).await?;
    let reason = timeline
        .iter()
        .rev()
        .find(|e| e.kind == "request-correction")
        .map(|e| e.detail.clone())
        .unwrap_or_default();
    let schema = match served(s, &case.region, &case.app, &case.subject).await {
        Ok((_, loaded)) => loaded.forms.get(&case.item).cloned(),
        Err(_) => {
            return Ok(html! { section id="correction" {
                h2 { (l.t("补正材料", "Correct your application")) }
                p { (l.t("受理机构要求补正：", "The accepting org asks you to correct: ")) strong { (reason) } }
                p { (l.t("该服务暂停提供，恢复后即可提交补正。", "The service is paused; you can correct the application when it is back.")) }
            } });
        }
    };
    let submitted = returned.correction.clone().unwrap_or_else(|| {
        serde_json::from_str(&case.form)
            .map(|form| form::values_of(&form))
            .unwrap_or_default()
    });
    let empty = serde_json::json!({});
    Ok(html! {
        section id="correction" {
            h2 { (l.t("补正材料", "Correct your application")) }
            p { (l.t("受理机构要求补正：", "The accepting org asks you to correct: ")) strong id="correction-reason" { (reason) } }
            form method="post" action={ "/my/cases/" (case.id) "/correction" } novalidate {
                input type="hidden" name="csrf" value=(user.csrf);
                (form::fields(schema.as_ref().unwrap_or(&empty), &submitted, &returned.correction_errors, l))
                div.button-group { button type="submit" id="resubmit" { (l.t("提交补正", "Submit the correction")) } }
            }
        }
    })
}

/// `POST /my/cases/{id}/correction`: the applicant resubmits a case whose
/// correction was requested, through the same checks as an application. A
/// refused form comes back on the case page with what was typed and every
/// problem.
pub async fn correct(
    State(s): State<AppState>,
    lang: PageLang,
    Citizen { user, .. }: Citizen,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    let empty = serde_json::json!({});
    let read = |schema: Option<&serde_json::Value>| Some(form::read(schema.unwrap_or(&empty), &f));
    let refused = match apply::resubmit(&s, &user.case_actor(), &id, read, String::new()).await {
        Ok(_) => return Ok(Redirect::to(&format!("/my/cases/{id}")).into_response()),
        Err(refusal) => refusal,
    };
    let (errors, status) = form_refusal(refused);
    let returned = Returned {
        correction: Some(f),
        correction_errors: errors,
        ..Returned::default()
    };
    case_page(&s, &lang, &user, &id, &returned, status).await
}

/// The rating section (好差评): nothing until the case is finished, then the
/// form until it is rated, then the rating and what became of a bad one.
async fn evaluation(
    s: &AppState,
    user: &WebUser,
    case: &tongban_services::cases::Case,
    typed: &RatingTyped,
    problem: Option<&Problem>,
    l: Lang,
) -> Result<Markup, PageError> {
    if let Some(rating) = s.services.case_rating(&case.id).await? {
        let remediation = s.services.remediation_of_case(&case.id).await?;
        return Ok(html! { section id="evaluation" {
            h2 { (l.t("服务评价", "Your rating")) }
            p id="rating" {
                (l.t("您的评价：", "You rated this case: ")) strong { (rating_label(rating.level, l)) }
                @if let Some(comment) = &rating.comment { " · " (comment) }
            }
            @if let Some(item) = remediation {
                p id="remediation" {
                    @if let Some(note) = &item.resolution {
                        (l.t("已整改：", "Remediated: ")) (note)
                    } @else {
                        (l.t("已转受理机构整改，整改期限：", "Passed to the accepting org to put right by ")) (when(item.due_at))
                    }
                }
            }
        } });
    }
    if !open_for_rating(case.stage) {
        return Ok(html! { section id="evaluation" {
            h2 { (l.t("服务评价", "Rate this service")) }
            p { (l.t("办件有结果（出件、不予批准、不予受理或办结）后即可评价。", "You can rate this case once it has an outcome (delivered, denied, rejected or closed).")) }
        } });
    }
    let problem_of = |field: &str| problem.filter(|p| p.field_id == field).map(|p| p.message.clone());
    let level_problem = problem_of("level-very-satisfied");
    let comment_problem = problem_of("comment");
    Ok(html! {
        section id="evaluation" {
            h2 { (l.t("服务评价", "Rate this service")) }
            form method="post" action={ "/my/cases/" (case.id) "/rating" } {
                input type="hidden" name="csrf" value=(user.csrf);
                fieldset aria-describedby=[level_problem.as_ref().map(|_| "level-error")] {
                    legend { (l.t("您对本次办件的服务是否满意？", "How satisfied are you with how this case was handled?")) }
                    @if let Some(message) = &level_problem { span.field-error id="level-error" { (message) } }
                    @for level in RatingLevel::ALL {
                        @let id = format!("level-{}", level.as_str());
                        div.choice {
                            input type="radio" name="level" id=(id) value=(level.as_str()) checked[typed.level == level.as_str()];
                            label for=(id) { (rating_label(level, l)) }
                        }
                    }
                }
                label for="comment" {
                    (l.t("评价意见", "Comment")) " "
                    span {
                        @if l == Lang::En { "(optional, at most " (MAX_COMMENT_CHARS) " characters)" }
                        @else { "（选填，最多 " (MAX_COMMENT_CHARS) " 字）" }
                    }
                }
                @if let Some(message) = &comment_problem { span.field-error id="comment-error" { (message) } }
                textarea id="comment" name="comment" rows="4" aria-describedby=[comment_problem.as_ref().map(|_| "comment-error")] { (typed.comment) }
                div.button-group { button type="submit" id="rate" { (l.t("提交评价", "Submit your rating")) } }
            }
        }
    })
}
