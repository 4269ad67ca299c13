//! The region admin's, the security officer's and the auditor's pages over
//! real HTTP against `tongban serve --demo`: the demo app at 100% in 330100; a
//! second version published and approved through the CLI, then piloted,
//! rolled out, refused a falling or nonsensical percentage, halted, rolled
//! back and yanked from the region page, each change visible there and in the
//! serving API; the security officer's revocation ending the service; the
//! auditor's log with its filters, and verification that finds the chain
//! intact and then names an entry edited in the database; and every other
//! role refused.

use std::path::Path;

use tongban_tests::ServerProcess;

mod common;
mod page_client;
use common::{APP, Cli, Store, approve, package_file, text};
use page_client::{Browser, Page, hidden, sign_in};

const REGION: &str = "330100";

/// An API token for a demo account, issued against the data directory.
fn token(data: &Path, account: &str) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["admin", "issue-token", "--id", account, "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The version serving `subject` in 330100 by the serving API, or `None`
/// (the API answers 404) when nothing serves.
fn served(server: &str, token: &str, subject: &str) -> Option<String> {
    let mut response = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .get(format!("{server}/api/v1/serving/{REGION}/{APP}?subject={subject}"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap();
    match status {
        200 => Some(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["version"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
        404 => None,
        other => panic!("the serving API answered {other}: {body}"),
    }
}

/// The `<section class="release">` of one version on a page.
fn section<'a>(page: &'a Page, version: &str) -> &'a str {
    let marker = format!("data-app=\"{APP}\" data-version=\"{version}\"");
    let start = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no section for {version}:\n{}", page.body));
    let rest = &page.body[start..];
    &rest[..rest.find("</section>").unwrap()]
}

/// Post a release action for `version` in 330100 from the region page.
fn release(browser: &mut Browser, csrf: &str, version: &str, fields: &[(&str, &str)]) -> Page {
    let mut form = vec![("csrf", csrf), ("region", REGION)];
    form.extend_from_slice(fields);
    browser.post(&format!("/region/{APP}/{version}"), &form)
}

#[test]
fn operators_release_revoke_and_audit_from_their_pages() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let args = vec!["--demo".to_owned(), "--data-dir".to_owned(), data.display().to_string()];
    let server = ServerProcess::start(Path::new(env!("CARGO_BIN_EXE_tongban")), &args, &[]);
    let api = token(&data, "auditor");

    // Anonymous visitors sign in first; other roles are refused outright.
    let mut anonymous = Browser::new(&server.url);
    assert_eq!(
        anonymous.get("/region").location.as_deref(),
        Some("/login?next=%2Fregion")
    );
    for (account, paths) in [
        ("zhangsan", &["/region", "/security", "/audit"][..]),
        ("publisher", &["/region", "/security", "/audit"][..]),
        ("region-admin", &["/security", "/audit"][..]),
        ("auditor", &["/region", "/security"][..]),
    ] {
        let mut browser = Browser::new(&server.url);
        sign_in(&mut browser, account);
        for path in paths {
            let page = browser.get(path);
            assert_eq!(page.status, 403, "{account} on {path}: {}", page.body);
        }
    }

    // The region admin sees the demo app active at 100% in their region.
    let mut admin = Browser::new(&server.url);
    sign_in(&mut admin, "region-admin");
    let region = admin.get("/region");
    assert_eq!(region.status, 200, "{}", region.body);
    assert!(
        region.body.contains("href=\"/region\""),
        "the navigation links the page"
    );
    let v1 = section(&region, "1.0.0");
    assert!(
        v1.contains("data-region=\"330100\" data-state=\"active\"") && v1.contains("100%"),
        "{v1}"
    );
    assert!(
        !v1.contains("value=\"rollout\"") && !v1.contains("value=\"halt\""),
        "nothing to roll out or halt in an active deployment: {v1}"
    );
    // The one node (SQLite, polling) acknowledges what it serves, so the
    // deployment is ready on 1 of 1 node once it has loaded the app.
    let started = std::time::Instant::now();
    loop {
        let page = admin.get("/region");
        let v1 = section(&page, "1.0.0");
        if v1.contains("data-ready=\"1\" data-nodes=\"1\"") {
            assert!(v1.contains("已就绪 1/1 个节点"), "{v1}");
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the node has not acknowledged 1.0.0 after a minute: {v1}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let csrf = hidden(&region.body, "csrf");

    // A second version, published with the demo bureau's key and approved.
    let store = Store {
        backend: "sqlite",
        data_dir: data.clone(),
        database_url: None,
        blob_url: None,
        env: Vec::new(),
    };
    let cli = Cli {
        server: server.url.clone(),
        store: &store,
    };
    let package = package_file(root.path(), "1.1.0", None);
    let key = data.join("demo/publisher.key").display().to_string();
    cli.ok(
        Some(&token(&data, "publisher")),
        &["app", "publish", &package, "--key", &key],
    );
    approve(&cli, &token(&data, "reviewer"), "1.1.0");
    let region = admin.get("/region");
    let v2 = section(&region, "1.1.0");
    for action in ["pilot", "rollout", "yank"] {
        assert!(v2.contains(&format!("value=\"{action}\"")), "{action} is offered: {v2}");
    }
    assert!(
        v2.contains("name=\"percentage\" min=\"1\" max=\"100\"") && v2.contains("name=\"group\""),
        "{v2}"
    );

    // A form without the CSRF token is refused.
    let forged = admin.post(
        &format!("/region/{APP}/1.1.0"),
        &[("region", REGION), ("action", "rollout"), ("percentage", "10")],
    );
    assert_eq!(forged.status, 403);

    // Nonsensical percentages are refused, naming the problem.
    for (bad, named) in [("0", "not 0"), ("101", "not 101"), ("abc", "`abc`")] {
        let refused = release(
            &mut admin,
            &csrf,
            "1.1.0",
            &[("action", "rollout"), ("percentage", bad)],
        );
        assert_eq!(refused.status, 422, "{bad}: {}", refused.body);
        assert!(
            refused.body.contains("error-summary") && refused.body.contains(named),
            "{bad}: {}",
            refused.body
        );
        assert!(
            refused
                .body
                .contains("href=\"#percentage-cn.gov.hz.amr.sole-proprietor@1.1.0\""),
            "the summary links the field: {}",
            refused.body
        );
    }
    // Another region is not this admin's to release in: the marketplace says so.
    let elsewhere = admin.post(
        &format!("/region/{APP}/1.1.0"),
        &[("csrf", &csrf), ("region", "330200"), ("action", "halt")],
    );
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    assert!(
        elsewhere.body.contains("administers region 330100, not 330200"),
        "{}",
        elsewhere.body
    );

    // A pilot serves its group only.
    let piloted = release(
        &mut admin,
        &csrf,
        "1.1.0",
        &[("action", "pilot"), ("group", "citizen-li-si\n")],
    );
    assert_eq!(piloted.status, 303, "{}", piloted.body);
    assert_eq!(piloted.location.as_deref(), Some("/region"));
    let region = admin.get("/region");
    let v2 = section(&region, "1.1.0");
    assert!(
        v2.contains("data-state=\"piloting\"") && v2.contains("citizen-li-si"),
        "{v2}"
    );
    assert_eq!(served(&server.url, &api, "citizen-li-si").as_deref(), Some("1.1.0"));
    assert_eq!(served(&server.url, &api, "citizen-zhang-san").as_deref(), Some("1.0.0"));

    // A staged rollout, whose share only rises.
    let rolled = release(
        &mut admin,
        &csrf,
        "1.1.0",
        &[("action", "rollout"), ("percentage", "30")],
    );
    assert_eq!(rolled.status, 303, "{}", rolled.body);
    let v2_page = admin.get("/region");
    let v2 = section(&v2_page, "1.1.0");
    assert!(v2.contains("data-state=\"rolling-out\"") && v2.contains("30%"), "{v2}");
    let lower = release(
        &mut admin,
        &csrf,
        "1.1.0",
        &[("action", "rollout"), ("percentage", "20")],
    );
    assert_eq!(lower.status, 422, "{}", lower.body);
    assert!(lower.body.contains("only rises"), "{}", lower.body);
    assert!(
        lower.body.contains("value=\"20\""),
        "what was typed is kept: {}",
        lower.body
    );

    // Halt, then roll back: the previous version serves everyone again.
    let halted = release(&mut admin, &csrf, "1.1.0", &[("action", "halt")]);
    assert_eq!(halted.status, 303, "{}", halted.body);
    let v2_page = admin.get("/region");
    let v2 = section(&v2_page, "1.1.0");
    assert!(
        v2.contains("data-state=\"halted\"") && v2.contains("value=\"rollback\"") && !v2.contains("value=\"halt\""),
        "{v2}"
    );
    assert_eq!(served(&server.url, &api, "citizen-li-si").as_deref(), Some("1.0.0"));
    let rolled_back = release(&mut admin, &csrf, "1.1.0", &[("action", "rollback")]);
    assert_eq!(rolled_back.status, 303, "{}", rolled_back.body);
    let v2_page = admin.get("/region");
    let v2 = section(&v2_page, "1.1.0");
    assert!(
        v2.contains("data-state=\"rolled-back\"") && !v2.contains("value=\"rollback\""),
        "{v2}"
    );
    let again = release(&mut admin, &csrf, "1.1.0", &[("action", "rollback")]);
    assert_eq!(again.status, 409, "a second rollback is refused: {}", again.body);
    assert!(
        again.body.contains("cannot rollback a release that is rolled-back"),
        "{}",
        again.body
    );

    // A yank needs a reason: without one it comes back naming the problem.
    let no_reason = release(&mut admin, &csrf, "1.1.0", &[("action", "yank"), ("reason", "")]);
    assert_eq!(no_reason.status, 422, "{}", no_reason.body);
    assert!(
        no_reason.body.contains("error-summary")
            && no_reason
                .body
                .contains("href=\"#yank-reason-cn.gov.hz.amr.sole-proprietor@1.1.0\"")
            && no_reason.body.contains("needs a reason"),
        "{}",
        no_reason.body
    );
    // Yanked: no new deployments anywhere, so nothing more is offered, and
    // the reason stays with the version.
    let yanked = release(
        &mut admin,
        &csrf,
        "1.1.0",
        &[("action", "yank"), ("reason", "字号规则有误")],
    );
    assert_eq!(yanked.status, 303, "{}", yanked.body);
    let v2_page = admin.get("/region");
    let v2 = section(&v2_page, "1.1.0");
    assert!(
        v2.contains("data-version-state=\"yanked\"")
            && !v2.contains("value=\"rollout\"")
            && !v2.contains("value=\"yank\"")
            && v2.contains("字号规则有误"),
        "{v2}"
    );

    // The security officer revokes the serving version; it stops serving.
    let mut security = Browser::new(&server.url);
    sign_in(&mut security, "security");
    let page = security.get("/security");
    assert_eq!(page.status, 200, "{}", page.body);
    let v1 = section(&page, "1.0.0");
    assert!(
        v1.contains("data-state=\"active\"")
            && v1.contains(&format!("action=\"/security/{APP}/1.0.0/revoke\""))
            && v1.contains("name=\"reason\" id=\"reason-cn.gov.hz.amr.sole-proprietor@1.0.0\""),
        "{v1}"
    );
    let security_csrf = hidden(&page.body, "csrf");
    let csrf = security_csrf.clone();
    let revoke = format!("/security/{APP}/1.0.0/revoke");
    assert_eq!(
        security.post(&revoke, &[("action", "revoke"), ("reason", "x")]).status,
        403
    );
    assert_eq!(
        admin
            .post(&revoke, &[("csrf", &hidden(&region.body, "csrf")), ("reason", "x")])
            .status,
        403,
        "a region admin may not revoke"
    );
    let no_reason = security.post(&revoke, &[("csrf", &csrf), ("action", "revoke"), ("reason", " ")]);
    assert_eq!(no_reason.status, 422, "{}", no_reason.body);
    assert!(no_reason.body.contains("吊销理由"), "{}", no_reason.body);
    assert_eq!(served(&server.url, &api, "citizen-zhang-san").as_deref(), Some("1.0.0"));
    let revoked = security.post(
        &revoke,
        &[
            ("csrf", &csrf),
            ("action", "revoke"),
            ("reason", "供应链投毒 / a poisoned dependency"),
        ],
    );
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    assert_eq!(revoked.location.as_deref(), Some("/security"));
    assert_eq!(served(&server.url, &api, "citizen-zhang-san"), None);
    assert_eq!(served(&server.url, &api, "citizen-li-si"), None);
    let page = security.get("/security");
    let v1 = section(&page, "1.0.0");
    assert!(
        v1.contains("data-version-state=\"revoked\"")
            && v1.contains("已吊销")
            && !v1.contains("name=\"reason\"")
            && v1.contains("供应链投毒 / a poisoned dependency"),
        "{v1}"
    );
    let twice = security.post(&revoke, &[("csrf", &csrf), ("action", "revoke"), ("reason", "again")]);
    assert_eq!(twice.status, 409, "{}", twice.body);
    assert!(twice.body.contains("error-summary"), "{}", twice.body);

    // The auditor reads every step on the chain, filtered.
    let mut auditor = Browser::new(&server.url);
    sign_in(&mut auditor, "auditor");
    let log = auditor.get("/audit");
    assert_eq!(log.status, 200, "{}", log.body);
    for action in [
        "release.pilot",
        "release.rollout",
        "release.halt",
        "release.rollback",
        "release.yank",
        "release.revoke",
    ] {
        assert!(
            log.body.contains(&format!("data-action=\"{action}\"")),
            "{action}: {}",
            log.body
        );
    }
    for label in [
        "for=\"action\"",
        "for=\"actor\"",
        "for=\"target\"",
        "for=\"subject\"",
        "for=\"case\"",
        "for=\"app\"",
    ] {
        assert!(log.body.contains(label), "{label} labelled");
    }
    let revokes = auditor.get("/audit?action=release.revoke");
    assert_eq!(
        revokes.body.matches("data-action=\"release.revoke\"").count(),
        1,
        "{}",
        revokes.body
    );
    assert!(
        !revokes.body.contains("data-action=\"release.pilot\""),
        "{}",
        revokes.body
    );
    let releases = auditor.get("/audit?action=release&actor=region-admin&target=%401.1.0");
    for action in [
        "release.pilot",
        "release.rollout",
        "release.halt",
        "release.rollback",
        "release.yank",
    ] {
        assert!(
            releases.body.contains(&format!("data-action=\"{action}\"")),
            "{action}: {}",
            releases.body
        );
    }
    assert!(
        !releases.body.contains("data-action=\"release.revoke\""),
        "{}",
        releases.body
    );
    let one = auditor.get("/audit?limit=1");
    assert_eq!(one.body.matches("<tr data-seq=").count(), 1, "{}", one.body);
    assert!(one.body.contains("before="), "an older page is linked: {}", one.body);
    let bad = auditor.get("/audit?before=abc");
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("error-summary") && bad.body.contains("`abc`"),
        "{}",
        bad.body
    );
    let provenance = auditor.get("/audit?subject=citizen-zhang-san");
    assert_eq!(provenance.status, 200, "{}", provenance.body);
    assert!(
        log.body.contains("请填写主体标识或办件编号"),
        "no records without a subject or case"
    );
    assert!(
        provenance.body.contains("id=\"provenance\"") && !provenance.body.contains("请填写主体标识或办件编号"),
        "{}",
        provenance.body
    );

    // Verification finds the chain intact, and names an edited entry.
    let csrf = hidden(&log.body, "csrf");
    assert_eq!(
        auditor.post("/audit/verify", &[("csrf", "forged")]).status,
        403,
        "a wrong CSRF token"
    );
    let verified = auditor.post("/audit/verify", &[("csrf", &csrf)]);
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert!(
        verified.body.contains("id=\"verify-result\"") && verified.body.contains("完整：已封存 "),
        "{}",
        verified.body
    );
    tamper_with_audit_entry(&data, 3);
    let broken = auditor.post("/audit/verify", &[("csrf", &csrf)]);
    assert!(
        broken.body.contains("(entry 3): its contents do not match") && !broken.body.contains("完整："),
        "{}",
        broken.body
    );
    assert_eq!(
        security.post("/audit/verify", &[("csrf", &security_csrf)]).status,
        200,
        "security officers may verify too, as in the API"
    );
    assert_eq!(
        admin
            .post("/audit/verify", &[("csrf", &hidden(&region.body, "csrf"))])
            .status,
        403
    );
}

/// Seal what is pending (the server's sealer may not have reached it yet),
/// then edit one sealed audit entry's actor directly in the database, as an
/// intruder would.
fn tamper_with_audit_entry(data: &Path, seq: i64) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = tongban_store::Database::open_configured(None, data).await.unwrap();
        let key = tongban_registry::market::registry_signing_key(&db).await.unwrap();
        tongban_registry::market::audit_seal::seal_pending(&db, &key)
            .await
            .unwrap();
        let changed = sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = $1")
            .bind(seq)
            .execute(db.pool())
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(changed, 1);
    });
}
