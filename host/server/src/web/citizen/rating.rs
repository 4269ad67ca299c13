//! Rating a finished case (好差评): a refused rating comes back on the case
//! page (whose rating section is `cases::evaluation`) with its field named.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use tongban_services::ServiceError;

use super::cases::{RatingTyped, Returned, case_page};
use crate::flows::{FlowError, rating};
use crate::state::AppState;
use crate::web::error::{PageResult, status_of};
use crate::web::layout::{Lang, Problem};
use crate::web::session::{Citizen, PageLang};

/// The field a refused rating's problem belongs to, and the problem in the
/// page's language: in Chinese a summary, then the service's own words.
fn rating_problem(e: &FlowError, l: Lang) -> Problem {
    let said = |zh: &str, m: &str| l.summarised(zh, m);
    let (field_id, message) = match e {
        FlowError::Input(p) if p.field == "level" => ("level-very-satisfied", said("请选择满意程度", &p.message)),
        FlowError::Input(p) if p.field == "comment" => ("comment", said("评价意见过长", &p.message)),
        FlowError::Service(ServiceError::Conflict(m)) => ("evaluation", said("暂不能评价", m)),
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
    Citizen { user, .. }: Citizen,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    let typed = RatingTyped {
        level: f.get("level").cloned().unwrap_or_default(),
        comment: f.get("comment").cloned().unwrap_or_default(),
    };
    match rating::rate(&s, &user.case_actor(), &id, &typed.level, &typed.comment).await {
        Ok(_) => Ok(Redirect::to(&format!("/my/cases/{id}")).into_response()),
        Err(e @ FlowError::Service(ServiceError::NotFound(_))) => Err(e.into()),
        Err(e) => {
            let returned = Returned {
                rating_problem: Some(rating_problem(&e, lang.lang)),
                rating: typed,
                ..Returned::default()
            };
            let (status, _) = status_of(&e);
            case_page(&s, &lang, &user, &id, &returned, status).await
        }
    }
}
