//! The web pages over real HTTP against `tongban serve --demo`: signing in
//! (wrong passwords refused, then rate-limited), pages behind the session,
//! CSRF on every form, the consent page before the form, a form prefilled
//! from identity and certificates, a refused form that keeps what was typed
//! with an error summary, one case for a double submit, the clerk's queue,
//! the language switch, and clear 4xx answers to bad requests.

use std::path::Path;

use tongban_tests::ServerProcess;

mod page_client;
use page_client::{Browser, first_link, hidden, sign_in, try_sign_in};

const APP: &str = "cn.gov.hz.amr.sole-proprietor";

#[test]
fn the_pages_work_without_javascript_and_refuse_bad_requests() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let args = vec!["--demo".to_owned(), "--data-dir".to_owned(), data.display().to_string()];
    let server = ServerProcess::start(Path::new(env!("CARGO_BIN_EXE_tongban")), &args, &[]);
    let mut citizen = Browser::new(&server.url);

    // Public: the service list, in Chinese by default, English on request.
    let home = citizen.get("/");
    assert_eq!(home.status, 200);
    assert!(
        home.body.contains("lang=\"zh-CN\"") && home.body.contains("个体工商户设立登记"),
        "{}",
        home.body
    );
    let english = citizen.get("/?lang=en");
    assert!(
        english.body.contains("lang=\"en\"") && english.body.contains("Sole proprietorship"),
        "{}",
        english.body
    );
    assert!(
        citizen.get("/").body.contains("lang=\"en\""),
        "the choice is remembered"
    );
    citizen.get("/?lang=zh");

    // Pages behind the session send anonymous visitors to sign in.
    let mine = citizen.get("/my/cases");
    assert_eq!(mine.status, 303);
    assert_eq!(mine.location.as_deref(), Some("/login?next=%2Fmy%2Fcases"));

    // A sign-in posted without the form's token (another site's form) is
    // refused even with the right password, and signs nobody in.
    let mut stranger = Browser::new(&server.url);
    let forged = stranger.post("/login", &[("user", "lisi"), ("password", "tongban-demo")]);
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.body.contains("error-summary"), "{}", forged.body);
    assert!(
        stranger.cookie_header().contains("tb_form="),
        "the refusal offers a fresh form"
    );
    assert!(!stranger.cookie_header().contains("tb_session="));

    // Wrong passwords are refused with an error summary, then rate-limited.
    let wrong = try_sign_in(&mut stranger, "lisi", "wrong-password");
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("error-summary") && wrong.body.contains("账号或密码不正确"),
        "{}",
        wrong.body
    );
    for _ in 0..4 {
        try_sign_in(&mut stranger, "lisi", "wrong-password");
    }
    let limited = try_sign_in(&mut stranger, "lisi", "tongban-demo");
    assert_eq!(limited.status, 429, "even the right password waits after five failures");

    // The citizen signs in; the service first asks for consent.
    sign_in(&mut citizen, "zhangsan");
    let service = citizen.get(&format!("/services/{APP}"));
    assert_eq!(service.status, 200);
    assert!(
        service.body.contains("授权同意") && service.body.contains("电子证照：居民身份证"),
        "{}",
        service.body
    );
    let csrf = hidden(&service.body, "csrf");
    let forged = citizen.post(&format!("/services/{APP}/consent"), &[("decision", "grant")]);
    assert_eq!(forged.status, 403, "a form without the CSRF token is refused");
    let granted = citizen.post(
        &format!("/services/{APP}/consent"),
        &[("csrf", &csrf), ("decision", "grant")],
    );
    assert_eq!(granted.status, 303);

    // The form is prefilled from the identity and the ID card (免提交).
    let form = citizen.get(&format!("/services/{APP}"));
    assert!(form.body.contains("value=\"张三\""), "{}", form.body);
    assert!(form.body.contains("value=\"330106199003070014\""), "{}", form.body);
    let key = hidden(&form.body, "submission_key");
    // The prefill is a personal-data read like an app's, on the record.
    let auditor = std::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["admin", "issue-token", "--id", "auditor", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let auditor = String::from_utf8_lossy(&auditor.stdout).trim().to_owned();
    let mut response = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .get(format!("{}/api/v1/provenance?subject=citizen-zhang-san", server.url))
        .header("Authorization", format!("Bearer {auditor}"))
        .call()
        .unwrap();
    let records = response.body_mut().read_to_string().unwrap();
    assert!(
        records.contains("\"operation\":\"form.prefill\"") && records.contains("certificates/ID-CARD"),
        "{records}"
    );
    let good = |trade: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("operator/name", "张三".into()),
            ("operator/id-number", "330106199003070014".into()),
            ("operator/phone", "13800138000".into()),
            ("business/trade-name", trade.into()),
            ("business/industry", "餐饮".into()),
            ("business/scope", "餐饮服务\n预包装食品销售".into()),
            ("business/address", "浙江省杭州市西湖区文三路90号".into()),
        ]
    };
    let post_form = |browser: &mut Browser, fields: Vec<(&'static str, String)>| {
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str()), ("submission_key", key.as_str())];
        all.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
        browser.post(&format!("/services/{APP}/apply"), &all)
    };

    // A refused form keeps what was typed and lists every problem.
    let refused = post_form(&mut citizen, good("中华小厨"));
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("error-summary") && refused.body.contains("href=\"#f-business-trade-name\""),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"中华小厨\"") && refused.body.contains("预包装食品销售"),
        "{}",
        refused.body
    );

    // A good form opens a case; submitting it twice opens one.
    let applied = post_form(&mut citizen, good("西湖小厨"));
    assert_eq!(applied.status, 303, "{}", applied.body);
    let case_path = applied.location.clone().unwrap();
    assert!(case_path.starts_with("/my/cases/"), "{case_path}");
    let again = post_form(&mut citizen, good("西湖小厨"));
    assert_eq!(again.location.as_deref(), Some(case_path.as_str()));
    let case_page = citizen.get(&case_path);
    assert!(
        case_page.body.contains("去支付") && case_page.body.contains("已提交"),
        "{}",
        case_page.body
    );
    let cases = citizen.get("/my/cases");
    assert_eq!(cases.body.matches("href=\"/my/cases/").count(), 1, "{}", cases.body);

    // The fee: opening the pay page changes nothing; anyone holding the link
    // sees no decline button and may not decline; someone else signed in (a
    // clerk: 李四 is locked out by the rate limit above) may not either; only
    // 张三, signed in, declines his own fee.
    let pay_path = case_page
        .body
        .split("href=\"")
        .map(|rest| rest.split('"').next().unwrap())
        .find(|href| href.starts_with("/pay/"))
        .unwrap_or_else(|| panic!("no pay link on {}", case_page.body))
        .to_owned();
    let mut stranger = Browser::new(&server.url);
    let opened = stranger.get(&pay_path);
    let opened_again = stranger.get(&pay_path);
    assert!(
        opened_again.body.contains("created") && !opened.body.contains("value=\"decline\""),
        "a GET changes no state and offers a stranger no decline: {}",
        opened_again.body
    );
    let stranger_token = hidden(&opened.body, "csrf");
    let refused = stranger.post(&pay_path, &[("csrf", &stranger_token), ("decision", "decline")]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    let mut someone_else = Browser::new(&server.url);
    sign_in(&mut someone_else, "clerk");
    let other = someone_else.get(&pay_path);
    let other_token = hidden(&other.body, "csrf");
    let refused = someone_else.post(&pay_path, &[("csrf", &other_token), ("decision", "decline")]);
    assert_eq!(refused.status, 403, "someone else may not decline: {}", refused.body);
    assert!(refused.body.contains("created"), "{}", refused.body);
    let own = citizen.get(&pay_path);
    assert!(own.body.contains("value=\"decline\""), "{}", own.body);
    let own_token = hidden(&own.body, "csrf");
    let declined = citizen.post(&pay_path, &[("csrf", &own_token), ("decision", "decline")]);
    assert_eq!(declined.status, 200, "{}", declined.body);
    assert!(declined.body.contains("已取消支付"), "{}", declined.body);

    // Wallet, consents and inbox pages.
    // The wallet shows each certificate as a card linking to its own page,
    // which has the QR code of the public status check and the sealed copy.
    let wallet = citizen.get("/my/wallet");
    assert!(
        wallet.body.contains("居民身份证") && wallet.body.contains("class=\"certificate\""),
        "{}",
        wallet.body
    );
    let card = first_link(&wallet.body, "/my/wallet/").expect("a link to a certificate's page");
    let certificate = citizen.get(&card);
    assert_eq!(certificate.status, 200, "{}", certificate.body);
    assert!(
        certificate.body.contains("下载签章副本")
            && certificate.body.contains("<svg")
            && certificate.body.contains("/check/"),
        "{}",
        certificate.body
    );
    let consents = citizen.get("/my/consents");
    assert!(consents.body.contains("撤回"), "{}", consents.body);

    // The clerk of the accepting org sees it and accepts it.
    let mut clerk = Browser::new(&server.url);
    sign_in(&mut clerk, "clerk");
    let case_id = case_path.trim_start_matches("/my/cases/").to_owned();
    let queue = clerk.get("/work");
    assert!(queue.body.contains(&case_id), "{}", queue.body);
    let work = clerk.get(&format!("/work/cases/{case_id}"));
    let clerk_csrf = hidden(&work.body, "csrf");
    let accepted = clerk.post(
        &format!("/work/cases/{case_id}"),
        &[("csrf", &clerk_csrf), ("action", "accept"), ("reason", "")],
    );
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert!(clerk.get(&format!("/work/cases/{case_id}")).body.contains("已受理"));
    // A citizen's page is not for staff, and the staff page is not for citizens.
    assert_eq!(clerk.get("/my/wallet").status, 403);
    assert_eq!(citizen.get("/work").status, 403);

    // Bad requests are clear 4xx answers, never a 500.
    let huge = "字".repeat(400_000);
    let too_long = citizen.post(
        &format!("/services/{APP}/apply"),
        &[("csrf", &csrf), ("business/trade-name", &huge)],
    );
    assert!((400..500).contains(&too_long.status), "{}", too_long.status);
    let response = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .post(format!("{}/login", server.url))
        .header("Content-Type", "application/json")
        .send("{}")
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
}
