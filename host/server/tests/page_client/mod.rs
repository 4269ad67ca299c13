//! A browser without JavaScript for page tests: it keeps cookies, does not
//! follow redirects, and posts forms the way a plain HTML form does. Shared by
//! the page tests (`mod page_client;`).

#![allow(dead_code)]

/// `tongban serve --demo` on a fresh data folder. The server stops before
/// the folder is removed (fields drop in order).
pub struct Demo {
    pub server: tongban_tests::ServerProcess,
    pub root: tempfile::TempDir,
}

impl Demo {
    pub fn start() -> Demo {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        let args = vec!["--demo".to_owned(), "--data-dir".to_owned(), data.display().to_string()];
        let server =
            tongban_tests::ServerProcess::start(std::path::Path::new(env!("CARGO_BIN_EXE_tongban")), &args, &[]);
        Demo { server, root }
    }

    pub fn url(&self) -> &str {
        &self.server.url
    }
}

/// The first link on a page whose target starts with `prefix`, whole.
pub fn first_link(body: &str, prefix: &str) -> Option<String> {
    let marker = format!("href=\"{prefix}");
    let start = body.find(&marker)? + "href=\"".len();
    body[start..].split('"').next().map(str::to_owned)
}

/// A browser without JavaScript: it keeps cookies and does not follow redirects.
pub struct Browser {
    agent: ureq::Agent,
    base: String,
    cookies: Vec<(String, String)>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into(),
            base: base.to_owned(),
            cookies: Vec::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &ureq::http::Response<ureq::Body>) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    fn finish(&mut self, mut response: ureq::http::Response<ureq::Body>) -> Page {
        self.keep(&response);
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        Page {
            status: response.status().as_u16(),
            location,
            body: response.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    pub fn get(&mut self, path: &str) -> Page {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .call()
            .unwrap();
        self.finish(response)
    }

    /// Post one file as a `multipart/form-data` form does, with `fields`
    /// before it.
    pub fn post_file(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file_field: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> Page {
        let boundary = "----tongban-page-client-boundary-9c1d";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .send(&body[..]);
        match response {
            Ok(response) => self.finish(response),
            // A server may answer an oversized body early and close the
            // connection while it is still being sent.
            Err(e) => Page {
                status: 0,
                location: None,
                body: e.to_string(),
            },
        }
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .send_form(form.iter().copied())
            .unwrap();
        self.finish(response)
    }
}

/// The value of the first hidden input named `name` on a page.
pub fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} on the page:\n{body}"))
        + marker.len();
    body[start..].split('"').next().unwrap().to_owned()
}

/// Open the sign-in page and post its form (with its pre-session token).
pub fn try_sign_in(browser: &mut Browser, user: &str, password: &str) -> Page {
    let form = browser.get("/login");
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = hidden(&form.body, "csrf");
    browser.post(
        "/login",
        &[("csrf", &csrf), ("user", user), ("password", password), ("next", "/")],
    )
}

pub fn sign_in(browser: &mut Browser, user: &str) {
    let page = try_sign_in(browser, user, "tongban-demo");
    assert_eq!(page.status, 303, "{}", page.body);
}
