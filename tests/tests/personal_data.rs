//! Personal data through the capabilities, driven by the probe fixture in the
//! real runtime over the shared services: identity attributes, certificates
//! (held, copy, verify, issue, set-status), payments, notify and cases —
//! granted, not granted, without consent, with a consent revoked mid-case, for
//! another purpose, across apps and subjects, with bad input — and the
//! provenance record of every personal-data access.
//!
//! Every test runs on each database the test database kit provides
//! (`tongban-testdb`: SQLite, and PostgreSQL when configured), each test in a
//! fresh database.

use serde_json::{Value, json};
use tongban_registry::Package;
use tongban_runtime::{
    Assurance, CallEnv, Channel, Hook, HookResult, LoadError, LoadedApp, Outcome, Runtime, RuntimeSettings, Session,
    SubjectKind,
};
use tongban_services::Services;
use tongban_services::cases::{Action, CaseActor, NewCase, Step};
use tongban_services::certificates::{CertificateId, CertificateStatus};
use tongban_services::consents::{attribute_scope, certificate_scope};
use tongban_services::demo::PUBLIC_SECURITY_ORG;
use tongban_services::payments::{NewPayment, PayDecision, PaymentStatus};
use tongban_services::provenance::{ProvenanceFilter, StoredProvenance};
use tongban_testdb::{TestDb, seed};
use tongban_tests::fixture;

const APP: &str = "cn.gov.test.probe";
const VERSION: &str = "0.1.0";
const OTHER_APP: &str = "cn.gov.other.app";
const ITEM: &str = "TEST-probe";
const ORG: &str = "91330100MA27XL0X7F";
const ORG_NAME: &str = "测试机构";
const REGION: &str = "330106";
const ZHANG: &str = "citizen-zhang-san";
const ZHANG_ID_NUMBER: &str = "330106199003070014";
const LI: &str = "citizen-li-si";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// One backend with everything the probe needs: the demo citizens and their
/// certificates, the probe's publisher org, and the probe loaded.
struct World {
    backend: &'static str,
    runtime: Runtime,
    app: LoadedApp,
    _db: TestDb,
}

/// A world on a fresh database of each backend the test database kit
/// provides; the runtime keeps its files in the database's scratch directory.
async fn worlds(label: &str) -> Vec<World> {
    let mut out = Vec::new();
    for db in TestDb::each(&format!("pd_{label}")) {
        let runtime = Runtime::new(RuntimeSettings::in_data_dir(db.dir()), db.open().await).unwrap();
        runtime.services().seed_demo_citizens().await.unwrap();
        seed::orgs(runtime.services().db(), &[(ORG, ORG_NAME, "330100")]).await;
        let app = runtime.load(&fixture("probe")).unwrap();
        out.push(World {
            backend: db.backend_name(),
            runtime,
            app,
            _db: db,
        });
    }
    out
}

impl World {
    fn services(&self) -> &Services {
        self.runtime.services()
    }

    /// The pairwise handle the probe sees for `subject`.
    async fn handle(&self, subject: &str) -> String {
        self.services().handle_for(subject, APP).await.unwrap()
    }

    /// A web call about `case` serving `subject`.
    async fn env_for(&self, subject: &str, case: &str) -> CallEnv {
        CallEnv {
            session: Session {
                subject: self.handle(subject).await,
                kind: SubjectKind::Person,
                assurance: Assurance::Substantial,
                channel: Channel::Web,
                on_behalf_of: None,
                locale: "zh-CN".into(),
            },
            item: ITEM.into(),
            region: REGION.into(),
            subject: Some(subject.into()),
            case: Some(case.into()),
            event: None,
        }
    }

    /// Run the probe's ops in a `submit` call and return their results.
    async fn run(&self, env: &CallEnv, ops: Value) -> Vec<Value> {
        let hook = Hook::Submit {
            case: env.case.clone().unwrap_or_default(),
            form: ops.to_string(),
        };
        let outcome = self.runtime.call(&self.app, env, hook).await;
        match outcome.result {
            Ok(HookResult::Submit(Ok(Outcome::Approved(text)))) => serde_json::from_str(&text).unwrap(),
            other => panic!(
                "[{}] the probe always approves with its results, not {other:?}",
                self.backend
            ),
        }
    }

    /// Run the probe's ops for `subject` about `case`.
    async fn call(&self, subject: &str, case: &str, ops: Value) -> Vec<Value> {
        let env = self.env_for(subject, case).await;
        self.run(&env, ops).await
    }

    /// Open a case of `app` for the probe's item, accepted by the probe's org.
    async fn open_case(&self, subject: &str, app: &str) -> String {
        let (case, created) = self
            .services()
            .open_case(NewCase {
                app: app.into(),
                app_version: VERSION.into(),
                item: ITEM.into(),
                item_mode: "instant".into(),
                promised_days: None,
                subject: subject.into(),
                region: REGION.into(),
                channel: "web".into(),
                on_behalf_of: None,
                accepting_org: ORG.into(),
                form: r#"{"申请事项":"测试"}"#.into(),
                follow_on_of: None,
                submission_key: None,
            })
            .await
            .unwrap();
        assert!(created);
        case.id
    }

    /// Approve an instant case by the app's rule.
    async fn approve(&self, case: &str) {
        let approved = self
            .services()
            .step_case(&CaseActor::system("rule"), case, Step::new(Action::RuleApprove, "ok"))
            .await
            .unwrap();
        assert_eq!(approved.stage.as_str(), "approved");
    }

    /// A consent `subject` requested for `app` and granted for 30 days.
    async fn consent(&self, subject: &str, app: &str, scopes: &[String], purpose: &str) -> String {
        let services = self.services();
        let requested = services
            .request_consent(subject, app, scopes.to_vec(), purpose, "测试 / testing")
            .await
            .unwrap();
        services
            .grant_consent(subject, &requested.id, 30 * DAY_MS)
            .await
            .unwrap()
            .id
    }

    /// The id of `subject`'s certificate of `type_code`.
    async fn certificate_of(&self, subject: &str, type_code: &str) -> String {
        let held = self
            .services()
            .certificates_held(subject, Some(&[type_code.to_owned()]))
            .await
            .unwrap();
        assert_eq!(held.len(), 1, "{subject} holds one {type_code}");
        held[0].id.clone()
    }

    async fn provenance_of(&self, subject: &str) -> Vec<StoredProvenance> {
        self.services()
            .provenance(&ProvenanceFilter {
                subject: Some(subject.into()),
                case: None,
            })
            .await
            .unwrap()
    }

    async fn provenance_of_case(&self, case: &str) -> Vec<StoredProvenance> {
        self.services()
            .provenance(&ProvenanceFilter {
                subject: None,
                case: Some(case.into()),
            })
            .await
            .unwrap()
    }

    /// Take a created payment through the sandbox bank to `success`.
    async fn settle(&self, payment: &str) {
        let services = self.services();
        services.start_payment(payment).await.unwrap();
        for callback in services.sandbox_settle(payment, PayDecision::Pay).await.unwrap() {
            services
                .apply_callback(&callback.provider, &callback.body, &callback.signature)
                .await
                .unwrap();
        }
        assert_eq!(services.payment(payment).await.unwrap().status, PaymentStatus::Success);
    }
}

/// The value of a successful op result.
#[track_caller]
fn ok(result: &Value) -> &Value {
    assert!(result.get("ok").is_some(), "expected a success, got {result}");
    &result["ok"]
}

/// Assert that an op result is the error `kind` and that its detail names
/// every one of `names`; return the detail.
#[track_caller]
fn err(result: &Value, kind: &str, names: &[&str]) -> String {
    assert_eq!(result["err"]["kind"], kind, "expected `{kind}`, got {result}");
    let detail = result["err"]["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("the error has no detail: {result}"));
    for name in names {
        assert!(detail.contains(name), "the detail should name `{name}`: {detail}");
    }
    detail.to_owned()
}

/// The operations and outcomes of provenance records, in order.
fn trail(records: &[StoredProvenance]) -> Vec<(&str, &str)> {
    records
        .iter()
        .map(|r| (r.record.operation.as_str(), r.record.outcome.as_str()))
        .collect()
}

fn scopes(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| match n.strip_prefix("cert:") {
            Some(type_code) => certificate_scope(type_code),
            None => attribute_scope(n),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Granted and allowed

#[tokio::test]
async fn granted_reads_release_masked_attributes_and_certificates_under_the_handle() {
    for w in worlds("granted").await {
        eprintln!("-- {}", w.backend);
        let case = w.open_case(ZHANG, APP).await;
        let consent = w
            .consent(ZHANG, APP, &scopes(&["name", "id-number-masked", "cert:ID-CARD"]), ITEM)
            .await;
        let handle = w.handle(ZHANG).await;
        assert!(handle.starts_with("ph-") && handle != ZHANG, "{handle}");
        let card = w.certificate_of(ZHANG, "ID-CARD").await;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "whoami"},
                    {"op": "attributes", "names": ["name", "id-number-masked"]},
                    {"op": "held", "types": ["ID-CARD"]},
                    {"op": "copy", "id": card},
                    {"op": "verify", "id": card},
                ]),
            )
            .await;

        assert_eq!(ok(&r[0])["subject"], handle.as_str());

        let attributes = ok(&r[1]).as_array().unwrap();
        assert_eq!(attributes.len(), 2, "{}", r[1]);
        assert_eq!(attributes[0]["name"], "name");
        assert_eq!(attributes[0]["value"], "张三");
        assert_eq!(attributes[1]["name"], "id-number-masked");
        assert_eq!(attributes[1]["value"], "3301**********0014");
        assert!(attributes[0]["source"].as_str().unwrap().contains("公安"), "{}", r[1]);
        assert!(attributes[0]["verified_at"].as_u64().unwrap() > 0);
        assert!(
            !r[1].to_string().contains(ZHANG_ID_NUMBER),
            "the full ID number never leaves as an attribute: {}",
            r[1]
        );

        let held = ok(&r[2]).as_array().unwrap();
        assert_eq!(held.len(), 1, "only the ID card was asked for: {}", r[2]);
        assert_eq!(held[0]["id"], card.as_str());
        assert_eq!(held[0]["type_code"], "ID-CARD");
        assert_eq!(held[0]["type_name"], "居民身份证");
        assert_eq!(held[0]["issuer_code"], PUBLIC_SECURITY_ORG);
        assert_eq!(held[0]["holder"], handle.as_str(), "the holder is the app's handle");
        assert_eq!(held[0]["holder_name"], "张三");
        assert_eq!(held[0]["status"], "valid");
        assert!(
            !r[2].to_string().contains(ZHANG),
            "the platform subject id never reaches the app"
        );
        let printed = held[0]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f[0] == "公民身份号码")
            .unwrap();
        assert_eq!(
            printed[1], "3301**********0014",
            "ID numbers on certificates leave masked too"
        );
        assert!(!r[2].to_string().contains(ZHANG_ID_NUMBER) && !r[3].to_string().contains(ZHANG_ID_NUMBER));

        let copy = ok(&r[3]);
        assert_eq!(copy["certificate"]["id"], card.as_str());
        assert_eq!(copy["certificate"]["holder"], handle.as_str());
        assert_eq!(copy["why"]["code"], ITEM);
        assert!(copy["expires_at"].as_u64().unwrap() > tongban_services::now_ms() as u64);
        assert!(!copy["signature"].as_str().unwrap().is_empty(), "{copy}");

        assert_eq!(ok(&r[4]), "valid");

        // One record per personal-data call; whoami and verify add none.
        let records = w.provenance_of(ZHANG).await;
        assert_eq!(
            trail(&records),
            [
                ("identity.attributes", "released"),
                ("certificates.held", "released"),
                ("certificates.copy", "released"),
            ]
        );
        for r in &records {
            assert_eq!(r.record.app, APP);
            assert_eq!(r.record.app_version, VERSION);
            assert_eq!(r.record.subject_handle, handle);
            assert_eq!(r.record.purpose, ITEM);
            assert_eq!(r.record.consent.as_deref(), Some(consent.as_str()));
            assert_eq!(r.record.case.as_deref(), Some(case.as_str()));
        }
        assert_eq!(w.services().verify_provenance().await.unwrap(), Ok(3));
    }
}

// ---------------------------------------------------------------------------
// Not granted

#[tokio::test]
async fn requests_beyond_the_manifest_are_not_granted_naming_what_was_asked() {
    for w in worlds("not_granted").await {
        eprintln!("-- {}", w.backend);
        let case = w.open_case(ZHANG, APP).await;
        w.approve(&case).await;
        // The citizen consented to everything: the refusals come from the
        // manifest, not from consent.
        w.consent(
            ZHANG,
            APP,
            &scopes(&["name", "phone", "cert:ID-CARD", "cert:HOUSEHOLD-REGISTER"]),
            ITEM,
        )
        .await;
        let card = w.certificate_of(ZHANG, "ID-CARD").await;
        let household = w.certificate_of(ZHANG, "HOUSEHOLD-REGISTER").await;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "attributes", "names": ["phone"]},
                    {"op": "attributes", "names": ["name", "phone"]},
                    {"op": "held", "types": ["HOUSEHOLD-REGISTER"]},
                    {"op": "held", "types": ["ID-CARD", "HOUSEHOLD-REGISTER"]},
                    {"op": "copy", "id": household},
                    {"op": "issue", "type": "ID-CARD"},
                    {"op": "set-status", "id": card, "status": "suspended", "reason": "测试"},
                    {"op": "follow-on", "item": "TEST-probe", "form": "{}"},
                    {"op": "notify", "template": "bye", "params": [["name", "张三"]]},
                ]),
            )
            .await;
        err(&r[0], "not-granted", &["phone"]);
        err(&r[1], "not-granted", &["phone"]);
        err(&r[2], "not-granted", &["HOUSEHOLD-REGISTER"]);
        err(&r[3], "not-granted", &["HOUSEHOLD-REGISTER"]);
        err(&r[4], "not-granted", &["HOUSEHOLD-REGISTER"]);
        err(&r[5], "not-granted", &["issuing", "ID-CARD"]);
        err(&r[6], "not-granted", &[&card, PUBLIC_SECURITY_ORG]);
        err(&r[7], "not-granted", &["follow-on", "TEST-probe"]);
        err(&r[8], "not-granted", &["bye"]);

        // Nothing happened.
        let services = w.services();
        assert_eq!(
            services.certificate(&card).await.unwrap().status,
            CertificateStatus::Valid
        );
        assert!(services.inbox(ZHANG).await.unwrap().is_empty());
        assert_eq!(services.cases_of_subject(ZHANG).await.unwrap().len(), 1);
        assert!(
            services
                .certificates_held(ZHANG, None)
                .await
                .unwrap()
                .iter()
                .all(|c| c.issuer_code == PUBLIC_SECURITY_ORG),
            "no certificate was issued"
        );
    }
}

#[tokio::test]
async fn a_component_importing_a_capability_its_manifest_drops_is_not_loaded() {
    for w in worlds("no_payments").await {
        eprintln!("-- {}", w.backend);
        let probe = fixture("probe");
        let package = Package {
            manifest_text: probe
                .manifest_text
                .replace("payments = { max-amount-fen = 10000 }\n", ""),
            ..probe
        };
        assert!(
            !package.manifest_text.contains("payments"),
            "the manifest still grants payments"
        );
        let refused = w.runtime.load(&package).unwrap_err();
        let LoadError::NotGranted(problems) = &refused else {
            panic!("expected an ungranted import, got {refused}")
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("tongban:platform/payments") && problems[0].contains("`payments`"),
            "{problems:?}"
        );
        assert!(refused.to_string().contains("payments"), "{refused}");
    }
}

// ---------------------------------------------------------------------------
// No consent

#[tokio::test]
async fn reads_without_a_live_consent_are_consent_required_naming_the_scope() {
    for w in worlds("no_consent").await {
        eprintln!("-- {}", w.backend);
        let case = w.open_case(ZHANG, APP).await;
        let card = w.certificate_of(ZHANG, "ID-CARD").await;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "attributes", "names": ["name"]},
                    {"op": "held", "types": ["ID-CARD"]},
                    {"op": "copy", "id": card},
                ]),
            )
            .await;
        err(
            &r[0],
            "consent-required",
            &["identity.attributes/name", ITEM, "not granted"],
        );
        err(&r[1], "consent-required", &["certificates/ID-CARD", ITEM]);
        err(&r[2], "consent-required", &["certificates/ID-CARD", ITEM]);

        // A request the citizen has not answered yet covers nothing.
        let services = w.services();
        let requested = services
            .request_consent(ZHANG, APP, scopes(&["name"]), ITEM, "测试 / testing")
            .await
            .unwrap();
        let r = w
            .call(ZHANG, &case, json!([{"op": "attributes", "names": ["name"]}]))
            .await;
        err(
            &r[0],
            "consent-required",
            &["identity.attributes/name", &requested.id, "requested"],
        );

        // Once granted, it covers its scopes and nothing else.
        services.grant_consent(ZHANG, &requested.id, DAY_MS).await.unwrap();
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "attributes", "names": ["name"]},
                    {"op": "attributes", "names": ["name", "id-number-masked"]},
                ]),
            )
            .await;
        assert_eq!(ok(&r[0])[0]["value"], "张三");
        err(
            &r[1],
            "consent-required",
            &["identity.attributes/id-number-masked", &requested.id, "does not cover"],
        );
        assert_eq!(
            trail(&w.provenance_of(ZHANG).await),
            [
                ("identity.attributes", "consent-required"),
                ("certificates.held", "consent-required"),
                ("certificates.copy", "consent-required"),
                ("identity.attributes", "consent-required"),
                ("identity.attributes", "released"),
                ("identity.attributes", "consent-required"),
            ]
        );
    }
}

// ---------------------------------------------------------------------------
// Consent revoked mid-case

#[tokio::test]
async fn a_consent_revoked_mid_case_refuses_the_next_read() {
    for w in worlds("revoked").await {
        eprintln!("-- {}", w.backend);
        let case = w.open_case(ZHANG, APP).await;
        let consent = w.consent(ZHANG, APP, &scopes(&["name", "cert:ID-CARD"]), ITEM).await;
        let card = w.certificate_of(ZHANG, "ID-CARD").await;
        let reads = json!([
            {"op": "attributes", "names": ["name"]},
            {"op": "held", "types": ["ID-CARD"]},
            {"op": "copy", "id": card},
        ]);
        let r = w.call(ZHANG, &case, reads.clone()).await;
        assert_eq!(ok(&r[0])[0]["value"], "张三");
        assert_eq!(ok(&r[1])[0]["id"], card.as_str());
        assert_eq!(ok(&r[2])["certificate"]["id"], card.as_str());

        w.services().revoke_consent(ZHANG, &consent).await.unwrap();
        let r = w.call(ZHANG, &case, reads).await;
        err(
            &r[0],
            "consent-required",
            &["identity.attributes/name", &consent, "revoked"],
        );
        err(
            &r[1],
            "consent-required",
            &["certificates/ID-CARD", &consent, "revoked"],
        );
        err(
            &r[2],
            "consent-required",
            &["certificates/ID-CARD", &consent, "revoked"],
        );

        let records = w.provenance_of_case(&case).await;
        assert_eq!(
            trail(&records),
            [
                ("identity.attributes", "released"),
                ("certificates.held", "released"),
                ("certificates.copy", "released"),
                ("identity.attributes", "consent-required"),
                ("certificates.held", "consent-required"),
                ("certificates.copy", "consent-required"),
            ]
        );
        for r in &records[..3] {
            assert_eq!(r.record.consent.as_deref(), Some(consent.as_str()));
        }
        for r in &records[3..] {
            assert_eq!(r.record.consent, None, "a refused read released under no consent");
        }
    }
}

// ---------------------------------------------------------------------------
// Wrong purpose

#[tokio::test]
async fn a_read_for_another_purpose_than_the_consents_is_consent_required() {
    for w in worlds("purpose").await {
        eprintln!("-- {}", w.backend);
        let case = w.open_case(ZHANG, APP).await;
        let consent = w.consent(ZHANG, APP, &scopes(&["name", "cert:ID-CARD"]), ITEM).await;
        let card = w.certificate_of(ZHANG, "ID-CARD").await;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "attributes", "names": ["name"], "purpose": "OTHER-PURPOSE"},
                    {"op": "held", "types": ["ID-CARD"], "purpose": "OTHER-PURPOSE"},
                    {"op": "copy", "id": card, "purpose": "OTHER-PURPOSE"},
                    {"op": "attributes", "names": ["name"], "purpose": ITEM},
                ]),
            )
            .await;
        // The purpose of a read is the item the call serves: another purpose
        // is refused before any consent is consulted, naming both.
        let _ = &consent;
        for result in &r[..3] {
            err(result, "consent-required", &["`TEST-probe`", "`OTHER-PURPOSE`"]);
        }
        assert_eq!(ok(&r[3])[0]["value"], "张三", "the consent's own purpose still reads");
        let records = w.provenance_of(ZHANG).await;
        let purposes: Vec<&str> = records.iter().map(|r| r.record.purpose.as_str()).collect();
        assert_eq!(purposes, ["OTHER-PURPOSE", "OTHER-PURPOSE", "OTHER-PURPOSE", ITEM]);
    }
}

/// The attack the purpose check exists for: the citizen consented for one
/// item of the app, and the app, while serving another item, names the first
/// item's purpose. Every personal-data read refuses it the same way.
#[tokio::test]
async fn a_consent_for_one_item_is_not_used_while_serving_another() {
    const OTHER_ITEM: &str = "TEST-other-item";
    for w in worlds("purpose-item").await {
        eprintln!("-- {}", w.backend);
        let case = w.open_case(ZHANG, APP).await;
        w.consent(ZHANG, APP, &scopes(&["name", "cert:ID-CARD"]), OTHER_ITEM)
            .await;
        let card = w.certificate_of(ZHANG, "ID-CARD").await;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "attributes", "names": ["name"], "purpose": OTHER_ITEM},
                    {"op": "held", "types": ["ID-CARD"], "purpose": OTHER_ITEM},
                    {"op": "copy", "id": card, "purpose": OTHER_ITEM},
                ]),
            )
            .await;
        for result in &r {
            err(result, "consent-required", &["`TEST-probe`", "`TEST-other-item`"]);
        }
        let records = w.provenance_of(ZHANG).await;
        let outcomes: Vec<(&str, &str)> = records
            .iter()
            .map(|r| (r.record.operation.as_str(), r.record.outcome.as_str()))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("identity.attributes", "consent-required"),
                ("certificates.held", "consent-required"),
                ("certificates.copy", "consent-required"),
            ],
            "every refused read is on the record, none released"
        );
    }
}

// ---------------------------------------------------------------------------
// Another app's data, another subject's data

#[tokio::test]
async fn another_apps_consents_handles_cases_and_payments_and_another_subjects_certificates_are_out_of_reach() {
    for w in worlds("other_app").await {
        eprintln!("-- {}", w.backend);
        let services = w.services();
        let case = w.open_case(ZHANG, APP).await;

        // A consent for another app does not cover this one.
        w.consent(ZHANG, OTHER_APP, &scopes(&["name", "cert:ID-CARD"]), ITEM)
            .await;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "attributes", "names": ["name"]},
                    {"op": "held", "types": ["ID-CARD"]},
                ]),
            )
            .await;
        err(&r[0], "consent-required", &["identity.attributes/name", "this app"]);
        err(&r[1], "consent-required", &["certificates/ID-CARD", "this app"]);

        // Another app's handle, its case and its payment are not found.
        let other_handle = services.handle_for(ZHANG, OTHER_APP).await.unwrap();
        assert_ne!(other_handle, w.handle(ZHANG).await, "handles are pairwise");
        let other_case = w.open_case(ZHANG, OTHER_APP).await;
        w.approve(&other_case).await;
        let other_payment = services
            .create_payment(NewPayment {
                app: OTHER_APP.into(),
                org: ORG.into(),
                case: other_case.clone(),
                amount_fen: 800,
                description: "其他应用的费用".into(),
                idempotency_key: "other-1".into(),
            })
            .await
            .unwrap();
        w.settle(&other_payment.id).await;
        let hello = json!([["name", "张三"], ["case", other_case]]);
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "notify", "to": other_handle, "template": "hello", "params": hello},
                    {"op": "case-get", "id": other_case},
                    {"op": "pay", "case": other_case, "amount": 100, "key": "k-other"},
                    {"op": "issue", "type": "TEST-CERT", "case": other_case},
                    {"op": "follow-on", "from": other_case, "item": "TEST-follow", "form": "{}"},
                    {"op": "notify", "template": "hello", "params": hello, "case": other_case},
                    {"op": "pay-get", "id": other_payment.id},
                    {"op": "refund", "id": other_payment.id, "amount": 100, "key": "r-other"},
                ]),
            )
            .await;
        err(&r[0], "not-found", &[&other_handle]);
        err(&r[1], "not-found", &[&other_case]);
        err(&r[2], "not-found", &[&other_case]);
        err(&r[3], "not-found", &[&other_case]);
        err(&r[4], "not-found", &[&other_case]);
        err(&r[5], "not-found", &[&other_case]);
        err(&r[6], "not-found", &[&other_payment.id]);
        err(&r[7], "not-found", &[&other_payment.id]);
        // A case number that exists elsewhere reads exactly like one that does not.
        let r = w
            .call(
                ZHANG,
                &case,
                json!([{"op": "case-get", "id": "330106-20260101-00000000"}]),
            )
            .await;
        err(&r[0], "not-found", &["case 330106-20260101-00000000"]);

        // Nothing was sent, paid, refunded, issued or opened.
        assert!(services.inbox(ZHANG).await.unwrap().is_empty());
        let payments = services.payments_of_case(&other_case).await.unwrap();
        assert_eq!(payments.len(), 1);
        assert_eq!(payments[0].refunded_fen, 0);
        assert_eq!(services.certificates_held(ZHANG, None).await.unwrap().len(), 2);
        assert_eq!(services.cases_of_subject(ZHANG).await.unwrap().len(), 2);

        // Another subject's certificate is not found, even with consent for its type.
        w.consent(ZHANG, APP, &scopes(&["cert:ID-CARD"]), ITEM).await;
        let li_card = w.certificate_of(LI, "ID-CARD").await;
        let zhang_card = w.certificate_of(ZHANG, "ID-CARD").await;
        let missing = CertificateId::new("ID-CARD", PUBLIC_SECURITY_ORG, 99, 1)
            .unwrap()
            .to_string();
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "copy", "id": li_card},
                    {"op": "copy", "id": missing},
                    {"op": "held", "types": ["ID-CARD"]},
                ]),
            )
            .await;
        let detail = err(&r[0], "not-found", &[&li_card]);
        assert_eq!(
            detail,
            format!("certificate {li_card}"),
            "nothing about the holder leaks"
        );
        err(&r[1], "not-found", &[&missing]);
        let held = ok(&r[2]).as_array().unwrap();
        assert_eq!(held.len(), 1);
        assert_eq!(held[0]["id"], zhang_card.as_str(), "only the subject's own card");
        assert!(!r.iter().any(|v| v.to_string().contains("李四")), "{r:?}");
    }
}

// ---------------------------------------------------------------------------
// Bad input

#[tokio::test]
async fn bad_input_is_invalid_naming_the_problem() {
    for w in worlds("bad_input").await {
        eprintln!("-- {}", w.backend);
        let services = w.services();
        let case = w.open_case(ZHANG, APP).await;
        w.approve(&case).await;
        w.consent(ZHANG, APP, &scopes(&["name", "cert:ID-CARD"]), ITEM).await;
        let card = w.certificate_of(ZHANG, "ID-CARD").await;
        let r = w
            .call(ZHANG, &case, json!([{"op": "issue", "type": "TEST-CERT"}]))
            .await;
        let issued = ok(&r[0])["id"].as_str().unwrap().to_owned();
        let last = card.chars().last().unwrap();
        let bad_check = format!("{}{}", &card[..card.len() - 1], if last == 'A' { 'B' } else { 'A' });
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "attributes", "names": []},
                    {"op": "attributes", "names": ["name"], "purpose": ""},
                    {"op": "held", "types": []},
                    {"op": "held", "types": ["ID-CARD"], "purpose": "  "},
                    {"op": "copy", "id": card, "purpose": ""},
                    {"op": "verify", "id": "not-a-certificate"},
                    {"op": "verify", "id": bad_check},
                    {"op": "set-status", "id": issued, "status": "suspended", "reason": ""},
                    {"op": "set-status", "id": issued, "status": "suspended", "reason": "   "},
                    {"op": "set-status", "id": issued, "status": "expired", "reason": "到期"},
                    {"op": "pay", "amount": 100, "key": "k-1", "description": ""},
                    {"op": "pay", "amount": 0, "key": "k-2"},
                    {"op": "pay", "amount": 100, "key": ""},
                    {"op": "follow-on", "item": "TEST-follow", "form": "not json"},
                    {"op": "notify", "template": "hello", "params": [["name", "张三"]]},
                    {"op": "notify", "template": "hello", "params": [["name", "张三"], ["case", case], ["phone", "138"]]},
                ]),
            )
            .await;
        err(&r[0], "invalid", &["attributes", "not 0"]);
        err(&r[1], "invalid", &["purpose code"]);
        err(&r[2], "invalid", &["1 to 16 certificate types"]);
        err(&r[3], "invalid", &["purpose code"]);
        err(&r[4], "invalid", &["purpose code"]);
        err(&r[5], "invalid", &["not-a-certificate", "TYPE.ISSUER.SERIAL.VERSION"]);
        err(&r[6], "invalid", &["check character", &bad_check]);
        err(&r[7], "invalid", &["reason"]);
        err(&r[8], "invalid", &["reason"]);
        err(&r[9], "invalid", &["expired", "validity period"]);
        err(&r[10], "invalid", &["description"]);
        err(&r[11], "invalid", &["amount", "not 0"]);
        err(&r[12], "invalid", &["idempotency key"]);
        err(&r[13], "invalid", &["follow-on form", "JSON"]);
        err(&r[14], "invalid", &["`case`", "missing"]);
        err(&r[15], "invalid", &["`phone`", "unknown"]);

        // Nothing changed.
        assert_eq!(
            services.certificate(&issued).await.unwrap().status,
            CertificateStatus::Valid
        );
        assert!(services.payments_of_case(&case).await.unwrap().is_empty());
        assert_eq!(services.cases_of_subject(ZHANG).await.unwrap().len(), 1);
        assert!(services.inbox(ZHANG).await.unwrap().is_empty());
    }
}

// ---------------------------------------------------------------------------
// Certificates issued by the app

#[tokio::test]
async fn certificates_are_issued_once_per_approved_case_and_change_status_with_a_reason() {
    for w in worlds("issue").await {
        eprintln!("-- {}", w.backend);
        let services = w.services();
        let handle = w.handle(ZHANG).await;
        let case = w.open_case(ZHANG, APP).await;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "issue", "type": "TEST-CERT"},
                    {"op": "issue", "type": "TEST-CERT", "case": "330106-20260101-00000000"},
                ]),
            )
            .await;
        err(&r[0], "conflict", &[&case, "submitted", "approved"]);
        err(&r[1], "not-found", &["330106-20260101-00000000"]);

        w.approve(&case).await;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([{"op": "issue", "type": "TEST-CERT"}, {"op": "issue", "type": "TEST-CERT"}]),
            )
            .await;
        let first = ok(&r[0]);
        assert_eq!(
            ok(&r[1]),
            first,
            "a second issue for the case returns the first certificate"
        );
        let id = first["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with(&format!("TEST-CERT.{ORG}.00000001.01")), "{id}");
        assert_eq!(first["type_code"], "TEST-CERT");
        assert_eq!(
            first["issuer_code"], ORG,
            "issued in the name of the case's handling org"
        );
        assert_eq!(first["issuer_name"], ORG_NAME);
        assert_eq!(first["holder"], handle.as_str());
        assert_eq!(first["holder_name"], "张三");
        assert_eq!(first["status"], "valid");
        assert_eq!(first["fields"], json!([["名称", "测试证照"]]));
        let stored = services.certificate(&id).await.unwrap();
        assert_eq!(stored.holder, ZHANG);
        assert_eq!(stored.case.as_deref(), Some(case.as_str()));
        assert_eq!(stored.app.as_deref(), Some(APP));
        assert_eq!(
            services
                .certificates_held(ZHANG, Some(&["TEST-CERT".to_owned()]))
                .await
                .unwrap()
                .len(),
            1
        );

        // A second approved case gets its own certificate.
        let second_case = w.open_case(ZHANG, APP).await;
        w.approve(&second_case).await;
        let r = w
            .call(ZHANG, &second_case, json!([{"op": "issue", "type": "TEST-CERT"}]))
            .await;
        let second = ok(&r[0])["id"].as_str().unwrap().to_owned();
        assert!(second.starts_with(&format!("TEST-CERT.{ORG}.00000002.01")), "{second}");

        // The status changes, each with a reason; the app cannot undo a revocation.
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "verify", "id": id},
                    {"op": "set-status", "id": id, "status": "suspended", "reason": "核查中"},
                    {"op": "verify", "id": id},
                    {"op": "set-status", "id": id, "status": "valid", "reason": "核查完毕"},
                    {"op": "set-status", "id": id, "status": "revoked", "reason": "吊销"},
                    {"op": "verify", "id": id},
                    {"op": "set-status", "id": id, "status": "valid", "reason": "恢复"},
                    {"op": "verify", "id": second},
                ]),
            )
            .await;
        assert_eq!(ok(&r[0]), "valid");
        assert_eq!(ok(&r[1]), &Value::Null);
        assert_eq!(ok(&r[2]), "suspended");
        assert_eq!(ok(&r[3]), &Value::Null);
        assert_eq!(ok(&r[4]), &Value::Null);
        assert_eq!(ok(&r[5]), "revoked");
        err(&r[6], "conflict", &[&id, "revoked", "valid"]);
        assert_eq!(ok(&r[7]), "valid", "the other certificate is untouched");
        assert_eq!(
            services.certificate(&id).await.unwrap().status,
            CertificateStatus::Revoked
        );
    }
}

// ---------------------------------------------------------------------------
// Payments

#[tokio::test]
async fn payments_are_idempotent_per_key_bounded_by_the_manifest_and_never_refund_more_than_remains() {
    for w in worlds("payments").await {
        eprintln!("-- {}", w.backend);
        let services = w.services();
        let case = w.open_case(ZHANG, APP).await;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "pay", "amount": 500, "key": "fee-1"},
                    {"op": "pay", "amount": 500, "key": "fee-1"},
                    {"op": "pay", "amount": 600, "key": "fee-1"},
                    {"op": "pay", "amount": 10001, "key": "fee-2"},
                    {"op": "pay", "amount": 10000, "key": "fee-3", "description": "最高收费"},
                    {"op": "pay", "amount": 100, "key": "fee-4", "case": "330106-20260101-00000000"},
                ]),
            )
            .await;
        let payment = ok(&r[0]);
        let id = payment["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("pay-"), "{id}");
        assert_eq!(payment["case"], case.as_str());
        assert_eq!(payment["amount_fen"], 500);
        assert_eq!(payment["description"], "测试费用 / test fee");
        assert_eq!(payment["status"], "created");
        assert_eq!(payment["refunded_fen"], 0);
        assert_eq!(ok(&r[1]), payment, "the same key and body return the same payment");
        err(&r[2], "conflict", &["fee-1", "different payment"]);
        err(&r[3], "quota-exceeded", &["10001", "10000"]);
        assert_eq!(
            ok(&r[4])["amount_fen"],
            10000,
            "the manifest's maximum itself is allowed"
        );
        err(&r[5], "not-found", &["330106-20260101-00000000"]);
        assert_eq!(services.payments_of_case(&case).await.unwrap().len(), 2);

        // Only a successful payment is refunded.
        let r = w
            .call(
                ZHANG,
                &case,
                json!([{"op": "refund", "id": id, "amount": 100, "key": "r-0"}, {"op": "pay-get", "id": id}]),
            )
            .await;
        err(&r[0], "conflict", &[&id, "created", "successful"]);
        assert_eq!(ok(&r[1])["status"], "created");

        w.settle(&id).await;
        let timeline = services.case_timeline(&case).await.unwrap();
        assert!(
            timeline.iter().any(|e| e.kind == "paid" && e.detail == id),
            "the case hears `paid` once the payment succeeds: {timeline:?}"
        );
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "pay-get", "id": id},
                    {"op": "refund", "id": id, "amount": 300, "key": "r-1"},
                    {"op": "refund", "id": id, "amount": 300, "key": "r-1"},
                    {"op": "refund", "id": id, "amount": 250, "key": "r-2"},
                    {"op": "refund", "id": id, "amount": 100, "key": "r-1"},
                    {"op": "refund", "id": id, "amount": 200, "key": "r-3"},
                    {"op": "refund", "id": id, "amount": 1, "key": "r-4"},
                    {"op": "pay", "amount": 500, "key": "fee-1"},
                ]),
            )
            .await;
        assert_eq!(ok(&r[0])["status"], "success");
        assert_eq!(ok(&r[1])["refunded_fen"], 300);
        assert_eq!(ok(&r[2])["refunded_fen"], 300, "the same refund key refunds once");
        err(&r[3], "conflict", &["250", "200 fen that remains", &id]);
        err(&r[4], "conflict", &["r-1", "300"]);
        assert_eq!(ok(&r[5])["refunded_fen"], 500);
        err(&r[6], "conflict", &["0 fen that remains"]);
        assert_eq!(
            ok(&r[7])["id"],
            id.as_str(),
            "the creation key still answers the first payment"
        );
        assert_eq!(ok(&r[7])["status"], "success");
        let stored = services.payment(&id).await.unwrap();
        assert_eq!(
            (stored.status, stored.amount_fen, stored.refunded_fen),
            (PaymentStatus::Success, 500, 500)
        );
        assert_eq!(stored.org, ORG, "the fee goes to the case's accepting org");
    }
}

// ---------------------------------------------------------------------------
// Notify

/// A hostile app sends as many messages as it can. The probe's manifest
/// allows 10 per call, 30 per subject per day and 40 per app per day: each
/// bound holds, a send past one is `quota-exceeded`, and refused attempts
/// past the per-call bound add nothing to the audit chain.
#[tokio::test]
async fn messages_are_bounded_per_call_per_subject_and_per_app_per_day() {
    crate::support::away_from_midnight(std::time::Duration::from_secs(120)).await;
    for w in worlds("notify-quota").await {
        eprintln!("-- {}", w.backend);
        let services = w.services();
        let flood = json!([{"op": "notify-many", "template": "hello", "count": 9500}]);
        let case = w.open_case(ZHANG, APP).await;
        let r = w.call(ZHANG, &case, flood.clone()).await;
        assert_eq!(ok(&r[0])["sent"], 10, "{r:?}");
        let refusal = &ok(&r[0])["first-refusal"];
        assert_eq!(refusal["kind"], "quota-exceeded", "{refusal}");
        assert!(refusal["detail"].as_str().unwrap().contains("at most 10"), "{refusal}");
        assert_eq!(services.inbox(ZHANG).await.unwrap().len(), 10);
        let records = w.provenance_of(ZHANG).await;
        assert_eq!(
            records.iter().filter(|r| r.record.operation == "notify.send").count(),
            10,
            "refused attempts past the per-call bound touch no one and are not recorded"
        );

        // Per subject per day: two more calls reach 30, the next sends none.
        for expected in [10, 10, 0] {
            let case = w.open_case(ZHANG, APP).await;
            let r = w
                .call(
                    ZHANG,
                    &case,
                    json!([{"op": "notify-many", "template": "hello", "count": 10}]),
                )
                .await;
            assert_eq!(ok(&r[0])["sent"], expected, "{r:?}");
        }
        let case = w.open_case(ZHANG, APP).await;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([{"op": "notify-many", "template": "hello", "count": 1}]),
            )
            .await;
        let refusal = ok(&r[0])["first-refusal"]["detail"].as_str().unwrap().to_owned();
        assert!(refusal.contains("one person at most 30"), "{refusal}");
        assert_eq!(services.inbox(ZHANG).await.unwrap().len(), 30);

        // Per app per day: 40 in all, whoever the recipient.
        let case = w.open_case(LI, APP).await;
        let r = w
            .call(
                LI,
                &case,
                json!([{"op": "notify-many", "template": "hello", "count": 20}]),
            )
            .await;
        assert_eq!(ok(&r[0])["sent"], 10, "{r:?}");
        let case = w.open_case(LI, APP).await;
        let r = w
            .call(
                LI,
                &case,
                json!([{"op": "notify-many", "template": "hello", "count": 5}]),
            )
            .await;
        assert_eq!(ok(&r[0])["sent"], 0, "the app's 40 for the day are used up: {r:?}");
        assert_eq!(services.inbox(LI).await.unwrap().len(), 10);
    }
}

#[tokio::test]
async fn notify_renders_the_template_into_the_recipients_inbox() {
    for w in worlds("notify").await {
        eprintln!("-- {}", w.backend);
        let services = w.services();
        let handle = w.handle(ZHANG).await;
        let li_handle = w.handle(LI).await;
        let case = w.open_case(ZHANG, APP).await;
        let hello = json!([["name", "张三"], ["case", case]]);
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "notify", "template": "hello", "params": hello, "case": case},
                    {"op": "notify", "to": handle, "template": "hello", "params": hello},
                    {"op": "notify", "to": li_handle, "template": "hello", "params": [["name", "李四"], ["case", "-"]]},
                    {"op": "notify", "to": li_handle, "template": "hello", "params": hello, "case": case},
                    {"op": "notify", "to": "ph-00000000000000000000000000000000", "template": "hello", "params": hello},
                ]),
            )
            .await;
        let first = ok(&r[0]).as_str().unwrap().to_owned();
        let second = ok(&r[1]).as_str().unwrap().to_owned();
        let to_li = ok(&r[2]).as_str().unwrap().to_owned();
        assert!(first.starts_with("msg-") && first != second, "{first} {second}");
        err(&r[3], "not-found", &[&case, "this recipient"]);
        err(&r[4], "not-found", &["ph-00000000000000000000000000000000"]);

        let text = format!("您好，张三：办件 {case} 有新进展。 / Hello 张三: case {case} has news.\n");
        let inbox = services.inbox(ZHANG).await.unwrap();
        assert_eq!(inbox.len(), 2, "{inbox:?}");
        let message = inbox.iter().find(|m| m.id == first).unwrap();
        assert_eq!(message.body, text);
        assert_eq!(message.subject, ZHANG);
        assert_eq!(message.app, APP);
        assert_eq!(message.template, "hello");
        assert_eq!(message.case.as_deref(), Some(case.as_str()));
        assert_eq!(message.email_state, "none", "no SMTP is configured");
        let message = inbox.iter().find(|m| m.id == second).unwrap();
        assert_eq!(message.body, text);
        assert_eq!(message.case, None);
        let li_inbox = services.inbox(LI).await.unwrap();
        assert_eq!(li_inbox.len(), 1);
        assert_eq!(li_inbox[0].id, to_li);
        assert_eq!(
            li_inbox[0].body,
            "您好，李四：办件 - 有新进展。 / Hello 李四: case - has news.\n"
        );

        // Each send is recorded under the recipient, by the handle the app used.
        let sent: Vec<(String, String, String)> = w
            .provenance_of(ZHANG)
            .await
            .into_iter()
            .filter(|r| r.record.outcome == "sent")
            .map(|r| (r.record.operation, r.record.subject_handle, r.record.purpose))
            .collect();
        let expected = ("notify.send".to_owned(), handle.clone(), "hello".to_owned());
        assert_eq!(sent, [expected.clone(), expected]);
        // Li's trail has the message that reached her and the refused one
        // (her handle with another person's case): both touched her.
        let to_li: Vec<_> = w.provenance_of(LI).await.into_iter().map(|r| r.record).collect();
        let outcomes: Vec<(&str, &str)> = to_li
            .iter()
            .map(|r| (r.subject_handle.as_str(), r.outcome.as_str()))
            .collect();
        assert_eq!(
            outcomes,
            [(li_handle.as_str(), "sent"), (li_handle.as_str(), "not-found")],
            "{to_li:?}"
        );
    }
}

#[tokio::test]
async fn a_redelivered_case_event_sends_each_message_once() {
    for w in worlds("notify_once").await {
        let case = w.open_case(ZHANG, APP).await;
        let hello = json!([["name", "张三"], ["case", case]]);
        let ops = json!([
            {"op": "notify", "template": "hello", "params": hello, "case": case},
            {"op": "notify", "template": "hello", "params": hello},
        ]);
        // The same event delivered twice (a crash between the hook's return
        // and the delivered mark): the same two messages, sent once.
        let mut env = w.env_for(ZHANG, &case).await;
        env.event = Some(3);
        let first = w.run(&env, ops.clone()).await;
        let again = w.run(&env, ops.clone()).await;
        let ids = |r: &[Value]| -> Vec<String> { r.iter().map(|v| ok(v).as_str().unwrap().to_owned()).collect() };
        assert_eq!(ids(&first), ids(&again), "[{}]", w.backend);
        assert_ne!(ids(&first)[0], ids(&first)[1], "two sends in one call are two messages");
        assert_eq!(w.services().inbox(ZHANG).await.unwrap().len(), 2, "[{}]", w.backend);
        // The next event's messages are new; so are a plain call's.
        env.event = Some(4);
        let next = w.run(&env, ops.clone()).await;
        assert!(ids(&next).iter().all(|id| !ids(&first).contains(id)));
        w.call(ZHANG, &case, ops).await;
        assert_eq!(w.services().inbox(ZHANG).await.unwrap().len(), 6, "[{}]", w.backend);
    }
}

// ---------------------------------------------------------------------------
// Cases

#[tokio::test]
async fn cases_read_as_the_app_sees_them_and_follow_ons_continue_them() {
    for w in worlds("cases").await {
        eprintln!("-- {}", w.backend);
        let services = w.services();
        let handle = w.handle(ZHANG).await;
        let case = w.open_case(ZHANG, APP).await;
        let form = r#"{"来源":"首件"}"#;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "case-get"},
                    {"op": "follow-on", "item": "TEST-follow", "form": form},
                    {"op": "follow-on", "item": "TEST-follow", "form": form},
                ]),
            )
            .await;
        let info = ok(&r[0]);
        assert_eq!(info["id"], case.as_str());
        assert_eq!(info["item"], ITEM);
        assert_eq!(info["applicant"], handle.as_str(), "the applicant is the app's handle");
        assert_eq!(info["channel"], "web");
        assert_eq!(info["stage"], "submitted");
        assert_eq!(info["accepting_org"], ORG);
        assert_eq!(info["handling_org"], ORG);
        assert_eq!(info["form"], r#"{"申请事项":"测试"}"#);
        assert!(!r[0].to_string().contains(ZHANG));
        let next = ok(&r[1]).as_str().unwrap().to_owned();
        assert_ne!(next, case);
        assert_eq!(ok(&r[2]), next.as_str(), "asking again continues into the same case");

        let opened = services.case(&next).await.unwrap();
        assert_eq!(opened.follow_on_of.as_deref(), Some(case.as_str()));
        assert_eq!(opened.app, APP);
        assert_eq!(opened.item, "TEST-follow");
        assert_eq!(opened.subject, ZHANG);
        assert_eq!(opened.accepting_org, ORG);
        assert_eq!(opened.stage.as_str(), "submitted");
        assert_eq!(opened.form, form);
        let timeline = services.case_timeline(&next).await.unwrap();
        assert_eq!(timeline.len(), 1);
        assert_eq!(timeline[0].kind, "submitted");
        assert!(timeline[0].detail.contains(&case), "{}", timeline[0].detail);
        assert_eq!(services.cases_of_subject(ZHANG).await.unwrap().len(), 2);

        let r = w.call(ZHANG, &next, json!([{"op": "case-get"}])).await;
        assert_eq!(ok(&r[0])["item"], "TEST-follow");
        assert_eq!(ok(&r[0])["applicant"], handle.as_str());
        assert_eq!(ok(&r[0])["form"], form);
    }
}

// ---------------------------------------------------------------------------
// Provenance

#[tokio::test]
async fn every_personal_data_access_is_recorded_and_a_changed_record_is_detected() {
    for w in worlds("provenance").await {
        eprintln!("-- {}", w.backend);
        let services = w.services();
        let handle = w.handle(ZHANG).await;
        let case = w.open_case(ZHANG, APP).await;
        let card = w.certificate_of(ZHANG, "ID-CARD").await;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "whoami"},
                    {"op": "attributes", "names": ["name"]},
                    {"op": "verify", "id": card},
                ]),
            )
            .await;
        err(&r[1], "consent-required", &["identity.attributes/name"]);
        let consent = w
            .consent(ZHANG, APP, &scopes(&["name", "id-number-masked", "cert:ID-CARD"]), ITEM)
            .await;
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "attributes", "names": ["name", "id-number-masked"]},
                    {"op": "held", "types": ["ID-CARD"]},
                    {"op": "copy", "id": card},
                    {"op": "whoami"},
                    {"op": "verify", "id": card},
                ]),
            )
            .await;
        assert!(r[..3].iter().all(|v| v.get("ok").is_some()), "{r:?}");

        let records = w.provenance_of(ZHANG).await;
        assert_eq!(records.len(), 4, "{records:?}");
        assert!(records.windows(2).all(|p| p[0].audit_seq < p[1].audit_seq));
        let expected = [
            ("identity.attributes", scopes(&["name"]), None, "consent-required"),
            (
                "identity.attributes",
                scopes(&["name", "id-number-masked"]),
                Some(consent.clone()),
                "released",
            ),
            (
                "certificates.held",
                scopes(&["cert:ID-CARD"]),
                Some(consent.clone()),
                "released",
            ),
            (
                "certificates.copy",
                vec![format!("certificates/{card}")],
                Some(consent.clone()),
                "released",
            ),
        ];
        for (stored, (operation, scopes, consent, outcome)) in records.iter().zip(expected) {
            let r = &stored.record;
            assert_eq!(r.app, APP);
            assert_eq!(r.app_version, VERSION);
            assert_eq!(r.subject, ZHANG);
            assert_eq!(r.subject_handle, handle);
            assert_eq!(r.operation, operation);
            assert_eq!(r.scopes, scopes);
            assert_eq!(r.purpose, ITEM);
            assert_eq!(r.consent, consent);
            assert_eq!(r.case.as_deref(), Some(case.as_str()));
            assert_eq!(r.outcome, outcome);
            assert!(r.at > 0);
        }
        assert_eq!(w.provenance_of_case(&case).await, records);
        assert!(w.provenance_of(LI).await.is_empty());
        assert_eq!(services.verify_provenance().await.unwrap(), Ok(4));

        // Calls that touch no personal data add no record; the app has no
        // way to read provenance at all.
        let r = w
            .call(
                ZHANG,
                &case,
                json!([
                    {"op": "whoami"},
                    {"op": "verify", "id": card},
                    {"op": "case-get"},
                    {"op": "set", "key": "k", "size": 3},
                    {"op": "keys", "prefix": ""},
                ]),
            )
            .await;
        assert!(r.iter().all(|v| v.get("ok").is_some()), "{r:?}");
        assert_eq!(w.provenance_of(ZHANG).await.len(), 4);

        // Turning a refusal into a release afterwards is caught.
        let refused = records[0].audit_seq;
        let changed = sqlx::query("UPDATE provenance SET outcome = 'released' WHERE audit_seq = $1")
            .bind(refused)
            .execute(services.db().pool())
            .await
            .unwrap();
        assert_eq!(changed.rows_affected(), 1);
        let report = services.verify_provenance().await.unwrap().unwrap_err();
        assert!(
            report.contains(&format!("audit entry {refused} ")) && report.contains("changed"),
            "{report}"
        );
    }
}
