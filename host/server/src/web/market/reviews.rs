//! The reviewer's pages: the review queue (without the reviewer's own org),
//! and one submission with its manifest, check report and capability diff,
//! where every added capability is ticked one by one before approving, and
//! requesting changes or rejecting needs a reason.

use crate::web::design::{ButtonKind, row, summary_list, table_box};
use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::html;
use tongban_registry::market::orgs;
use tongban_registry::market::review::{Decision, Submission};
use tongban_registry::release::VersionState;

use crate::flows::marketplace;
use crate::state::AppState;
use crate::web::error::PageResult;
use crate::web::layout::{Lang, Problem, local_time, page};
use crate::web::session::{PageLang, WebUser};

use super::{check_report, diff_table, refusal_problems, refusal_status, reviewer_only, state_badge};

/// `GET /reviews`: the versions waiting for review.
pub async fn queue(State(s): State<AppState>, lang: PageLang, user: WebUser) -> PageResult {
    reviewer_only(&user)?;
    let l = lang.lang;
    let queue = s.market.review_queue(&user.actor).await?;
    let org_names: HashMap<String, String> = orgs::list_orgs(s.market.db())
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|o| (o.code, o.name))
        .collect();
    let body = html! {
        p { (l.t(
            "本机构发布的版本不在此列（受审分离）。",
            "Versions of your own org are not listed (separation of duties).",
        )) }
        @if queue.is_empty() {
            p { (l.t("暂无待审核的版本。", "Nothing is waiting for review.")) }
        } @else {
            (table_box(l.t("审核队列", "Review queue"), html! { table.review-queue {
                thead { tr {
                    th scope="col" { (l.t("应用与版本", "App and version")) }
                    th scope="col" { (l.t("发布机构", "Org")) }
                    th scope="col" { (l.t("提交人", "Submitted by")) }
                    th scope="col" { (l.t("提交时间", "Submitted")) }
                } }
                tbody { @for q in &queue { tr {
                    td { a href={ "/reviews/" (q.app) "/" (q.version) } { (q.app) "@" (q.version) } }
                    td { (org_names.get(&q.org).map(String::as_str).unwrap_or("")) " (" (q.org) ")" }
                    td { (q.submitted_by) }
                    td { (local_time(q.submitted_at)) }
                } } }
            } }))
        }
    };
    Ok(lang.respond(page(l, Some(&user), l.t("审核队列", "Review queue"), &[], body)))
}

/// What the reviewer had entered, kept when a decision is refused.
#[derive(Default)]
struct Entered {
    ticked: Vec<String>,
    reason: String,
}

/// One submission with its decision form.
async fn review_page(
    s: &AppState,
    l: Lang,
    user: &WebUser,
    submission: &Submission,
    entered: &Entered,
    problems: &[Problem],
    status: StatusCode,
) -> PageResult {
    let org_name = orgs::get_org(s.market.db(), &submission.org)
        .await
        .map(|o| o.name)
        .unwrap_or_default();
    let unchanged = submission.unchanged().unwrap_or_default();
    let (app, version) = (&submission.app, &submission.version);
    let body = html! {
        (summary_list([
            row(l.t("应用", "App"), html! { code { (app) } }),
            row(l.t("版本", "Version"), html! { (version) }),
            row(l.t("发布机构", "Org"), html! { (org_name) " (" (submission.org) ")" }),
            row(l.t("状态", "State"), state_badge(l, submission.state)),
            row(l.t("签名密钥", "Signing key"), html! { code { (submission.key_id) } }),
            row(l.t("软件包摘要", "Package digest"), html! { code { (submission.package_digest) } }),
        ].into_iter()
            .chain(submission.decided_by.as_ref().map(|by| row(l.t("审核人", "Decided by"), html! { (by) })))
            .chain(submission.decision_reason.as_ref().map(|reason| row(l.t("理由", "Reason"), html! { (reason) }))))
        )
        h2 { (l.t("自动检查", "Checks")) }
        (check_report(l, &submission.check_report))
        h2 { (l.t("权限变化", "Capability changes")) }
        (diff_table(l, &submission.diff, &unchanged))
        h2 { (l.t("清单", "Manifest")) }
        pre.manifest tabindex="0" aria-label=(l.t("清单", "Manifest")) { (submission.manifest) }
        @if submission.state == VersionState::InReview {
            h2 { (l.t("审核决定", "Decision")) }
            form method="post" action={ "/reviews/" (app) "/" (version) } novalidate {
                input type="hidden" name="csrf" value=(user.csrf);
                @if !submission.needs_acknowledgement.is_empty() {
                    fieldset id="acknowledgements" {
                        legend { (l.t(
                            "逐项确认新增或提高的权限（批准前须全部勾选）",
                            "Acknowledge each added or raised capability (all of them before approving)",
                        )) }
                        @for (n, capability) in submission.needs_acknowledgement.iter().enumerate() {
                            @let id = format!("ack-{}", n + 1);
                            div.choice {
                                input type="checkbox" name="ack" value=(capability) id=(id)
                                    checked[entered.ticked.contains(capability)];
                                label for=(id) { code { (capability) } }
                            }
                        }
                    }
                }
                label for="reason" { (l.t("理由（要求修改或驳回时必填）", "Reason (required to request changes or reject)")) }
                textarea id="reason" name="reason" rows="4" maxlength="2000" { (entered.reason) }
                div {
                    button type="submit" name="decision" value="approve" id="approve" { (l.t("批准", "Approve")) }
                    button type="submit" name="decision" value="request-changes" id="request-changes" class=(ButtonKind::Secondary.class()) { (l.t("要求修改", "Request changes")) }
                    button type="submit" name="decision" value="reject" id="reject" class=(ButtonKind::Warning.class()) { (l.t("驳回", "Reject")) }
                }
            }
        }
        p { a href="/reviews" { (l.t("返回审核队列", "Back to the review queue")) } }
    };
    let title = format!("{} {app}@{version}", l.t("审核", "Review"));
    Ok((status, page(l, Some(user), &title, problems, body)).into_response())
}

/// `GET /reviews/{app}/{version}`.
pub async fn submission(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Path((app, version)): Path<(String, String)>,
) -> PageResult {
    reviewer_only(&user)?;
    let sub = s.market.submission(&app, &version).await?;
    Ok(lang.respond(review_page(&s, lang.lang, &user, &sub, &Entered::default(), &[], StatusCode::OK).await?))
}

/// `POST /reviews/{app}/{version}`: decide. The form repeats `ack` once per
/// ticked capability, so it is read as a list of pairs, not a map.
pub async fn decide(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Path((app, version)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> PageResult {
    // The same answer axum's `Form` gives any other page for a body that is
    // not a posted HTML form.
    let is_form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        // The envelope middleware gives this plain refusal the API's shape
        // (`unsupported_media_type`), as it does axum's own.
        return Ok((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a decision is posted as an HTML form (application/x-www-form-urlencoded)",
        )
            .into_response());
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let first = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let csrf: HashMap<String, String> = first("csrf").into_iter().map(|t| ("csrf".to_owned(), t)).collect();
    user.check_csrf(&csrf)?;
    reviewer_only(&user)?;
    let l = lang.lang;
    let entered = Entered {
        ticked: pairs
            .iter()
            .filter(|(k, _)| k == "ack")
            .map(|(_, v)| v.clone())
            .collect(),
        reason: first("reason").unwrap_or_default(),
    };
    let submission = s.market.submission(&app, &version).await?;
    let decision = match first("decision").as_deref() {
        Some("approve") => Decision::Approve {
            acknowledged: entered.ticked.clone(),
        },
        Some("request-changes") => Decision::RequestChanges {
            reason: entered.reason.clone(),
        },
        Some("reject") => Decision::Reject {
            reason: entered.reason.clone(),
        },
        other => {
            let problems = vec![Problem {
                field_id: "approve".into(),
                message: format!(
                    "{} (decision: `{}`)",
                    l.t(
                        "请选择批准、要求修改或驳回",
                        "Choose approve, request changes or reject"
                    ),
                    other.unwrap_or("")
                ),
            }];
            return review_page(&s, l, &user, &submission, &entered, &problems, StatusCode::BAD_REQUEST).await;
        }
    };
    // The summary links to where the reviewer fixes the problem: the first
    // unticked capability for an approval, the reason otherwise.
    let (field_id, invalid) = match &decision {
        Decision::Approve { acknowledged } => (
            submission
                .needs_acknowledgement
                .iter()
                .position(|c| !acknowledged.contains(c))
                .map(|n| format!("ack-{}", n + 1))
                .unwrap_or_else(|| "approve".into()),
            l.t("批准前须逐项确认新增的权限", "Acknowledge every added capability first"),
        ),
        Decision::RequestChanges { .. } | Decision::Reject { .. } => {
            ("reason".into(), l.t("要求修改或驳回须填写理由", "A reason is required"))
        }
    };
    match marketplace::decide(&s, &user.actor, &app, &version, decision).await {
        Ok(_) => Ok(Redirect::to(&format!("/reviews/{app}/{version}")).into_response()),
        Err(e) => {
            let problems = refusal_problems(l, &e, &field_id, invalid);
            let status = refusal_status(e);
            review_page(&s, l, &user, &submission, &entered, &problems, status).await
        }
    }
}
