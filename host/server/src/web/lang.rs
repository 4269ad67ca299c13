//! The page language and cookies. Chinese is the default; `?lang=en` (or
//! `?lang=zh`) switches and is remembered in the `tb_lang` cookie.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

/// A cookie's value from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// From `?lang=`, else the cookie, else Chinese.
    pub fn from_request(headers: &HeaderMap, query: Option<&str>) -> Lang {
        let chosen = query.or_else(|| cookie(headers, "tb_lang"));
        match chosen {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The text in this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The part of an app's or a bureau's bilingual text (`中文 / English`,
    /// the platform's convention for text written once for both languages)
    /// in this language, sentence by sentence (sentences joined with `；`);
    /// a sentence that is not such a pair is shown whole.
    pub fn part_of(self, text: &str) -> String {
        let is_cjk = |c: char| ('\u{3400}'..='\u{9fff}').contains(&c) || ('\u{f900}'..='\u{faff}').contains(&c);
        let pick = |sentence: &'_ str| -> String {
            match sentence.split_once(" / ") {
                // The English half may quote Chinese names; it starts in ASCII.
                Some((zh, en))
                    if zh.chars().any(is_cjk)
                        && en.trim_start().chars().next().is_some_and(|c| c.is_ascii())
                        && en.chars().any(|c| c.is_ascii_alphabetic()) =>
                {
                    match self {
                        Lang::Zh => zh.trim().to_owned(),
                        Lang::En => en.trim().to_owned(),
                    }
                }
                _ => sentence.to_owned(),
            }
        };
        let parts: Vec<String> = text.split('；').map(pick).collect();
        parts.join(self.t("；", "; "))
    }

    /// A service's own (English) message for a person: in Chinese after a
    /// Chinese summary, in English as it is.
    pub fn summarised(self, zh: &str, message: &str) -> String {
        match self {
            Lang::Zh => format!("{zh} / {message}"),
            Lang::En => message.to_owned(),
        }
    }
}

/// The page language of a request, and whether `?lang=` chose it (then the
/// response remembers it in a cookie).
pub struct PageLang {
    pub lang: Lang,
    chosen: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .map(|(_, v)| v.into_owned())
        });
        Ok(PageLang {
            lang: Lang::from_request(&parts.headers, query.as_deref()),
            chosen: query.is_some(),
        })
    }
}

impl PageLang {
    /// A page response, remembering a chosen language.
    pub fn respond(&self, page: impl IntoResponse) -> Response {
        let mut response = page.into_response();
        if self.chosen
            && let Ok(value) = format!(
                "tb_lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
                if self.lang == Lang::En { "en" } else { "zh" }
            )
            .parse()
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn a_bilingual_text_shows_the_pages_half() {
        let text = "填写申请人信息 / fill in the applicant's details";
        assert_eq!(Lang::Zh.part_of(text), "填写申请人信息");
        assert_eq!(Lang::En.part_of(text), "fill in the applicant's details");
        let two = "填写申请人信息 / fill in the form；核验身份证 / check the ID card";
        assert_eq!(Lang::Zh.part_of(two), "填写申请人信息；核验身份证");
        assert_eq!(Lang::En.part_of(two), "fill in the form; check the ID card");
        // Not a pair: shown whole in both languages.
        let quoting = "已受理“西湖小厨” / \"西湖小厨\" was accepted";
        assert_eq!(Lang::En.part_of(quoting), "\"西湖小厨\" was accepted");
        for whole in [
            "只有中文",
            "only English / still English",
            "a / b / 中文",
            "中文 / 中文",
        ] {
            assert_eq!(Lang::Zh.part_of(whole), whole);
            assert_eq!(Lang::En.part_of(whole), whole);
        }
    }
}
