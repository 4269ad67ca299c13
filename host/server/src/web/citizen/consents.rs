//! A citizen's consents, each revocable while it is granted.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use maud::html;
use tongban_services::consent::ConsentState;
use tongban_services::now_ms;

use crate::state::AppState;
use crate::web::error::PageResult;
use crate::web::layout::page;
use crate::web::session::{Citizen, PageLang};
use crate::web::vocabulary::consent_state_label;

/// `GET /my/consents`.
pub async fn consents(State(s): State<AppState>, lang: PageLang, Citizen { user, subject }: Citizen) -> PageResult {
    let l = lang.lang;
    let all = s.services.consents_of(&subject).await?;
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
                        td data-state=(format!("{state:?}").to_lowercase()) { (consent_state_label(state, l)) }
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
