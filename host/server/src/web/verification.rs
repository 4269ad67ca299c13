//! Pages anyone may open without signing in, for whoever is shown a
//! certificate: its public status (where a certificate's QR code points;
//! status only, no personal data) and the check of a sealed copy's seal
//! against the platform's own key.

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use maud::{Markup, html};
use tongban_services::certificates::seal::SealedDocument;

use crate::state::AppState;
use crate::web::design::{BannerKind, ButtonKind, Problem, Row, banner, row, summary_list};
use crate::web::error::PageResult;
use crate::web::layout::{Lang, local_time, page};
use crate::web::session::{PageLang, Visitor};
use crate::web::vocabulary::certificate_status_tag;

/// The largest sealed copy the check reads; a real one is a few KiB. The
/// route's body limit enforces it before anything is read.
pub const SEALED_COPY_LIMIT: usize = 64 * 1024;

/// The most of an oversized upload's body read and dropped before it is
/// refused, so that an ordinary client gets the refusal on a usable
/// connection.
const DRAIN_LIMIT: usize = 2 * 1024 * 1024;

/// Read and drop up to `limit` bytes of `body`; whether it ended within them.
async fn drain(body: Body, limit: usize) -> bool {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    seen += data.len();
                    if seen > limit {
                        return false;
                    }
                }
            }
            Err(_) => return false,
        }
    }
    true
}

/// The field of the check's upload form.
const COPY_FIELD: &str = "copy";

/// What a path segment keeps as it is: letters, digits and RFC 3986's
/// other unreserved characters, so a certificate id stays readable.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A certificate id as one path segment.
pub fn path_segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, SEGMENT).to_string()
}

/// The path of a certificate's public status page.
pub fn status_path(id: &str) -> String {
    format!("/check/{}", path_segment(id))
}

/// `scheme://host` as the visitor reached this server, for links that leave
/// the page (a QR code is scanned by another device). The `Host` header is
/// used only when it is a plain host and port; otherwise loopback.
pub fn public_base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// A QR code of `text` as inline SVG, labelled for screen readers.
pub fn qr_svg(text: &str, label: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            // The renderer writes a standalone document; inline SVG has no XML
            // declaration, and gets a role and a name.
            let start = svg.find("<svg").unwrap_or(0);
            let label = maud::html! { (label) }.into_string();
            svg[start..].replacen(
                "<svg",
                &format!("<svg role=\"img\" aria-label=\"{label}\" focusable=\"false\""),
                1,
            )
        }
        // Only text past a QR code's capacity fails, and a status link is short.
        Err(_) => String::new(),
    }
}

/// `GET /check/{id}`: a certificate's status, public, for a verifier who
/// scanned its QR code.
pub async fn status(
    State(s): State<AppState>,
    lang: PageLang,
    Visitor(user): Visitor,
    Path(id): Path<String>,
) -> PageResult {
    let l = lang.lang;
    let status = s.services.certificate_status(&id).await?;
    let body = html! {
        (summary_list([
            row(l.t("证照编号", "Certificate number"), html! { code { (id) } }),
            row(l.t("当前状态", "Status now"), html! { span id="certificate-status" data-status=(status.as_str()) { (certificate_status_tag(status, l)) } }),
            row(l.t("核验时间", "Checked at"), html! { (local_time(tongban_services::now_ms())) }),
        ]))
        p { (l.t("本页只显示证照状态，不显示持证人信息。如需核对证照内容，请请持证人出示签章副本。", "This page shows only the certificate's status, not its holder. To check what it says, ask the holder for a sealed copy.")) }
        p { a href="/verify" { (l.t("验证签章副本", "Verify a sealed copy")) } }
    };
    Ok(lang.respond(page(
        l,
        user.as_ref(),
        l.t("证照状态核验", "Certificate status check"),
        &[],
        body,
    )))
}

/// `GET /verify`: the form to check a sealed copy.
pub async fn verify_form(lang: PageLang, Visitor(user): Visitor) -> PageResult {
    let l = lang.lang;
    Ok(lang.respond(page(
        l,
        user.as_ref(),
        l.t("验证签章副本", "Verify a sealed copy"),
        &[],
        form(l, None),
    )))
}

/// The upload form, with its problem when a check was refused.
fn form(l: Lang, problem: Option<&str>) -> Markup {
    html! {
        p { (l.t("选择持证人提供的签章副本文件（.sealed.json），平台用自己的签章公钥核对签章，并显示证照当前状态。", "Choose the sealed copy (.sealed.json) the holder gave you. The platform checks the seal with its own key and shows the certificate's status now.")) }
        form method="post" action="/verify" enctype="multipart/form-data" {
            label for=(COPY_FIELD) { (l.t("签章副本文件", "Sealed copy file")) }
            span.hint id="copy-hint" { (l.t("不超过 64 KiB", "Up to 64 KiB")) }
            @if let Some(message) = problem { span.field-error id="copy-error" { (message) } }
            input type="file" id=(COPY_FIELD) name=(COPY_FIELD) accept=".json,application/json" aria-describedby="copy-hint";
            div.button-group { button type="submit" class=(ButtonKind::Primary.class()) id="verify-copy" { (l.t("验证", "Verify")) } }
        }
    }
}

/// `POST /verify`: check a sealed copy's seal with the platform's key, then
/// show what it says and the certificate's status now. A copy that is
/// malformed or whose seal does not verify is said so, never shown as valid.
pub async fn verify(State(s): State<AppState>, lang: PageLang, Visitor(user): Visitor, request: Request) -> PageResult {
    let l = lang.lang;
    let title = l.t("验证签章副本", "Verify a sealed copy");
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A refusal that leaves some of the body unread ends the connection, and
    // says so, so that the client does not send its next request on it.
    let refuse_closing = |status: StatusCode, message: String, close: bool| {
        let problems = [Problem {
            field_id: COPY_FIELD.into(),
            message: message.clone(),
        }];
        let mut response = lang.respond((
            status,
            page(l, user.as_ref(), title, &problems, form(l, Some(&message))),
        ));
        if close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(response)
    };
    let refuse = |status: StatusCode, message: String| refuse_closing(status, message, false);
    let too_large = || {
        format!(
            "{} ({} KiB)",
            l.t(
                "文件超过上限，不是签章副本",
                "The file is over the limit; it is not a sealed copy"
            ),
            SEALED_COPY_LIMIT / 1024
        )
    };
    // A body declared larger than the bound is refused from its headers.
    // One up to [`DRAIN_LIMIT`] is read and dropped first, so the answer
    // reaches a client still sending and the connection stays usable; a
    // larger one is not waited for.
    if let Some(length) = declared.filter(|n| *n > SEALED_COPY_LIMIT as u64) {
        let drained = length <= DRAIN_LIMIT as u64 && drain(request.into_body(), DRAIN_LIMIT).await;
        return refuse_closing(StatusCode::PAYLOAD_TOO_LARGE, too_large(), !drained);
    }
    let multipart = Multipart::from_request(request, &s).await;
    let text = match read_copy(multipart).await {
        Ok(Some(text)) => text,
        Ok(None) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                l.t("请选择签章副本文件", "Choose a sealed copy file").into(),
            );
        }
        Err((status, _)) if status == StatusCode::PAYLOAD_TOO_LARGE => {
            return refuse_closing(status, too_large(), true);
        }
        // A body that broke off or is not a form is the sender's problem.
        Err((_, detail)) => {
            return refuse_closing(
                StatusCode::BAD_REQUEST,
                format!(
                    "{}: {detail}",
                    l.t("上传的表单无法读取", "The upload could not be read")
                ),
                true,
            );
        }
    };
    let sealed = match SealedDocument::from_json(&text) {
        Ok(sealed) => sealed,
        Err(e) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                l.summarised("文件不是签章副本", &e.to_string()),
            );
        }
    };
    let key = s.services.keys().await?.seal.public_key_hex();
    let verdict = sealed.verify(&key);
    let document = &sealed.document;
    let certificate = document.get("certificate").unwrap_or(document);
    let text_of = |value: Option<&serde_json::Value>| value.and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let id = text_of(certificate.get("id"));
    let status_now = match (&verdict, id.is_empty()) {
        (Ok(()), false) => s.services.certificate_status(&id).await.ok(),
        _ => None,
    };
    let mut rows: Vec<Row> = vec![
        row(
            l.t("证照", "Certificate"),
            html! { (text_of(certificate.get("type-name"))) },
        ),
        row(l.t("证照编号", "Number"), html! { code { (id) } }),
        row(
            l.t("持证人", "Holder"),
            html! { (text_of(certificate.get("holder-name"))) },
        ),
        row(
            l.t("发证机关", "Issued by"),
            html! { (text_of(certificate.get("issuer-name"))) },
        ),
    ];
    if let Some(expires) = document.get("expires-at").and_then(|v| v.as_i64()) {
        rows.push(row(
            l.t("副本有效期至", "Copy valid until"),
            html! { (local_time(expires)) },
        ));
    }
    if let Some(status) = status_now {
        rows.push(row(
            l.t("证照当前状态", "Certificate status now"),
            html! { (certificate_status_tag(status, l)) },
        ));
    }
    let body = html! {
        @match &verdict {
            Ok(()) => (banner(BannerKind::Success, l.t("签章有效", "The seal is valid"), html! {
                p id="seal-verdict" data-verdict="valid" { (l.t("该副本由本平台签章，内容未被改动。", "This copy was sealed by this platform and has not been altered.")) }
            })),
            Err(e) => (banner(BannerKind::Warning, l.t("签章无效", "The seal is not valid"), html! {
                p id="seal-verdict" data-verdict="invalid" { (l.summarised("该副本的签章无法通过核验，请勿采信其内容。", &e.to_string())) }
            })),
        }
        @if verdict.is_ok() { (summary_list(rows)) }
        p { a href="/verify" { (l.t("验证另一份副本", "Verify another copy")) } }
    };
    let status = if verdict.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(lang.respond((status, page(l, user.as_ref(), title, &[], body))))
}

/// The uploaded copy's text, `None` when no file was chosen. The body is
/// bounded by the route's limit ([`SEALED_COPY_LIMIT`]), so an oversized
/// upload is a 413 here, not memory spent.
async fn read_copy(multipart: Result<Multipart, MultipartRejection>) -> Result<Option<String>, (StatusCode, String)> {
    let mut multipart = multipart.map_err(|e| (e.status(), e.body_text()))?;
    let mut copy = None;
    while let Some(field) = multipart.next_field().await.map_err(|e| (e.status(), e.body_text()))? {
        if field.name() == Some(COPY_FIELD) {
            let bytes = field.bytes().await.map_err(|e| (e.status(), e.body_text()))?;
            if !bytes.is_empty() {
                copy = Some(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    Ok(copy)
}
