//! End to end, the first app's whole path on the real server, on SQLite and on
//! PostgreSQL: a citizen consents and applies with identity and certificate
//! prefill (免提交), pays the fee on the sandbox bank's hosted page, a window
//! clerk accepts (the app's `accepted` notification reaches the inbox), hands
//! off to another org (受办分离), a handler there approves, and the app issues
//! the business licence. The licence's sealed copy verifies with
//! `tongban cert verify`, and fails after one byte is changed. The auditor
//! lists the case's provenance; `tongban audit verify` checks chain and
//! provenance.
//!
//! And the outbox across a killed server: events committed while no server
//! runs, or pending when it is killed, are each delivered exactly once after
//! a restart.

mod common;
mod page_client;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use tongban_services::Services;
use tongban_services::cases::{Action, CaseActor, Step};
use tongban_store::Database;
use tongban_tests::ServerProcess;

/// 杭州市西湖区市场监督管理局: the handling org the case is handed to.
const HANDLING_ORG: &str = "113301060024896013";
const CITIZEN: &str = "citizen-zhang-san";

/// A platform with the first app rolled out in the region, the demo citizens,
/// and one account per role this path needs.
struct Platform<'a> {
    server: ServerProcess,
    cli: Cli<'a>,
    citizen: String,
    clerk: String,
    handler: String,
    auditor: String,
}

fn platform<'a>(store: &'a Store, work: &Path) -> Platform<'a> {
    std::fs::create_dir_all(work).unwrap();
    let server = start_server(store, "node-a", &[]);
    let cli = Cli {
        server: server.url.clone(),
        store,
    };
    let admin = cli.create_user("admin", "platform-admin", None, None);
    for (code, name, region) in [
        (BUREAU, "杭州市市场监督管理局", "330100"),
        (REVIEW_ORG, "杭州市西湖区数据资源局", REGION),
        (HANDLING_ORG, "杭州市西湖区市场监督管理局", REGION),
    ] {
        cli.ok(
            Some(&admin),
            &["org", "create", "--code", code, "--name", name, "--region", region],
        );
    }
    cli.ok(Some(&admin), &["org", "add-namespace", BUREAU, "cn.gov.hz.amr"]);
    let publisher = cli.create_user("pub-hz", "publisher", Some(BUREAU), None);
    let reviewer = cli.create_user("rev-data", "reviewer", Some(REVIEW_ORG), None);
    let region_admin = cli.create_user("ra-xihu", "region-admin", Some(REVIEW_ORG), Some(REGION));
    let key = work.join("pub-hz.key");
    cli.ok(None, &["key", "generate", "--out", key.to_str().unwrap()]);
    cli.ok(
        Some(&publisher),
        &["key", "register", "--org", BUREAU, "--key", key.to_str().unwrap()],
    );
    let v1 = package_file(work, "1.0.0", None);
    cli.ok(
        Some(&publisher),
        &["app", "publish", &v1, "--key", key.to_str().unwrap()],
    );
    approve(&cli, &reviewer, "1.0.0");
    cli.ok(Some(&region_admin), &rollout("1.0.0", "100"));

    let mut seed = vec!["admin", "demo-citizens"];
    let store_args = store.args();
    seed.extend(store_args.iter().map(String::as_str));
    let seeded = cli.ok(None, &seed);
    assert!(seeded.contains(CITIZEN), "{seeded}");
    let citizen = citizen_user(&cli, "zhangsan", CITIZEN);
    let clerk = cli.create_user("clerk-hz", "window-clerk", Some(BUREAU), None);
    let handler = cli.create_user("handler-xihu", "handler", Some(HANDLING_ORG), None);
    let auditor = cli.create_user("auditor", "auditor", None, None);
    Platform {
        server,
        cli,
        citizen,
        clerk,
        handler,
        auditor,
    }
}

fn citizen_user(cli: &Cli, id: &str, subject: &str) -> String {
    let mut args = vec![
        "admin",
        "create-user",
        "--id",
        id,
        "--role",
        "citizen",
        "--subject",
        subject,
    ];
    let store_args = cli.store.args();
    args.extend(store_args.iter().map(String::as_str));
    cli.ok(None, &args).trim().to_owned()
}

/// Plain HTTP, the way a browser or another client talks to the API.
struct Http {
    agent: ureq::Agent,
    base: String,
}

impl Http {
    fn new(base: &str) -> Http {
        Http {
            agent: ureq::Agent::config_builder().http_status_as_error(false).build().into(),
            base: base.to_owned(),
        }
    }

    fn get(&self, token: Option<&str>, path: &str) -> (u16, String) {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = request.call().unwrap();
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap(),
        )
    }

    fn get_json(&self, token: Option<&str>, path: &str) -> Value {
        let (status, body) = self.get(token, path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    fn post(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let mut response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .send_json(body)
            .unwrap();
        let text = response.body_mut().read_to_string().unwrap();
        (
            response.status().as_u16(),
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn post_ok(&self, token: &str, path: &str, body: &Value) -> Value {
        let (status, answer) = self.post(token, path, body);
        assert!((200..300).contains(&status), "POST {path}: {status} {answer}");
        answer
    }
}

fn application(trade_name: &str, key: &str) -> Value {
    json!({
        "region": REGION,
        "app": APP,
        "submission_key": key,
        "form": {
            "operator": { "name": "张三", "id-number": "330106199003070014", "phone": "13800138000" },
            "business": {
                "trade-name": trade_name,
                "industry": "餐饮",
                "scope": ["餐饮服务", "预包装食品销售"],
                "address": "浙江省杭州市西湖区文三路90号"
            }
        }
    })
}

/// Wait for `ready` to hold, for at most `seconds`.
fn eventually(what: &str, seconds: u64, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(seconds),
            "{what} did not happen within {seconds} s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The citizen grants the consent the app needs for its item.
fn consent(http: &Http, citizen: &str) -> String {
    let request = http.post_ok(citizen, "/api/v1/consents", &json!({ "region": REGION, "app": APP }));
    let scopes: Vec<&str> = request["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        scopes,
        [
            "certificates/ID-CARD",
            "identity.attributes/id-number-masked",
            "identity.attributes/name"
        ]
    );
    assert!(
        request["purpose_text"].as_str().unwrap().contains("个体工商户设立登记"),
        "{request}"
    );
    let id = request["id"].as_str().unwrap().to_owned();
    let granted = http.post_ok(citizen, &format!("/api/v1/consents/{id}/grant"), &json!({ "days": 30 }));
    assert_eq!(granted["state"], "granted");
    id
}

#[test]
fn the_first_apps_whole_path_on_the_real_server() {
    let root = tempfile::tempdir().unwrap();
    for store in stores(root.path(), "e2e_first_app", None) {
        first_app_path(&store, &root.path().join(format!("work-{}", store.backend)));
    }
}

fn first_app_path(store: &Store, work: &Path) {
    let p = platform(store, work);
    let http = Http::new(&p.server.url);
    let backend = store.backend;

    // Without consent the app's identity read is refused, and no case is left.
    let (status, refused) = http.post(&p.citizen, "/api/v1/applications", &application("西湖小厨", "first"));
    assert_eq!(status, 428, "[{backend}] {refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("consent-required"),
        "{refused}"
    );
    assert_eq!(http.get_json(Some(&p.citizen), "/api/v1/me/cases"), json!([]));

    // A form that breaks the app's rules is refused field by field.
    let mut bad = application("中华小厨", "bad");
    bad["form"]["business"]["address"] = json!("杭州市滨江区江南大道1号");
    let (status, fields) = http.post(&p.citizen, "/api/v1/applications", &bad);
    assert_eq!(status, 422, "{fields}");
    let named: Vec<&str> = fields["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(named, ["business/trade-name", "business/address"], "{fields}");

    let consent_id = consent(&http, &p.citizen);

    // Apply: identity and ID card come from the platform (免提交); a fee is due.
    let applied = http.post_ok(&p.citizen, "/api/v1/applications", &application("西湖小厨", "first"));
    let case = applied["case"]["id"].as_str().unwrap().to_owned();
    assert_eq!(applied["case"]["stage"], "submitted");
    assert_eq!(applied["case"]["channel"], "web");
    assert_eq!(applied["outcome"]["kind"], "queued");
    let payments = applied["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1, "{applied}");
    assert_eq!(payments[0]["amount_fen"], 1000);
    let pay_url = payments[0]["pay_url"].as_str().unwrap().to_owned();
    let payment = payments[0]["id"].as_str().unwrap().to_owned();
    // A double submit returns the same case.
    let again = http.post_ok(&p.citizen, "/api/v1/applications", &application("西湖小厨", "first"));
    assert_eq!(again["case"]["id"], case.as_str());
    assert_eq!(again["created"], false);
    assert_eq!(
        http.get_json(Some(&p.citizen), "/api/v1/me/cases")
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Pay on the sandbox bank's hosted page, in a browser that keeps its
    // cookies. A post without the page's form token (another site's form) is
    // refused and moves no money.
    let mut bank = page_client::Browser::new(&p.server.url);
    let forged = bank.post(&pay_url, &[("decision", "pay")]);
    assert_eq!(forged.status, 403, "{}", forged.body);
    let page = bank.get(&pay_url);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("¥10.00") && page.body.contains("lang=\"zh-CN\""),
        "{}",
        page.body
    );
    // Opening the page changes nothing (a GET never changes state), and a
    // visitor who holds the link but is not the citizen the fee belongs to
    // may pay but never decline.
    assert!(
        page.body.contains("created") && !page.body.contains("value=\"decline\""),
        "opening the page leaves the payment as it was, and offers a stranger no decline: {}",
        page.body
    );
    let token = page_client::hidden(&page.body, "csrf");
    let declined = bank.post(&pay_url, &[("csrf", &token), ("decision", "decline")]);
    assert_eq!(declined.status, 403, "{}", declined.body);
    assert!(declined.body.contains("created"), "{}", declined.body);
    let paid = bank.post(&pay_url, &[("csrf", &token), ("decision", "pay")]);
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert!(
        paid.body.contains("支付成功") && paid.body.contains("href=\"/my/cases\""),
        "{}",
        paid.body
    );
    let again = bank.post(&pay_url, &[("csrf", &token), ("decision", "pay")]);
    assert_eq!(again.status, 409, "paying twice is refused");

    // The clerk of the accepting org accepts; the app tells the citizen.
    let intake = http.get_json(Some(&p.clerk), "/api/v1/cases?queue=intake");
    assert!(
        intake.as_array().unwrap().iter().any(|c| c["id"] == case.as_str()),
        "{intake}"
    );
    let (status, denied) = http.post(
        &p.handler,
        &format!("/api/v1/cases/{case}/steps"),
        &json!({"action": "accept"}),
    );
    assert_eq!(
        status, 404,
        "another org's handler does not even see the case: {denied}"
    );
    let accepted = http.post_ok(
        &p.clerk,
        &format!("/api/v1/cases/{case}/steps"),
        &json!({"action": "accept"}),
    );
    assert_eq!(accepted["stage"], "accepted");
    assert!(accepted["due_at"].as_i64().unwrap() > accepted["accepted_at"].as_i64().unwrap());
    eventually("the accepted notification", 30, || {
        let inbox = http.get_json(Some(&p.citizen), "/api/v1/me/inbox");
        inbox.as_array().unwrap().iter().any(|m| {
            m["template"] == "accepted"
                && m["body"].as_str().unwrap().contains("西湖小厨")
                && m["case"] == case.as_str()
        })
    });

    // 受办分离: the clerk hands the case to the district bureau, whose handler approves.
    let handed = http.post_ok(
        &p.clerk,
        &format!("/api/v1/cases/{case}/steps"),
        &json!({"action": "hand-off", "to_org": HANDLING_ORG, "reason": "属地办理 / handled locally"}),
    );
    assert_eq!(handed["stage"], "handling");
    assert_eq!(handed["handling_org"], HANDLING_ORG);
    let (status, wrong) = http.post(
        &p.clerk,
        &format!("/api/v1/cases/{case}/steps"),
        &json!({"action": "approve"}),
    );
    assert_eq!(status, 403, "a clerk does not decide: {wrong}");
    let approved = http.post_ok(
        &p.handler,
        &format!("/api/v1/cases/{case}/steps"),
        &json!({"action": "approve", "reason": "准予登记"}),
    );
    assert_eq!(approved["stage"], "approved");

    // The app issues the licence on the approved event.
    let mut licence = Value::Null;
    eventually("the business licence", 30, || {
        let wallet = http.get_json(Some(&p.citizen), "/api/v1/me/certificates");
        if let Some(found) = wallet
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type_code"] == "BUSINESS-LICENCE")
        {
            licence = found.clone();
            true
        } else {
            false
        }
    });
    let licence_id = licence["id"].as_str().unwrap().to_owned();
    assert_eq!(licence["issuer_code"], HANDLING_ORG);
    assert_eq!(licence["holder_name"], "张三");
    let name_field = licence["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f[0] == "名称")
        .unwrap();
    assert_eq!(name_field[1], "杭州市西湖区西湖小厨餐饮店");

    // The timeline has every step, and every event the app needed was delivered.
    // The licence is issued inside the approved event's hook, and the outbox
    // marks the event delivered only after the hook returns, so the delivery
    // mark may trail the licence by a moment.
    let mut shown = Value::Null;
    eventually("the delivery of every event for the app", 30, || {
        shown = http.get_json(Some(&p.citizen), &format!("/api/v1/cases/{case}"));
        shown["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["for_app"].as_bool().unwrap() || !e["delivered_at"].is_null())
    });
    let kinds: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["submitted", "paid", "accept", "hand-off", "approve"], "{shown}");
    assert!(
        shown["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["for_app"] == true),
        "some events are for the app: {shown}"
    );
    assert_eq!(shown["payments"][0]["status"], "success");
    assert_eq!(shown["payments"][0]["id"], payment.as_str());

    // Public status check (no login), then the sealed copy verified offline.
    let status = http.get_json(None, &format!("/api/v1/certificates/{licence_id}/status"));
    assert_eq!(status["status"], "valid");
    assert!(status.get("holder_name").is_none(), "status only: {status}");
    let key = http.get_json(None, "/api/v1/certificates/seal-key")["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, copy) = http.get(
        Some(&p.citizen),
        &format!("/api/v1/me/certificates/{licence_id}/copy?purpose=%E5%BC%80%E6%88%B7&days=7"),
    );
    assert_eq!(status, 200, "{copy}");
    let copy_file = work.join("licence.sealed.json");
    std::fs::write(&copy_file, &copy).unwrap();
    let verified = p.cli.ok(
        None,
        &["cert", "verify", copy_file.to_str().unwrap(), "--public-key", &key],
    );
    assert!(verified.contains(&licence_id), "{verified}");
    let tampered = copy.replacen("西湖小厨", "东湖小厨", 1);
    assert_ne!(tampered, copy);
    std::fs::write(&copy_file, &tampered).unwrap();
    let refused = p.cli.refused(
        None,
        &["cert", "verify", copy_file.to_str().unwrap(), "--public-key", &key],
    );
    assert!(refused.contains("changed after sealing"), "{refused}");

    // Provenance: every personal-data call of the case, for the auditor only.
    let (status, _) = http.get(Some(&p.citizen), &format!("/api/v1/provenance?case={case}"));
    assert_eq!(status, 403);
    let listed = p.cli.ok(Some(&p.auditor), &["audit", "provenance", "--case", &case]);
    for operation in [
        "identity.attributes",
        "certificates.held",
        "notify.send",
        "certificates.issue",
    ] {
        assert!(
            listed.contains(operation),
            "[{backend}] {operation} missing from:\n{listed}"
        );
    }
    assert!(listed.contains(&consent_id), "{listed}");
    let verify = p.cli.ok(
        None,
        &{
            let mut args = vec!["audit".to_owned(), "verify".to_owned()];
            args.extend(store.args());
            args
        }
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    assert!(verify.contains("provenance records match"), "{verify}");

    // The fee shows in the accepting org's reconciliation for the day it
    // was paid (UTC+8).
    let paid = http.get_json(Some(&p.citizen), &format!("/api/v1/cases/{case}"));
    let settled_at = paid["payments"][0]["settled_at"]
        .as_i64()
        .unwrap_or_else(|| panic!("the fee has settled: {paid}"));
    let today = tongban_services::cases::calendar::WorkCalendar::date_of(settled_at).to_string();
    let report = http.get_json(
        Some(&p.clerk),
        &format!("/api/v1/payments/reconciliation?org={BUREAU}&date={today}"),
    );
    assert_eq!(report["paid_count"], 1, "{report}");
    assert_eq!(report["paid_fen"], 1000);
    let (status, _) = http.get(
        Some(&p.handler),
        &format!("/api/v1/payments/reconciliation?org={BUREAU}&date={today}"),
    );
    assert_eq!(status, 403, "another org's staff do not see the report");

    // A forged provider callback is refused and changes nothing.
    let forged = format!(r#"{{"event_id":"forged-1","payment_id":"{payment}","status":"failed","at":0}}"#);
    let mut response = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .post(format!("{}/api/v1/payments/callbacks/sandbox", p.server.url))
        .header("X-Tongban-Signature", "00".repeat(32))
        .send(forged.as_bytes())
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        403,
        "{}",
        response.body_mut().read_to_string().unwrap()
    );
    let shown = http.get_json(Some(&p.citizen), &format!("/api/v1/cases/{case}"));
    assert_eq!(shown["payments"][0]["status"], "success");

    // At the window: the clerk applies for 张三, who is at the counter (代办);
    // the case is his, on the window channel, and he sees it online.
    let mut at_window = application("窗口小厨", "window-1");
    at_window["applicant_id_number"] = json!("330106199003070014");
    let windowed = http.post_ok(&p.clerk, "/api/v1/applications", &at_window);
    assert_eq!(windowed["case"]["channel"], "window");
    assert_eq!(windowed["case"]["on_behalf_of"], "clerk-hz");
    let window_case = windowed["case"]["id"].as_str().unwrap().to_owned();
    let mine = http.get_json(Some(&p.citizen), "/api/v1/me/cases");
    assert!(
        mine.as_array().unwrap().iter().any(|c| c["id"] == window_case.as_str()),
        "{mine}"
    );

    // 补正 over the API: the clerk asks for a correction; only the applicant
    // resubmits (the clerk is refused before any check runs, even with a
    // bad form), with a form, which the app checks like an application.
    let to_correct = http.post_ok(
        &p.citizen,
        "/api/v1/applications",
        &application("湖边小厨", "correct-1"),
    );
    let to_correct = to_correct["case"]["id"].as_str().unwrap().to_owned();
    let steps = format!("/api/v1/cases/{to_correct}/steps");
    let asked = http.post_ok(
        &p.clerk,
        &steps,
        &json!({"action": "request-correction", "reason": "请补充经营场所门牌号"}),
    );
    assert_eq!(asked["stage"], "correction-requested");
    let mut corrected = application("中华小吃", "unused")["form"].clone();
    let (status, not_theirs) = http.post(&p.clerk, &steps, &json!({"action": "resubmit", "form": corrected}));
    assert_eq!(status, 403, "the clerk did not apply for this citizen: {not_theirs}");
    let (status, no_form) = http.post(&p.citizen, &steps, &json!({"action": "resubmit"}));
    assert_eq!(status, 400, "{no_form}");
    assert!(no_form.to_string().contains("carries the corrected form"), "{no_form}");
    let (status, fields) = http.post(&p.citizen, &steps, &json!({"action": "resubmit", "form": corrected}));
    assert_eq!(status, 422, "{fields}");
    assert_eq!(fields["error"]["fields"][0]["field"], "business/trade-name", "{fields}");
    corrected["business"]["trade-name"] = json!("湖边小吃");
    let resubmitted = http.post_ok(&p.citizen, &steps, &json!({"action": "resubmit", "form": corrected}));
    assert_eq!(resubmitted["stage"], "submitted");
    assert!(
        resubmitted["form"].as_str().unwrap().contains("湖边小吃"),
        "the case keeps the corrected form: {resubmitted}"
    );

    // /metrics has the app's figures per version and hook.
    let (status, metrics) = http.get(None, "/metrics");
    assert_eq!(status, 200);
    for hook in ["validate", "submit", "on-event"] {
        let line = format!("tongban_app_calls_total{{app=\"{APP}\",version=\"1.0.0\",hook=\"{hook}\"}}");
        assert!(metrics.contains(&line), "{line} missing from:\n{metrics}");
    }
    assert!(
        metrics.contains("tongban_app_call_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "tongban_app_errors_total{{app=\"{APP}\",version=\"1.0.0\",hook=\"submit\"}} 1"
        )),
        "the refused submission without consent counts as an error value:\n{metrics}"
    );

    // Revoking the consent takes effect on the next call.
    http.post_ok(&p.citizen, &format!("/api/v1/consents/{consent_id}/revoke"), &json!({}));
    let (status, after) = http.post(&p.citizen, "/api/v1/applications", &application("湖畔小厨", "second"));
    assert_eq!(status, 428, "{after}");
}

#[test]
fn case_events_survive_a_killed_server_and_arrive_once() {
    let root = tempfile::tempdir().unwrap();
    for store in stores(root.path(), "e2e_outbox", None) {
        outbox_across_a_restart(&store, &root.path().join(format!("work-{}", store.backend)));
    }
}

fn outbox_across_a_restart(store: &Store, work: &Path) {
    let p = platform(store, work);
    let http = Http::new(&p.server.url);
    consent(&http, &p.citizen);
    let names = ["一号小厨", "二号小厨", "三号小厨", "四号小厨", "五号小厨", "六号小厨"];
    let cases: Vec<String> = names
        .iter()
        .map(|name| {
            let applied = http.post_ok(&p.citizen, "/api/v1/applications", &application(name, name));
            applied["case"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    // Accept half through the API and kill the server at once, with events
    // possibly still pending.
    for case in &cases[..3] {
        http.post_ok(
            &p.clerk,
            &format!("/api/v1/cases/{case}/steps"),
            &json!({"action": "accept"}),
        );
    }
    let Platform {
        server,
        cli,
        citizen,
        clerk,
        ..
    } = p;
    drop(server);

    // While no server runs, another node (here: this test, on the same
    // database) accepts the other half; the events wait in the outbox.
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let services = tokio.block_on(async {
        let db = Database::open_configured(store.database_url.as_deref(), &store.data_dir)
            .await
            .unwrap();
        Services::new(db)
    });
    let clerk_actor = CaseActor {
        user: "clerk-hz".into(),
        role: tongban_registry::release::Role::WindowClerk,
        org: Some(BUREAU.into()),
        subject: None,
    };
    for case in &cases[3..] {
        tokio
            .block_on(services.step_case(&clerk_actor, case, Step::new(Action::Accept, "")))
            .unwrap();
    }
    assert!(tokio.block_on(services.pending_case_events()).unwrap() >= 3);

    // Restart: every event is delivered, each exactly once.
    let server = start_server(store, "node-a", &[]);
    let http = Http::new(&server.url);
    // Events the killed server had claimed wait out their lease (15 s).
    eventually("an empty outbox", 60, || {
        tokio.block_on(services.pending_case_events()).unwrap() == 0
    });
    let inbox = http.get_json(Some(&citizen), "/api/v1/me/inbox");
    for case in &cases {
        let accepted = inbox
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["template"] == "accepted" && m["case"] == case.as_str())
            .count();
        assert_eq!(
            accepted, 1,
            "[{}] case {case} was announced {accepted} times",
            store.backend
        );
    }
    let _ = (cli, clerk);
}
