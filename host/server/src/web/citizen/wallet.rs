//! A citizen's certificates (电子证照), each with a sealed annotated copy to
//! download.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use maud::html;
use tongban_services::now_ms;

use crate::state::AppState;
use crate::web::error::PageResult;
use crate::web::layout::page;
use crate::web::session::{Citizen, PageLang};
use crate::web::vocabulary::certificate_status_label;

/// `GET /my/wallet`.
pub async fn wallet(State(s): State<AppState>, lang: PageLang, Citizen { user, subject }: Citizen) -> PageResult {
    let l = lang.lang;
    let held = s.services.certificates_held(&subject, None).await?;
    let body = html! {
        @if held.is_empty() { p { (l.t("暂无电子证照。", "No certificates yet.")) } }
        @for c in &held {
            section {
                h2 { (c.type_name) }
                p { (c.id) " · " (c.issuer_name) " · " span data-status=(c.status.as_str()) { (certificate_status_label(c.status, l)) } }
                dl { @for (name, value) in &c.fields { dt { (name) } dd { (value) } } }
                a href={ "/my/wallet/" (c.id) "/copy" } download { (l.t("下载签章副本", "Download a sealed copy")) }
            }
        }
    };
    Ok(lang.respond(page(l, Some(&user), l.t("我的证照", "My certificates"), &[], body)))
}

/// `GET /my/wallet/{id}/copy`: a sealed annotated copy, valid 30 days.
pub async fn copy(State(s): State<AppState>, Citizen { subject, .. }: Citizen, Path(id): Path<String>) -> PageResult {
    let copy = s
        .services
        .annotated_copy(
            &subject,
            &id,
            "download",
            "本人下载 / downloaded by the holder",
            now_ms() + 30 * 86_400_000,
        )
        .await?;
    Ok((
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
        .into_response())
}
