//! The publisher's and the reviewer's pages over the marketplace.
//!
//! - `/publish`: the publisher's org's apps with every version and where it
//!   stands in review, an upload form for a signed `.tbpkg`, the receipt with
//!   the check report and the capability diff, and withdrawing a version that
//!   is still in review.
//! - `/reviews`: the review queue (without the reviewer's own org), and one
//!   submission with its manifest, check report and capability diff, where
//!   every added capability is ticked one by one before approving, and
//!   requesting changes or rejecting needs a reason.
//!
//! Who may publish, withdraw or decide, and what a decision needs, are the
//! marketplace's rules (roles, orgs, separation of duties, acknowledgements);
//! the pages additionally refuse users of other roles with 403, and show a
//! refusal as the page again with an error summary naming the problem.

use std::collections::HashMap;

use axum::Form;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use tongban_registry::check::CheckReport;
use tongban_registry::diff::{CapabilityChange, ChangeKind};
use tongban_registry::market::MarketError;
use tongban_registry::market::orgs;
use tongban_registry::market::publish::{OrgVersion, PublishReceipt};
use tongban_registry::market::review::{Decision, Submission};
use tongban_registry::release::{Role, VersionState};

use super::layout::{Lang, Problem, local_time, page};
use super::session::{PageLang, WebUser};
use crate::api::AppState;
use crate::api::error::ApiError;

/// The form field that carries the package file.
const PACKAGE_FIELD: &str = "package";

/// The org a publisher publishes for; anyone else gets 403.
fn publisher_org(user: &WebUser) -> Result<String, Response> {
    match (user.actor.role, &user.actor.org) {
        (Role::Publisher, Some(org)) => Ok(org.clone()),
        _ => Err(ApiError::forbidden("these pages are for publishers").into_response()),
    }
}

/// Only reviewers use the review pages; anyone else gets 403.
fn reviewer_only(user: &WebUser) -> Result<(), Response> {
    match user.actor.role {
        Role::Reviewer => Ok(()),
        _ => Err(ApiError::forbidden("these pages are for reviewers").into_response()),
    }
}

/// A version state as people read it.
fn state_label(l: Lang, state: VersionState) -> &'static str {
    match state {
        VersionState::Draft => l.t("草稿", "Draft"),
        VersionState::Submitted => l.t("已提交", "Submitted"),
        VersionState::Checking => l.t("检查中", "Checking"),
        VersionState::InReview => l.t("审核中", "In review"),
        VersionState::ChangesRequested => l.t("需修改", "Changes requested"),
        VersionState::Rejected => l.t("已驳回", "Rejected"),
        VersionState::Withdrawn => l.t("已撤回", "Withdrawn"),
        VersionState::Approved => l.t("已通过", "Approved"),
        VersionState::Yanked => l.t("已下架", "Yanked"),
        VersionState::Revoked => l.t("已吊销", "Revoked"),
    }
}

/// The state's label with its stable name beside it, so both people and
/// scripts find it.
fn state_badge(l: Lang, state: VersionState) -> Markup {
    html! {
        span.version-state data-state=(state) { (state_label(l, state)) " " code { (state) } }
    }
}

/// A refusal of the marketplace as problems for the error summary: the
/// marketplace names the problem (in English); the page says first, in the
/// page's language, what kind of refusal it is (`invalid` for invalid input,
/// which the caller knows best). A failed check is one problem per finding.
fn refusal_problems(l: Lang, e: &MarketError, field_id: &str, invalid: &str) -> Vec<Problem> {
    let problem = |message: String| Problem {
        field_id: field_id.to_owned(),
        message,
    };
    if let MarketError::Checks(found) = e {
        return found
            .iter()
            .map(|p| problem(format!("{}{}{p}", l.t("未通过检查", "Check failed"), l.t("：", ": "))))
            .collect();
    }
    let kind = match e {
        MarketError::Invalid(_) => invalid,
        MarketError::NotFound(_) => l.t("未找到", "Not found"),
        MarketError::Forbidden(_) => l.t("无权操作", "Not allowed"),
        MarketError::Conflict(_) | MarketError::Transition(_) => l.t("状态冲突", "Conflict"),
        MarketError::Signature(_) => l.t("签名无效", "Bad signature"),
        _ => l.t("操作失败", "Failed"),
    };
    vec![problem(format!("{kind}{}{e}", l.t("：", ": ")))]
}

/// The status a marketplace refusal answers with.
fn refusal_status(e: MarketError) -> StatusCode {
    ApiError::from(e).status
}

/// The automated checks a version passed, and any findings.
fn check_report(l: Lang, report: &CheckReport) -> Markup {
    html! {
        @if report.is_ok() {
            p { (l.t("全部自动检查通过。", "Every automated check passed.")) }
        }
        ul.check-report {
            @for check in &report.ran {
                @let failed = report.problems.iter().any(|p| p.check == *check);
                li {
                    code { (check) } " "
                    @if failed { strong { (l.t("未通过", "failed")) } } @else { (l.t("通过", "passed")) }
                }
            }
        }
        @if !report.is_ok() {
            ul { @for p in &report.problems { li { (p) } } }
        }
    }
}

fn change_label(l: Lang, kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => l.t("新增", "Added"),
        ChangeKind::Removed => l.t("移除", "Removed"),
        ChangeKind::Raised => l.t("提高", "Raised"),
        ChangeKind::Lowered => l.t("降低", "Lowered"),
    }
}

fn change_class(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => "cap-added",
        ChangeKind::Removed => "cap-removed",
        ChangeKind::Raised => "cap-raised",
        ChangeKind::Lowered => "cap-lowered",
    }
}

/// The capability diff against the last approved version: every change
/// (gains highlighted, since each needs the reviewer's acknowledgement), then
/// what stays as it was.
fn diff_table(l: Lang, diff: &[CapabilityChange], unchanged: &[String]) -> Markup {
    const GAIN: &str = "background:#fff3bf";
    html! {
        @if diff.is_empty() && unchanged.is_empty() {
            p { (l.t("没有申请任何权限。", "No capabilities are requested.")) }
        } @else {
            table.capability-diff {
                caption { (l.t("与上一个已通过版本相比", "Against the last approved version")) }
                thead { tr {
                    th scope="col" { (l.t("权限", "Capability")) }
                    th scope="col" { (l.t("变化", "Change")) }
                    th scope="col" { (l.t("之前", "Before")) }
                    th scope="col" { (l.t("之后", "After")) }
                } }
                tbody {
                    @for c in diff {
                        @let gain = c.needs_acknowledgement();
                        tr class=(change_class(c.kind)) style=[gain.then_some(GAIN)] {
                            td { code { (c.id) } }
                            td { @if gain { mark { strong { (change_label(l, c.kind)) } } } @else { (change_label(l, c.kind)) } }
                            td { (c.before.as_deref().unwrap_or("")) }
                            td { (c.after.as_deref().unwrap_or("")) }
                        }
                    }
                    @for id in unchanged {
                        tr.cap-unchanged {
                            td { code { (id) } }
                            td { (l.t("未变", "Unchanged")) }
                            td {} td {}
                        }
                    }
                }
            }
        }
    }
}

/// The publisher's page: the org's versions and the upload form, with the
/// problems of a refused upload or withdrawal.
async fn publish_page(
    s: &AppState,
    l: Lang,
    user: &WebUser,
    org: &str,
    problems: &[Problem],
    status: StatusCode,
) -> Response {
    let versions = match s.market.org_versions(&user.actor, org).await {
        Ok(v) => v,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let org_name = orgs::get_org(s.market.db(), org)
        .await
        .map(|o| o.name)
        .unwrap_or_default();
    let mut apps: Vec<(&str, Vec<&OrgVersion>)> = Vec::new();
    for v in &versions {
        match apps.last_mut() {
            Some((app, list)) if *app == v.app => list.push(v),
            _ => apps.push((&v.app, vec![v])),
        }
    }
    let package_problem = problems.iter().find(|p| p.field_id == "package");
    let body = html! {
        p { (l.t("发布机构：", "Publishing org: ")) (org_name) " (" (org) ")" }
        h2 { (l.t("本机构的应用", "Our apps")) }
        @if apps.is_empty() {
            p { (l.t("本机构尚未发布应用。", "This org has not published an app yet.")) }
        }
        @for (app, list) in &apps {
            @let name = if l == Lang::En && !list[0].name_en.is_empty() { &list[0].name_en } else { &list[0].name_zh };
            h3 { (name) " " code { (app) } }
            table.versions {
                thead { tr {
                    th scope="col" { (l.t("版本", "Version")) }
                    th scope="col" { (l.t("状态", "State")) }
                    th scope="col" { (l.t("提交时间", "Submitted")) }
                    th scope="col" { (l.t("提交人", "By")) }
                    th scope="col" { (l.t("审核", "Review")) }
                    th scope="col" { (l.t("操作", "Actions")) }
                } }
                tbody { @for v in list { tr {
                    td { (v.version) }
                    td { (state_badge(l, v.state)) }
                    td { (local_time(v.submitted_at)) }
                    td { (v.submitted_by) }
                    td {
                        @if let Some(by) = &v.decided_by {
                            (by) @if let Some(at) = v.decided_at { " · " (local_time(at)) }
                        }
                        @if let Some(reason) = &v.decision_reason { div { (l.t("理由：", "Reason: ")) (reason) } }
                        @if let Some(reasons) = &v.state_reason {
                            div.state-reason {
                                (l.t("下架或吊销理由：", "Why it was yanked or revoked: "))
                                @for line in reasons.lines() { div { (line) } }
                            }
                        }
                    }
                    td {
                        @if matches!(v.state, VersionState::Submitted | VersionState::InReview) {
                            form method="post" action={ "/publish/" (v.app) "/" (v.version) "/withdraw" } {
                                input type="hidden" name="csrf" value=(user.csrf);
                                button type="submit" aria-label={ (l.t("撤回 ", "Withdraw ")) (v.app) "@" (v.version) } {
                                    (l.t("撤回", "Withdraw"))
                                }
                            }
                        }
                    }
                } } }
            }
        }
        h2 { (l.t("发布新版本", "Publish a new version")) }
        p { (l.t(
            "上传用本机构登记的密钥签名的软件包（tongban app build，再 tongban app sign）。提交后自动检查，通过后进入审核。",
            "Upload a package signed with a key registered for this org (tongban app build, then tongban app sign). It is checked at once and then goes to review.",
        )) }
        form method="post" action="/publish" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(user.csrf);
            label for="package" { (l.t("软件包文件（.tbpkg）", "Package file (.tbpkg)")) }
            @if let Some(p) = package_problem { span.field-error id="package-error" { (p.message) } }
            input type="file" id="package" name=(PACKAGE_FIELD) accept=".tbpkg"
                aria-describedby=[package_problem.map(|_| "package-error")];
            div { button type="submit" id="publish-submit" { (l.t("提交审核", "Submit for review")) } }
        }
    };
    (status, page(l, Some(user), l.t("发布", "Publish"), problems, body)).into_response()
}

/// `GET /publish`.
pub async fn publisher_home(State(s): State<AppState>, lang: PageLang, user: WebUser) -> Response {
    let org = match publisher_org(&user) {
        Ok(o) => o,
        Err(r) => return r,
    };
    lang.respond(publish_page(&s, lang.lang, &user, &org, &[], StatusCode::OK).await)
}

/// What the upload form sent.
#[derive(Default)]
struct Upload {
    csrf: Option<String>,
    package: Option<Bytes>,
}

/// Read the upload form. The body is bounded by the server's upload limit
/// (`DefaultBodyLimit`), so a package over it is a 413 here, not memory spent.
async fn read_upload(multipart: Result<Multipart, MultipartRejection>) -> Result<Upload, (StatusCode, String)> {
    let mut multipart = multipart.map_err(|e| (e.status(), e.body_text()))?;
    let mut upload = Upload::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| (e.status(), e.body_text()))? {
        match field.name() {
            Some("csrf") => upload.csrf = Some(field.text().await.map_err(|e| (e.status(), e.body_text()))?),
            Some(PACKAGE_FIELD) => upload.package = Some(field.bytes().await.map_err(|e| (e.status(), e.body_text()))?),
            // Other fields are not ours; reading on skips them.
            _ => {}
        }
    }
    Ok(upload)
}

/// `POST /publish`: upload a package (multipart, fields `csrf` and
/// `package`). A published version gets its receipt; a refusal shows the
/// page again with the problem.
pub async fn publish(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let org = match publisher_org(&user) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let l = lang.lang;
    let package_problem = |message: String| {
        vec![Problem {
            field_id: "package".into(),
            message,
        }]
    };
    let upload = match read_upload(multipart).await {
        Ok(u) => u,
        Err((status, detail)) => {
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "{} ({} MiB): {detail}",
                    l.t("软件包超过上传上限", "The package is larger than the upload limit"),
                    s.max_upload_bytes / (1024 * 1024)
                )
            } else {
                format!(
                    "{}: {detail}",
                    l.t("上传的表单无法读取", "The upload could not be read")
                )
            };
            let status = if status.is_client_error() {
                status
            } else {
                StatusCode::BAD_REQUEST
            };
            return publish_page(&s, l, &user, &org, &package_problem(message), status).await;
        }
    };
    let csrf: HashMap<String, String> = upload.csrf.into_iter().map(|t| ("csrf".to_owned(), t)).collect();
    if let Err(r) = user.check_csrf(&csrf) {
        return r;
    }
    let bytes = match upload.package {
        Some(b) if !b.is_empty() => b,
        _ => {
            let message = l
                .t(
                    "请选择要发布的软件包文件（.tbpkg）：没有收到文件，或文件为空",
                    "Choose the package file (.tbpkg) to publish: no file arrived, or it is empty",
                )
                .to_owned();
            return publish_page(&s, l, &user, &org, &package_problem(message), StatusCode::BAD_REQUEST).await;
        }
    };
    match s.market.publish(&user.actor, Vec::from(bytes)).await {
        Ok(receipt) => lang.respond(receipt_page(&s, l, &user, &receipt).await),
        Err(e) => {
            let problems = refusal_problems(l, &e, "package", l.t("软件包无效", "Invalid package"));
            publish_page(&s, l, &user, &org, &problems, refusal_status(e)).await
        }
    }
}

/// The receipt of a published version: what it is, where it stands, what the
/// checks found and what it asks for against the last approved version.
async fn receipt_page(s: &AppState, l: Lang, user: &WebUser, receipt: &PublishReceipt) -> Response {
    // The receipt carries the diff; the stored submission adds the check
    // report and what stays unchanged.
    let submission = s.market.submission(&receipt.app, &receipt.version).await.ok();
    let unchanged = submission.as_ref().and_then(|s| s.unchanged().ok()).unwrap_or_default();
    let gains = receipt.diff.iter().filter(|c| c.needs_acknowledgement()).count();
    let body = html! {
        p.receipt { strong { (receipt.app) "@" (receipt.version) } " " (state_badge(l, receipt.state)) }
        dl {
            dt { (l.t("应用", "App")) } dd { code { (receipt.app) } }
            dt { (l.t("版本", "Version")) } dd { (receipt.version) }
            dt { (l.t("状态", "State")) } dd { (state_badge(l, receipt.state)) }
            dt { (l.t("软件包摘要", "Package digest")) } dd { code { (receipt.package_digest) } }
        }
        h2 { (l.t("自动检查", "Checks")) }
        @match &submission {
            Some(sub) => (check_report(l, &sub.check_report)),
            None => p { (l.t("全部自动检查通过。", "Every automated check passed.")) },
        }
        h2 { (l.t("权限变化", "Capability changes")) }
        @if gains > 0 {
            p { (l.t("审核人员须逐项确认以下突出显示的新增权限：", "The reviewer must acknowledge each highlighted gain: ")) (gains) }
        }
        (diff_table(l, &receipt.diff, &unchanged))
        p { a href="/publish" { (l.t("返回发布页", "Back to publishing")) } }
    };
    page(l, Some(user), l.t("已提交审核", "Submitted for review"), &[], body).into_response()
}

/// `POST /publish/{app}/{version}/withdraw`: take a version out of review.
pub async fn withdraw(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Path((app, version)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = user.check_csrf(&f) {
        return r;
    }
    let org = match publisher_org(&user) {
        Ok(o) => o,
        Err(r) => return r,
    };
    match s.market.withdraw(&user.actor, &app, &version).await {
        Ok(_) => Redirect::to("/publish").into_response(),
        Err(e) => {
            let l = lang.lang;
            let problems = refusal_problems(l, &e, "main", l.t("输入无效", "Invalid"));
            publish_page(&s, lang.lang, &user, &org, &problems, refusal_status(e)).await
        }
    }
}

/// `GET /reviews`: the versions waiting for review.
pub async fn queue(State(s): State<AppState>, lang: PageLang, user: WebUser) -> Response {
    if let Err(r) = reviewer_only(&user) {
        return r;
    }
    let l = lang.lang;
    let queue = match s.market.review_queue(&user.actor).await {
        Ok(q) => q,
        Err(e) => return ApiError::from(e).into_response(),
    };
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
            table.review-queue {
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
            }
        }
    };
    lang.respond(page(l, Some(&user), l.t("审核队列", "Review queue"), &[], body))
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
) -> Response {
    let org_name = orgs::get_org(s.market.db(), &submission.org)
        .await
        .map(|o| o.name)
        .unwrap_or_default();
    let unchanged = submission.unchanged().unwrap_or_default();
    let (app, version) = (&submission.app, &submission.version);
    let body = html! {
        dl {
            dt { (l.t("应用", "App")) } dd { code { (app) } }
            dt { (l.t("版本", "Version")) } dd { (version) }
            dt { (l.t("发布机构", "Org")) } dd { (org_name) " (" (submission.org) ")" }
            dt { (l.t("状态", "State")) } dd { (state_badge(l, submission.state)) }
            dt { (l.t("签名密钥", "Signing key")) } dd { code { (submission.key_id) } }
            dt { (l.t("软件包摘要", "Package digest")) } dd { code { (submission.package_digest) } }
            @if let Some(by) = &submission.decided_by {
                dt { (l.t("审核人", "Decided by")) } dd { (by) }
            }
            @if let Some(reason) = &submission.decision_reason {
                dt { (l.t("理由", "Reason")) } dd { (reason) }
            }
        }
        h2 { (l.t("自动检查", "Checks")) }
        (check_report(l, &submission.check_report))
        h2 { (l.t("权限变化", "Capability changes")) }
        (diff_table(l, &submission.diff, &unchanged))
        h2 { (l.t("清单", "Manifest")) }
        pre.manifest { (submission.manifest) }
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
                            div {
                                input type="checkbox" name="ack" value=(capability) id=(id)
                                    checked[entered.ticked.contains(capability)];
                                " "
                                label for=(id) style="display:inline;font-weight:400" { code { (capability) } }
                            }
                        }
                    }
                }
                label for="reason" { (l.t("理由（要求修改或驳回时必填）", "Reason (required to request changes or reject)")) }
                textarea id="reason" name="reason" rows="4" maxlength="2000" { (entered.reason) }
                div {
                    button type="submit" name="decision" value="approve" id="approve" { (l.t("批准", "Approve")) }
                    button type="submit" name="decision" value="request-changes" id="request-changes" { (l.t("要求修改", "Request changes")) }
                    button type="submit" name="decision" value="reject" id="reject" { (l.t("驳回", "Reject")) }
                }
            }
        }
        p { a href="/reviews" { (l.t("返回审核队列", "Back to the review queue")) } }
    };
    let title = format!("{} {app}@{version}", l.t("审核", "Review"));
    (status, page(l, Some(user), &title, problems, body)).into_response()
}

/// `GET /reviews/{app}/{version}`.
pub async fn submission(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Path((app, version)): Path<(String, String)>,
) -> Response {
    if let Err(r) = reviewer_only(&user) {
        return r;
    }
    match s.market.submission(&app, &version).await {
        Ok(sub) => {
            lang.respond(review_page(&s, lang.lang, &user, &sub, &Entered::default(), &[], StatusCode::OK).await)
        }
        Err(e) => ApiError::from(e).into_response(),
    }
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
) -> Response {
    // The same answer axum's `Form` gives any other page for a body that is
    // not a posted HTML form.
    let is_form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a decision is posted as an HTML form (application/x-www-form-urlencoded)",
        )
        .into_response();
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let first = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let csrf: HashMap<String, String> = first("csrf").into_iter().map(|t| ("csrf".to_owned(), t)).collect();
    if let Err(r) = user.check_csrf(&csrf) {
        return r;
    }
    if let Err(r) = reviewer_only(&user) {
        return r;
    }
    let l = lang.lang;
    let entered = Entered {
        ticked: pairs
            .iter()
            .filter(|(k, _)| k == "ack")
            .map(|(_, v)| v.clone())
            .collect(),
        reason: first("reason").unwrap_or_default(),
    };
    let submission = match s.market.submission(&app, &version).await {
        Ok(sub) => sub,
        Err(e) => return ApiError::from(e).into_response(),
    };
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
    match s.market.decide(&user.actor, &app, &version, decision).await {
        Ok(state) => {
            if state == tongban_registry::release::VersionState::Approved {
                s.warm_approved(&app, &version);
            }
            Redirect::to(&format!("/reviews/{app}/{version}")).into_response()
        }
        Err(e) => {
            let problems = refusal_problems(l, &e, &field_id, invalid);
            let status = refusal_status(e);
            review_page(&s, l, &user, &submission, &entered, &problems, status).await
        }
    }
}
