//! The auditor's page: the hash-chained audit log (newest first, filtered by
//! action, actor and target, a page of at most [`MAX_LIMIT`] entries at a
//! time), the personal-data access records (provenance) of a subject or a
//! case, and the verification `tongban audit verify` runs: the chain walked
//! from its first entry, and every provenance row checked against its entry.
//!
//! Who may read it is the API's rule (`api::audit`, `api::provenance`):
//! auditors, security officers and platform admins. Like the API, the
//! provenance records are listed only for a named subject or case, so nobody
//! pages through everyone's records by default.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::{Markup, html};
use tongban_registry::market::audit_log::{self, AuditFilter, AuditVerification};
use tongban_services::provenance::ProvenanceFilter;

use super::design::{BannerKind, ButtonKind, banner, table_box};
use super::error::{PageError, PageResult};
use super::layout::{Lang, Problem, local_time, page};
use super::session::{PageLang, WebUser};
use crate::flows::access;
use crate::state::AppState;

/// Entries on one page unless `?limit=` asks for fewer or more.
pub const DEFAULT_LIMIT: i64 = 200;
/// The most entries one page shows.
pub const MAX_LIMIT: i64 = 1000;

fn auditor(user: &WebUser) -> Result<(), PageError> {
    Ok(access::require(&user.case_actor(), access::AUDIT_ROLES)?)
}

/// Whether `text` is an identifier (ASCII, no spaces), shown as code.
fn is_identifier(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_graphic())
}

/// A query parameter, trimmed; missing is empty.
fn param(q: &HashMap<String, String>, name: &str) -> String {
    q.get(name).map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// A whole-number query parameter of at least 1 and at most `max`, or the
/// problem naming it, as `what` describes the number.
fn number(q: &HashMap<String, String>, name: &str, max: i64, what: &str) -> Result<Option<i64>, Problem> {
    let raw = param(q, name);
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<i64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
        _ => Err(Problem {
            field_id: name.to_owned(),
            message: format!("`{name}`: {what} `{raw}`"),
        }),
    }
}

/// What the verification found, as `tongban audit verify` reports it, in
/// the page's language (a break is named in the chain's own words).
fn verification(l: Lang, chain: Result<AuditVerification, String>, provenance: Result<u64, String>) -> Markup {
    let (intact, text) = match (chain, provenance) {
        (
            Ok(AuditVerification {
                sealed,
                batches,
                pending,
                ..
            }),
            Ok(records),
        ) => (
            true,
            match l {
                Lang::Zh => format!(
                    "完整：已封存 {sealed} 条（{batches} 批，签名有效），{pending} 条待封存；{records} 条溯源记录一致"
                ),
                Lang::En => format!(
                    "Intact: {sealed} entries sealed in {batches} signed batches, {pending} waiting to be sealed; {records} provenance records match"
                ),
            },
        ),
        (Err(broken), _) => (false, l.summarised("审计链被篡改", &broken)),
        (Ok(_), Err(broken)) => (
            false,
            l.summarised("溯源记录被篡改", &format!("provenance broken: {broken}")),
        ),
    };
    let (kind, title) = if intact {
        (BannerKind::Success, l.t("校验通过", "Verified"))
    } else {
        (BannerKind::Warning, l.t("校验未通过", "Verification failed"))
    };
    banner(
        kind,
        title,
        html! { p id="verify-result" data-intact=(intact) { strong { (text) } } },
    )
}

/// The page for the filters in `q`, with a verification result when one ran.
async fn audit_page(
    s: &AppState,
    l: Lang,
    user: &WebUser,
    q: &HashMap<String, String>,
    verified: Option<Markup>,
) -> PageResult {
    let mut problems = Vec::new();
    let before = number(
        q,
        "before",
        i64::MAX,
        l.t(
            "应为审计条目序号（正整数），而不是",
            "is an audit entry number (1 or more), not",
        ),
    )
    .unwrap_or_else(|p| {
        problems.push(p);
        None
    });
    let limit = number(
        q,
        "limit",
        MAX_LIMIT,
        l.t("应为 1 到 1000 的整数，而不是", "is a whole number from 1 to 1000, not"),
    )
    .unwrap_or_else(|p| {
        problems.push(p);
        None
    })
    .unwrap_or(DEFAULT_LIMIT);
    let filter = AuditFilter {
        action: param(q, "action"),
        actor: param(q, "actor"),
        target: param(q, "target"),
        before,
    };
    let entries = audit_log::search(s.market.db(), &filter, limit).await?;
    let (subject, case, app) = (param(q, "subject"), param(q, "case"), param(q, "app"));
    let provenance = if subject.is_empty() && case.is_empty() {
        None
    } else {
        let filter = ProvenanceFilter {
            subject: Some(subject.clone()).filter(|s| !s.is_empty()),
            case: Some(case.clone()).filter(|c| !c.is_empty()),
        };
        match s.services.provenance(&filter).await {
            Ok(mut records) => {
                records.retain(|r| app.is_empty() || r.record.app == app);
                Some(records)
            }
            Err(e) => return Err(e.into()),
        }
    };
    let older = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.record.seq))
        .flatten()
        .map(|seq| {
            let mut next = url::form_urlencoded::Serializer::new(String::new());
            for name in ["action", "actor", "target", "subject", "case", "app"] {
                let value = param(q, name);
                if !value.is_empty() {
                    next.append_pair(name, &value);
                }
            }
            next.append_pair("before", &seq.to_string());
            next.append_pair("limit", &limit.to_string());
            format!("/audit?{}", next.finish())
        });
    let text_input = |id: &str, zh: &str, en: &str, hint: Option<(&str, &str)>| {
        html! {
            div.field {
                label for=(id) { (l.t(zh, en)) }
                @if let Some((zh, en)) = hint { span.hint id={ (id) "-hint" } { (l.t(zh, en)) } }
                input type="text" id=(id) name=(id) value=(param(q, id)) aria-describedby=[hint.map(|_| format!("{id}-hint"))];
            }
        }
    };
    let body = html! {
        form method="get" action="/audit" role="search" {
            fieldset.field-grid {
                legend { (l.t("筛选审计日志", "Filter the audit log")) }
                (text_input("action", "操作", "Action", Some(("如 release.revoke；release 匹配所有 release.* 操作", "e.g. release.revoke; release matches every release.* action"))))
                (text_input("actor", "操作人", "Actor", Some(("账号，如 security", "an account, e.g. security"))))
                (text_input("target", "对象（应用或主体）", "Target (app or subject)", Some(("对象包含此文字，如应用标识", "the entry's subject contains this text, e.g. an app id"))))
            }
            fieldset.field-grid {
                legend { (l.t("筛选溯源记录（须填主体或办件）", "Filter the provenance records (a subject or a case is required)")) }
                (text_input("subject", "主体标识", "Subject", None))
                (text_input("case", "办件编号", "Case", None))
                (text_input("app", "应用标识", "App", None))
            }
            input type="hidden" name="limit" value=(limit);
            div.button-group { button type="submit" { (l.t("筛选", "Filter")) } }
        }

        section id="verify-section" {
            h2 { (l.t("校验", "Verification")) }
            p { (l.t(
                "从第一条起逐条校验审计链，并将每条溯源记录与其审计条目核对。",
                "Walks the audit chain from its first entry and checks every provenance record against its entry."
            )) }
            @if let Some(result) = &verified { (result) }
            form method="post" action="/audit/verify" {
                input type="hidden" name="csrf" value=(user.csrf);
                button type="submit" class=(ButtonKind::Secondary.class()) id="verify" { (l.t("校验审计链", "Verify the audit chain")) }
            }
        }

        section id="audit-log" {
            h2 { (l.t("审计日志", "Audit log")) " (" (entries.len()) ")" }
            @if entries.is_empty() {
                p { (l.t("没有符合条件的条目。", "No entries match.")) }
            } @else {
                (table_box(l.t("审计日志", "Audit log"), html! { table {
                    thead { tr {
                        th scope="col" { (l.t("序号", "Seq")) } th scope="col" { (l.t("时间", "Time")) } th scope="col" { (l.t("操作人", "Actor")) }
                        th scope="col" { (l.t("操作", "Action")) } th scope="col" { (l.t("对象", "Target")) } th scope="col" { (l.t("哈希", "Hash")) }
                    } }
                    tbody { @for e in &entries {
                        tr data-seq=(e.record.seq) data-action=(e.record.action) {
                            td { (e.record.seq) } td { (local_time(e.record.at)) } td { code { (e.record.actor) } }
                            td { code { (e.record.action) } } td { code { (e.record.subject) } }
                            td {
                                @match &e.seal {
                                    Some(seal) => { code title=(seal.hash) { (seal.hash.get(..12).unwrap_or(&seal.hash)) } }
                                    None => { (l.t("待封存", "Not yet sealed")) }
                                }
                            }
                        }
                    } }
                } }))
            }
            @if let Some(href) = &older {
                p { a href=(href) { (l.t("更早的条目", "Older entries")) } }
            }
        }

        section id="provenance" {
            h2 { (l.t("个人数据访问记录（溯源）", "Personal-data access records (provenance)")) }
            @match &provenance {
                None => { p { (l.t("请填写主体标识或办件编号以查看溯源记录。", "Give a subject or a case to see its provenance records.")) } }
                Some(records) if records.is_empty() => { p { (l.t("没有符合条件的记录。", "No records match.")) } }
                Some(records) => { (table_box(l.t("溯源记录", "Provenance records"), html! { table {
                    thead { tr {
                        th scope="col" { (l.t("审计序号", "Audit seq")) } th scope="col" { (l.t("时间", "Time")) } th scope="col" { (l.t("应用", "App")) }
                        th scope="col" { (l.t("主体", "Subject")) } th scope="col" { (l.t("操作", "Operation")) } th scope="col" { (l.t("范围", "Scopes")) }
                        th scope="col" { (l.t("目的", "Purpose")) } th scope="col" { (l.t("授权", "Consent")) } th scope="col" { (l.t("办件", "Case")) }
                        th scope="col" { (l.t("结果", "Outcome")) }
                    } }
                    tbody { @for r in records {
                        tr data-seq=(r.audit_seq) {
                            td { (r.audit_seq) } td { (local_time(r.record.at)) }
                            td { code { (r.record.app) "@" (r.record.app_version) } }
                            td { code { (r.record.subject) } } td { code { (r.record.operation) } } td { code { (r.record.scopes.join(" ")) } }
                            td {
                                // An app may record a purpose as an identifier
                                // (a template's name) or as words.
                                @if is_identifier(&r.record.purpose) { code { (r.record.purpose) } } @else { (l.part_of(&r.record.purpose)) }
                            }
                            td { code { (r.record.consent.clone().unwrap_or_default()) } }
                            td { code { (r.record.case.clone().unwrap_or_default()) } } td { code { (r.record.outcome) } }
                        }
                    } }
                } })) }
            }
        }
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, page(l, Some(user), l.t("审计", "Audit"), &problems, body)).into_response())
}

/// `GET /audit?action=&actor=&target=&before=&limit=&subject=&case=&app=`.
pub async fn audit(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    auditor(&user)?;
    Ok(lang.respond(audit_page(&s, lang.lang, &user, &q, None).await?))
}

/// `POST /audit/verify`: what `tongban audit verify` checks, on the page.
pub async fn verify(
    State(s): State<AppState>,
    lang: PageLang,
    user: WebUser,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    auditor(&user)?;
    let chain = audit_log::verify(s.market.db())
        .await?
        .map_err(|broken| broken.to_string());
    let provenance = s.services.verify_provenance().await?;
    let result = verification(lang.lang, chain, provenance);
    Ok(lang.respond(audit_page(&s, lang.lang, &user, &HashMap::new(), Some(result)).await?))
}
