//! The citizen's pages: services of my region, one service with its consent
//! and its form (naming the version that serves me), my cases with their
//! timeline and fees and, once finished, their rating (好差评), my
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
use crate::api::cases::{Application, Refusal, submit_application};
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
    let entries = match s.market.catalog(query.as_deref(), 1, 50).await {
        Ok(e) => e,
        Err(e) => return refuse(e),
    };
    let region = match user.as_ref().and_then(|u| u.subject.clone()) {
        Some(subject) => s.services.subject(&subject).await.map(|p| p.region).ok(),
        None => None,
    };
    let subject = user.as_ref().and_then(|u| u.subject.clone()).unwrap_or_default();
    let served: Vec<_> = entries
        .into_iter()
        .filter(|e| match &region {
            Some(r) => s.serving.load().resolve(&e.id, r, &subject).is_some(),
            None => true,
        })
        .collect();
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
    let problems: Vec<Problem> = errors
        .iter()
        .map(|(field, message)| Problem {
            field_id: form::field_id(field),
            message: if field.is_empty() {
                message.clone()
            } else {
                format!("{field}: {message}")
            },
        })
        .collect();
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

/// The timeline and fees of a case, shared by the citizen's and the staff's pages.
pub async fn case_details(s: &AppState, id: &str, l: Lang) -> Result<Markup, Response> {
    let case = s.services.case(id).await.map_err(refuse)?;
    let timeline = s.services.case_timeline(id).await.map_err(refuse)?;
    let payments = s.services.payments_of_case(id).await.map_err(refuse)?;
    Ok(html! {
        dl {
            dt { (l.t("事项", "Item")) } dd { (case.item) }
            dt { (l.t("状态", "Stage")) } dd id="stage" { (stage_label(case.stage.as_str(), l)) }
            dt { (l.t("渠道", "Channel")) } dd { (case.channel) @if let Some(clerk) = &case.on_behalf_of { " · " (l.t("代办人员 ", "clerk ")) (clerk) } }
            dt { (l.t("受理机构", "Accepting org")) } dd { (case.accepting_org) }
            dt { (l.t("办理机构", "Handling org")) } dd { (case.handling_org) }
            @if let Some(due) = case.due_at {
                dt { (l.t("承诺办结时间", "Due")) }
                dd { (when(due)) @if case.overdue(now_ms()) { " " span.overdue { (l.t("已超期", "Overdue")) } } }
            }
        }
        @if !payments.is_empty() {
            h2 { (l.t("费用", "Fees")) }
            ul {
                @for p in &payments {
                    li {
                        (p.description) " ¥" (format!("{}.{:02}", p.amount_fen / 100, p.amount_fen % 100)) " — " (p.status.as_str())
                        @if matches!(p.status.as_str(), "created" | "started") { " " a href={ "/pay/" (p.id) } { (l.t("去支付", "Pay now")) } }
                    }
                }
            }
        }
        h2 { (l.t("办理进度", "Timeline")) }
        ol {
            @for e in &timeline {
                li { (when(e.at)) " · " (e.kind) @if !e.detail.is_empty() { " · " (e.detail) } " · " (e.actor) }
            }
        }
    })
}

/// `GET /my/cases/{id}`: the case and, once it is finished, its rating
/// form or the rating given.
pub async fn case(State(s): State<AppState>, lang: PageLang, user: WebUser, Path(id): Path<String>) -> Response {
    case_page(&s, &lang, &user, &id, &RatingTyped::default(), None, StatusCode::OK).await
}

/// What the citizen chose and typed in the rating form, kept when it comes
/// back with a problem.
#[derive(Debug, Default)]
struct RatingTyped {
    level: String,
    comment: String,
}

/// The citizen's case page, with a refused rating's problem when there is one.
async fn case_page(
    s: &AppState,
    lang: &PageLang,
    user: &WebUser,
    id: &str,
    typed: &RatingTyped,
    problem: Option<Problem>,
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
    let evaluation = match evaluation(s, user, &case, typed, problem.as_ref(), l).await {
        Ok(markup) => markup,
        Err(e) => return refuse(e),
    };
    let body = html! { (details) (evaluation) };
    let problems: Vec<Problem> = problem.into_iter().collect();
    lang.respond((
        status,
        page(l, Some(user), &format!("{} {id}", l.t("办件", "Case")), &problems, body),
    ))
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
    let said = |zh: &str, m: &str| match l {
        Lang::Zh => format!("{zh} / {m}"),
        Lang::En => m.to_owned(),
    };
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
            let problem = rating_problem(&e, lang.lang);
            let status = ApiError::from(e).status;
            case_page(&s, &lang, &user, &id, &typed, Some(problem), status).await
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
