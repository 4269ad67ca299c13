//! A citizen's messages.

use axum::extract::State;
use maud::html;

use super::when;
use crate::state::AppState;
use crate::web::error::PageResult;
use crate::web::layout::page;
use crate::web::session::{Citizen, PageLang};

/// `GET /my/inbox`.
pub async fn inbox(State(s): State<AppState>, lang: PageLang, Citizen { user, subject }: Citizen) -> PageResult {
    let l = lang.lang;
    let messages = s.services.inbox(&subject).await?;
    let body = html! {
        @if messages.is_empty() { p { (l.t("暂无消息。", "No messages.")) } }
        ul.task-list aria-label=(l.t("消息", "Inbox")) {
            @for m in &messages { li.task-list__item { span { (l.part_of(&m.body)) } span.hint { (when(m.created_at)) } } }
        }
    };
    Ok(lang.respond(page(l, Some(&user), l.t("消息", "Inbox"), &[], body)))
}
