//! Window intake and evaluation over real HTTP against `tongban serve --demo`:
//! a window clerk applies at the counter for 张三 (the case is his, on the
//! window channel, and he follows it online); an unknown ID number is a 4xx
//! naming the problem; a citizen may not use the counter. The clerk asks for
//! a correction and 张三 corrects the case online, through the app's checks.
//! Then the case is accepted, handed off, approved and delivered on the
//! staff pages, 张三
//! rates it 不满意 with a comment, the clerk's work page lists the
//! remediation item, and the clerk resolves it with a note.

use std::path::Path;

use tongban_tests::ServerProcess;

mod page_client;
use page_client::{Browser, Page, hidden, sign_in};

const APP: &str = "cn.gov.hz.amr.sole-proprietor";
const ZHANG_SAN_ID: &str = "330106199003070014";
/// A well-formed resident ID number nobody in the demo has.
const UNKNOWN_ID: &str = "110101199001010037";
/// The handler's org (杭州市西湖区市场监督管理局), where the case is handed off.
const HANDLING_ORG: &str = "113301060024896013";

fn assert_contains(page: &Page, parts: &[&str]) {
    for part in parts {
        assert!(page.body.contains(part), "expected `{part}` in:\n{}", page.body);
    }
}

/// Take a step on the staff case page as `browser`.
fn step(browser: &mut Browser, case: &str, fields: &[(&str, &str)]) {
    let work = browser.get(&format!("/work/cases/{case}"));
    assert_eq!(work.status, 200, "{}", work.body);
    let csrf = hidden(&work.body, "csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let done = browser.post(&format!("/work/cases/{case}"), &form);
    assert_eq!(done.status, 303, "{fields:?}: {}", done.body);
}

#[test]
fn a_clerk_applies_at_the_counter_and_the_citizen_rates_the_delivered_case() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let args = vec!["--demo".to_owned(), "--data-dir".to_owned(), data.display().to_string()];
    let server = ServerProcess::start(Path::new(env!("CARGO_BIN_EXE_tongban")), &args, &[]);

    // 张三 consents online first: at the window, as online, the app reads his
    // identity under his own consent. The service page names its version.
    let mut citizen = Browser::new(&server.url);
    sign_in(&mut citizen, "zhangsan");
    let service = citizen.get(&format!("/services/{APP}"));
    assert_contains(&service, &["id=\"serving-version\"", "版本 1.0.0", "授权同意"]);
    let citizen_csrf = hidden(&service.body, "csrf");
    let granted = citizen.post(
        &format!("/services/{APP}/consent"),
        &[("csrf", &citizen_csrf), ("decision", "grant")],
    );
    assert_eq!(granted.status, 303, "{}", granted.body);
    let form = citizen.get(&format!("/services/{APP}?lang=en"));
    assert_contains(&form, &["<p id=\"serving-version\">Version 1.0.0</p>"]);
    citizen.get("/?lang=zh");

    // The counter is for window clerks only.
    assert_eq!(citizen.get("/work/counter").status, 403);
    let mut handler = Browser::new(&server.url);
    sign_in(&mut handler, "handler");
    assert_eq!(handler.get("/work/counter").status, 403);
    let handler_csrf = hidden(&handler.get("/work").body, "csrf");
    assert_eq!(
        handler
            .post(
                "/work/counter",
                &[("csrf", &handler_csrf), ("app", APP), ("id_number", ZHANG_SAN_ID)]
            )
            .status,
        403
    );

    // The clerk chooses the service and enters the applicant's ID number.
    let mut clerk = Browser::new(&server.url);
    sign_in(&mut clerk, "clerk");
    let start = clerk.get("/work/counter");
    assert_eq!(start.status, 200, "{}", start.body);
    assert_contains(
        &start,
        &[
            "href=\"/work/counter\"",
            "href=\"/work\"",
            &format!("<option value=\"{APP}\">个体工商户设立登记</option>"),
            "<label for=\"id_number\">",
            "name=\"id_number\" id=\"id_number\"",
        ],
    );

    // An unknown ID number is refused on the page, naming the problem and
    // keeping what was chosen and typed; so is a missing one.
    let csrf = hidden(&start.body, "csrf");
    let choose = |browser: &mut Browser, app: &str, id_number: &str| {
        browser.post(
            "/work/counter",
            &[("csrf", csrf.as_str()), ("app", app), ("id_number", id_number)],
        )
    };
    let unknown = choose(&mut clerk, APP, UNKNOWN_ID);
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_contains(
        &unknown,
        &[
            "error-summary",
            "href=\"#id_number\"",
            "没有登记此身份证号的人员",
            &format!("value=\"{UNKNOWN_ID}\""),
            &format!("<option value=\"{APP}\" selected>"),
        ],
    );
    let missing = choose(&mut clerk, APP, "");
    assert_eq!(missing.status, 422, "{}", missing.body);
    assert_contains(&missing, &["error-summary", "请输入申请人的身份证号"]);
    let no_service = choose(&mut clerk, "", ZHANG_SAN_ID);
    assert_eq!(no_service.status, 422, "{}", no_service.body);
    assert_contains(&no_service, &["href=\"#app\"", "请选择要办理的服务"]);
    let forged_choice = clerk.post("/work/counter", &[("app", APP), ("id_number", ZHANG_SAN_ID)]);
    assert_eq!(forged_choice.status, 403, "no CSRF token");

    // A known one goes on to the service's form: empty (nothing of the
    // clerk's or the citizen's is prefilled), with the ID number carried in
    // the form and never in a URL.
    let form = choose(&mut clerk, APP, ZHANG_SAN_ID);
    assert_eq!(form.status, 200, "{}", form.body);
    assert_contains(
        &form,
        &[
            &format!("action=\"/work/counter/{APP}\""),
            "name=\"operator/name\"",
            "3301**********0014",
        ],
    );
    assert_eq!(hidden(&form.body, "id_number"), ZHANG_SAN_ID);
    assert!(!form.body.contains("value=\"张三\""), "no prefill: {}", form.body);
    assert!(
        !form.body.contains("consent-needed"),
        "张三 has consented: {}",
        form.body
    );
    let csrf = hidden(&form.body, "csrf");
    let key = hidden(&form.body, "submission_key");
    let fields = |trade: &'static str, id_number: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("csrf", csrf.clone()),
            ("submission_key", key.clone()),
            ("id_number", id_number.into()),
            ("operator/name", "张三".into()),
            ("operator/id-number", ZHANG_SAN_ID.into()),
            ("operator/phone", "13800138000".into()),
            ("business/trade-name", trade.into()),
            ("business/industry", "餐饮".into()),
            ("business/scope", "餐饮服务\n预包装食品销售".into()),
            ("business/address", "浙江省杭州市西湖区文三路90号".into()),
        ]
    };
    let post = |browser: &mut Browser, fields: Vec<(&'static str, String)>| {
        let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        browser.post(&format!("/work/counter/{APP}"), &form)
    };

    // Without the CSRF token the post is refused.
    let forged = clerk.post(&format!("/work/counter/{APP}"), &[("id_number", ZHANG_SAN_ID)]);
    assert_eq!(forged.status, 403);
    // A form that fails validation keeps what was typed and lists the problems.
    let refused = post(&mut clerk, fields("中华小厨", ZHANG_SAN_ID));
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_contains(
        &refused,
        &[
            "error-summary",
            "href=\"#f-business-trade-name\"",
            "value=\"中华小厨\"",
            "预包装食品销售",
        ],
    );
    assert_eq!(hidden(&refused.body, "id_number"), ZHANG_SAN_ID);
    // A posted unknown ID number is refused naming it, too.
    let stranger = post(&mut clerk, fields("西湖小厨", UNKNOWN_ID));
    assert_eq!(stranger.status, 404, "{}", stranger.body);
    assert_contains(&stranger, &["error-summary", "没有登记此身份证号的人员"]);

    // A good form opens 张三's case on the window channel, on the staff page.
    let applied = post(&mut clerk, fields("西湖小厨", ZHANG_SAN_ID));
    assert_eq!(applied.status, 303, "{}", applied.body);
    let case_path = applied.location.clone().unwrap();
    assert!(case_path.starts_with("/work/cases/"), "{case_path}");
    let case = case_path.trim_start_matches("/work/cases/").to_owned();
    let staff_page = clerk.get(&case_path);
    assert_eq!(staff_page.status, 200, "{}", staff_page.body);
    assert_contains(&staff_page, &["window", "代办人员 clerk", "已提交"]);
    // Submitting the same form again opens no second case.
    let again = post(&mut clerk, fields("西湖小厨", ZHANG_SAN_ID));
    assert_eq!(again.location.as_deref(), Some(case_path.as_str()));

    // 张三 follows the same case online.
    let mine = citizen.get("/my/cases");
    assert_eq!(mine.body.matches("href=\"/my/cases/").count(), 1, "{}", mine.body);
    assert_contains(&mine, &[&format!("href=\"/my/cases/{case}\"")]);
    let online = citizen.get(&format!("/my/cases/{case}"));
    assert_eq!(online.status, 200, "{}", online.body);
    assert_contains(&online, &["window", "已提交", "办件有结果"]);
    assert!(!online.body.contains("id=\"rate\""), "not finished: {}", online.body);

    // The counter case's fee is 张三's: another citizen signed in, holding
    // the link, sees no decline button and may not decline it.
    let pay_path = online
        .body
        .split("href=\"")
        .map(|rest| rest.split('"').next().unwrap())
        .find(|href| href.starts_with("/pay/"))
        .unwrap_or_else(|| panic!("no pay link on {}", online.body))
        .to_owned();
    let mut li_si = Browser::new(&server.url);
    sign_in(&mut li_si, "lisi");
    let theirs = li_si.get(&pay_path);
    assert!(!theirs.body.contains("value=\"decline\""), "{}", theirs.body);
    let token = hidden(&theirs.body, "csrf");
    let refused = li_si.post(&pay_path, &[("csrf", &token), ("decision", "decline")]);
    assert_eq!(refused.status, 403, "another citizen may not decline: {}", refused.body);
    assert!(
        citizen.get(&pay_path).body.contains("value=\"decline\""),
        "张三 may decline his own fee"
    );

    // Rating an unfinished case is refused with the problem named.
    let early = citizen.post(
        &format!("/my/cases/{case}/rating"),
        &[("csrf", &citizen_csrf), ("level", "satisfied"), ("comment", "")],
    );
    assert_eq!(early.status, 409, "{}", early.body);
    assert_contains(&early, &["error-summary", "暂不能评价", "submitted"]);

    // The clerk asks for a correction (补正). Without a reason the step comes
    // back on the case page naming the problem, keeping the choice of org;
    // with one, the case waits for the applicant.
    let work = clerk.get(&format!("/work/cases/{case}"));
    let work_csrf = hidden(&work.body, "csrf");
    let no_reason = clerk.post(
        &format!("/work/cases/{case}"),
        &[("csrf", &work_csrf), ("action", "request-correction"), ("reason", "  ")],
    );
    assert_eq!(no_reason.status, 422, "{}", no_reason.body);
    assert_contains(
        &no_reason,
        &[
            "error-summary",
            "href=\"#reason\"",
            "请填写理由",
            "needs a reason",
            "<form method=\"post\"",
        ],
    );
    step(
        &mut clerk,
        &case,
        &[("action", "request-correction"), ("reason", "字号请改为“西湖小吃”")],
    );

    // 张三 corrects the counter case online: the page shows the reason and
    // the form as it was submitted at the window.
    let asked = citizen.get(&format!("/my/cases/{case}"));
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert_contains(
        &asked,
        &[
            "待补正",
            "id=\"correction-reason\"",
            "字号请改为“西湖小吃”",
            &format!("action=\"/my/cases/{case}/correction\""),
            "value=\"西湖小厨\"",
            "餐饮服务\n预包装食品销售",
        ],
    );
    let correction = |browser: &mut Browser, trade: &str| {
        browser.post(
            &format!("/my/cases/{case}/correction"),
            &[
                ("csrf", citizen_csrf.as_str()),
                ("operator/name", "张三"),
                ("operator/id-number", ZHANG_SAN_ID),
                ("operator/phone", "13800138000"),
                ("business/trade-name", trade),
                ("business/industry", "餐饮"),
                ("business/scope", "餐饮服务\n预包装食品销售"),
                ("business/address", "浙江省杭州市西湖区文三路90号"),
            ],
        )
    };
    // The corrected form goes through the app's checks like an application:
    // a refused one keeps what was typed and lists the problem.
    let refused = correction(&mut citizen, "中华小吃");
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_contains(
        &refused,
        &[
            "error-summary",
            "href=\"#f-business-trade-name\"",
            "value=\"中华小吃\"",
            "待补正",
        ],
    );
    // Another citizen cannot correct it.
    let mut lisi = Browser::new(&server.url);
    sign_in(&mut lisi, "lisi");
    let lisi_csrf = hidden(&lisi.get("/my/cases").body, "csrf");
    let not_hers = lisi.post(
        &format!("/my/cases/{case}/correction"),
        &[("csrf", &lisi_csrf), ("business/trade-name", "西湖小吃")],
    );
    assert_eq!(not_hers.status, 404, "{}", not_hers.body);
    let corrected = correction(&mut citizen, "西湖小吃");
    assert_eq!(corrected.status, 303, "{}", corrected.body);
    let resubmitted = citizen.get(&format!("/my/cases/{case}"));
    assert_contains(&resubmitted, &["已提交", "resubmit"]);
    assert!(!resubmitted.body.contains("id=\"correction\""), "{}", resubmitted.body);
    // The clerk's page has the corrected form; a second correction is refused.
    assert_contains(&clerk.get(&format!("/work/cases/{case}")), &["已提交"]);
    let twice = correction(&mut citizen, "西湖小吃");
    assert_eq!(twice.status, 409, "{}", twice.body);
    assert_contains(&twice, &["error-summary", "`resubmit` is not possible from there"]);

    // The case goes through: accepted, handed off (受办分离), approved, delivered.
    step(&mut clerk, &case, &[("action", "accept"), ("reason", "")]);
    step(
        &mut clerk,
        &case,
        &[("action", "hand-off"), ("to_org", HANDLING_ORG), ("reason", "属地办理")],
    );
    step(&mut handler, &case, &[("action", "approve"), ("reason", "准予登记")]);
    step(&mut handler, &case, &[("action", "deliver"), ("reason", "")]);

    // 张三 sees the rating form on the delivered case.
    let delivered = citizen.get(&format!("/my/cases/{case}"));
    assert_contains(
        &delivered,
        &[
            "已出件",
            &format!("<form method=\"post\" action=\"/my/cases/{case}/rating\">"),
            "<fieldset",
            "<legend>",
            "<textarea id=\"comment\" name=\"comment\"",
            "<label for=\"comment\">",
            "<button type=\"submit\" id=\"rate\">",
        ],
    );
    for (value, label) in [
        ("very-satisfied", "非常满意"),
        ("satisfied", "满意"),
        ("basically-satisfied", "基本满意"),
        ("dissatisfied", "不满意"),
        ("very-dissatisfied", "非常不满意"),
    ] {
        assert_contains(
            &delivered,
            &[
                &format!("<input type=\"radio\" name=\"level\" id=\"level-{value}\" value=\"{value}\">"),
                &format!("<label for=\"level-{value}\">{label}</label>"),
            ],
        );
    }
    assert!(!delivered.body.contains("id=\"rating\""), "{}", delivered.body);

    // No level, or an over-long comment, comes back naming the problem and
    // keeping what was chosen and typed.
    let rate = |browser: &mut Browser, level: &str, comment: &str| {
        browser.post(
            &format!("/my/cases/{case}/rating"),
            &[("csrf", &citizen_csrf), ("level", level), ("comment", comment)],
        )
    };
    let no_level = rate(&mut citizen, "", "等了很久");
    assert_eq!(no_level.status, 422, "{}", no_level.body);
    assert_contains(
        &no_level,
        &[
            "error-summary",
            "href=\"#level-very-satisfied\"",
            "请选择满意程度",
            ">等了很久</textarea>",
        ],
    );
    let essay = "慢".repeat(501);
    let too_long = rate(&mut citizen, "dissatisfied", &essay);
    assert_eq!(too_long.status, 422, "{}", too_long.body);
    assert_contains(
        &too_long,
        &[
            "href=\"#comment\"",
            "评价意见过长",
            "at most 500",
            "id=\"level-dissatisfied\" value=\"dissatisfied\" checked",
        ],
    );
    // Another citizen cannot rate it.
    let not_hers = lisi.post(
        &format!("/my/cases/{case}/rating"),
        &[("csrf", &lisi_csrf), ("level", "very-dissatisfied"), ("comment", "")],
    );
    assert_eq!(not_hers.status, 404, "{}", not_hers.body);

    // 张三 rates it 不满意 with a comment; the form gives way to the rating.
    let rated = rate(&mut citizen, "dissatisfied", "窗口排队太久");
    assert_eq!(rated.status, 303, "{}", rated.body);
    assert_eq!(rated.location.as_deref(), Some(format!("/my/cases/{case}").as_str()));
    let shown = citizen.get(&format!("/my/cases/{case}"));
    assert_contains(
        &shown,
        &["<p id=\"rating\">", "不满意", "窗口排队太久", "已转受理机构整改"],
    );
    assert!(!shown.body.contains("id=\"rate\""), "{}", shown.body);
    let twice = rate(&mut citizen, "very-satisfied", "");
    assert_eq!(twice.status, 409, "{}", twice.body);
    assert_contains(&twice, &["error-summary", "already been rated"]);

    // The accepting org's clerk has the remediation item on the work page;
    // the handling org does not.
    let work = clerk.get("/work");
    assert_eq!(work.status, 200, "{}", work.body);
    assert_contains(
        &work,
        &[
            "差评整改",
            &format!("<a href=\"/work/cases/{case}\">{case}</a>"),
            "不满意",
            "窗口排队太久",
            "整改期限",
            "action=\"/work/remediation/",
            "name=\"note\"",
        ],
    );
    assert!(!work.body.contains("已超期"), "not overdue yet: {}", work.body);
    let handler_work = handler.get("/work");
    assert!(!handler_work.body.contains("窗口排队太久"), "{}", handler_work.body);

    // Resolving needs a note; then the item leaves the list.
    let marker = "action=\"/work/remediation/";
    let start = work.body.find(marker).unwrap() + marker.len();
    let item = work.body[start..].split('"').next().unwrap().to_owned();
    let clerk_csrf = hidden(&work.body, "csrf");
    let handler_csrf = hidden(&handler_work.body, "csrf");
    let other_org = handler.post(
        &format!("/work/remediation/{item}"),
        &[("csrf", &handler_csrf), ("note", "已整改")],
    );
    assert_eq!(other_org.status, 403, "{}", other_org.body);
    let blank = clerk.post(
        &format!("/work/remediation/{item}"),
        &[("csrf", &clerk_csrf), ("note", "  ")],
    );
    assert_eq!(blank.status, 422, "{}", blank.body);
    assert_contains(
        &blank,
        &["error-summary", &format!("href=\"#note-{item}\""), "请填写整改情况"],
    );
    let resolved = clerk.post(
        &format!("/work/remediation/{item}"),
        &[("csrf", &clerk_csrf), ("note", "已电话回访，增开窗口")],
    );
    assert_eq!(resolved.status, 303, "{}", resolved.body);
    assert_eq!(resolved.location.as_deref(), Some("/work"));
    let after = clerk.get("/work");
    assert!(!after.body.contains("窗口排队太久"), "{}", after.body);
    assert_contains(&after, &["没有待整改的差评"]);
    let answered = citizen.get(&format!("/my/cases/{case}"));
    assert_contains(&answered, &["已整改", "已电话回访，增开窗口"]);
}
