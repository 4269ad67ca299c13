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
