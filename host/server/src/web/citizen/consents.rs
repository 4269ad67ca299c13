//! A citizen's consents, each revocable while it is granted.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use maud::html;
use tongban_services::consent::ConsentState;
use tongban_services::now_ms;

use crate::state::AppState;
use crate::web::design::{ButtonKind, table_box};
use crate::web::error::PageResult;
use crate::web::layout::page;
use crate::web::session::{Citizen, PageLang};
use crate::web::vocabulary::consent_state_tag;

/// `GET /my/consents`.
pub async fn consents(State(s): State<AppState>, lang: PageLang, Citizen { user, subject }: Citizen) -> PageResult {
    let l = lang.lang;
    let all = s.services.consents_of(&subject).await?;
    let now = now_ms();
    let body = html! {
        @if all.is_empty() { p { (l.t("暂无授权。", "No consents.")) } }
        (table_box(l.t("我的授权", "My consents"), html! { table {
            thead { tr { th scope="col" { (l.t("服务", "Service")) } th scope="col" { (l.t("用途", "Purpose")) } th scope="col" { (l.t("状态", "State")) } th scope="col" { (l.t("操作", "Action")) } } }
            tbody {
                @for c in &all {
                    @let state = c.state_at(now);
                    tr {
                        td { (c.app) }
                        td { (l.part_of(&c.purpose_text)) }
                        td { (consent_state_tag(state, l)) }
                        td {
                            @if state == ConsentState::Granted {
                                form method="post" action={ "/my/consents/" (c.id) "/revoke" } {
                                    input type="hidden" name="csrf" value=(user.csrf);
                                    button type="submit" class=(ButtonKind::Warning.class()) { (l.t("撤回", "Revoke")) }
                                }
                            }
                        }
                    }
                }
            }
        } }))
    };
    Ok(lang.respond(page(l, Some(&user), l.t("我的授权", "My consents"), &[], body)))
}

/// `POST /my/consents/{id}/revoke`.
pub async fn revoke(
    State(s): State<AppState>,
    Citizen { user, subject }: Citizen,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    s.services.revoke_consent(&subject, &id).await?;
    Ok(Redirect::to("/my/consents").into_response())
}
