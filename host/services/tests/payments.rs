//! Payments on real databases: every scenario runs on each database the test
//! database kit provides (`tongban-testdb`: SQLite, and PostgreSQL when
//! configured, which CI requires), each test in a fresh database.

mod common;

use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime};
use sqlx::Row;
use tongban_services::cases::calendar::WorkCalendar;
use tongban_services::cases::{NewCase, TimelineEntry};
use tongban_services::payments::sandbox::{self, SandboxBank};
use tongban_services::payments::{
    CallbackOutcome, MAX_AMOUNT_FEN, NewPayment, PayDecision, Payment, PaymentStatus, SignedCallback,
};
use tongban_services::{ServiceError, Services};
use tongban_testdb::{TestDb, seed};

const APP: &str = "gov.hz.passport-fees";
const OTHER_APP: &str = "gov.hz.parking-permits";
const ORG: &str = "113301000024891238";
const OTHER_ORG: &str = "113301000024891300";
const REGION: &str = "330100";

/// One database with everything a payment needs: a subject, two orgs, and a
/// case of each app.
struct Backend {
    name: &'static str,
    services: Services,
    case: String,
    other_case: String,
    _db: TestDb,
}

/// The backends to run on, each seeded.
async fn backends(label: &str) -> Vec<Backend> {
    let mut out = Vec::new();
    for db in TestDb::each(&format!("payments_{label}")) {
        let services = Services::new(db.open().await);
        seed::citizens(&services, REGION, &[("subject-1", "张三")]).await;
        seed::orgs(
            services.db(),
            &[(ORG, "杭州市出入境管理局", REGION), (OTHER_ORG, "杭州市交通局", REGION)],
        )
        .await;
        let case = open_case(&services, APP).await;
        let other_case = open_case(&services, OTHER_APP).await;
        out.push(Backend {
            name: db.backend_name(),
            services,
            case,
            other_case,
            _db: db,
        });
    }
    out
}

async fn open_case(services: &Services, app: &str) -> String {
    let (case, fresh) = services
        .open_case(NewCase {
            app: app.into(),
            app_version: "1.0.0".into(),
            item: "passport".into(),
            item_mode: "instant".into(),
            promised_days: None,
            subject: "subject-1".into(),
            region: REGION.into(),
            channel: "web".into(),
            on_behalf_of: None,
            accepting_org: ORG.into(),
            form: "{}".into(),
            follow_on_of: None,
            submission_key: None,
        })
        .await
        .unwrap();
    assert!(fresh);
    case.id
}

fn fee(case: &str, key: &str, amount_fen: u64) -> NewPayment {
    NewPayment {
        app: APP.into(),
        org: ORG.into(),
        case: case.into(),
        amount_fen,
        description: "普通护照签发费".into(),
        idempotency_key: key.into(),
    }
}

/// A payment that the citizen has opened and submitted on the sandbox page,
/// with the callbacks the bank would POST (not yet applied).
async fn submitted(b: &Backend, key: &str, amount_fen: u64, decision: PayDecision) -> (Payment, Vec<SignedCallback>) {
    let payment = b.services.create_payment(fee(&b.case, key, amount_fen)).await.unwrap();
    b.services.start_payment(&payment.id).await.unwrap();
    let callbacks = b.services.sandbox_settle(&payment.id, decision).await.unwrap();
    (b.services.payment(&payment.id).await.unwrap(), callbacks)
}

async fn apply(b: &Backend, callback: &SignedCallback) -> Result<CallbackOutcome, ServiceError> {
    b.services
        .apply_callback(&callback.provider, &callback.body, &callback.signature)
        .await
}

/// A successful payment of `amount_fen`.
async fn paid(b: &Backend, key: &str, amount_fen: u64) -> Payment {
    let (payment, callbacks) = submitted(b, key, amount_fen, PayDecision::Pay).await;
    for callback in &callbacks {
        apply(b, callback).await.unwrap();
    }
    let payment = b.services.payment(&payment.id).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Success, "{}", b.name);
    payment
}

async fn paid_events(b: &Backend, case: &str) -> Vec<TimelineEntry> {
    let timeline = b.services.case_timeline(case).await.unwrap();
    timeline.into_iter().filter(|e| e.kind == "paid").collect()
}

/// How many callbacks were recorded for a payment, and how many applied.
async fn recorded_callbacks(b: &Backend, payment: &str) -> (i64, i64) {
    let rows = sqlx::query("SELECT applied FROM payment_callbacks WHERE payment_id = $1")
        .bind(payment)
        .fetch_all(b.services.db().pool())
        .await
        .unwrap();
    let applied = rows.iter().filter(|r| r.try_get::<i32, _>(0).unwrap() == 1).count();
    (rows.len() as i64, applied as i64)
}

fn body_json(callback: &SignedCallback) -> serde_json::Value {
    serde_json::from_slice(&callback.body).unwrap()
}

fn expect_conflict(result: Result<impl std::fmt::Debug, ServiceError>, naming: &str) {
    match result {
        Err(ServiceError::Conflict(message)) => assert!(message.contains(naming), "`{message}` names `{naming}`"),
        other => panic!("expected a conflict naming `{naming}`, got {other:?}"),
    }
}

fn expect_invalid(result: Result<impl std::fmt::Debug, ServiceError>, naming: &str) {
    match result {
        Err(ServiceError::Invalid(message)) => assert!(message.contains(naming), "`{message}` names `{naming}`"),
        other => panic!("expected invalid naming `{naming}`, got {other:?}"),
    }
}

fn expect_not_found(result: Result<impl std::fmt::Debug, ServiceError>, naming: &str) {
    match result {
        Err(ServiceError::NotFound(message)) => assert!(message.contains(naming), "`{message}` names `{naming}`"),
        other => panic!("expected not-found naming `{naming}`, got {other:?}"),
    }
}

fn expect_forbidden(result: Result<impl std::fmt::Debug, ServiceError>, naming: &str) {
    match result {
        Err(ServiceError::Forbidden(message)) => assert!(message.contains(naming), "`{message}` names `{naming}`"),
        other => panic!("expected forbidden naming `{naming}`, got {other:?}"),
    }
}

#[test]
fn statuses_and_outcomes_serialize_in_kebab_case() {
    let names: Vec<&str> = PaymentStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "created",
            "started",
            "submitted",
            "success",
            "failed",
            "cancelled",
            "error"
        ]
    );
    for status in PaymentStatus::ALL {
        assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        assert_eq!(PaymentStatus::parse(status.as_str()), Some(status));
    }
    let finals: Vec<PaymentStatus> = PaymentStatus::ALL.into_iter().filter(|s| s.is_final()).collect();
    assert_eq!(
        finals,
        [
            PaymentStatus::Success,
            PaymentStatus::Failed,
            PaymentStatus::Cancelled,
            PaymentStatus::Error
        ]
    );
    assert_eq!(serde_json::to_value(PayDecision::Decline).unwrap(), "decline");
    let payment = Payment {
        id: "pay-1".into(),
        app: APP.into(),
        org: ORG.into(),
        case: "case-1".into(),
        amount_fen: 100,
        description: "fee".into(),
        status: PaymentStatus::Success,
        refunded_fen: 0,
        provider: "sandbox".into(),
        created_at: 1,
        updated_at: 2,
        settled_at: Some(2),
    };
    let json = serde_json::to_value(CallbackOutcome::Applied(payment)).unwrap();
    assert_eq!(json["outcome"], "applied");
    assert_eq!(json["payment"]["status"], "success");
    assert_eq!(json["payment"]["amount_fen"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_is_idempotent_per_app_and_key() {
    for b in backends("idempotent_create").await {
        let first = b.services.create_payment(fee(&b.case, "fee-1", 5000)).await.unwrap();
        assert!(first.id.starts_with("pay-"), "{}", first.id);
        assert_eq!(first.app, APP);
        assert_eq!(first.org, ORG);
        assert_eq!(first.case, b.case);
        assert_eq!(first.amount_fen, 5000);
        assert_eq!(first.description, "普通护照签发费");
        assert_eq!(first.status, PaymentStatus::Created);
        assert_eq!(first.refunded_fen, 0);
        assert_eq!(first.provider, "sandbox");
        assert_eq!(first.settled_at, None);

        let again = b.services.create_payment(fee(&b.case, "fee-1", 5000)).await.unwrap();
        assert_eq!(again, first, "{}: same key, same body, same payment", b.name);

        expect_conflict(b.services.create_payment(fee(&b.case, "fee-1", 6000)).await, "fee-1");
        let mut reworded = fee(&b.case, "fee-1", 5000);
        reworded.description = "加急费".into();
        expect_conflict(b.services.create_payment(reworded).await, "fee-1");

        let mut other = fee(&b.other_case, "fee-1", 5000);
        other.app = OTHER_APP.into();
        let other = b.services.create_payment(other).await.unwrap();
        assert_ne!(other.id, first.id, "{}: the key is per app", b.name);
        assert_eq!(other.app, OTHER_APP);

        // Six creations racing with one new key make one payment.
        let services = Arc::new(b.services.clone());
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let services = services.clone();
            let case = b.case.clone();
            tasks.push(tokio::spawn(async move {
                services.create_payment(fee(&case, "fee-2", 700)).await
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap().unwrap().id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{}: {ids:?}", b.name);

        let of_case: Vec<String> = b
            .services
            .payments_of_case(&b.case)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(of_case.len(), 2, "{}", b.name);
        assert!(of_case.contains(&first.id) && of_case.contains(&ids[0]));
        assert_eq!(b.services.payments_of_case(&b.other_case).await.unwrap(), vec![other]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_refuses_what_it_cannot_charge() {
    for b in backends("create_refusals").await {
        expect_invalid(b.services.create_payment(fee(&b.case, "k", 0)).await, "amount");
        expect_invalid(
            b.services.create_payment(fee(&b.case, "k", MAX_AMOUNT_FEN + 1)).await,
            "amount",
        );
        for description in [String::new(), "   ".into(), "费".repeat(257)] {
            let mut new = fee(&b.case, "k", 100);
            new.description = description;
            expect_invalid(b.services.create_payment(new).await, "description");
        }
        expect_invalid(
            b.services.create_payment(fee(&b.case, "", 100)).await,
            "idempotency key",
        );
        expect_invalid(
            b.services.create_payment(fee(&b.case, &"k".repeat(129), 100)).await,
            "idempotency key",
        );
        expect_not_found(
            b.services
                .create_payment(fee("330100-20260101-00000000", "k", 100))
                .await,
            "330100-20260101-00000000",
        );
        // Another app's case is as good as missing.
        expect_not_found(
            b.services.create_payment(fee(&b.other_case, "k", 100)).await,
            &b.other_case,
        );
        let mut unknown_org = fee(&b.case, "k", 100);
        unknown_org.org = "913301000000000000".into();
        expect_not_found(b.services.create_payment(unknown_org).await, "913301000000000000");
        assert!(
            b.services.payments_of_case(&b.case).await.unwrap().is_empty(),
            "{}",
            b.name
        );

        // The bounds are in characters, and inclusive.
        let mut longest = fee(&b.case, &"键".repeat(128), MAX_AMOUNT_FEN);
        longest.description = "费".repeat(256);
        let payment = b.services.create_payment(longest).await.unwrap();
        assert_eq!(payment.amount_fen, MAX_AMOUNT_FEN);
        assert_eq!(payment.description.chars().count(), 256);
        expect_not_found(
            b.services.payment("pay-000000000000000000000000").await,
            "pay-000000000000000000000000",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sandbox_pay_path_succeeds_with_one_paid_event() {
    for b in backends("pay_path").await {
        let payment = b.services.create_payment(fee(&b.case, "fee-1", 5000)).await.unwrap();
        expect_conflict(
            b.services.sandbox_settle(&payment.id, PayDecision::Pay).await,
            "created",
        );

        let started = b.services.start_payment(&payment.id).await.unwrap();
        assert_eq!(started.status, PaymentStatus::Started);
        let reopened = b.services.start_payment(&payment.id).await.unwrap();
        assert_eq!(reopened, started, "{}: opening the page again changes nothing", b.name);

        let callbacks = b.services.sandbox_settle(&payment.id, PayDecision::Pay).await.unwrap();
        assert_eq!(
            b.services.payment(&payment.id).await.unwrap().status,
            PaymentStatus::Submitted
        );
        assert_eq!(callbacks.len(), 2);
        let statuses: Vec<serde_json::Value> = callbacks.iter().map(|c| body_json(c)["status"].clone()).collect();
        assert_eq!(statuses, ["submitted", "success"]);
        for callback in &callbacks {
            assert_eq!(callback.provider, "sandbox");
            assert_eq!(callback.signature.len(), 64, "hex HMAC-SHA256");
            assert_eq!(body_json(callback)["payment_id"], payment.id.as_str());
        }
        assert_ne!(
            body_json(&callbacks[0])["event_id"],
            body_json(&callbacks[1])["event_id"]
        );
        expect_conflict(
            b.services.sandbox_settle(&payment.id, PayDecision::Pay).await,
            "submitted",
        );

        // The page already moved the payment to submitted, so the bank's
        // `submitted` is recorded but moves nothing.
        match apply(&b, &callbacks[0]).await.unwrap() {
            CallbackOutcome::Stale(p) => assert_eq!(p.status, PaymentStatus::Submitted),
            other => panic!("{}: {other:?}", b.name),
        }
        assert!(paid_events(&b, &b.case).await.is_empty());
        let success = match apply(&b, &callbacks[1]).await.unwrap() {
            CallbackOutcome::Applied(p) => p,
            other => panic!("{}: {other:?}", b.name),
        };
        assert_eq!(success.status, PaymentStatus::Success);
        assert_eq!(success.amount_fen, 5000);
        let settled_at = success.settled_at.expect("a successful payment has settled");
        assert!(settled_at >= payment.created_at);
        assert_eq!(b.services.payment(&payment.id).await.unwrap(), success);

        let paid = paid_events(&b, &b.case).await;
        assert_eq!(paid.len(), 1, "{}", b.name);
        assert_eq!(paid[0].detail, payment.id);
        assert_eq!(paid[0].actor, "payments");
        assert!(paid[0].for_app, "the app's on-event hook hears paid");
        assert_eq!(recorded_callbacks(&b, &payment.id).await, (2, 1));

        expect_conflict(b.services.start_payment(&payment.id).await, "success");
        expect_not_found(b.services.start_payment("pay-missing").await, "pay-missing");
        expect_not_found(
            b.services.sandbox_settle("pay-missing", PayDecision::Pay).await,
            "pay-missing",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sandbox_decline_fails_the_payment() {
    for b in backends("decline").await {
        let (payment, callbacks) = submitted(&b, "fee-1", 5000, PayDecision::Decline).await;
        let statuses: Vec<serde_json::Value> = callbacks.iter().map(|c| body_json(c)["status"].clone()).collect();
        assert_eq!(statuses, ["submitted", "failed"]);
        for callback in &callbacks {
            apply(&b, callback).await.unwrap();
        }
        let failed = b.services.payment(&payment.id).await.unwrap();
        assert_eq!(failed.status, PaymentStatus::Failed, "{}", b.name);
        assert!(failed.settled_at.is_some());
        assert!(
            paid_events(&b, &b.case).await.is_empty(),
            "{}: a declined fee is not paid",
            b.name
        );
        expect_conflict(b.services.refund_payment(APP, &payment.id, 100, "r1").await, "failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_callback_is_applied_once() {
    for b in backends("duplicate").await {
        let (payment, callbacks) = submitted(&b, "fee-1", 5000, PayDecision::Pay).await;
        let success = &callbacks[1];
        assert!(matches!(apply(&b, success).await.unwrap(), CallbackOutcome::Applied(_)));
        match apply(&b, success).await.unwrap() {
            CallbackOutcome::Duplicate(p) => assert_eq!(p.status, PaymentStatus::Success),
            other => panic!("{}: {other:?}", b.name),
        }
        assert_eq!(paid_events(&b, &b.case).await.len(), 1, "{}", b.name);
        assert_eq!(recorded_callbacks(&b, &payment.id).await, (1, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn out_of_order_callback_is_recorded_but_not_applied() {
    for b in backends("out_of_order").await {
        let (payment, callbacks) = submitted(&b, "fee-1", 5000, PayDecision::Pay).await;
        assert!(matches!(
            apply(&b, &callbacks[1]).await.unwrap(),
            CallbackOutcome::Applied(_)
        ));
        match apply(&b, &callbacks[0]).await.unwrap() {
            CallbackOutcome::Stale(p) => assert_eq!(p.status, PaymentStatus::Success, "{}", b.name),
            other => panic!("{}: {other:?}", b.name),
        }
        // A later, contradicting final event cannot change a final status.
        let bank = SandboxBank::load(b.services.db()).await.unwrap();
        match apply(&b, &bank.callback(&payment.id, PaymentStatus::Failed))
            .await
            .unwrap()
        {
            CallbackOutcome::Stale(p) => assert_eq!(p.status, PaymentStatus::Success, "{}", b.name),
            other => panic!("{}: {other:?}", b.name),
        }
        assert_eq!(
            b.services.payment(&payment.id).await.unwrap().status,
            PaymentStatus::Success
        );
        assert_eq!(recorded_callbacks(&b, &payment.id).await, (3, 1));
        assert_eq!(paid_events(&b, &b.case).await.len(), 1);

        // A provider may also skip steps: success straight from created.
        let direct = b.services.create_payment(fee(&b.case, "fee-2", 800)).await.unwrap();
        let outcome = apply(&b, &bank.callback(&direct.id, PaymentStatus::Success))
            .await
            .unwrap();
        assert_eq!(outcome.payment().status, PaymentStatus::Success);
        assert!(matches!(outcome, CallbackOutcome::Applied(_)));
        // Nor does a `created` report ever move anything.
        let fresh = b.services.create_payment(fee(&b.case, "fee-3", 900)).await.unwrap();
        let outcome = apply(&b, &bank.callback(&fresh.id, PaymentStatus::Created))
            .await
            .unwrap();
        assert!(matches!(outcome, CallbackOutcome::Stale(ref p) if p.status == PaymentStatus::Created));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_signature_and_tampered_body_change_nothing() {
    for b in backends("forgery").await {
        let (payment, callbacks) = submitted(&b, "fee-1", 5000, PayDecision::Pay).await;
        let success = &callbacks[1];

        let mut flipped = success.signature.clone();
        let last = if flipped.ends_with('0') { "1" } else { "0" };
        flipped.replace_range(63.., last);
        expect_forbidden(
            b.services.apply_callback("sandbox", &success.body, &flipped).await,
            "signature",
        );
        expect_forbidden(
            b.services.apply_callback("sandbox", &success.body, "zz").await,
            "signature",
        );
        expect_forbidden(
            b.services.apply_callback("sandbox", &success.body, "").await,
            "signature",
        );

        let tampered = String::from_utf8(success.body.clone())
            .unwrap()
            .replace("\"success\"", "\"failed\"");
        assert_ne!(tampered.as_bytes(), success.body.as_slice());
        expect_forbidden(
            b.services
                .apply_callback("sandbox", tampered.as_bytes(), &success.signature)
                .await,
            "signature",
        );
        expect_not_found(
            b.services
                .apply_callback("unionpay", &success.body, &success.signature)
                .await,
            "unionpay",
        );

        // Authentic but meaningless, or about no payment: refused too.
        let bank = SandboxBank::load(b.services.db()).await.unwrap();
        let nonsense = br#"{"hello":"world"}"#;
        expect_invalid(
            b.services
                .apply_callback("sandbox", nonsense, &bank.sign(nonsense))
                .await,
            "not a callback",
        );
        let stray = bank.callback("pay-nobody", PaymentStatus::Success);
        expect_not_found(apply(&b, &stray).await, "pay-nobody");

        let unchanged = b.services.payment(&payment.id).await.unwrap();
        assert_eq!(unchanged.status, PaymentStatus::Submitted, "{}", b.name);
        assert_eq!(unchanged, payment);
        assert_eq!(recorded_callbacks(&b, &payment.id).await, (0, 0));
        assert!(paid_events(&b, &b.case).await.is_empty());
        let all: i64 = sqlx::query("SELECT COUNT(*) FROM payment_callbacks")
            .fetch_one(b.services.db().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(all, 0, "{}: nothing recorded", b.name);

        // The refusals did not use up the genuine event.
        assert!(matches!(apply(&b, success).await.unwrap(), CallbackOutcome::Applied(_)));
        assert_eq!(paid_events(&b, &b.case).await.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicate_deliveries_apply_once() {
    for b in backends("concurrent_callbacks").await {
        let (payment, callbacks) = submitted(&b, "fee-1", 5000, PayDecision::Pay).await;
        let success = Arc::new(callbacks[1].clone());
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let services = b.services.clone();
            let callback = success.clone();
            tasks.push(tokio::spawn(async move {
                services
                    .apply_callback(&callback.provider, &callback.body, &callback.signature)
                    .await
            }));
        }
        let mut applied = 0;
        let mut duplicates = 0;
        for task in tasks {
            match task.await.unwrap().unwrap() {
                CallbackOutcome::Applied(p) => {
                    assert_eq!(p.status, PaymentStatus::Success);
                    applied += 1;
                }
                CallbackOutcome::Duplicate(_) => duplicates += 1,
                CallbackOutcome::Stale(p) => panic!("{}: stale {p:?}", b.name),
            }
        }
        assert_eq!((applied, duplicates), (1, 7), "{}", b.name);
        assert_eq!(paid_events(&b, &b.case).await.len(), 1, "{}", b.name);
        assert_eq!(recorded_callbacks(&b, &payment.id).await, (1, 1));

        // Contradicting final events racing: exactly one wins, for good.
        let (racing, _) = submitted(&b, "fee-2", 700, PayDecision::Pay).await;
        let bank = SandboxBank::load(b.services.db()).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let services = b.services.clone();
            let status = if i % 2 == 0 {
                PaymentStatus::Success
            } else {
                PaymentStatus::Failed
            };
            let callback = bank.callback(&racing.id, status);
            tasks.push(tokio::spawn(async move {
                services
                    .apply_callback(&callback.provider, &callback.body, &callback.signature)
                    .await
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            if let CallbackOutcome::Applied(p) = task.await.unwrap().unwrap() {
                winners.push(p.status);
            }
        }
        assert_eq!(winners.len(), 1, "{}: {winners:?}", b.name);
        let final_status = b.services.payment(&racing.id).await.unwrap().status;
        assert_eq!(final_status, winners[0]);
        let paid_for_racing = paid_events(&b, &b.case)
            .await
            .into_iter()
            .filter(|e| e.detail == racing.id)
            .count();
        assert_eq!(paid_for_racing, usize::from(final_status == PaymentStatus::Success));
        assert_eq!(recorded_callbacks(&b, &racing.id).await, (8, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refunds_never_exceed_what_remains() {
    for b in backends("refunds").await {
        let payment = paid(&b, "fee-1", 10_000).await;

        let once = b.services.refund_payment(APP, &payment.id, 3000, "r1").await.unwrap();
        assert_eq!(once.refunded_fen, 3000, "{}", b.name);
        assert_eq!(once.status, PaymentStatus::Success);
        let replay = b.services.refund_payment(APP, &payment.id, 3000, "r1").await.unwrap();
        assert_eq!(replay.refunded_fen, 3000, "{}: a replay refunds nothing more", b.name);
        expect_conflict(b.services.refund_payment(APP, &payment.id, 2000, "r1").await, "r1");

        expect_conflict(
            b.services.refund_payment(APP, &payment.id, 8000, "r2").await,
            "the 7000 fen that remains",
        );
        assert_eq!(b.services.payment(&payment.id).await.unwrap().refunded_fen, 3000);
        // The refused key was not used up.
        let rest = b.services.refund_payment(APP, &payment.id, 7000, "r2").await.unwrap();
        assert_eq!(rest.refunded_fen, 10_000);
        expect_conflict(
            b.services.refund_payment(APP, &payment.id, 1, "r3").await,
            "the 0 fen that remains",
        );

        expect_invalid(
            b.services.refund_payment(APP, &payment.id, 0, "r4").await,
            "refund amount",
        );
        expect_invalid(
            b.services.refund_payment(APP, &payment.id, 1, "").await,
            "idempotency key",
        );

        let unpaid = b.services.create_payment(fee(&b.case, "fee-2", 500)).await.unwrap();
        expect_conflict(b.services.refund_payment(APP, &unpaid.id, 100, "r1").await, "created");
        let rows: i64 = sqlx::query("SELECT COUNT(*) FROM payment_refunds")
            .fetch_one(b.services.db().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(rows, 2, "{}: only the two accepted refunds are stored", b.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refunds_never_overdraw() {
    for b in backends("concurrent_refunds").await {
        let payment = paid(&b, "fee-1", 10_000).await;
        let mut tasks = Vec::new();
        for i in 0..10 {
            let services = b.services.clone();
            let id = payment.id.clone();
            tasks.push(tokio::spawn(async move {
                services.refund_payment(APP, &id, 3000, &format!("r{i}")).await
            }));
        }
        let mut accepted = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => accepted += 1,
                Err(ServiceError::Conflict(message)) => assert!(message.contains("remains"), "{message}"),
                Err(e) => panic!("{}: {e}", b.name),
            }
        }
        assert_eq!(accepted, 3, "{}", b.name);
        assert_eq!(b.services.payment(&payment.id).await.unwrap().refunded_fen, 9000);

        // The same refund sent six times at once refunds once.
        let other = paid(&b, "fee-2", 1000).await;
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let services = b.services.clone();
            let id = other.id.clone();
            tasks.push(tokio::spawn(async move {
                services.refund_payment(APP, &id, 400, "once").await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().refunded_fen, 400, "{}", b.name);
        }
        assert_eq!(b.services.payment(&other.id).await.unwrap().refunded_fen, 400);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconciliation_totals_the_org_day() {
    // Every payment of the test settles on one civil day.
    common::away_from_midnight(std::time::Duration::from_secs(60)).await;
    for b in backends("reconciliation").await {
        let first = paid(&b, "fee-1", 5000).await;
        let second = paid(&b, "fee-2", 3000).await;
        b.services.refund_payment(APP, &second.id, 1000, "r1").await.unwrap();
        let (declined, callbacks) = submitted(&b, "fee-3", 2000, PayDecision::Decline).await;
        for callback in &callbacks {
            apply(&b, callback).await.unwrap();
        }
        b.services.create_payment(fee(&b.case, "fee-4", 1500)).await.unwrap();
        let mut elsewhere = fee(&b.case, "fee-5", 999);
        elsewhere.org = OTHER_ORG.into();
        let elsewhere = b.services.create_payment(elsewhere).await.unwrap();
        let bank = SandboxBank::load(b.services.db()).await.unwrap();
        apply(&b, &bank.callback(&elsewhere.id, PaymentStatus::Success))
            .await
            .unwrap();

        let day = WorkCalendar::date_of(first.settled_at.unwrap());
        let report = b.services.reconciliation(ORG, day).await.unwrap();
        assert_eq!(report.org, ORG);
        assert_eq!(report.date, day);
        assert_eq!((report.paid_count, report.paid_fen), (2, 8000), "{}", b.name);
        assert_eq!((report.refund_count, report.refunded_fen), (1, 1000), "{}", b.name);
        assert_eq!(report.net_fen, 7000);
        let lines: Vec<(&str, u64, u64, u64, PaymentStatus)> = report
            .lines
            .iter()
            .map(|l| (l.payment.as_str(), l.amount_fen, l.paid_fen, l.refunded_fen, l.status))
            .collect();
        assert_eq!(
            lines,
            [
                (first.id.as_str(), 5000, 5000, 0, PaymentStatus::Success),
                (second.id.as_str(), 3000, 3000, 1000, PaymentStatus::Success),
            ],
            "{}",
            b.name
        );
        assert!(report.lines.iter().all(|l| l.case == b.case));
        assert!(!report.lines.iter().any(|l| l.payment == declined.id));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["date"], day.to_string());
        assert_eq!(json["net_fen"], 7000);

        let theirs = b.services.reconciliation(OTHER_ORG, day).await.unwrap();
        assert_eq!((theirs.paid_count, theirs.paid_fen, theirs.net_fen), (1, 999, 999));

        let yesterday = b.services.reconciliation(ORG, day.pred_opt().unwrap()).await.unwrap();
        assert_eq!(
            (yesterday.paid_count, yesterday.refund_count, yesterday.net_fen),
            (0, 0, 0)
        );
        assert!(yesterday.lines.is_empty());
        expect_not_found(
            b.services.reconciliation("913301000000000000", day).await,
            "913301000000000000",
        );
    }
}

/// Milliseconds at a civil time in China Standard Time.
fn china_ms(date: NaiveDate, time: NaiveTime) -> i64 {
    date.and_time(time).and_utc().timestamp_millis() - 8 * 3600 * 1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconciliation_days_turn_at_midnight_china_time() {
    for b in backends("reconciliation_days").await {
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let next = day.succ_opt().unwrap();
        let late = paid(&b, "fee-1", 100).await;
        let early = paid(&b, "fee-2", 200).await;
        // 23:59:59.999 on the first in Hangzhou is 15:59:59.999 UTC; midnight
        // of the second is 16:00 UTC the first.
        let last_ms = china_ms(day, NaiveTime::from_hms_milli_opt(23, 59, 59, 999).unwrap());
        let midnight = china_ms(next, NaiveTime::MIN);
        assert_eq!(WorkCalendar::date_of(last_ms), day);
        assert_eq!(WorkCalendar::date_of(midnight), next);
        for (id, at) in [(&late.id, last_ms), (&early.id, midnight)] {
            sqlx::query("UPDATE payments SET settled_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(b.services.db().pool())
                .await
                .unwrap();
        }
        b.services.refund_payment(APP, &late.id, 40, "r1").await.unwrap();
        sqlx::query("UPDATE payment_refunds SET created_at = $1")
            .bind(midnight + 1)
            .execute(b.services.db().pool())
            .await
            .unwrap();

        let first = b.services.reconciliation(ORG, day).await.unwrap();
        assert_eq!(
            (first.paid_count, first.paid_fen, first.refunded_fen),
            (1, 100, 0),
            "{}",
            b.name
        );
        assert_eq!(first.lines[0].payment, late.id);

        // The second: the early payment, and the refund of the late one.
        let second = b.services.reconciliation(ORG, next).await.unwrap();
        assert_eq!((second.paid_count, second.paid_fen), (1, 200), "{}", b.name);
        assert_eq!((second.refund_count, second.refunded_fen, second.net_fen), (1, 40, 160));
        let lines: Vec<(&str, u64, u64)> = second
            .lines
            .iter()
            .map(|l| (l.payment.as_str(), l.paid_fen, l.refunded_fen))
            .collect();
        assert_eq!(lines, [(early.id.as_str(), 200, 0), (late.id.as_str(), 0, 40)]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_app_cannot_see_or_refund_a_payment() {
    for b in backends("other_app").await {
        let payment = paid(&b, "fee-1", 5000).await;
        assert_eq!(b.services.payment_for_app(APP, &payment.id).await.unwrap(), payment);
        expect_not_found(b.services.payment_for_app(OTHER_APP, &payment.id).await, &payment.id);
        expect_not_found(
            b.services.refund_payment(OTHER_APP, &payment.id, 100, "r1").await,
            &payment.id,
        );
        let after = b.services.payment(&payment.id).await.unwrap();
        assert_eq!(after.refunded_fen, 0, "{}", b.name);
        assert_eq!(after, payment);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sandbox_secret_is_shared_and_stable() {
    for b in backends("sandbox_secret").await {
        let one = SandboxBank::load(b.services.db()).await.unwrap();
        let two = SandboxBank::load(b.services.db()).await.unwrap();
        assert_eq!(one.sign(b"body"), two.sign(b"body"), "{}", b.name);
        let stored: String = sqlx::query("SELECT value FROM platform_secrets WHERE name = $1")
            .bind(sandbox::SECRET)
            .fetch_one(b.services.db().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(stored.len(), 64, "{}: 32 random bytes as hex", b.name);
        let provider = b.services.payment_provider("sandbox").await.unwrap();
        assert_eq!(provider.name(), "sandbox");
        let event = provider
            .verify_callback(
                &one.callback("pay-x", PaymentStatus::Cancelled).body,
                &one.callback("pay-x", PaymentStatus::Cancelled).signature,
            )
            .map(|e| e.status);
        // Two callbacks differ in event id, so one's signature fits only its own body.
        expect_forbidden(event, "signature");
        let callback = one.callback("pay-x", PaymentStatus::Cancelled);
        let event = provider.verify_callback(&callback.body, &callback.signature).unwrap();
        assert_eq!(event.payment_id, "pay-x");
        assert_eq!(event.status, PaymentStatus::Cancelled);
        assert!(event.event_id.starts_with("sandbox-evt-"));
    }
}
