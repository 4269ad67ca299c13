//! The first real app, 个体工商户设立登记, in the real runtime.

use serde_json::json;
use tongban_runtime::{CaseEvent, Hook, HookResult, Outcome};
use tongban_tests::plugin;

use crate::support::{env, runtime, submit, validate};

fn good_form() -> serde_json::Value {
    json!({
        "operator": { "name": "张三", "id-number": "11010519491231002X", "phone": "13800138000" },
        "business": {
            "trade-name": "西湖小厨",
            "industry": "餐饮",
            "scope": ["餐饮服务"],
            "address": "浙江省杭州市西湖区文三路90号"
        }
    })
}

#[tokio::test]
async fn validate_reports_field_errors_and_accepts_a_good_form() {
    let rt = runtime().await;
    let app = rt.runtime.load(&plugin("sole-proprietor")).unwrap();

    let ok = rt
        .runtime
        .call(&app, &env("330106"), validate(&good_form().to_string()))
        .await;
    assert_eq!(ok.result.unwrap(), HookResult::Validate(Ok(())));

    let mut bad = good_form();
    bad["operator"]["id-number"] = json!("110105194912310021");
    bad["business"]["address"] = json!("宁波市海曙区中山路1号");
    let outcome = rt.runtime.call(&app, &env("330106"), validate(&bad.to_string())).await;
    let HookResult::Validate(Err(errors)) = outcome.result.unwrap() else {
        panic!("expected field errors")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["operator/id-number", "business/address"]);
    assert!(errors[0].message.contains("校验码"));
}

#[tokio::test]
async fn submit_queues_and_approval_asks_for_the_licence() {
    let rt = runtime().await;
    let app = rt.runtime.load(&plugin("sole-proprietor")).unwrap();
    let queued = rt
        .runtime
        .call(&app, &env("330106"), submit("C-9", &good_form().to_string()))
        .await;
    assert_eq!(queued.result.unwrap(), HookResult::Submit(Ok(Outcome::Queued)));
    assert!(
        queued
            .report
            .log
            .iter()
            .any(|l| l.message.contains("杭州市西湖区西湖小厨餐饮店"))
    );

    // Issuing certificates arrives with the capabilities release; until then
    // the app receives `unavailable` and reports it as its error value.
    let approved = rt
        .runtime
        .call(
            &app,
            &env("330106"),
            Hook::OnEvent {
                case: "C-9".into(),
                event: CaseEvent::Approved("准予登记".into()),
            },
        )
        .await;
    let HookResult::OnEvent(Err(error)) = approved.result.unwrap() else {
        panic!("expected the certificates capability to be unavailable")
    };
    assert_eq!(error.kind, "unavailable");
}
