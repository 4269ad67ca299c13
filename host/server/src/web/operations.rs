//! The region admin's and the security officer's pages.
//!
//! - `/region`: the releases of the admin's region (its own deployments and
//!   those of the regions it falls back to or that fall back to it) and every
//!   approved version, with the release actions the state allows: pilot,
//!   staged rollout, halt, rollback, yank.
//! - `/security`: every released version with its deployments, and the kill
//!   switch (revoke) for each version not yet revoked.
//!
//! Each deployment shows on how many of the live server nodes its latest
//! change is ready (`已就绪 2/3 个节点 / ready on 2 of 3 nodes`), as the
//! nodes acknowledge it in `node_status`.
//!
//! The actions are the marketplace's `release`, exactly as the HTTP API takes
//! them (`api::apps::release`), so who may do what stays the marketplace's
//! rule; these pages only offer the actions and refuse other roles outright.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use tongban_registry::market::deploy::{Deployment, MAX_STATE_REASON_CHARS, ReleaseAction, ReleasedVersion};
use tongban_registry::market::nodes::{Readiness, ReadinessBoard};
use tongban_registry::release::{DeploymentAction, DeploymentState, Role, VersionState};

use super::design::{ButtonKind, table_box};
use super::error::{PageError, PageResult};
use super::layout::{Lang, Problem, page};
use super::session::{PageLang, WebUser};
use super::vocabulary::{deployment_state_tag, version_state_tag};
use crate::flows::access;
use crate::flows::marketplace;
use crate::state::AppState;

/// The region a region admin administers; everyone else is refused.
fn admin_region(user: &WebUser) -> Result<String, PageError> {
    Ok(access::admin_region(&user.actor)?.to_owned())
}

fn security_officer(user: &WebUser) -> Result<(), PageError> {
    Ok(access::require(&user.case_actor(), &[Role::SecurityOfficer])?)
}

/// The key of one version in element ids: `@` never occurs in an app id or
/// a version, so keys of different versions never collide.
fn version_key(app: &str, version: &str) -> String {
    format!("{app}@{version}")
}

/// A refused form, shown again on its page: which version it was for, which
/// field the problem is in, what was typed, and the status to answer with.
struct Refused<'a> {
    app: &'a str,
    version: &'a str,
    field_id: String,
    message: String,
    typed: &'a HashMap<String, String>,
    status: StatusCode,
}

impl Refused<'_> {
    fn is_for(&self, v: &ReleasedVersion) -> bool {
        self.app == v.app && self.version == v.version
    }

    fn problems(&self) -> Vec<Problem> {
        vec![Problem {
            field_id: self.field_id.clone(),
            message: format!("{}@{}: {}", self.app, self.version, self.message),
        }]
    }
}

fn app_name(v: &ReleasedVersion, l: Lang) -> &str {
    if l == Lang::En && !v.name_en.is_empty() {
        &v.name_en
    } else {
        &v.name_zh
    }
}

/// On how many of the live nodes a deployment's latest change is ready.
fn readiness_text(l: Lang, r: Readiness) -> String {
    if r.nodes == 0 {
        l.t("没有在线节点", "no live node").to_owned()
    } else {
        match l {
            Lang::Zh => format!("已就绪 {}/{} 个节点", r.ready, r.nodes),
            Lang::En => format!("ready on {} of {} nodes", r.ready, r.nodes),
        }
    }
}

/// The deployments of a version, one row each, marking `own_region`'s, each
/// with its readiness on the nodes.
fn deployments_table(l: Lang, v: &ReleasedVersion, own_region: Option<&str>, board: &ReadinessBoard) -> Markup {
    let deployments = &v.deployments;
    html! {
        @if deployments.is_empty() {
            p { (l.t("尚未部署。", "Not deployed anywhere yet.")) }
        } @else {
            (table_box(&format!("{} {}@{}", l.t("部署", "Deployments of"), v.app, v.version), html! { table {
                thead { tr {
                    th scope="col" { (l.t("区域", "Region")) } th scope="col" { (l.t("状态", "State")) }
                    th scope="col" { (l.t("比例", "Percentage")) } th scope="col" { (l.t("试点名单", "Pilot group")) }
                    th scope="col" { (l.t("节点", "Nodes")) }
                } }
                tbody { @for d in deployments {
                    @let readiness = board.of(d);
                    tr data-region=(d.region) data-state=(d.state.to_string()) {
                        td {
                            (d.region)
                            @if own_region == Some(d.region.as_str()) { " " (l.t("（本区域）", "(this region)")) }
                        }
                        td { (deployment_state_tag(d.state, l)) }
                        td { @if d.percentage > 0 { (d.percentage) "%" } @else { "—" } }
                        td { (d.pilot_group.join("、")) }
                        td data-ready=(readiness.ready) data-nodes=(readiness.nodes) { (readiness_text(l, readiness)) }
                    }
                } }
            } }))
        }
    }
}

/// Whether the deployment table lets a region admin take `action` on the
/// version's deployment in their region (`None`: not deployed there).
fn table_allows(own: Option<&Deployment>, action: DeploymentAction) -> bool {
    DeploymentState::apply(own.map(|d| d.state), action, Role::RegionAdmin).is_ok()
}

/// One version on the region page, with the forms of the actions its state
/// allows in `region`.
fn region_section(
    l: Lang,
    user: &WebUser,
    region: &str,
    v: &ReleasedVersion,
    board: &ReadinessBoard,
    refused: Option<&Refused>,
) -> Markup {
    let key = version_key(&v.app, &v.version);
    let own = v.deployments.iter().find(|d| d.region == region);
    let approved = v.state.may_deploy();
    let refused = refused.filter(|r| r.is_for(v));
    let typed = |name: &str| refused.and_then(|r| r.typed.get(name)).cloned().unwrap_or_default();
    let action_url = format!("/region/{}/{}", v.app, v.version);
    let hidden = html! {
        input type="hidden" name="csrf" value=(user.csrf);
        input type="hidden" name="region" value=(region);
    };
    html! {
        section class="release" data-app=(v.app) data-version=(v.version) id={ "release-" (key) } {
            h3 { (app_name(v, l)) " " (v.version) }
            p { code { (v.app) } " · " (l.t("版本状态：", "Version state: ")) span data-version-state=(v.state.to_string()) { (version_state_tag(v.state, l)) } }
            (deployments_table(l, v, Some(region), board))
            @if let Some(r) = refused {
                p.field-error { (r.message) }
            }
            @if approved && table_allows(own, DeploymentAction::Pilot) {
                form method="post" action=(action_url) novalidate {
                    (hidden)
                    label for={ "group-" (key) } { (l.t("试点名单（每行一个主体标识）", "Pilot group (one subject per line)")) }
                    textarea name="group" id={ "group-" (key) } rows="3" { (typed("group")) }
                    div.button-group { button type="submit" name="action" value="pilot" { (l.t("开始试点", "Start a pilot")) } }
                }
            }
            @if approved && table_allows(own, DeploymentAction::Rollout) {
                form method="post" action=(action_url) novalidate {
                    (hidden)
                    label for={ "percentage-" (key) } { (l.t("上线比例（%，1 到 100，只升不降）", "Rollout percentage (1 to 100, only rises)")) }
                    input type="number" name="percentage" min="1" max="100" id={ "percentage-" (key) } value=(typed("percentage"));
                    div.button-group { button type="submit" name="action" value="rollout" { (l.t("灰度上线", "Roll out")) } }
                }
            }
            @if table_allows(own, DeploymentAction::Halt) {
                form method="post" action=(action_url) {
                    (hidden)
                    button type="submit" class=(ButtonKind::Warning.class()) name="action" value="halt" { (l.t("暂停", "Halt")) }
                }
            }
            @if table_allows(own, DeploymentAction::Rollback) {
                form method="post" action=(action_url) {
                    (hidden)
                    button type="submit" class=(ButtonKind::Warning.class()) name="action" value="rollback" { (l.t("回滚到上一版本", "Roll back to the previous version")) }
                }
            }
            @if v.state == VersionState::Approved {
                form method="post" action=(action_url) novalidate {
                    (hidden)
                    label for={ "yank-reason-" (key) } { (l.t("下架理由（必填）", "Reason for yanking (required)")) }
                    textarea name="reason" id={ "yank-reason-" (key) } rows="2" maxlength=(MAX_STATE_REASON_CHARS) { (typed("reason")) }
                    div.button-group { button type="submit" class=(ButtonKind::Warning.class()) name="action" value="yank" { (l.t("下架（各地停止新部署）", "Yank (no new deployments anywhere)")) } }
                }
            }
            @if let Some(reasons) = &v.state_reason {
                div.state-reason {
                    (l.t("下架或吊销理由：", "Why it was yanked or revoked: "))
                    @for line in reasons.lines() { div { (line) } }
                }
            }
        }
    }
}

/// The region page, optionally showing a refused form again.
async fn region_page(s: &AppState, l: Lang, user: &WebUser, region: &str, refused: Option<&Refused<'_>>) -> PageResult {
    let versions = s.market.region_releases(region).await?;
    let board = s.market.readiness_board().await?;
    let mut apps: Vec<&str> = versions.iter().map(|v| v.app.as_str()).collect();
    apps.dedup();
    let body = html! {
        p { (l.t("本区域：", "Region: ")) strong { (region) } }
        @if versions.is_empty() {
            p { (l.t("本区域没有已部署或可部署的应用。", "No app is deployed here or ready to deploy.")) }
        }
        @for app in &apps {
            h2 { (app) }
            @for v in versions.iter().filter(|v| v.app == *app) {
                (region_section(l, user, region, v, &board, refused))
            }
        }
    };
    let problems = refused.map(Refused::problems).unwrap_or_default();
    let status = refused.map_or(StatusCode::OK, |r| r.status);
    Ok((
        status,
        page(l, Some(user), l.t("上线管理", "Releases"), &problems, body),
    )
        .into_response())
}

/// `GET /region`.
pub async fn region(State(s): State<AppState>, lang: PageLang, user: WebUser) -> PageResult {
    let region = admin_region(&user)?;
    Ok(lang.respond(region_page(&s, lang.lang, &user, &region, None).await?))
}

/// The release action a region page form asks for, or the field at fault
/// (an id suffix's prefix: `group`, `percentage`, `release`) and why.
fn release_action(f: &HashMap<String, String>, l: Lang) -> Result<ReleaseAction, (&'static str, String)> {
    let region = f.get("region").map(|r| r.trim().to_owned()).unwrap_or_default();
    let action = f.get("action").map(String::as_str).unwrap_or_default();
    if region.is_empty() && !matches!(action, "yank") {
        return Err((
            "release",
            l.t("表单没有注明区域", "the form names no region").to_owned(),
        ));
    }
    match action {
        "pilot" => Ok(ReleaseAction::Pilot {
            region,
            group: f
                .get("group")
                .map(|g| {
                    g.lines()
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }),
        "rollout" => {
            let raw = f.get("percentage").map(|p| p.trim()).unwrap_or_default();
            if raw.is_empty() {
                return Err((
                    "percentage",
                    l.t("请填写上线比例（1 到 100）", "give a rollout percentage from 1 to 100")
                        .to_owned(),
                ));
            }
            match raw.parse::<u8>() {
                Ok(percentage) => Ok(ReleaseAction::Rollout { region, percentage }),
                Err(_) => Err((
                    "percentage",
                    format!(
                        "{} `{raw}`",
                        l.t(
                            "上线比例应为 1 到 100 的整数，而不是",
                            "a rollout percentage is a whole number from 1 to 100, not"
                        )
                    ),
                )),
            }
        }
        "halt" => Ok(ReleaseAction::Halt { region }),
        "rollback" => Ok(ReleaseAction::Rollback { region }),
        "yank" => Ok(ReleaseAction::Yank {
            reason: f.get("reason").cloned().unwrap_or_default(),
        }),
        other => Err((
            "release",
            format!("{} `{other}`", l.t("不是上线管理操作：", "not a release action:")),
        )),
    }
}

/// `POST /region/{app}/{version}`: take a release action in the admin's
/// region, then apply it to this node's serving table at once.
pub async fn release(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Path((app, version)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    let region = admin_region(&user)?;
    let l = lang.lang;
    let key = version_key(&app, &version);
    let refuse = |field: &str, message: String, status: StatusCode| Refused {
        app: &app,
        version: &version,
        field_id: format!("{field}-{key}"),
        message,
        typed: &f,
        status,
    };
    let action = match release_action(&f, l) {
        Ok(a) => a,
        Err((field, message)) => {
            let refused = refuse(field, message, StatusCode::UNPROCESSABLE_ENTITY);
            return Ok(lang.respond(region_page(&s, l, &user, &region, Some(&refused)).await?));
        }
    };
    let field = match action {
        ReleaseAction::Pilot { .. } => "group",
        ReleaseAction::Rollout { .. } => "percentage",
        ReleaseAction::Yank { .. } => "yank-reason",
        _ => "release",
    };
    match marketplace::release(&s, &user.actor, &app, &version, action).await {
        Ok(_) => Ok(Redirect::to("/region").into_response()),
        Err(e) => {
            let e = PageError::from(e);
            if e.status().is_server_error() {
                return Err(e);
            }
            let status = e.status();
            let refused = refuse(field, e.to_string(), status);
            Ok(lang.respond(region_page(&s, l, &user, &region, Some(&refused)).await?))
        }
    }
}

/// One version on the security page, with the revoke form unless revoked.
fn security_section(
    l: Lang,
    user: &WebUser,
    v: &ReleasedVersion,
    board: &ReadinessBoard,
    refused: Option<&Refused>,
) -> Markup {
    let key = version_key(&v.app, &v.version);
    let refused = refused.filter(|r| r.is_for(v));
    let typed_reason = refused.and_then(|r| r.typed.get("reason")).cloned().unwrap_or_default();
    html! {
        section class="release" data-app=(v.app) data-version=(v.version) data-version-state=(v.state.to_string()) id={ "release-" (key) } {
            h2 {
                (app_name(v, l)) " " (v.version)
                @if v.state == VersionState::Revoked { " " strong.revoked { (l.t("已吊销", "Revoked")) } }
            }
            p { code { (v.app) } " · " (l.t("版本状态：", "Version state: ")) (version_state_tag(v.state, l)) }
            @if let Some(reasons) = &v.state_reason {
                div.state-reason {
                    (l.t("下架或吊销理由：", "Why it was yanked or revoked: "))
                    @for line in reasons.lines() { div { (line) } }
                }
            }
            (deployments_table(l, v, None, board))
            @if let Some(r) = refused {
                p.field-error { (r.message) }
            }
            @if v.state != VersionState::Revoked {
                form method="post" action={ "/security/" (v.app) "/" (v.version) "/revoke" } novalidate {
                    input type="hidden" name="csrf" value=(user.csrf);
                    label for={ "reason-" (key) } { (l.t("吊销理由（必填）", "Reason for revoking (required)")) }
                    textarea name="reason" id={ "reason-" (key) } rows="2" maxlength=(MAX_STATE_REASON_CHARS) { (typed_reason) }
                    div.button-group { button type="submit" class=(ButtonKind::Warning.class()) name="action" value="revoke" { (l.t("立即吊销（各地停止服务）", "Revoke now (stops serving everywhere)")) } }
                }
            }
        }
    }
}

/// The security page, optionally showing a refused form again.
async fn security_page(s: &AppState, l: Lang, user: &WebUser, refused: Option<&Refused<'_>>) -> PageResult {
    let versions = s.market.released_versions().await?;
    let board = s.market.readiness_board().await?;
    let body = html! {
        p { (l.t(
            "吊销立即在所有区域停止该版本的服务，且不可撤销。",
            "Revoking stops a version serving in every region at once, and cannot be undone."
        )) }
        @if versions.is_empty() {
            p { (l.t("还没有发布的版本。", "No version has been released yet.")) }
        }
        @for v in &versions {
            (security_section(l, user, v, &board, refused))
        }
    };
    let problems = refused.map(Refused::problems).unwrap_or_default();
    let status = refused.map_or(StatusCode::OK, |r| r.status);
    Ok((status, page(l, Some(user), l.t("安全", "Security"), &problems, body)).into_response())
}

/// `GET /security`.
pub async fn security(State(s): State<AppState>, lang: PageLang, user: WebUser) -> PageResult {
    security_officer(&user)?;
    Ok(lang.respond(security_page(&s, lang.lang, &user, None).await?))
}

/// `POST /security/{app}/{version}/revoke`: the kill switch. The marketplace
/// keeps the reason with the version and records the revocation, reason and
/// all, in the audit chain.
pub async fn revoke(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Path((app, version)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    security_officer(&user)?;
    let l = lang.lang;
    let key = version_key(&app, &version);
    let refuse = |message: String, status: StatusCode| Refused {
        app: &app,
        version: &version,
        field_id: format!("reason-{key}"),
        message,
        typed: &f,
        status,
    };
    if f.get("reason").is_none_or(|r| r.trim().is_empty()) {
        let refused = refuse(
            l.t("请填写吊销理由", "give the reason for revoking").to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        return Ok(lang.respond(security_page(&s, l, &user, Some(&refused)).await?));
    }
    let revoke = ReleaseAction::Revoke {
        reason: f.get("reason").cloned().unwrap_or_default(),
    };
    // The flow stops serving the version on this node at once; other nodes
    // follow the deployment log.
    match marketplace::release(&s, &user.actor, &app, &version, revoke).await {
        Ok(_) => Ok(Redirect::to("/security").into_response()),
        Err(e) => {
            let e = PageError::from(e);
            if e.status().is_server_error() {
                return Err(e);
            }
            let status = e.status();
            let refused = refuse(e.to_string(), status);
            Ok(lang.respond(security_page(&s, l, &user, Some(&refused)).await?))
        }
    }
}
