//! The first real app, 个体工商户设立登记, in the real runtime.

use serde_json::json;
use tongban_runtime::{CaseEvent, Hook, HookResult};
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
async fn submit_needs_a_signed_in_subject_and_says_so() {
    // The app reads the operator's identity from the platform (免提交); a call
    // that serves nobody gets `not-found` from the identity capability, and
    // the app passes it on as its error value instead of trapping. The whole
    // path with a real subject, consent, fee and licence is in
    // `host/server/tests/first_app.rs`.
    let rt = runtime().await;
    let app = rt.runtime.load(&plugin("sole-proprietor")).unwrap();
    let refused = rt
        .runtime
        .call(&app, &env("330106"), submit("C-9", &good_form().to_string()))
        .await;
    let HookResult::Submit(Err(error)) = refused.result.unwrap() else {
        panic!("expected the submission to be refused")
    };
    assert_eq!(error.kind, "not-found");
    assert!(error.detail.contains("no signed-in subject"), "{}", error.detail);

    // An approval for a case it never stored is the app's own clear error.
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
        panic!("expected the approval to be refused")
    };
    assert_eq!(error.kind, "not-found");
    assert!(error.detail.contains("C-9"), "{}", error.detail);
}
