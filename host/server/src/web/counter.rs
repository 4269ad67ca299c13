//! Window intake (窗口受理, 代办): a window clerk applies for a citizen who is
//! at the counter. The clerk chooses one of the services served in their
//! org's region and enters the citizen's resident ID number, fills in the
//! item's form (rendered from its JSON Schema like the citizen's, but with
//! nothing prefilled: the clerk's own identity is not the applicant's, and
//! the citizen's data is read only by the app under the citizen's consent),
//! and submits it through the same `flows::apply` as the API and the
//! citizen's page. The case is the citizen's, on the window
//! channel, with the clerk recorded as acting for them; the citizen follows
//! it online under "My cases".
//!
//! Consent: the app reads the applicant's identity and certificates under
//! the applicant's own live consent, exactly as for an online application;
//! a clerk cannot give it for them. The form page says when the consent is
//! missing, and a submission without it is refused by the app
//! (`consent-required`), shown in the error summary.
//!
//! The application is made in the region of the clerk's org (where the
//! counter is and where the case is accepted), for the version of the app
//! that serves the applicant there.

use crate::web::design::{BannerKind, banner};
use std::collections::{BTreeMap, HashMap};

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::html;
use tongban_registry::market::orgs;
use tongban_registry::release::Role;
use tongban_services::identity::mask_id_number;
use tongban_services::subjects::Subject;

use super::error::{PageError, PageResult, form_refusal, status_of};
use super::form;
use super::layout::{Lang, Problem, page};
use super::session::{PageLang, WebUser};
use crate::flows::access;
use crate::flows::calls::served;
use crate::flows::consent::requested_scopes;
use crate::flows::{FlowError, apply};
use crate::state::AppState;

/// The clerk's org and the region it serves; anyone else is refused.
async fn counter_clerk(s: &AppState, user: &WebUser) -> Result<(String, String), PageError> {
    let org = access::staff_org(&user.case_actor(), &[Role::WindowClerk])?.to_owned();
    let region = orgs::get_org(s.market.db(), &org).await?.region;
    Ok((org, region))
}

/// What the clerk chose and typed on the first page.
#[derive(Debug, Default)]
struct Chosen {
    app: String,
    id_number: String,
}

impl Chosen {
    fn from_form(q: &HashMap<String, String>) -> Chosen {
        Chosen {
            app: q.get("app").map(|a| a.trim().to_owned()).unwrap_or_default(),
            id_number: q.get("id_number").map(|n| n.trim().to_owned()).unwrap_or_default(),
        }
    }
}

/// The applicant at the counter by their resident ID number; the problem is
/// against the ID number field.
async fn applicant(s: &AppState, id_number: &str, l: Lang) -> Result<Subject, (Problem, StatusCode)> {
    let problem = |message: String| Problem {
        field_id: "id_number".into(),
        message,
    };
    if id_number.is_empty() {
        return Err((
            problem(
                l.t(
                    "请输入申请人的身份证号",
                    "enter the resident ID number of the applicant at the counter",
                )
                .into(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    s.services.subject_by_id_number(id_number).await.map_err(|e| {
        let e = FlowError::from(e);
        let (status, _) = status_of(&e);
        let message = match (l, status) {
            (Lang::Zh, StatusCode::NOT_FOUND) => format!("没有登记此身份证号的人员 / {e}"),
            _ => e.to_string(),
        };
        (problem(message), status)
    })
}

/// `GET /work/counter`: choose the service and enter the applicant's ID
/// number.
pub async fn start(State(s): State<AppState>, lang: PageLang, user: WebUser) -> PageResult {
    let (_, region) = counter_clerk(&s, &user).await?;
    let chosen = Chosen::from_form(&HashMap::new());
    choose_page(&s, &lang, &user, &region, &chosen, &[], StatusCode::OK).await
}

/// `POST /work/counter`: check the service and the applicant, then show the
/// service's form. A post, not a link: the resident ID number must never sit
/// in a URL, where browser history, proxies and the sign-in redirect's
/// `next` would keep it.
pub async fn choose(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    let (_, region) = counter_clerk(&s, &user).await?;
    let l = lang.lang;
    let chosen = Chosen::from_form(&f);
    let mut problems = Vec::new();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if chosen.app.is_empty() {
        problems.push(Problem {
            field_id: "app".into(),
            message: l.t("请选择要办理的服务", "choose the service to apply for").into(),
        });
    }
    if let Err((problem, why)) = applicant(&s, &chosen.id_number, l).await {
        problems.push(problem);
        status = why;
    }
    if !problems.is_empty() {
        return choose_page(&s, &lang, &user, &region, &chosen, &problems, status).await;
    }
    counter_form(
        &s,
        &lang,
        &user,
        &region,
        &chosen.app,
        &chosen.id_number,
        &HashMap::new(),
        &BTreeMap::new(),
        StatusCode::OK,
    )
    .await
}

/// The first page: the services served in the clerk's region, and the ID number.
async fn choose_page(
    s: &AppState,
    lang: &PageLang,
    user: &WebUser,
    region: &str,
    chosen: &Chosen,
    problems: &[Problem],
    status: StatusCode,
) -> PageResult {
    let l = lang.lang;
    let entries = s.market.catalog(None, 1, 100).await?;
    // Served in the region at all: the active version, or a rollout that
    // reaches everyone. The applicant's own version is resolved on the next
    // page, once they are known.
    let serving = s.serving.load();
    let served: Vec<_> = entries
        .into_iter()
        .filter(|e| serving.resolve(&e.id, region, "").is_some())
        .collect();
    let error_of = |field: &str| problems.iter().find(|p| p.field_id == field).map(|p| p.message.clone());
    let app_error = error_of("app");
    let id_error = error_of("id_number");
    let body = html! {
        p { (l.t("为到窗口办事的申请人代为提交申请。办件属于申请人，申请人可以在网上查看进度。",
                 "Apply for a citizen who is at the counter. The case is theirs, and they can follow it online.")) }
        p { (l.t("服务地区：", "Services of region ")) (region) }
        form method="post" action="/work/counter" {
            input type="hidden" name="csrf" value=(user.csrf);
            label for="app" { (l.t("服务事项", "Service")) }
            @if let Some(message) = &app_error { span.field-error id="app-error" { (message) } }
            select id="app" name="app" aria-describedby=[app_error.as_ref().map(|_| "app-error")] {
                option value="" { (l.t("请选择", "Choose")) }
                @for e in &served {
                    option value=(e.id) selected[chosen.app == e.id] {
                        (if l == Lang::En && !e.name_en.is_empty() { &e.name_en } else { &e.name_zh })
                    }
                }
            }
            label for="id_number" { (l.t("申请人身份证号", "Applicant's resident ID number")) }
            @if let Some(message) = &id_error { span.field-error id="id_number-error" { (message) } }
            input name="id_number" id="id_number" type="text" autocomplete="off" maxlength="18"
                value=(chosen.id_number) aria-describedby=[id_error.as_ref().map(|_| "id_number-error")];
            div.button-group { button type="submit" id="start" { (l.t("下一步", "Continue")) } }
        }
    };
    Ok(lang.respond((
        status,
        page(l, Some(user), l.t("窗口受理", "Counter intake"), problems, body),
    )))
}

/// The service's form for the applicant, with what was typed and the
/// problems when it comes back. An unknown applicant or a service that does
/// not serve them goes back to the first page with the problem named.
#[allow(clippy::too_many_arguments)]
async fn counter_form(
    s: &AppState,
    lang: &PageLang,
    user: &WebUser,
    region: &str,
    app: &str,
    id_number: &str,
    values: &HashMap<String, String>,
    errors: &BTreeMap<String, String>,
    status: StatusCode,
) -> PageResult {
    let l = lang.lang;
    let chosen = Chosen {
        app: app.to_owned(),
        id_number: id_number.to_owned(),
    };
    let person = match applicant(s, id_number, l).await {
        Ok(p) => p,
        Err((problem, status)) => return choose_page(s, lang, user, region, &chosen, &[problem], status).await,
    };
    let loaded = match served(s, region, app, &person.id).await {
        Ok((_, loaded)) => loaded,
        Err(e) => {
            let (status, _) = status_of(&e);
            let problem = Problem {
                field_id: "app".into(),
                message: e.to_string(),
            };
            return choose_page(s, lang, user, region, &chosen, &[problem], status).await;
        }
    };
    let manifest = &loaded.manifest;
    let Some(item) = manifest.items.first() else {
        return Err(PageError::not_found(format!("{app} declares no items")));
    };
    let (scopes, _) = requested_scopes(manifest);
    let mut consented = true;
    for scope in &scopes {
        if s.services
            .covering_consent(&person.id, app, scope, &item.code)
            .await
            .is_err()
        {
            consented = false;
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
    let problems: Vec<Problem> = errors
        .iter()
        .map(|(field, message)| Problem {
            field_id: if field.is_empty() {
                "counter-form".into()
            } else {
                form::field_id(field)
            },
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
        p id="applicant" {
            (l.t("窗口代办 · 申请人身份证号：", "At the counter · applicant's ID number: "))
            (mask_id_number(&person.id_number.clone().unwrap_or_default()))
        }
        @if !consented {
            (banner(BannerKind::Warning, l.t("尚未授权", "No consent yet"), html! {
                p id="consent-needed" {
                    strong { (l.t("申请人尚未授权本服务读取所需信息。", "The applicant has not consented to what this service reads.")) }
                    " "
                    (l.t("请申请人登录通办，在本服务页面同意授权后再提交，否则申请会被拒绝。",
                         "Ask them to sign in to Tongban and agree on this service's page first; otherwise the application is refused."))
                }
            }))
        }
        form id="counter-form" method="post" action={ "/work/counter/" (app) } novalidate {
            input type="hidden" name="csrf" value=(user.csrf);
            input type="hidden" name="submission_key" value=(key);
            input type="hidden" name="id_number" value=(id_number);
            (form::fields(loaded.forms.get(&item.code).unwrap_or(&empty), values, errors, l))
            div.button-group { button type="submit" id="submit" { (l.t("代为提交申请", "Submit for the applicant")) } }
        }
    };
    Ok(lang.respond((status, page(l, Some(user), &title, &problems, body))))
}

fn fresh_key() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    hex::encode(bytes)
}

/// `POST /work/counter/{app}`: submit for the applicant through the one
/// application path, then on to the staff's case page. A form with problems
/// comes back with what was typed and every problem.
pub async fn submit(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Path(app): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    let (_, region) = counter_clerk(&s, &user).await?;
    let id_number = f.get("id_number").map(|n| n.trim().to_owned()).unwrap_or_default();
    let Ok(applying) = apply::begin(&s, &user.case_actor(), &app, Some(&region), None, Some(&id_number)).await else {
        // An unknown applicant, or a service that does not serve them: the
        // first page names the problem and answers with its status.
        return counter_form(
            &s,
            &lang,
            &user,
            &region,
            &app,
            &id_number,
            &f,
            &BTreeMap::new(),
            StatusCode::OK,
        )
        .await;
    };
    let empty = serde_json::json!({});
    let form = form::read(applying.schema().unwrap_or(&empty), &f);
    let (errors, status): (BTreeMap<String, String>, StatusCode) =
        match apply::submit(&s, &applying, &form, f.get("submission_key").cloned()).await {
            Ok(applied) => return Ok(Redirect::to(&format!("/work/cases/{}", applied.case.id)).into_response()),
            Err(e) => form_refusal(e),
        };
    counter_form(&s, &lang, &user, &region, &app, &id_number, &f, &errors, status).await
}
