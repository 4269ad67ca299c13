//! The publisher's pages: the org's apps with every version and where it
//! stands in review, the upload of a signed `.tbpkg` with its receipt (the
//! check report and the capability diff), and withdrawing a version that is
//! still in review.

use crate::web::design::{ButtonKind, confirmation_panel, row, summary_list, table_box};
use std::collections::HashMap;

use axum::Form;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::html;
use tongban_registry::market::orgs;
use tongban_registry::market::publish::{OrgVersion, PublishReceipt};
use tongban_registry::release::VersionState;

use crate::flows::marketplace;
use crate::state::AppState;
use crate::web::error::PageResult;
use crate::web::layout::{Lang, Problem, local_time, page};
use crate::web::session::{PageLang, WebUser};

use super::{PACKAGE_FIELD, check_report, diff_table, publisher_org, refusal_problems, refusal_status, state_badge};

/// The publisher's page: the org's versions and the upload form, with the
/// problems of a refused upload or withdrawal.
async fn publish_page(
    s: &AppState,
    l: Lang,
    user: &WebUser,
    org: &str,
    problems: &[Problem],
    status: StatusCode,
) -> PageResult {
    let versions = s.market.org_versions(&user.actor, org).await?;
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
            (table_box(&format!("{} {}", l.t("版本", "Versions"), app), html! { table.versions {
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
                                button type="submit" class=(ButtonKind::Secondary.class()) aria-label={ (l.t("撤回 ", "Withdraw ")) (v.app) "@" (v.version) } {
                                    (l.t("撤回", "Withdraw"))
                                }
                            }
                        }
                    }
                } } }
            } }))
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
            div.button-group { button type="submit" id="publish-submit" { (l.t("提交审核", "Submit for review")) } }
        }
    };
    Ok((status, page(l, Some(user), l.t("发布", "Publish"), problems, body)).into_response())
}

/// `GET /publish`.
pub async fn publisher_home(State(s): State<AppState>, lang: PageLang, user: WebUser) -> PageResult {
    let org = publisher_org(&user)?;
    Ok(lang.respond(publish_page(&s, lang.lang, &user, &org, &[], StatusCode::OK).await?))
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
) -> PageResult {
    let org = publisher_org(&user)?;
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
    user.check_csrf(&csrf)?;
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
    match marketplace::publish(&s, &user.actor, Vec::from(bytes)).await {
        Ok(receipt) => Ok(lang.respond(receipt_page(&s, l, &user, &receipt).await?)),
        Err(e) => {
            let problems = refusal_problems(l, &e, "package", l.t("软件包无效", "Invalid package"));
            publish_page(&s, l, &user, &org, &problems, refusal_status(e)).await
        }
    }
}

/// The receipt of a published version: what it is, where it stands, what the
/// checks found and what it asks for against the last approved version.
async fn receipt_page(s: &AppState, l: Lang, user: &WebUser, receipt: &PublishReceipt) -> PageResult {
    // The receipt carries the diff; the stored submission adds the check
    // report and what stays unchanged.
    let submission = s.market.submission(&receipt.app, &receipt.version).await.ok();
    let unchanged = submission.as_ref().and_then(|s| s.unchanged().ok()).unwrap_or_default();
    let gains = receipt.diff.iter().filter(|c| c.needs_acknowledgement()).count();
    let body = html! {
        (confirmation_panel(l.t("已提交审核", "Submitted for review"), html! {
            p.receipt { strong { (receipt.app) "@" (receipt.version) } " " (state_badge(l, receipt.state)) }
        }))
        (summary_list([
            row(l.t("应用", "App"), html! { code { (receipt.app) } }),
            row(l.t("版本", "Version"), html! { (receipt.version) }),
            row(l.t("状态", "State"), state_badge(l, receipt.state)),
            row(l.t("软件包摘要", "Package digest"), html! { code { (receipt.package_digest) } }),
        ]))
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
    Ok(page(l, Some(user), l.t("已提交审核", "Submitted for review"), &[], body).into_response())
}

/// `POST /publish/{app}/{version}/withdraw`: take a version out of review.
pub async fn withdraw(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Path((app, version)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    let org = publisher_org(&user)?;
    match marketplace::withdraw(&s, &user.actor, &app, &version).await {
        Ok(_) => Ok(Redirect::to("/publish").into_response()),
        Err(e) => {
            let l = lang.lang;
            let problems = refusal_problems(l, &e, "main", l.t("输入无效", "Invalid"));
            publish_page(&s, lang.lang, &user, &org, &problems, refusal_status(e)).await
        }
    }
}
