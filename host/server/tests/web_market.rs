//! The publisher's and the reviewer's pages over real HTTP against
//! `tongban serve --demo`: the publisher sees the demo app's approved version,
//! uploads a signed 1.1.0 that adds a capability (a real multipart upload, as
//! a browser sends it) and gets a receipt with the highlighted diff; garbage,
//! empty and forged uploads are refused with clear 4xx answers; the reviewer
//! finds the version in the queue, is refused an approval until every added
//! capability is ticked (keeping the ticks), then approves; other roles get
//! 403; a version still in review can be withdrawn.

use std::path::Path;

use tongban_registry::signing::SigningKey;
use tongban_tests::{ServerProcess, sole_proprietor_at};

mod page_client;
use page_client::{Browser, hidden, sign_in};

const APP: &str = "cn.gov.hz.amr.sole-proprietor";
/// The capability 1.1.0 adds.
const UPDATE_LINE: &str = tongban_tests::UPDATE_CAPABILITY;

/// A signed-in session that uploads files the way a browser's
/// `multipart/form-data` form does. `page_client::Browser` posts URL-encoded
/// forms only, so uploads get their own session of the same user.
struct Uploader {
    agent: ureq::Agent,
    base: String,
    cookie: String,
}

impl Uploader {
    fn sign_in(base: &str, user: &str) -> Uploader {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        // Sign in the way a browser does; the uploader keeps the session.
        let mut browser = Browser::new(base);
        sign_in(&mut browser, user);
        let cookie = browser
            .cookie_header()
            .split("; ")
            .find(|pair| pair.starts_with("tb_session="))
            .expect("a session cookie")
            .to_owned();
        Uploader {
            agent,
            base: base.to_owned(),
            cookie,
        }
    }

    /// The CSRF token of this session, from the publish page's form.
    fn csrf(&self) -> String {
        let mut response = self
            .agent
            .get(format!("{}/publish", self.base))
            .header("Cookie", &self.cookie)
            .call()
            .unwrap();
        hidden(&response.body_mut().read_to_string().unwrap(), "csrf")
    }

    /// Post `csrf` (when given) and a file as field `package`.
    fn upload(&self, csrf: Option<&str>, file_name: &str, bytes: &[u8]) -> (u16, String) {
        let boundary = "----tongban-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        if let Some(token) = csrf {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"package\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut response = self
            .agent
            .post(format!("{}/publish", self.base))
            .header("Cookie", &self.cookie)
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .send(&body[..])
            .unwrap();
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap(),
        )
    }
}

/// The values of every `ack` checkbox on a review page, in order.
fn ack_values(body: &str) -> Vec<String> {
    body.split("name=\"ack\" value=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

/// The table row of the capability diff that shows `id`.
fn diff_row<'a>(body: &'a str, id: &str) -> &'a str {
    let at = body
        .find(&format!("<code>{id}</code>"))
        .unwrap_or_else(|| panic!("no row for {id}:\n{body}"));
    let start = body[..at].rfind("<tr").unwrap();
    &body[start..at]
}

#[test]
fn publishing_and_reviewing_through_the_pages() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let args = vec!["--demo".to_owned(), "--data-dir".to_owned(), data.display().to_string()];
    let server = ServerProcess::start(Path::new(env!("CARGO_BIN_EXE_tongban")), &args, &[]);

    // The publisher sees the demo app's approved version and the upload form.
    let mut publisher = Browser::new(&server.url);
    sign_in(&mut publisher, "publisher");
    let home = publisher.get("/publish");
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.body.contains(APP)
            && home.body.contains("<td>1.0.0</td>")
            && home.body.contains("data-state=\"approved\""),
        "{}",
        home.body
    );
    for piece in [
        "method=\"post\" action=\"/publish\" enctype=\"multipart/form-data\"",
        "type=\"file\" id=\"package\" name=\"package\" accept=\".tbpkg\"",
        "<label for=\"package\">",
        "id=\"publish-submit\"",
        "href=\"/publish\"",
    ] {
        assert!(home.body.contains(piece), "missing {piece}:\n{}", home.body);
    }

    // Other roles are refused the other side's pages.
    let mut reviewer = Browser::new(&server.url);
    sign_in(&mut reviewer, "reviewer");
    assert_eq!(reviewer.get("/publish").status, 403);
    assert_eq!(publisher.get("/reviews").status, 403);
    assert_eq!(publisher.get(&format!("/reviews/{APP}/1.0.0")).status, 403);
    let mut citizen = Browser::new(&server.url);
    sign_in(&mut citizen, "zhangsan");
    assert_eq!(citizen.get("/reviews").status, 403);
    assert_eq!(citizen.get("/publish").status, 403);
    let anonymous = Browser::new(&server.url).get("/reviews");
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location.as_deref(), Some("/login?next=%2Freviews"));

    // Bad uploads: garbage is named, an empty file is a 400, no CSRF a 403.
    let uploader = Uploader::sign_in(&server.url, "publisher");
    let csrf = uploader.csrf();
    let (status, body) = uploader.upload(Some(&csrf), "garbage.tbpkg", b"this is not a package at all");
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("error-summary") && body.contains("href=\"#package\""),
        "{body}"
    );
    let (status, body) = uploader.upload(Some(&csrf), "empty.tbpkg", b"");
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("error-summary") && body.contains("没有收到文件"),
        "{body}"
    );

    let key =
        SigningKey::from_file_text(&std::fs::read_to_string(data.join("demo").join("publisher.key")).unwrap()).unwrap();
    let mut package = sole_proprietor_at("1.1.0", Some(UPDATE_LINE));
    package.sign(&key);
    let signed = package.to_bytes();
    let (status, body) = uploader.upload(None, "sole-proprietor-1.1.0.tbpkg", &signed);
    assert_eq!(status, 403, "an upload without the CSRF token is refused: {body}");
    let (status, body) = uploader.upload(Some("not-the-token"), "sole-proprietor-1.1.0.tbpkg", &signed);
    assert_eq!(status, 403, "{body}");
    let unsigned = sole_proprietor_at("1.1.0", Some(UPDATE_LINE));
    let (status, body) = uploader.upload(Some(&csrf), "unsigned.tbpkg", &unsigned.to_bytes());
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("error-summary") && body.contains("签名无效"), "{body}");
    assert!(
        !publisher.get("/publish").body.contains("<td>1.1.0</td>"),
        "refused uploads publish nothing"
    );

    // The signed 1.1.0 is published; the receipt shows the highlighted gain.
    let (status, receipt) = uploader.upload(Some(&csrf), "sole-proprietor-1.1.0.tbpkg", &signed);
    assert_eq!(status, 200, "{receipt}");
    assert!(
        receipt.contains(&format!("{APP}@1.1.0")) && receipt.contains("data-state=\"in-review\""),
        "{receipt}"
    );
    assert!(
        receipt.contains("<code>manifest-schema</code>") && receipt.contains("<code>imports</code>"),
        "the check report: {receipt}"
    );
    let added = diff_row(&receipt, "capability/storage");
    assert!(added.contains("cap-added") && added.contains("background"), "{added}");
    let kept = diff_row(&receipt, "identity.attributes/name");
    assert!(kept.contains("cap-unchanged"), "{kept}");

    // The same version number again is refused, naming the reuse.
    let (status, body) = uploader.upload(Some(&csrf), "sole-proprietor-1.1.0.tbpkg", &signed);
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("error-summary") && body.contains("never reused"),
        "{body}"
    );

    // The publisher's list has it in review, withdrawable.
    let home = publisher.get("/publish");
    assert!(home.body.contains("<td>1.1.0</td>"), "{}", home.body);
    assert!(
        home.body.contains(&format!("action=\"/publish/{APP}/1.1.0/withdraw\"")),
        "{}",
        home.body
    );

    // The reviewer's queue links to it.
    let queue = reviewer.get("/reviews");
    assert_eq!(queue.status, 200);
    assert!(
        queue
            .body
            .contains(&format!("href=\"/reviews/{APP}/1.1.0\">{APP}@1.1.0</a>")),
        "{}",
        queue.body
    );
    let review = reviewer.get(&format!("/reviews/{APP}/1.1.0"));
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(
        review.body.contains("<pre class=\"manifest\" tabindex=\"0\"") && review.body.contains("杭州市市场监督管理局")
    );
    let acks = ack_values(&review.body);
    assert!(acks.contains(&"capability/storage".to_owned()), "{acks:?}");
    assert!(
        review.body.contains("id=\"ack-1\"") && review.body.contains("<label for=\"ack-1\""),
        "{}",
        review.body
    );
    for button in [
        "id=\"approve\"",
        "id=\"request-changes\"",
        "id=\"reject\"",
        "id=\"reason\"",
    ] {
        assert!(review.body.contains(button), "missing {button}");
    }
    let csrf = hidden(&review.body, "csrf");
    let path = format!("/reviews/{APP}/1.1.0");

    // Decisions: no token, no acknowledgements, some, no reason: all refused.
    let forged = reviewer.post(&path, &[("decision", "approve")]);
    assert_eq!(forged.status, 403);
    let none = reviewer.post(&path, &[("csrf", &csrf), ("decision", "approve")]);
    assert_eq!(none.status, 422, "{}", none.body);
    assert!(
        none.body.contains("error-summary")
            && none.body.contains("批准前须逐项确认新增的权限")
            && none.body.contains("not yet acknowledged")
            && none.body.contains("capability/storage")
            && none.body.contains("href=\"#ack-1\""),
        "{}",
        none.body
    );
    assert!(
        acks.len() >= 2,
        "1.1.0 adds the storage capability and its quota: {acks:?}"
    );
    let some = reviewer.post(&path, &[("csrf", &csrf), ("decision", "approve"), ("ack", &acks[0])]);
    assert_eq!(some.status, 422, "{}", some.body);
    assert!(
        some.body.contains("id=\"ack-1\" checked"),
        "keeps the tick: {}",
        some.body
    );
    assert!(!some.body.contains("id=\"ack-2\" checked"), "{}", some.body);
    assert!(
        some.body.contains("href=\"#ack-2\""),
        "links to the first unticked box: {}",
        some.body
    );
    let no_reason = reviewer.post(&path, &[("csrf", &csrf), ("decision", "reject"), ("reason", "  ")]);
    assert_eq!(no_reason.status, 422, "{}", no_reason.body);
    assert!(
        no_reason.body.contains("a reason is required") && no_reason.body.contains("href=\"#reason\""),
        "{}",
        no_reason.body
    );

    // With every capability ticked the approval goes through.
    let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf), ("decision", "approve")];
    all.extend(acks.iter().map(|a| ("ack", a.as_str())));
    let approved = reviewer.post(&path, &all);
    assert_eq!(approved.status, 303, "{}", approved.body);
    assert_eq!(approved.location.as_deref(), Some(path.as_str()));
    let decided = reviewer.get(&path);
    assert!(
        decided.body.contains("data-state=\"approved\"") && !decided.body.contains("id=\"approve\""),
        "{}",
        decided.body
    );
    assert!(!reviewer.get("/reviews").body.contains(&format!("{APP}@1.1.0")));
    let home = publisher.get("/publish");
    let row = home.body.split("<td>1.1.0</td>").nth(1).unwrap();
    assert!(
        row.starts_with("<td><span class=\"version-state\" data-state=\"approved\""),
        "{row}"
    );

    // A version still in review can be withdrawn from the list.
    let mut v120 = sole_proprietor_at("1.2.0", None);
    v120.sign(&key);
    let (status, body) = uploader.upload(Some(&uploader.csrf()), "sole-proprietor-1.2.0.tbpkg", &v120.to_bytes());
    assert_eq!(status, 200, "{body}");
    let withdraw = format!("/publish/{APP}/1.2.0/withdraw");
    assert_eq!(publisher.post(&withdraw, &[]).status, 403, "no CSRF token");
    let csrf = hidden(&publisher.get("/publish").body, "csrf");
    let done = publisher.post(&withdraw, &[("csrf", &csrf)]);
    assert_eq!(done.status, 303);
    assert_eq!(done.location.as_deref(), Some("/publish"));
    let home = publisher.get("/publish");
    let row = home.body.split("<td>1.2.0</td>").nth(1).unwrap();
    assert!(
        row.starts_with("<td><span class=\"version-state\" data-state=\"withdrawn\""),
        "{row}"
    );
    let again = publisher.post(&withdraw, &[("csrf", &csrf)]);
    assert_eq!(again.status, 409, "a withdrawn version is not withdrawn twice");
    assert!(again.body.contains("error-summary"), "{}", again.body);
}
