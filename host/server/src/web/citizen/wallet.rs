//! A citizen's certificates (电子证照): the wallet of certificate cards, each
//! certificate's own page with a QR code a verifier scans to check its
//! status, and a sealed annotated copy to download.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use maud::{Markup, PreEscaped, html};
use tongban_services::certificates::Certificate;
use tongban_services::now_ms;

use crate::state::AppState;
use crate::web::design::{ButtonKind, CertificateLabels, CertificateView, certificate_card};
use crate::web::error::{PageError, PageResult};
use crate::web::layout::{Lang, local_time, page};
use crate::web::session::{Citizen, PageLang};
use crate::web::verification;
use crate::web::vocabulary::certificate_status_tag;

/// `GET /my/wallet`.
pub async fn wallet(State(s): State<AppState>, lang: PageLang, Citizen { user, subject }: Citizen) -> PageResult {
    let l = lang.lang;
    let held = s.services.certificates_held(&subject, None).await?;
    let body = html! {
        @if held.is_empty() { p { (l.t("暂无电子证照。办件出证后，证照会出现在这里。", "No certificates yet. A certificate issued for one of your cases appears here.")) } }
        @for c in &held {
            (card(c, l, false, html! {
                a class=(ButtonKind::Primary.class()) href={ "/my/wallet/" (verification::path_segment(&c.id)) } {
                    (l.t("查看证照与二维码", "Open the certificate and its QR code"))
                }
            }))
        }
    };
    Ok(lang.respond(page(l, Some(&user), l.t("我的证照", "My certificates"), &[], body)))
}

/// `GET /my/wallet/{id}`: one certificate, its QR code for a verifier, the
/// sealed copy to download, and the way to verify that copy. Prints as an
/// A4 copy.
pub async fn certificate(
    State(s): State<AppState>,
    lang: PageLang,
    headers: HeaderMap,
    Citizen { user, subject }: Citizen,
    Path(id): Path<String>,
) -> PageResult {
    let l = lang.lang;
    let held = s.services.certificates_held(&subject, None).await?;
    let Some(c) = held.iter().find(|c| c.id == id) else {
        return Err(PageError::from(tongban_services::ServiceError::not_found(format!(
            "certificate {id}"
        ))));
    };
    let check_url = format!(
        "{}{}",
        verification::public_base(&headers),
        verification::status_path(&c.id)
    );
    let qr = verification::qr_svg(
        &check_url,
        l.t("证照状态核验二维码", "QR code to check this certificate's status"),
    );
    let segment = verification::path_segment(&c.id);
    let body = html! {
        div.certificate-page {
        (card(c, l, true, html! {
            a class=(ButtonKind::Primary.class()) href={ "/my/wallet/" (segment) "/copy" } download {
                (l.t("下载签章副本", "Download a sealed copy"))
            }
            a class=(ButtonKind::Secondary.class()) href="/verify" {
                (l.t("验证签章副本", "Verify a sealed copy"))
            }
        }))
        section.certificate__qr aria-labelledby="qr-title" {
            div id="qr" { (PreEscaped(qr)) }
            div {
                h2 id="qr-title" { (l.t("扫码核验", "Scan to check")) }
                p { (l.t("核验方扫描二维码，即可查看本证照当前是否有效（不显示个人信息）。", "A verifier scans the code to see whether this certificate is valid now (no personal data is shown).")) }
                p.certificate__url { a id="check-url" href=(check_url) { (check_url) } }
            }
        }
        }
        p.no-print { a href="/my/wallet" { (l.t("返回我的证照", "Back to my certificates")) } }
    };
    Ok(lang.respond(page(l, Some(&user), &c.type_name, &[], body)))
}

/// A certificate as a card, with `actions` at its foot: in the wallet its
/// type, holder, issuer, validity and status; on its own page also every
/// field it certifies (`in_full`).
fn card(c: &Certificate, l: Lang, in_full: bool, actions: Markup) -> Markup {
    let validity = match c.valid_until {
        Some(until) => format!("{} {} {}", day(c.valid_from), l.t("至", "to"), day(until)),
        None => format!(
            "{} {}",
            day(c.valid_from),
            l.t("起长期有效", "onwards, with no end date")
        ),
    };
    certificate_card(
        &CertificateView {
            id: &c.id,
            type_name: &c.type_name,
            holder: &c.holder_name,
            issuer: &c.issuer_name,
            validity,
            status: certificate_status_tag(c.status, l),
            fields: if in_full { &c.fields } else { &[] },
        },
        &CertificateLabels {
            number: l.t("证照编号", "Number"),
            holder: l.t("持证人", "Holder"),
            issuer: l.t("发证机关", "Issued by"),
            validity: l.t("有效期", "Valid"),
        },
        actions,
    )
}

/// A day as people in China read it.
fn day(ms: i64) -> String {
    local_time(ms).split(' ').next().unwrap_or_default().to_owned()
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
