//! Every word in the page's language: every page of every role, rendered by
//! `tongban serve --demo` in Chinese and in English, must not show a state,
//! event, channel, actor or status word of the other language, nor a
//! machine name where a word belongs.
//!
//! The words come from the one vocabulary (`web::vocabulary::every_word`).
//! What a page shows is its visible text: tags, attributes, the head, and the
//! text of `code`, `pre` and `svg` elements (identifiers, manifests and QR
//! codes, which are the same in every language) and of elements that name
//! their own language (`lang="en"` on the language switch) are not shown
//! text. The sandbox bank's pay page is the bank's, in both languages by
//! design, and is not a role's page.
//!
//! Before rendering, the demo is walked so that the pages have something to
//! show: a case applied for, paid, accepted, handed off and approved, with
//! its timeline; the citizen's certificates and consents; a published
//! version in review.

mod page_client;

use page_client::{Browser, Demo, first_link, hidden, sign_in};
use tongban::web::vocabulary::{Word, every_word};

const APP: &str = "cn.gov.hz.amr.sole-proprietor";
/// The district bureau the clerk hands the case to; the demo handler works there.
const HANDLING_ORG: &str = "113301060024896013";

/// The visible text of a page, as described in the module's comment.
fn visible_text(html: &str) -> String {
    let mut text = html.to_owned();
    // The head (title, stylesheet link) is not the page's body.
    if let (Some(start), Some(end)) = (text.find("<head>"), text.find("</head>")) {
        text.replace_range(start..end + "</head>".len(), " ");
    }
    for tag in ["script", "style", "code", "pre", "svg"] {
        text = drop_elements(&text, tag, |_| true);
    }
    for tag in [
        "a", "span", "p", "div", "dl", "dt", "dd", "li", "td", "strong", "h2", "h3", "section", "article",
    ] {
        text = drop_elements(&text, tag, |open| open.contains(" lang=\""));
    }
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// `html` without the `tag` elements whose opening tag `drop` accepts. The
/// elements dropped here do not nest inside themselves in Tongban's pages
/// (an `a` or `span` with `lang`, a `code`), so the next closing tag ends one.
fn drop_elements(html: &str, tag: &str, drop: impl Fn(&str) -> bool) -> String {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(&open) {
        let after = &rest[at + open.len()..];
        // `<a` must not match `<abbr`, nor `<p` `<pre`.
        if !after.starts_with([' ', '>']) {
            out.push_str(&rest[..at + open.len()]);
            rest = after;
            continue;
        }
        let tag_end = after.find('>').map(|i| i + 1).unwrap_or(after.len());
        let opening = &rest[at..at + open.len() + tag_end];
        if !drop(opening) {
            out.push_str(&rest[..at + opening.len()]);
            rest = &rest[at + opening.len()..];
            continue;
        }
        out.push_str(&rest[..at]);
        out.push(' ');
        rest = match rest[at..].find(&close) {
            Some(end) => &rest[at + end + close.len()..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// Whether `needle` occurs in `text` as a whole word or phrase (ASCII
/// letters and digits on neither side), ignoring case.
fn has_phrase(text: &str, needle: &str) -> bool {
    let hay = text.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    let word_char = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    hay.match_indices(&needle)
        .any(|(i, _)| !word_char(hay[..i].chars().last()) && !word_char(hay[i + needle.len()..].chars().next()))
}

/// Some of the text around the first `needle`, to find it on the page.
fn around(text: &str, needle: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let Some(at) = lower.find(&needle.to_ascii_lowercase()) else {
        return String::new();
    };
    let start = text.floor_char_boundary(at.saturating_sub(60));
    let end = text.ceil_char_boundary((at + needle.len() + 60).min(text.len()));
    text[start..end].split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The words of the other language (and machine names) a page shows.
fn leaks(text: &str, english_page: bool, words: &[Word]) -> Vec<String> {
    let mut found = Vec::new();
    for w in words {
        if english_page {
            if text.contains(w.zh) {
                found.push(format!("{} `{}` ({})", w.kind, w.zh, w.code));
            }
        } else {
            if has_phrase(text, w.en) {
                found.push(format!("{} `{}` ({})", w.kind, w.en, w.code));
            }
            if has_phrase(text, &w.code) {
                found.push(format!(
                    "{} machine name `{}` in \"{}\"",
                    w.kind,
                    w.code,
                    around(text, &w.code)
                ));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// One role's pages.
struct Visit {
    who: &'static str,
    account: Option<&'static str>,
    paths: Vec<String>,
}

#[test]
fn every_page_of_every_role_speaks_one_language() {
    let demo = Demo::start();
    let server = &demo.server;

    // The citizen consents, applies and pays, so the case pages have a
    // timeline and a fee.
    let mut citizen = Browser::new(&server.url);
    sign_in(&mut citizen, "zhangsan");
    let consent = citizen.get(&format!("/services/{APP}"));
    let csrf = hidden(&consent.body, "csrf");
    let granted = citizen.post(
        &format!("/services/{APP}/consent"),
        &[("csrf", &csrf), ("decision", "grant")],
    );
    assert_eq!(granted.status, 303, "{}", granted.body);
    let form = citizen.get(&format!("/services/{APP}"));
    let key = hidden(&form.body, "submission_key");
    let applied = citizen.post(
        &format!("/services/{APP}/apply"),
        &[
            ("csrf", csrf.as_str()),
            ("submission_key", key.as_str()),
            ("operator/name", "张三"),
            ("operator/id-number", "330106199003070014"),
            ("operator/phone", "13800138000"),
            ("business/trade-name", "西湖小厨"),
            ("business/industry", "餐饮"),
            ("business/scope", "餐饮服务"),
            ("business/address", "浙江省杭州市西湖区文三路90号"),
        ],
    );
    assert_eq!(applied.status, 303, "{}", applied.body);
    let case_path = applied.location.clone().expect("the case's page");
    let case_id = case_path.trim_start_matches("/my/cases/").to_owned();
    let case_page = citizen.get(&case_path);
    let pay_path = first_link(&case_page.body, "/pay/").expect("a fee to pay");
    let pay_page = citizen.get(&pay_path);
    let paid = citizen.post(
        &pay_path,
        &[("csrf", &hidden(&pay_page.body, "csrf")), ("decision", "pay")],
    );
    assert_eq!(paid.status, 200, "{}", paid.body);

    // The clerk accepts and hands off; the handler approves.
    let mut clerk = Browser::new(&server.url);
    sign_in(&mut clerk, "clerk");
    let work = clerk.get(&format!("/work/cases/{case_id}"));
    let clerk_csrf = hidden(&work.body, "csrf");
    for (action, extra) in [("accept", None), ("hand-off", Some(HANDLING_ORG))] {
        let mut fields = vec![
            ("csrf", clerk_csrf.as_str()),
            ("action", action),
            ("reason", "材料齐全"),
        ];
        if let Some(org) = extra {
            fields.push(("to_org", org));
        }
        let stepped = clerk.post(&format!("/work/cases/{case_id}"), &fields);
        assert_eq!(stepped.status, 303, "{action}: {}", stepped.body);
    }
    let mut handler = Browser::new(&server.url);
    sign_in(&mut handler, "handler");
    let handling = handler.get(&format!("/work/cases/{case_id}"));
    let approved = handler.post(
        &format!("/work/cases/{case_id}"),
        &[
            ("csrf", hidden(&handling.body, "csrf").as_str()),
            ("action", "approve"),
            ("reason", "准予登记"),
        ],
    );
    assert_eq!(approved.status, 303, "{}", approved.body);

    // A certificate's own page and its public status page.
    let wallet = citizen.get("/my/wallet");
    let certificate = first_link(&wallet.body, "/my/wallet/").expect("a certificate in the wallet");
    let certificate_page = citizen.get(&certificate);
    let check_path = certificate_page
        .body
        .split("id=\"check-url\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|url| url.find("/check/").map(|i| url[i..].to_owned()))
        .expect("the public status link");

    let visits = vec![
        Visit {
            who: "anyone",
            account: None,
            paths: vec!["/".into(), "/login".into(), "/verify".into(), check_path.clone()],
        },
        Visit {
            who: "citizen",
            account: Some("zhangsan"),
            paths: vec![
                "/".into(),
                format!("/services/{APP}"),
                "/my/cases".into(),
                case_path.clone(),
                "/my/wallet".into(),
                certificate.clone(),
                "/my/consents".into(),
                "/my/inbox".into(),
            ],
        },
        Visit {
            who: "citizen with nothing yet",
            account: Some("lisi"),
            paths: vec![
                format!("/services/{APP}"),
                "/my/cases".into(),
                "/my/wallet".into(),
                "/my/consents".into(),
                "/my/inbox".into(),
            ],
        },
        Visit {
            who: "window clerk",
            account: Some("clerk"),
            paths: vec!["/work".into(), format!("/work/cases/{case_id}"), "/work/counter".into()],
        },
        Visit {
            who: "handler",
            account: Some("handler"),
            paths: vec!["/work".into(), format!("/work/cases/{case_id}")],
        },
        Visit {
            who: "publisher",
            account: Some("publisher"),
            paths: vec!["/publish".into()],
        },
        Visit {
            who: "reviewer",
            account: Some("reviewer"),
            paths: vec!["/reviews".into()],
        },
        Visit {
            who: "region admin",
            account: Some("region-admin"),
            paths: vec!["/region".into()],
        },
        Visit {
            who: "security officer",
            account: Some("security"),
            paths: vec!["/security".into(), "/audit".into()],
        },
        Visit {
            who: "auditor",
            account: Some("auditor"),
            paths: vec![
                "/audit".into(),
                format!("/audit?subject=citizen-zhang-san&case={case_id}"),
            ],
        },
    ];

    let words = every_word();
    let mut problems = Vec::new();
    let mut rendered = 0;
    for visit in &visits {
        let mut browser = Browser::new(&server.url);
        if let Some(account) = visit.account {
            sign_in(&mut browser, account);
        }
        for path in &visit.paths {
            for (lang, english) in [("zh", false), ("en", true)] {
                let separator = if path.contains('?') { '&' } else { '?' };
                let page = browser.get(&format!("{path}{separator}lang={lang}"));
                assert_eq!(page.status, 200, "{} {path} in {lang}: {}", visit.who, page.body);
                let expected = if english { "lang=\"en\"" } else { "lang=\"zh-CN\"" };
                assert!(page.body.contains(expected), "{} {path} is not in {lang}", visit.who);
                rendered += 1;
                let found = leaks(&visible_text(&page.body), english, &words);
                if !found.is_empty() {
                    problems.push(format!("{} {path} ({lang}): {}", visit.who, found.join(", ")));
                }
            }
        }
    }
    let expected: usize = visits.iter().map(|v| v.paths.len() * 2).sum();
    assert_eq!(rendered, expected, "every page was rendered in both languages");
    assert!(
        problems.is_empty(),
        "pages showing words of the other language:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_finds_a_word_of_the_other_language() {
    let words = every_word();
    let chinese =
        visible_text("<html lang=\"zh-CN\"><body><p>状态：valid</p><p>渠道 web · applicant</p></body></html>");
    let found = leaks(&chinese, false, &words);
    for expected in ["`valid`", "`web`", "`applicant`"] {
        assert!(
            found.iter().any(|f| f.contains(expected)),
            "{expected} not found in {found:?}"
        );
    }
    let english = visible_text("<html lang=\"en\"><body><p>Stage: 已受理</p></body></html>");
    assert!(!leaks(&english, true, &words).is_empty());
    // Identifiers and the language switch are not shown text.
    let clean = visible_text(
        "<html lang=\"zh-CN\"><head><title>valid</title></head><body><code>release.revoke web</code><a href=\"?lang=en\" lang=\"en\">English</a><p>有效</p></body></html>",
    );
    assert!(leaks(&clean, false, &words).is_empty(), "{clean}");
}
