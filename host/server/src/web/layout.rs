//! The page shell: `lang`, a skip link, navigation by role and the error
//! summary. The language itself is `lang.rs`.

use axum::response::Html;
use maud::{DOCTYPE, Markup, html};
use tongban_registry::release::Role;

pub use super::lang::Lang;
use super::session::WebUser;

/// One problem for the error summary, linking to its field.
#[derive(Debug, Clone)]
pub struct Problem {
    pub field_id: String,
    pub message: String,
}

/// A whole page.
pub fn page(lang: Lang, user: Option<&WebUser>, title: &str, problems: &[Problem], body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (lang.t("通办", "Tongban")) }
                style { (CSS) }
            }
            body {
                a.skip href="#main" { (lang.t("跳到正文", "Skip to content")) }
                header {
                    nav aria-label=(lang.t("主导航", "Main")) {
                        a href="/" { strong { (lang.t("通办", "Tongban")) } }
                        @if let Some(user) = user {
                            @match user.actor.role {
                                Role::Citizen => {
                                    a href="/my/cases" { (lang.t("我的办件", "My cases")) }
                                    a href="/my/wallet" { (lang.t("我的证照", "My certificates")) }
                                    a href="/my/consents" { (lang.t("我的授权", "My consents")) }
                                    a href="/my/inbox" { (lang.t("消息", "Inbox")) }
                                }
                                Role::WindowClerk | Role::Handler => {
                                    a href="/work" { (lang.t("工作台", "Work queues")) }
                                    @if user.actor.role == Role::WindowClerk {
                                        a href="/work/counter" { (lang.t("窗口受理", "Counter intake")) }
                                    }
                                }
                                Role::RegionAdmin => {
                                    a href="/region" { (lang.t("上线管理", "Releases")) }
                                }
                                Role::SecurityOfficer => {
                                    a href="/security" { (lang.t("安全", "Security")) }
                                    a href="/audit" { (lang.t("审计", "Audit")) }
                                }
                                Role::Auditor => {
                                    a href="/audit" { (lang.t("审计", "Audit")) }
                                }
                                Role::Publisher => {
                                    a href="/publish" { (lang.t("发布", "Publish")) }
                                }
                                Role::Reviewer => {
                                    a href="/reviews" { (lang.t("审核", "Reviews")) }
                                }
                                _ => {}
                            }
                            span { (user.display_name) }
                            form method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(user.csrf);
                                button type="submit" { (lang.t("退出", "Sign out")) }
                            }
                        } @else {
                            a href="/login" { (lang.t("登录", "Sign in")) }
                        }
                        a href="?lang=zh" lang="zh-CN" { "中文" }
                        a href="?lang=en" lang="en" { "English" }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    @if !problems.is_empty() {
                        div.error-summary role="alert" aria-labelledby="error-summary-title" tabindex="-1" {
                            h2 id="error-summary-title" { (lang.t("请修改以下问题", "There is a problem")) }
                            ul {
                                @for p in problems {
                                    li { a href={ "#" (p.field_id) } { (p.message) } }
                                }
                            }
                        }
                    }
                    (body)
                }
            }
        }
    };
    Html(markup.into_string())
}

const CSS: &str = "body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;line-height:1.5}\
header nav{display:flex;gap:1em;align-items:center;padding:.6em 1em;background:#1d4e89;color:#fff;flex-wrap:wrap}\
header a,header span{color:#fff}header form{display:inline}main{padding:1em;max-width:60em}\
.skip{position:absolute;left:-999px}.skip:focus{left:1em;top:1em;background:#ff0;color:#000;padding:.3em}\
.error-summary{border:4px solid #b10e1e;padding:.5em 1em;margin-bottom:1em}.field-error{color:#b10e1e;display:block}\
label{display:block;font-weight:600;margin-top:.8em}input,select,textarea{font-size:1em;padding:.3em;max-width:100%}\
fieldset{margin-top:1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
.overdue{color:#b10e1e;font-weight:700}button{font-size:1em;margin:.3em .3em .3em 0}:focus{outline:3px solid #fd0}";

/// A moment as people in China read it: UTC+8, to the minute.
pub fn local_time(ms: i64) -> String {
    use chrono::{FixedOffset, TimeZone};
    let china = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    china
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
