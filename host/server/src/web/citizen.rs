//! The citizen's pages: services of my region, one service with its consent
//! and its form (naming the version that serves me), my cases with their
//! timeline and fees, the correction form while the accepting org asks for
//! one (补正) and, once finished, their rating (好差评), my
//! certificates with a signed copy to download, my consents (revocable) and
//! my inbox.

use std::collections::{BTreeMap, HashMap};

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use tongban_registry::release::Role;
use tongban_services::consent::ConsentState;
use tongban_services::consents::{DEFAULT_CONSENT_MS, attribute_scope, certificate_scope};
use tongban_services::now_ms;
use tongban_services::ratings::{MAX_COMMENT_CHARS, RatingLevel, open_for_rating};
use tongban_services::{ServiceError, ServiceResult};

use super::form;
use super::layout::{Lang, Problem, page};
use super::session::{PageLang, Visitor, WebUser};
use crate::api::AppState;
use crate::api::cases::{Application, Refusal, resubmit_correction, submit_application};
use crate::api::consents::{consent_text, requested_scopes};
use crate::api::error::ApiError;

fn refuse(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

fn citizen(user: &WebUser) -> Result<&str, Response> {
    match (user.actor.role, &user.subject) {
        (Role::Citizen, Some(subject)) => Ok(subject),
        _ => Err(refuse(ApiError::forbidden("this page is for citizens"))),
    }
}

fn when(ms: i64) -> String {
    super::layout::local_time(ms)
}

/// How many catalogue entries the home page lists for a visitor without a
/// region.
const HOME_PAGE_SIZE: i64 = 50;

/// `GET /`: the services of my region, searchable.
pub async fn home(
    State(s): State<AppState>,
    lang: PageLang,
    Visitor(user): Visitor,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let l = lang.lang;
    if let Some(u) = &user
        && matches!(u.actor.role, Role::WindowClerk | Role::Handler)
    {
        return Redirect::to("/work").into_response();
    }
    let query = q.get("q").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let region = match user.as_ref().and_then(|u| u.subject.clone()) {
        Some(subject) => s.services.subject(&subject).await.map(|p| p.region).ok(),
        None => None,
    };
    let subject = user.as_ref().and_then(|u| u.subject.clone()).unwrap_or_default();
    // A citizen sees every service that serves them in their region (the
    // serving table names them); anyone else browses the first page of the
    // whole catalogue.
    let served = match &region {
        Some(r) => {
            let table = s.serving.load();
            let ids: Vec<String> = table
                .apps_in(r)
                .into_iter()
                .filter(|app| table.resolve(app, r, &subject).is_some())
                .collect();
            s.market.catalog_of(&ids, query.as_deref()).await
        }
        None => s.market.catalog(query.as_deref(), 1, HOME_PAGE_SIZE).await,
    };
    let served = match served {
        Ok(e) => e,
        Err(e) => return refuse(e),
    };
    let body = html! {
        form method="get" action="/" role="search" {
            label for="q" { (l.t("搜索服务", "Search services")) }
            input id="q" name="q" type="search" value=(query.clone().unwrap_or_default());
            button type="submit" { (l.t("搜索", "Search")) }
        }
        @if let Some(region) = &region {
            p { (l.t("您所在地区的服务：", "Services of your region: ")) (region) }
        }
        @if served.is_empty() {
            p { (l.t("没有找到服务。", "No services found.")) }
        }
        ul {
            @for e in &served {
                li { a href={ "/services/" (e.id) } { (if l == Lang::En && !e.name_en.is_empty() { &e.name_en } else { &e.name_zh }) } }
            }
        }
    };
    lang.respond(page(
        l,
        user.as_ref(),
        l.t("政务服务", "Government services"),
        &[],
        body,
    ))
}

/// The citizen, the region they are served in, and the version of `app`
/// that serves them there.
async fn served(
    s: &AppState,
    user: &WebUser,
    app: &str,
) -> Result<(String, String, std::sync::Arc<tongban_runtime::LoadedApp>), Response> {
    let subject = citizen(user)?.to_owned();
    let region = s.services.subject(&subject).await.map(|p| p.region).map_err(refuse)?;
    let (_, loaded) = s.serving_app(&region, app, &subject).await.map_err(refuse)?;
    Ok((subject, region, loaded))
}

fn scope_label(scope: &str, l: Lang) -> String {
    let (kind, name) = scope.split_once('/').unwrap_or((scope, ""));
    match (kind, name) {
        ("identity.attributes", "name") => l.t("姓名", "Name").into(),
        ("identity.attributes", "id-number-masked") => l.t("身份证号（脱敏）", "ID number (masked)").into(),
        ("identity.attributes", "phone") => l.t("手机号", "Phone").into(),
        ("identity.attributes", other) => other.into(),
        ("certificates", t) => format!(
            "{}：{}",
            l.t("电子证照", "E-certificate"),
            tongban_services::certificates::store::type_name(t)
        ),
        _ => scope.into(),
    }
}

/// `GET /services/{app}`: the consent page while no live consent covers what
/// the app reads, then the application form, prefilled.
pub async fn service(State(s): State<AppState>, lang: PageLang, user: WebUser, Path(app): Path<String>) -> Response {
    let (subject, _, loaded) = match served(&s, &user, &app).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let l = lang.lang;
    let manifest = &loaded.manifest;
    let version = manifest.app.version.to_string();
    let Some(item) = manifest.items.first() else {
        return refuse(ApiError::not_found(format!("{app} declares no items")));
    };
    let (scopes, purpose) = requested_scopes(manifest);
    let mut uncovered = Vec::new();
    for scope in &scopes {
        if s.services
            .covering_consent(&subject, &app, scope, &item.code)
            .await
            .is_err()
        {
            uncovered.push(scope.clone());
        }
    }
    let title = if l == Lang::En {
        manifest
            .app
            .name
            .en
            .clone()
            .unwrap_or_else(|| manifest.app.name.zh_cn.clone())
    } else {
        manifest.app.name.zh_cn.clone()
    };
    if !uncovered.is_empty() {
        let body = html! {
            (serving_version(&version, l))
            h2 { (l.t("授权同意", "Consent")) }
            p { (l.t("为办理本事项，本服务需要读取您的以下信息：", "To handle this item, the service needs to read:")) }
            ul { @for scope in &scopes { li { (scope_label(scope, l)) } } }
            p { strong { (l.t("用途：", "Purpose: ")) } (item.name.zh_cn) "（" (item.code) "）：" (purpose) }
            p { (l.t("授权有效期 90 天，您可以随时在“我的授权”中撤回。", "The consent lasts 90 days; you can revoke it at any time under My consents.")) }
            form method="post" action={ "/services/" (app) "/consent" } {
                input type="hidden" name="csrf" value=(user.csrf);
                button type="submit" name="decision" value="grant" { (l.t("同意", "I agree")) }
                button type="submit" name="decision" value="deny" { (l.t("不同意", "I do not agree")) }
            }
        };
        return lang.respond(page(l, Some(&user), &title, &[], body));
    }
    let values = prefill(&s, &subject, &loaded, &item.code).await;
    lang.respond(apply_page(
        l,
        &user,
        &title,
        &app,
        &version,
        loaded.forms.get(&item.code),
        &values,
        &BTreeMap::new(),
        StatusCode::OK,
    ))
}

/// Values for the form's `x-prefill` fields, from the citizen's own identity
/// attributes and certificates, read under the consent they just gave. The
/// read is recorded in the provenance log like an app's; if the record cannot
/// be written, nothing is prefilled.
async fn prefill(
    s: &AppState,
    subject: &str,
    loaded: &tongban_runtime::LoadedApp,
    item: &str,
) -> HashMap<String, String> {
    let mut values = HashMap::new();
    let app = loaded.manifest.app.id.as_str();
    let Some(schema) = loaded.forms.get(item) else {
        return values;
    };
    let Ok(person) = s.services.subject(subject).await else {
        return values;
    };
    let held = s.services.certificates_held(subject, None).await.unwrap_or_default();
    let mut scopes = Vec::new();
    let mut consents = Vec::new();
    for (path, source) in form::prefill_sources(schema) {
        let parts: Vec<&str> = source.split(':').collect();
        let scope = match parts.as_slice() {
            ["identity", name] => attribute_scope(name),
            ["certificate", type_code, _] => certificate_scope(type_code),
            _ => continue,
        };
        let Ok(consent) = s.services.covering_consent(subject, app, &scope, item).await else {
            continue;
        };
        let value = match parts.as_slice() {
            ["identity", name] => person.attribute(name),
            ["certificate", type_code, field] => {
                let aliases: &[&str] = match *field {
                    "id-number" => &["id-number", "公民身份号码"],
                    other => &[other],
                };
                held.iter()
                    .find(|c| {
                        c.type_code == *type_code
                            && c.status == tongban_services::certificates::CertificateStatus::Valid
                    })
                    .and_then(|c| c.fields.iter().find(|(n, _)| aliases.contains(&n.as_str())))
                    .map(|(_, v)| v.clone())
            }
            _ => None,
        };
        if let Some(value) = value {
            values.insert(path, value);
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
            if !consents.contains(&consent.id) {
                consents.push(consent.id);
            }
        }
    }
    if values.is_empty() {
        return values;
    }
    let Ok(handle) = s.services.handle_for(subject, app).await else {
        return HashMap::new();
    };
    let recorded = s
        .services
        .record_provenance(tongban_services::provenance::ProvenanceRecord {
            at: 0,
            app: app.to_owned(),
            app_version: loaded.manifest.app.version.to_string(),
            subject: subject.to_owned(),
            subject_handle: handle,
            operation: "form.prefill".into(),
            scopes,
            purpose: item.to_owned(),
            consent: Some(consents.join(",")),
            case: None,
            outcome: "released".into(),
        })
        .await;
    if recorded.is_err() { HashMap::new() } else { values }
}

/// Which version of the app serves this citizen, so that after a rollout
/// or a revocation anyone (and a browser test) can see what serves them.
fn serving_version(version: &str, l: Lang) -> Markup {
    html! { p id="serving-version" { (l.t("版本", "Version")) " " (version) } }
}

#[allow(clippy::too_many_arguments)]
fn apply_page(
    l: Lang,
    user: &WebUser,
    title: &str,
    app: &str,
    version: &str,
    schema: Option<&serde_json::Value>,
    values: &HashMap<String, String>,
    errors: &BTreeMap<String, String>,
    status: StatusCode,
) -> Response {
    let problems = field_problems(errors);
    let key = values.get("submission_key").cloned().unwrap_or_else(fresh_key);
    let empty = serde_json::json!({});
    let body = html! {
        (serving_version(version, l))
        form method="post" action={ "/services/" (app) "/apply" } novalidate {
            input type="hidden" name="csrf" value=(user.csrf);
            input type="hidden" name="submission_key" value=(key);
            (form::fields(schema.unwrap_or(&empty), values, errors, l))
            div { button type="submit" { (l.t("提交申请", "Submit the application")) } }
        }
    };
    (status, page(l, Some(user), title, &problems, body)).into_response()
}

/// A form's problems by field path, for the error summary: each links to
/// its field (the empty path, a problem of the whole form, to the form).
fn field_problems(errors: &BTreeMap<String, String>) -> Vec<Problem> {
    errors
        .iter()
        .map(|(field, message)| Problem {
            field_id: form::field_id(field),
            message: if field.is_empty() {
                message.clone()
            } else {
                format!("{field}: {message}")
            },
        })
        .collect()
}

fn fresh_key() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    hex::encode(bytes)
}

/// `POST /services/{app}/consent`: grant or deny what the app asks for.
pub async fn consent(
    State(s): State<AppState>,
    user: WebUser,
    Path(app): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = user.check_csrf(&f) {
        return r;
    }
    let (subject, _, loaded) = match served(&s, &user, &app).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(item) = loaded.manifest.items.first() else {
        return refuse(ApiError::not_found(format!("{app} declares no items")));
    };
    let (scopes, purpose) = requested_scopes(&loaded.manifest);
    let text = consent_text(item, &purpose);
    let requested = match s
        .services
        .request_consent(&subject, &app, scopes, &item.code, &text)
        .await
    {
        Ok(c) => c,
        Err(e) => return refuse(e),
    };
    let decided = match f.get("decision").map(String::as_str) {
        Some("grant") => {
            s.services
                .grant_consent(&subject, &requested.id, DEFAULT_CONSENT_MS)
                .await
        }
        Some("deny") => s.services.deny_consent(&subject, &requested.id).await,
        _ => return refuse(ApiError::bad_request("decision is grant or deny")),
    };
    match decided {
        Ok(c) if c.state == ConsentState::Granted => Redirect::to(&format!("/services/{app}")).into_response(),
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => refuse(e),
    }
}

/// `POST /services/{app}/apply`: the form, through the same path as the API.
/// A form with problems comes back with what was typed and every problem.
pub async fn apply(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Path(app): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = user.check_csrf(&f) {
        return r;
    }
    let (_, region, loaded) = match served(&s, &user, &app).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let l = lang.lang;
    let Some(item) = loaded.manifest.items.first() else {
        return refuse(ApiError::not_found(format!("{app} declares no items")));
    };
    let schema = loaded.forms.get(&item.code);
    let empty = serde_json::json!({});
    let body = Application {
        region,
        app: app.clone(),
        item: Some(item.code.clone()),
        form: form::read(schema.unwrap_or(&empty), &f),
        submission_key: f.get("submission_key").cloned(),
        applicant_id_number: None,
    };
    let title = loaded.manifest.app.name.zh_cn.clone();
    let version = loaded.manifest.app.version.to_string();
    match submit_application(&s, &user.case_actor(), &body).await {
        Ok(applied) => Redirect::to(&format!("/my/cases/{}", applied.case.id)).into_response(),
        Err(Refusal::Fields(fields)) => {
            let errors: BTreeMap<String, String> = fields.into_iter().map(|e| (e.field, e.message)).collect();
            apply_page(
                l,
                &user,
                &title,
                &app,
                &version,
                schema,
                &f,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(Refusal::Api(e)) => {
            let errors: BTreeMap<String, String> = [(String::new(), e.message)].into_iter().collect();
            apply_page(l, &user, &title, &app, &version, schema, &f, &errors, e.status)
        }
    }
}

fn stage_label(stage: &str, l: Lang) -> &'static str {
    match stage {
        "submitted" => l.t("已提交", "Submitted"),
        "accepted" => l.t("已受理", "Accepted"),
        "correction-requested" => l.t("待补正", "Correction requested"),
        "rejected" => l.t("不予受理", "Rejected"),
        "handling" => l.t("办理中", "Being handled"),
        "approved" => l.t("已批准", "Approved"),
        "denied" => l.t("不予批准", "Denied"),
        "delivered" => l.t("已出件", "Delivered"),
        "closed" => l.t("已办结", "Closed"),
        "withdrawn" => l.t("已撤回", "Withdrawn"),
        _ => "",
    }
}

/// `GET /my/cases`.
pub async fn cases(State(s): State<AppState>, lang: PageLang, user: WebUser) -> Response {
    let subject = match citizen(&user) {
        Ok(s) => s.to_owned(),
        Err(r) => return r,
    };
    let l = lang.lang;
    let cases = match s.services.cases_of_subject(&subject).await {
        Ok(c) => c,
        Err(e) => return refuse(e),
    };
    let body = html! {
        @if cases.is_empty() { p { (l.t("您还没有办件。", "You have no cases yet.")) } }
        table {
            thead { tr { th { (l.t("办件编号", "Case")) } th { (l.t("事项", "Item")) } th { (l.t("状态", "Stage")) } th { (l.t("提交时间", "Submitted")) } } }
            tbody {
                @for c in &cases {
                    tr {
                        td { a href={ "/my/cases/" (c.id) } { (c.id) } }
                        td { (c.item) }
                        td { (stage_label(c.stage.as_str(), l)) }
                        td { (when(c.submitted_at)) }
                    }
                }
            }
        }
    };
    lang.respond(page(l, Some(&user), l.t("我的办件", "My cases"), &[], body))
}

/// A timeline event as people read it; the machine name stays on the
/// element (`data-kind`).
fn event_label(kind: &str, l: Lang) -> &'static str {
    match kind {
        "submitted" => l.t("提交申请", "Submitted"),
        "paid" => l.t("缴费成功", "Fee paid"),
        "accept" => l.t("受理", "Accepted"),
        "request-correction" => l.t("要求补正", "Correction requested"),
        "resubmit" => l.t("补正后重新提交", "Resubmitted after correction"),
        "reject" => l.t("不予受理", "Rejected"),
        "hand-off" => l.t("移交办理", "Handed off"),
        "start-handling" => l.t("开始办理", "Handling started"),
        "approve" => l.t("批准", "Approved"),
        "deny" => l.t("不予批准", "Denied"),
        "rule-approve" => l.t("即办批准", "Approved by rule"),
        "rule-deny" => l.t("即办不予批准", "Denied by rule"),
        "deliver" => l.t("出件", "Delivered"),
        "close" => l.t("办结", "Closed"),
        "withdraw" => l.t("撤回申请", "Withdrawn"),
        _ => "",
    }
}

/// A channel as people read it.
fn channel_label(channel: &str, l: Lang) -> &'static str {
    match channel {
        "web" => l.t("网上办理", "Online"),
        "mobile" => l.t("移动端办理", "Mobile"),
        "window" => l.t("窗口办理", "At a window"),
        "kiosk" => l.t("自助终端", "Self-service kiosk"),
        "hotline" => l.t("热线办理", "Hotline"),
        _ => "",
    }
}

/// A payment's status as people read it.
fn payment_label(status: tongban_services::payments::PaymentStatus, l: Lang) -> &'static str {
    use tongban_services::payments::PaymentStatus as P;
    match status {
        P::Created => l.t("待支付", "To pay"),
        P::Started => l.t("支付中", "Being paid"),
        P::Submitted => l.t("银行处理中", "With the bank"),
        P::Success => l.t("已支付", "Paid"),
        P::Failed => l.t("支付未成功", "Not paid"),
        P::Cancelled => l.t("已取消", "Cancelled"),
        P::Error => l.t("支付出错", "Payment error"),
    }
}

/// The timeline and fees of a case, shared by the citizen's and the staff's
/// pages. Orgs are shown by name, events, channels and payment states in
/// the page's language, each with its machine name on the element.
pub async fn case_details(s: &AppState, id: &str, l: Lang) -> Result<Markup, Response> {
    let case = s.services.case(id).await.map_err(refuse)?;
    let timeline = s.services.case_timeline(id).await.map_err(refuse)?;
    let payments = s.services.payments_of_case(id).await.map_err(refuse)?;
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
    let item_name = match s.serving_app(&case.region, &case.app, &case.subject).await {
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
    let labelled = |label: &str, code: &str| -> String {
        if label.is_empty() {
            code.to_owned()
        } else {
            label.to_owned()
        }
    };
    Ok(html! {
        dl {
            dt { (l.t("事项", "Item")) }
            dd { @if let Some(name) = &item_name { (name) " (" (case.item) ")" } @else { (case.item) } }
            dt { (l.t("状态", "Stage")) } dd id="stage" data-stage=(case.stage.as_str()) { (stage_label(case.stage.as_str(), l)) }
            dt { (l.t("渠道", "Channel")) }
            dd data-channel=(case.channel) {
                (labelled(channel_label(&case.channel, l), &case.channel))
                @if let Some(clerk) = &case.on_behalf_of { " · " (l.t("代办人员 ", "clerk ")) (clerk) }
            }
            dt { (l.t("受理机构", "Accepting org")) } dd { (org_name(&case.accepting_org)) }
            dt { (l.t("办理机构", "Handling org")) } dd { (org_name(&case.handling_org)) }
            @if let Some(due) = case.due_at {
                dt { (l.t("承诺办结时间", "Due")) }
                dd { (when(due)) @if case.overdue(now_ms()) { " " span.overdue { (l.t("已超期", "Overdue")) } } }
            }
        }
        @if !payments.is_empty() {
            h2 { (l.t("费用", "Fees")) }
            ul {
                @for p in &payments {
                    li data-status=(p.status.as_str()) {
                        (p.description) " ¥" (format!("{}.{:02}", p.amount_fen / 100, p.amount_fen % 100)) " — " (payment_label(p.status, l))
                        @if matches!(p.status.as_str(), "created" | "started") { " " a href={ "/pay/" (p.id) } { (l.t("去支付", "Pay now")) } }
                    }
                }
            }
        }
        h2 { (l.t("办理进度", "Timeline")) }
        ol {
            @for e in &timeline {
                li data-kind=(e.kind) {
                    (when(e.at)) " · " strong { (labelled(event_label(&e.kind, l), &e.kind)) }
                    @if !e.detail.is_empty() { " · " (e.detail) }
                    " · " (e.actor)
                }
            }
        }
    })
}

/// `GET /my/cases/{id}`: the case and, once it is finished, its rating
/// form or the rating given.
pub async fn case(State(s): State<AppState>, lang: PageLang, user: WebUser, Path(id): Path<String>) -> Response {
    case_page(&s, &lang, &user, &id, &Returned::default(), StatusCode::OK).await
}

/// What a refused post on the case page comes back with: what was chosen
/// and typed, and the problems.
#[derive(Debug, Default)]
struct Returned {
    rating: RatingTyped,
    /// A refused rating's problem.
    rating_problem: Option<Problem>,
    /// The fields of a refused correction, as typed.
    correction: Option<HashMap<String, String>>,
    /// A refused correction's problems by field path.
    correction_errors: BTreeMap<String, String>,
}

/// What the citizen chose and typed in the rating form, kept when it comes
/// back with a problem.
#[derive(Debug, Default)]
struct RatingTyped {
    level: String,
    comment: String,
}

/// The citizen's case page, with a refused post's problems when there are.
async fn case_page(
    s: &AppState,
    lang: &PageLang,
    user: &WebUser,
    id: &str,
    returned: &Returned,
    status: StatusCode,
) -> Response {
    if let Err(r) = citizen(user) {
        return r;
    }
    let case = match s.services.case_for(&user.case_actor(), id).await {
        Ok(c) => c,
        Err(e) => return refuse(e),
    };
    let l = lang.lang;
    let details = match case_details(s, id, l).await {
        Ok(body) => body,
        Err(r) => return r,
    };
    let evaluation = match evaluation(s, user, &case, &returned.rating, returned.rating_problem.as_ref(), l).await {
        Ok(markup) => markup,
        Err(e) => return refuse(e),
    };
    let correction = match correction_form(s, user, &case, returned, l).await {
        Ok(markup) => markup,
        Err(e) => return refuse(e),
    };
    let body = html! { (details) (correction) (evaluation) };
    let mut problems: Vec<Problem> = returned.rating_problem.clone().into_iter().collect();
    problems.extend(field_problems(&returned.correction_errors));
    lang.respond((
        status,
        page(l, Some(user), &format!("{} {id}", l.t("办件", "Case")), &problems, body),
    ))
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
) -> ServiceResult<Markup> {
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
    let schema = match s.serving_app(&case.region, &case.app, &case.subject).await {
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
                div { button type="submit" id="resubmit" { (l.t("提交补正", "Submit the correction")) } }
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
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = user.check_csrf(&f) {
        return r;
    }
    if let Err(r) = citizen(&user) {
        return r;
    }
    let empty = serde_json::json!({});
    let read = |schema: Option<&serde_json::Value>| Some(form::read(schema.unwrap_or(&empty), &f));
    let refused = match resubmit_correction(&s, &user.case_actor(), &id, read, String::new()).await {
        Ok(_) => return Redirect::to(&format!("/my/cases/{id}")).into_response(),
        Err(refusal) => refusal,
    };
    let (errors, status) = match refused {
        Refusal::Fields(fields) => (
            fields.into_iter().map(|e| (e.field, e.message)).collect(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Refusal::Api(e) => ([(String::new(), e.message)].into_iter().collect(), e.status),
    };
    let returned = Returned {
        correction: Some(f),
        correction_errors: errors,
        ..Returned::default()
    };
    case_page(&s, &lang, &user, &id, &returned, status).await
}

/// A rating level as the citizen reads it.
pub fn rating_label(level: RatingLevel, l: Lang) -> &'static str {
    match level {
        RatingLevel::VerySatisfied => l.t("非常满意", "Very satisfied"),
        RatingLevel::Satisfied => l.t("满意", "Satisfied"),
        RatingLevel::BasicallySatisfied => l.t("基本满意", "Basically satisfied"),
        RatingLevel::Dissatisfied => l.t("不满意", "Dissatisfied"),
        RatingLevel::VeryDissatisfied => l.t("非常不满意", "Very dissatisfied"),
    }
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
) -> ServiceResult<Markup> {
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
                        div {
                            input type="radio" name="level" id=(id) value=(level.as_str()) checked[typed.level == level.as_str()];
                            " "
                            label for=(id) style="display:inline;font-weight:normal" { (rating_label(level, l)) }
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
                div { button type="submit" id="rate" { (l.t("提交评价", "Submit your rating")) } }
            }
        }
    })
}

/// The field a refused rating's problem belongs to (the service names it
/// first in its message), and the problem in the page's language: in
/// Chinese a summary, then the service's own words.
fn rating_problem(e: &ServiceError, l: Lang) -> Problem {
    let said = |zh: &str, m: &str| l.summarised(zh, m);
    let (field_id, message) = match e {
        ServiceError::Invalid(m) if m.starts_with("level") => ("level-very-satisfied", said("请选择满意程度", m)),
        ServiceError::Invalid(m) if m.starts_with("comment") => ("comment", said("评价意见过长", m)),
        ServiceError::Conflict(m) => ("evaluation", said("暂不能评价", m)),
        other => ("evaluation", other.to_string()),
    };
    Problem {
        field_id: field_id.into(),
        message,
    }
}

/// `POST /my/cases/{id}/rating`: the applicant rates a finished case once.
/// A refusal comes back on the case page with the problem named and what
/// was chosen and typed kept.
pub async fn rate(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = user.check_csrf(&f) {
        return r;
    }
    let subject = match citizen(&user) {
        Ok(s) => s.to_owned(),
        Err(r) => return r,
    };
    let typed = RatingTyped {
        level: f.get("level").cloned().unwrap_or_default(),
        comment: f.get("comment").cloned().unwrap_or_default(),
    };
    match s.services.rate_case(&subject, &id, &typed.level, &typed.comment).await {
        Ok(_) => Redirect::to(&format!("/my/cases/{id}")).into_response(),
        Err(e @ ServiceError::NotFound(_)) => refuse(e),
        Err(e) => {
            let returned = Returned {
                rating_problem: Some(rating_problem(&e, lang.lang)),
                rating: typed,
                ..Returned::default()
            };
            let status = ApiError::from(e).status;
            case_page(&s, &lang, &user, &id, &returned, status).await
        }
    }
}

/// `GET /my/wallet`.
pub async fn wallet(State(s): State<AppState>, lang: PageLang, user: WebUser) -> Response {
    let subject = match citizen(&user) {
        Ok(s) => s.to_owned(),
        Err(r) => return r,
    };
    let l = lang.lang;
    let held = match s.services.certificates_held(&subject, None).await {
        Ok(h) => h,
        Err(e) => return refuse(e),
    };
    let body = html! {
        @if held.is_empty() { p { (l.t("暂无电子证照。", "No certificates yet.")) } }
        @for c in &held {
            section {
                h2 { (c.type_name) }
                p { (c.id) " · " (c.issuer_name) " · " (c.status.as_str()) }
                dl { @for (name, value) in &c.fields { dt { (name) } dd { (value) } } }
                a href={ "/my/wallet/" (c.id) "/copy" } download { (l.t("下载签章副本", "Download a sealed copy")) }
            }
        }
    };
    lang.respond(page(l, Some(&user), l.t("我的证照", "My certificates"), &[], body))
}

/// `GET /my/wallet/{id}/copy`: a sealed annotated copy, valid 30 days.
pub async fn copy(State(s): State<AppState>, user: WebUser, Path(id): Path<String>) -> Response {
    let subject = match citizen(&user) {
        Ok(s) => s.to_owned(),
        Err(r) => return r,
    };
    match s
        .services
        .annotated_copy(
            &subject,
            &id,
            "download",
            "本人下载 / downloaded by the holder",
            now_ms() + 30 * 86_400_000,
        )
        .await
    {
        Ok(copy) => (
            [
                (header::CONTENT_TYPE, "application/json; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}.sealed.json\"",
                        id.replace(['/', '"', '\\'], "_")
                    ),
                ),
            ],
            copy.sealed.to_json_pretty(),
        )
            .into_response(),
        Err(e) => refuse(e),
    }
}

/// `GET /my/consents`.
pub async fn consents(State(s): State<AppState>, lang: PageLang, user: WebUser) -> Response {
    let subject = match citizen(&user) {
        Ok(s) => s.to_owned(),
        Err(r) => return r,
    };
    let l = lang.lang;
    let all = match s.services.consents_of(&subject).await {
        Ok(c) => c,
        Err(e) => return refuse(e),
    };
    let now = now_ms();
    let body = html! {
        @if all.is_empty() { p { (l.t("暂无授权。", "No consents.")) } }
        table {
            thead { tr { th { (l.t("服务", "Service")) } th { (l.t("用途", "Purpose")) } th { (l.t("状态", "State")) } th { (l.t("操作", "Action")) } } }
            tbody {
                @for c in &all {
                    @let state = c.state_at(now);
                    tr {
                        td { (c.app) }
                        td { (c.purpose_text) }
                        td { (format!("{state:?}").to_lowercase()) }
                        td {
                            @if state == ConsentState::Granted {
                                form method="post" action={ "/my/consents/" (c.id) "/revoke" } {
                                    input type="hidden" name="csrf" value=(user.csrf);
                                    button type="submit" { (l.t("撤回", "Revoke")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    lang.respond(page(l, Some(&user), l.t("我的授权", "My consents"), &[], body))
}

/// `POST /my/consents/{id}/revoke`.
pub async fn revoke(
    State(s): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = user.check_csrf(&f) {
        return r;
    }
    let subject = match citizen(&user) {
        Ok(s) => s.to_owned(),
        Err(r) => return r,
    };
    match s.services.revoke_consent(&subject, &id).await {
        Ok(_) => Redirect::to("/my/consents").into_response(),
        Err(e) => refuse(e),
    }
}

/// `GET /my/inbox`.
pub async fn inbox(State(s): State<AppState>, lang: PageLang, user: WebUser) -> Response {
    let subject = match citizen(&user) {
        Ok(s) => s.to_owned(),
        Err(r) => return r,
    };
    let l = lang.lang;
    let messages = match s.services.inbox(&subject).await {
        Ok(m) => m,
        Err(e) => return refuse(e),
    };
    let body = html! {
        @if messages.is_empty() { p { (l.t("暂无消息。", "No messages.")) } }
        ul { @for m in &messages { li { (when(m.created_at)) " · " (m.body) } } }
    };
    lang.respond(page(l, Some(&user), l.t("消息", "Inbox"), &[], body))
}
