//! Sign in and out. Passwords are checked with argon2id; failures are counted
//! per account and per client address (429 after too many); the session
//! cookie is HttpOnly and SameSite=Lax. The sign-in form carries a
//! pre-session token (`session::form_token`), so another site cannot sign a
//! visitor in to an account of its choosing.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use tongban_registry::market::sessions::{self, SignInError};

use super::error::PageResult;
use super::layout::{Problem, page};
use super::session::{PageLang, SESSION_COOKIE, WebUser, cookie, form_token, form_token_matches};
use crate::state::AppState;

/// Only local paths are followed after sign-in (no open redirect).
fn safe_next(next: Option<&String>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.len() <= 512
                && n.chars().all(|c| !c.is_control() && !c.is_whitespace() && c != '\\')
                && !n[1..].starts_with(['/', '\\']) =>
        {
            n.clone()
        }
        _ => "/".into(),
    }
}

/// The sign-in form, with a pre-session token for this browser.
fn form(
    lang: super::layout::Lang,
    headers: &HeaderMap,
    next: &str,
    user: &str,
    problems: &[Problem],
    status: StatusCode,
) -> Response {
    let (token, set_cookie) = form_token(headers);
    let body = html! {
        form method="post" action="/login" novalidate {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="next" value=(next);
            label for="user" { (lang.t("账号", "Account")) }
            input id="user" name="user" type="text" autocomplete="username" required value=(user);
            label for="password" { (lang.t("密码", "Password")) }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            div.button-group { button type="submit" { (lang.t("登录", "Sign in")) } }
        }
    };
    let mut response = (status, page(lang, None, lang.t("登录", "Sign in"), problems, body)).into_response();
    if let Some(value) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `GET /login`.
pub async fn page_handler(lang: PageLang, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let next = safe_next(q.get("next"));
    lang.respond(form(lang.lang, &headers, &next, "", &[], StatusCode::OK))
}

/// `POST /login`.
pub async fn submit(
    State(s): State<AppState>,
    lang: PageLang,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let l = lang.lang;
    let user = f.get("user").map(|u| u.trim().to_owned()).unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    let next = safe_next(f.get("next"));
    if user.is_empty() || password.is_empty() || user.len() > 64 {
        let problems = vec![Problem {
            field_id: if user.is_empty() {
                "user".into()
            } else {
                "password".into()
            },
            message: l.t("请输入账号和密码", "Enter your account and password").into(),
        }];
        return form(l, &headers, &next, &user, &problems, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Checked before the password, so a forged post neither signs in nor
    // counts as a failed attempt against the account.
    if !form_token_matches(&headers, &f) {
        let problems = vec![Problem {
            field_id: "user".into(),
            message: l
                .t(
                    "登录表单已失效或并非来自本站，请重新登录",
                    "The sign-in form has expired or did not come from this site; sign in again",
                )
                .into(),
        }];
        return form(l, &headers, &next, &user, &problems, StatusCode::FORBIDDEN);
    }
    match sessions::sign_in(s.market.db(), &user, &password, &peer.ip().to_string()).await {
        Ok(Ok((token, _))) => {
            let mut response = Redirect::to(&next).into_response();
            if let Ok(value) = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax").parse() {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Ok(Err(SignInError::Refused)) => {
            let problems = vec![Problem {
                field_id: "user".into(),
                message: l.t("账号或密码不正确", "The account or password is wrong").into(),
            }];
            form(l, &headers, &next, &user, &problems, StatusCode::UNAUTHORIZED)
        }
        Ok(Err(SignInError::Limited { retry_after_s })) => {
            let problems = vec![Problem {
                field_id: "user".into(),
                message: format!(
                    "{} {}",
                    l.t(
                        "登录失败次数过多，请稍后再试（秒）：",
                        "Too many failed sign-ins; try again after (seconds):"
                    ),
                    retry_after_s
                ),
            }];
            let mut response = form(l, &headers, &next, &user, &problems, StatusCode::TOO_MANY_REQUESTS);
            if let Ok(value) = retry_after_s.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Err(e) => super::error::PageError::from(e).into_response(),
    }
}

/// `POST /logout`.
pub async fn logout(
    State(s): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    user.check_csrf(&f)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        sessions::sign_out(s.market.db(), token).await?;
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(value) = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0").parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        let next = |s: &str| safe_next(Some(&s.to_owned()));
        assert_eq!(next("/my/cases?x=1"), "/my/cases?x=1");
        for off_site in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "https://evil.example",
            "/ /x",
            "",
        ] {
            assert_eq!(next(off_site), "/", "{off_site:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
