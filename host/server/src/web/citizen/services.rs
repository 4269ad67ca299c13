//! A citizen's services: those that serve me in my region (searchable),
//! one service with its consent page and its form (prefilled under consent,
//! naming the version that serves me), and applying through the one flow
//! the API uses.

use crate::web::design::ButtonKind;
use std::collections::{BTreeMap, HashMap};

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use tongban_registry::release::Role;
use tongban_services::consent::ConsentState;
use tongban_services::consents::{DEFAULT_CONSENT_MS, attribute_scope, certificate_scope};

use super::field_problems;
use crate::flows::apply;
use crate::flows::consent::{self, requested_scopes};
use crate::state::AppState;
use crate::web::error::{PageError, PageResult, form_refusal};
use crate::web::form;
use crate::web::layout::{Lang, page};
use crate::web::session::{Citizen, PageLang, Visitor, WebUser};

/// How many catalogue entries the home page lists for a visitor without a
/// region.
const HOME_PAGE_SIZE: i64 = 50;

/// `GET /`: the services of my region, searchable.
pub async fn home(
    State(s): State<AppState>,
    lang: PageLang,
    Visitor(user): Visitor,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let l = lang.lang;
    if let Some(u) = &user
        && matches!(u.actor.role, Role::WindowClerk | Role::Handler)
    {
        return Ok(Redirect::to("/work").into_response());
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
    let served = served?;
    let body = html! {
        form method="get" action="/" role="search" {
            label for="q" { (l.t("搜索服务", "Search services")) }
            div.search {
                input id="q" name="q" type="search" value=(query.clone().unwrap_or_default());
                button type="submit" class=(ButtonKind::Secondary.class()) { (l.t("搜索", "Search")) }
            }
        }
        @if let Some(region) = &region {
            p { (l.t("您所在地区的服务：", "Services of your region: ")) (region) }
        }
        @if served.is_empty() {
            p { (l.t("没有找到服务。", "No services found.")) }
        }
        ul.card-list {
            @for e in &served {
                li.card {
                    h2 { a href={ "/services/" (e.id) } { (if l == Lang::En && !e.name_en.is_empty() { &e.name_en } else { &e.name_zh }) } }
                }
            }
        }
    };
    Ok(lang.respond(page(
        l,
        user.as_ref(),
        l.t("政务服务", "Government services"),
        &[],
        body,
    )))
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
pub async fn service(
    State(s): State<AppState>,
    lang: PageLang,
    Citizen { user, .. }: Citizen,
    Path(app): Path<String>,
) -> PageResult {
    let applying = apply::begin(&s, &user.case_actor(), &app, None, None, None).await?;
    let l = lang.lang;
    let manifest = &applying.loaded.manifest;
    let version = manifest.app.version.to_string();
    let item = &applying.item;
    let (scopes, purpose) = requested_scopes(manifest);
    let uncovered = consent::uncovered(&s, &applying.person.id, manifest, &item.code).await;
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
            p {
                strong { (l.t("用途：", "Purpose: ")) }
                (match (l, &item.name.en) { (Lang::En, Some(en)) => en.as_str(), _ => item.name.zh_cn.as_str() })
                "（" code { (item.code) } "）：" (l.part_of(&purpose))
            }
            p { (l.t("授权有效期 90 天，您可以随时在“我的授权”中撤回。", "The consent lasts 90 days; you can revoke it at any time under My consents.")) }
            form method="post" action={ "/services/" (app) "/consent" } {
                input type="hidden" name="csrf" value=(user.csrf);
                div.button-group {
                    button type="submit" name="decision" value="grant" { (l.t("同意", "I agree")) }
                    button type="submit" class=(ButtonKind::Secondary.class()) name="decision" value="deny" { (l.t("不同意", "I do not agree")) }
                }
            }
        };
        return Ok(lang.respond(page(l, Some(&user), &title, &[], body)));
    }
    let values = prefill(&s, &applying).await;
    Ok(lang.respond(apply_page(
        l,
        &user,
        &title,
        &app,
        &version,
        applying.schema(),
        &values,
        &BTreeMap::new(),
        StatusCode::OK,
    )))
}

/// Values for the form's `x-prefill` fields, from the citizen's own identity
/// attributes and certificates, read under the consent they just gave. The
/// read is recorded in the provenance log like an app's; if the record cannot
/// be written, nothing is prefilled.
async fn prefill(s: &AppState, applying: &apply::Applying) -> HashMap<String, String> {
    let mut values = HashMap::new();
    let loaded = &applying.loaded;
    let person = &applying.person;
    let subject = person.id.as_str();
    let item = applying.item.code.as_str();
    let app = loaded.manifest.app.id.as_str();
    let Some(schema) = applying.schema() else {
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
            div.button-group { button type="submit" { (l.t("提交申请", "Submit the application")) } }
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
    Citizen { user, subject }: Citizen,
    Path(app): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    let applying = apply::begin(&s, &user.case_actor(), &app, None, None, None).await?;
    let decision = match f.get("decision").map(String::as_str) {
        Some("grant") => consent::Decision::Grant(DEFAULT_CONSENT_MS),
        Some("deny") => consent::Decision::Deny,
        _ => return Err(PageError::bad_request("decision is grant or deny")),
    };
    let decided = consent::decide(&s, &subject, &applying.loaded.manifest, &applying.item, decision).await?;
    Ok(if decided.state == ConsentState::Granted {
        Redirect::to(&format!("/services/{app}")).into_response()
    } else {
        Redirect::to("/").into_response()
    })
}

/// `POST /services/{app}/apply`: the form, through the same flow as the API.
/// A form with problems comes back with what was typed and every problem.
pub async fn apply(
    State(s): State<AppState>,
    lang: PageLang,
    Citizen { user, .. }: Citizen,
    Path(app): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    let applying = apply::begin(&s, &user.case_actor(), &app, None, None, None).await?;
    let l = lang.lang;
    let schema = applying.schema();
    let empty = serde_json::json!({});
    let form = form::read(schema.unwrap_or(&empty), &f);
    let title = applying.loaded.manifest.app.name.zh_cn.clone();
    let version = applying.loaded.manifest.app.version.to_string();
    let (errors, status): (BTreeMap<String, String>, StatusCode) =
        match apply::submit(&s, &applying, &form, f.get("submission_key").cloned()).await {
            Ok(applied) => return Ok(Redirect::to(&format!("/my/cases/{}", applied.case.id)).into_response()),
            Err(e) => form_refusal(e),
        };
    Ok(apply_page(
        l, &user, &title, &app, &version, schema, &f, &errors, status,
    ))
}
