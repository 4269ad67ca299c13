//! `tongban serve --demo` from an empty data directory: the orgs, accounts,
//! demo citizens and the first app are there, the app went through the real
//! submit → approve → rollout path (the audit chain says so), a demo citizen
//! can use it at once, and a second start changes nothing.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use tongban_tests::ServerProcess;

fn token(data_dir: &Path, user: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["admin", "issue-token", "--id", user, "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn get(agent: &ureq::Agent, url: &str, token: &str) -> Value {
    let mut response = agent
        .get(url)
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let body = response.body_mut().read_to_string().unwrap();
    assert_eq!(response.status().as_u16(), 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn post(agent: &ureq::Agent, url: &str, token: &str, body: &Value) -> (u16, Value) {
    let mut response = agent
        .post(url)
        .header("Authorization", format!("Bearer {token}"))
        .send_json(body)
        .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[test]
fn the_demo_seeds_through_the_real_paths_and_is_idempotent() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let args = vec!["--demo".to_owned(), "--data-dir".to_owned(), data.display().to_string()];
    let binary = Path::new(env!("CARGO_BIN_EXE_tongban"));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();

    let server = ServerProcess::start(binary, &args, &[]);
    let admin = token(&data, "admin");
    let audit = get(&agent, &format!("{}/api/v1/audit?limit=1000", server.url), &admin);
    let actions: Vec<(String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (action, actor) in [
        ("version.submit", "publisher"),
        ("version.approve", "reviewer"),
        ("org.create", "admin"),
    ] {
        assert!(
            actions.iter().any(|(a, who)| a == action && who == actor),
            "{action} by {actor} is missing from the audit chain: {actions:?}"
        );
    }
    assert!(
        actions
            .iter()
            .any(|(a, who)| a == "release.rollout" && who == "region-admin"),
        "{actions:?}"
    );

    // A demo citizen can use the app at once.
    let citizen = token(&data, "zhangsan");
    let (status, consent) = post(
        &agent,
        &format!("{}/api/v1/consents", server.url),
        &citizen,
        &json!({"region": "330106", "app": "cn.gov.hz.amr.sole-proprietor"}),
    );
    assert_eq!(status, 201, "{consent}");
    let wallet = get(&agent, &format!("{}/api/v1/me/certificates", server.url), &citizen);
    let types: Vec<&str> = wallet
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type_code"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"ID-CARD") && types.contains(&"HOUSEHOLD-REGISTER"),
        "{wallet}"
    );
    let entries = actions.len();
    drop(server);

    // Again: nothing new but the fresh tokens the demo prints.
    let server = ServerProcess::start(binary, &args, &[]);
    let audit = get(&agent, &format!("{}/api/v1/audit?limit=1000", server.url), &admin);
    let new: Vec<&str> = audit.as_array().unwrap()[entries..]
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        new.iter().all(|a| *a == "token.issue" || a.starts_with("provenance.")),
        "{new:?}"
    );
    let wallet = get(&agent, &format!("{}/api/v1/me/certificates", server.url), &citizen);
    assert_eq!(wallet.as_array().unwrap().len(), 2, "no second set of certificates");
}
