//! One app must never take the platform from the others: an app whose
//! `on-event` always times out delays only its own events, an app whose
//! calls sleep gets its share of the instance slots and no more, and an app
//! at its bound of applications at once is refused at once while the others
//! are admitted. These are
//! bounds on time, so they run in a test binary of their own, away from the
//! CPU-heavy hostile uploads.

mod in_process;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use in_process::{Platform, REGION};
use serde_json::json;

/// An app whose `on-event` always runs into its 5 s deadline delayed another
/// app's events by minutes. Now apps take turns and each has its share of the
/// outbox workers: with the hog's events queued ahead and failing, the probe's
/// event arrives within 2 s of how fast it arrives on an empty queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_apps_events_delay_only_that_app() {
    let p = Platform::with(&["probe", "hog"]).await;
    tokio::spawn(tongban::workers::deliver_case_events(p.state.clone()));

    let case = p.case_with_event("cn.gov.test.probe", "TEST-probe", true).await;
    let queued = Instant::now();
    let empty_queue = p.delivered(&case, Duration::from_secs(30)).await - queued;

    let mut hogged = Vec::new();
    for _ in 0..3 {
        hogged.push(p.case_with_event("cn.gov.test.hog", "TEST-hog", false).await);
    }
    // The hog's events are claimed (and spinning) before the probe's.
    let started = Instant::now();
    loop {
        let claimed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM case_events e JOIN cases c ON c.id = e.case_id
             WHERE c.app_id = 'cn.gov.test.hog' AND e.attempts > 0 AND e.delivered_at IS NULL",
        )
        .fetch_one(p.state.market.db().pool())
        .await
        .unwrap();
        if claimed >= 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the hog's events were never claimed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let case = p.case_with_event("cn.gov.test.probe", "TEST-probe", true).await;
    let queued = Instant::now();
    let behind_the_hog = p.delivered(&case, Duration::from_secs(60)).await - queued;
    assert!(
        behind_the_hog <= empty_queue + Duration::from_secs(2),
        "the probe's event took {behind_the_hog:?} behind the hog, {empty_queue:?} on an empty queue"
    );
    for case in &hogged {
        let timeline = p.state.services.case_timeline(case).await.unwrap();
        assert!(
            timeline.last().unwrap().delivered_at.is_none(),
            "the hog never gets an event through"
        );
    }
}

/// Through the API: calls past an app's share of the instance slots are a
/// fast 503 with `Retry-After`, naming the app, and another app is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_past_its_share_gets_a_fast_503_naming_it() {
    let p = Arc::new(Platform::with(&["probe", "hog"]).await);
    let share = tongban_runtime::EngineSettings::default().max_instances_per_app as usize;
    let extra = 8;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..share + extra {
        let p = p.clone();
        calls.spawn(async move {
            let started = Instant::now();
            let answer = p
                .call(
                    "POST",
                    &format!("/api/v1/serving/{REGION}/cn.gov.test.hog/validate"),
                    json!({"subject": "x", "form": {"sleep-ms": 60000}}),
                )
                .await;
            (answer, started.elapsed())
        });
    }
    let mut refused = 0;
    while refused < extra {
        let ((status, headers, body), took) = calls.join_next().await.unwrap().unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "app_busy", "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("cn.gov.test.hog"),
            "{body}"
        );
        assert_eq!(headers.get("retry-after").unwrap(), "1");
        assert!(
            took < Duration::from_secs(5),
            "refused at once, not after the deadline: {took:?}"
        );
        refused += 1;
    }
    let (status, _, body) = p
        .call(
            "POST",
            &format!("/api/v1/serving/{REGION}/cn.gov.test.probe/validate"),
            json!({"subject": "x", "form": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "another app is served meanwhile: {body}");
    while let Some(done) = calls.join_next().await {
        let ((status, _, body), _) = done.unwrap();
        assert_eq!(
            status,
            StatusCode::BAD_GATEWAY,
            "the admitted calls run into their deadline: {body}"
        );
    }
}

/// Admission control: past an app's bound of applications at once, its next
/// application is refused at once with a 503 `overloaded` naming the app and
/// a `Retry-After`, before any of its code runs; another app is admitted
/// meanwhile; once a place is given back the app is admitted again. The
/// places are held by the test itself, so nothing here depends on how long
/// an application takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_past_an_apps_bound_are_refused_at_once() {
    let p = Platform::with(&["probe", "hog"]).await;
    let hog = "cn.gov.test.hog";
    let limit = p.state.admission.limits().per_app;
    let held: Vec<_> = (0..limit).map(|_| p.state.admission.admit(hog).unwrap()).collect();
    let hook_calls = || {
        p.state
            .metrics
            .render()
            .lines()
            .filter(|l| l.starts_with("tongban_app_calls_total{app=\"cn.gov.test.hog\""))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum::<f64>()
    };
    let calls_before = hook_calls();
    let apply = |app: &str| json!({"region": REGION, "app": app, "form": {}});

    let (status, headers, body) = p
        .call_as(&p.citizen_token, "POST", "/api/v1/applications", apply(hog))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "overloaded", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains(hog), "{body}");
    assert_eq!(headers.get("retry-after").unwrap(), "1");
    assert_eq!(hook_calls(), calls_before, "no hook of the refused app ran");

    // Another app is admitted: its application reaches the app, which
    // finds fault with the empty form.
    let (status, _, body) = p
        .call_as(
            &p.citizen_token,
            "POST",
            "/api/v1/applications",
            apply("cn.gov.test.probe"),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "form_invalid", "{body}");

    let metrics = p.state.metrics.render();
    for line in [
        format!("tongban_app_applications_in_flight{{app=\"{hog}\"}} {limit}"),
        format!("tongban_app_admission_refused_total{{app=\"{hog}\",bound=\"app\"}} 1"),
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in:\n{metrics}");
    }

    // A place given back is taken by the next application.
    drop(held);
    let (status, _, body) = p
        .call_as(&p.citizen_token, "POST", "/api/v1/applications", apply(hog))
        .await;
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(body["case"]["app"], hog, "{body}");
    assert_eq!(p.state.admission.in_flight(hog), (0, 0), "every place is given back");
}
