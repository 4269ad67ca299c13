//! The page shell: `lang`, a skip link, the header with navigation by role,
//! the error summary and the one stylesheet (`design/`). The language itself
//! is `lang.rs`.

use axum::response::Html;
use maud::{DOCTYPE, Markup, html};
use tongban_registry::release::Role;

pub use super::lang::Lang;
use super::session::WebUser;

pub use super::design::Problem;
use super::design::{ButtonKind, error_summary, stylesheet};

/// A whole page: the header with the role's navigation, the title, the
/// error summary when a form was refused, and the body.
pub fn page(lang: Lang, user: Option<&WebUser>, title: &str, problems: &[Problem], body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (lang.t("通办", "Tongban")) }
                link rel="stylesheet" href=(stylesheet::PATH.as_str());
            }
            body {
                a.skip href="#main" { (lang.t("跳到正文", "Skip to content")) }
                header.site-header {
                    div.site-header__inner {
                        a.site-header__name href="/" { (lang.t("通办", "Tongban")) }
                        @if let Some(user) = user {
                            nav.site-nav aria-label=(lang.t("主导航", "Main")) {
                                @for (href, zh, en) in navigation(user.actor.role) {
                                    a href=(href) { (lang.t(zh, en)) }
                                }
                            }
                            div.site-user {
                                span { (user.display_name) }
                                form method="post" action="/logout" {
                                    input type="hidden" name="csrf" value=(user.csrf);
                                    button type="submit" class=(ButtonKind::Secondary.class()) { (lang.t("退出", "Sign out")) }
                                }
                            }
                        } @else {
                            nav.site-nav aria-label=(lang.t("主导航", "Main")) {
                                a href="/login" { (lang.t("登录", "Sign in")) }
                            }
                        }
                        div.site-lang {
                            a href="?lang=zh" lang="zh-CN" { "中文" }
                            a href="?lang=en" lang="en" { "English" }
                        }
                    }
                }
                main.page id="main" tabindex="-1" {
                    h1 { (title) }
                    (error_summary(lang.t("请修改以下问题", "There is a problem"), problems))
                    div.page-body { (body) }
                }
            }
        }
    };
    Html(markup.into_string())
}

/// The navigation of each role: path, Chinese and English name.
fn navigation(role: Role) -> &'static [(&'static str, &'static str, &'static str)] {
    match role {
        Role::Citizen => &[
            ("/my/cases", "我的办件", "My cases"),
            ("/my/wallet", "我的证照", "My certificates"),
            ("/my/consents", "我的授权", "My consents"),
            ("/my/inbox", "消息", "Inbox"),
        ],
        Role::WindowClerk => &[
            ("/work", "工作台", "Work queues"),
            ("/work/counter", "窗口受理", "Counter intake"),
        ],
        Role::Handler => &[("/work", "工作台", "Work queues")],
        Role::RegionAdmin => &[("/region", "上线管理", "Releases")],
        Role::SecurityOfficer => &[("/security", "安全", "Security"), ("/audit", "审计", "Audit")],
        Role::Auditor => &[("/audit", "审计", "Audit")],
        Role::Publisher => &[("/publish", "发布", "Publish")],
        Role::Reviewer => &[("/reviews", "审核", "Reviews")],
        _ => &[],
    }
}

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
