//! The server's sealer: what a request appends to the audit log is sealed
//! into the chain in the background, and `/metrics` reports how long entries
//! waited. The wait for the sealer is a poll with a generous deadline; no
//! assertion depends on how fast it is.

mod in_process;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use in_process::{Platform, REGION};
use serde_json::json;
use tongban_registry::market::audit_log;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_requests_append_is_sealed_in_the_background() {
    let p = Platform::with(&["probe"]).await;
    let (status, _, body) = p
        .call_as(
            &p.citizen_token,
            "POST",
            "/api/v1/applications",
            json!({"region": REGION, "app": "cn.gov.test.probe", "form": {"ops": []}}),
        )
        .await;
    assert!(
        status.is_success() || status == StatusCode::UNPROCESSABLE_ENTITY,
        "{status}: {body}"
    );
    let db = p.state.market.db().clone();
    let before = audit_log::verify(&db).await.unwrap().unwrap();
    assert!(
        before.pending > 0,
        "set-up and the application appended entries: {before:?}"
    );

    tokio::spawn(tongban::workers::seal_audit_log(p.state.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let sealed = loop {
        let now = audit_log::verify(&db).await.unwrap().unwrap();
        if now.pending == 0 {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "the sealer did not seal within 60 s: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(sealed.sealed >= before.pending && sealed.batches >= 1, "{sealed:?}");

    let metrics = p.state.metrics.render();
    let value = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
    };
    assert!(
        value("tongban_audit_sealed_entries_total") >= sealed.sealed as f64,
        "{metrics}"
    );
    assert!(value("tongban_audit_seal_delay_seconds_count") >= 1.0, "{metrics}");
}
