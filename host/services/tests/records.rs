//! The records on real databases: consents, certificates with their seals and
//! status changes, provenance chained into the audit log, pairwise handles and
//! the platform keys nodes share. Every scenario runs on each database the test
//! database kit provides (`tongban-testdb`: SQLite, and PostgreSQL when
//! configured), each test in a fresh database.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use sm3::{Digest, Sm3};
use sqlx::Row;
use tongban_registry::market::{audit_log, orgs};
use tongban_services::certificates::seal::canonical_bytes;
use tongban_services::certificates::{
    Certificate, CertificateId, CertificateStatus, IssueRequest, SealError, SealedDocument,
};
use tongban_services::consent::{ConsentState, MAX_CONSENT_MS};
use tongban_services::consents::{DEFAULT_CONSENT_MS, attribute_scope, certificate_scope};
use tongban_services::demo::{CITIZENS, PUBLIC_SECURITY_NAME, PUBLIC_SECURITY_ORG, Seeded};
use tongban_services::keys;
use tongban_services::provenance::{ProvenanceFilter, ProvenanceRecord, StoredProvenance};
use tongban_services::subjects::Subject;
use tongban_services::{ServiceError, Services, now_ms};
use tongban_testdb::{TestDb, seed};

const APP: &str = "cn.gov.hz.amr.sole-proprietor";
const OTHER_APP: &str = "cn.gov.hz.hrss.pension";
/// The org that issues business licences in these tests.
const ISSUER: &str = "113301000024891238";
/// A second registered issuer.
const SECOND_ISSUER: &str = "113301060024896013";
/// A well-formed code of an org that is not registered here.
const UNREGISTERED: &str = "11330106002489555Y";
const ZHANG: &str = "citizen-zhang-san";
const LI: &str = "citizen-li-si";
/// The purpose code of a consent: the item the data is read for.
const PURPOSE: &str = "330106-个体工商户设立登记";
const DAY: i64 = 86_400_000;

// ---------------------------------------------------------------------------
// Backends

struct Backend {
    name: &'static str,
    services: Services,
    seeded: Seeded,
    db: TestDb,
}

impl Backend {
    /// Another node: its own pool over the same database.
    async fn second_node(&self) -> Services {
        Services::new(self.db.open().await)
    }

    /// Another, unrelated database of the same kind (another platform), and
    /// the database itself, which goes when the value does.
    async fn another_platform(&self, label: &str) -> (Services, TestDb) {
        let db = self.db.sibling(&format!("records_{label}"));
        (Services::new(db.open().await), db)
    }
}

/// The backends to run on, each with the demo citizens and their
/// certificates, and two registered issuers.
async fn backends(label: &str) -> Vec<Backend> {
    let mut out = Vec::new();
    for db in TestDb::each(&format!("records_{label}")) {
        let services = Services::new(db.open().await);
        let seeded = services.seed_demo_citizens().await.unwrap();
        seed::orgs(
            services.db(),
            &[
                (ISSUER, "杭州市市场监督管理局", "330100"),
                (SECOND_ISSUER, "杭州市西湖区市场监督管理局", "330106"),
            ],
        )
        .await;
        out.push(Backend {
            name: db.backend_name(),
            services,
            seeded,
            db,
        });
    }
    out
}

// ---------------------------------------------------------------------------
// Helpers

fn scopes(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn licence(holder: &str, case: Option<&str>) -> IssueRequest {
    IssueRequest {
        type_code: "BUSINESS-LICENCE".into(),
        issuer_code: ISSUER.into(),
        holder: holder.into(),
        holder_name: "张三".into(),
        valid_from: now_ms() - DAY,
        valid_until: None,
        fields: vec![
            ("名称".into(), "杭州西湖张记小吃店".into()),
            ("经营者".into(), "张三".into()),
            ("经营场所".into(), "浙江省杭州市西湖区文三路90号".into()),
        ],
        app: Some(APP.into()),
        case: case.map(Into::into),
        actor: format!("app:{APP}@1.2.0"),
    }
}

fn serial_of(certificate: &Certificate) -> u64 {
    certificate.id.parse::<CertificateId>().unwrap().serial
}

async fn seal_key(services: &Services) -> String {
    services.keys().await.unwrap().seal.public_key_hex()
}

async fn count(services: &Services, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(services.db().pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

async fn certificate_audit_entries(services: &Services) -> i64 {
    count(
        services,
        "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'certificate.%'",
    )
    .await
}

/// The actions of the audit entries about one subject, in order.
async fn audit_actions(services: &Services, subject: &str) -> Vec<(String, String)> {
    sqlx::query("SELECT actor, action FROM audit_log WHERE subject = $1 ORDER BY seq")
        .bind(subject)
        .fetch_all(services.db().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap()))
        .collect()
}

/// The whole audit chain, once sealed, verifies with every row counted.
async fn chain_intact(b: &Backend) {
    let db = b.services.db();
    let key = tongban_registry::market::registry_signing_key(db).await.unwrap();
    tongban_registry::market::audit_seal::seal_pending(db, &key)
        .await
        .unwrap();
    let rows = count(&b.services, "SELECT COUNT(*) FROM audit_log").await;
    let verified = audit_log::verify(db).await.unwrap().unwrap();
    assert_eq!(
        (verified.sealed, verified.pending),
        (rows as u64, 0),
        "{}: the audit chain",
        b.name
    );
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

fn expect_consent_required(result: Result<impl std::fmt::Debug, ServiceError>, naming: &[&str]) {
    match result {
        Err(ServiceError::ConsentRequired(message)) => {
            for part in naming {
                assert!(message.contains(part), "`{message}` names `{part}`");
            }
        }
        other => panic!("expected consent-required naming {naming:?}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Consents

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consent_requests_need_scopes_and_a_purpose() {
    for b in backends("consent_request").await {
        let s = &b.services;
        let complete = "a consent request needs at least one scope and a purpose";
        expect_invalid(s.request_consent(ZHANG, APP, scopes(&[]), PURPOSE, "").await, complete);
        expect_invalid(
            s.request_consent(ZHANG, APP, scopes(&["  ", ""]), PURPOSE, "").await,
            complete,
        );
        expect_invalid(
            s.request_consent(ZHANG, APP, scopes(&["certificates/ID-CARD"]), " \t", "")
                .await,
            complete,
        );
        expect_not_found(
            s.request_consent("nobody", APP, scopes(&["certificates/ID-CARD"]), PURPOSE, "")
                .await,
            "subject nobody",
        );
        assert!(s.consents_of(ZHANG).await.unwrap().is_empty(), "{}", b.name);

        assert_eq!(attribute_scope("name"), "identity.attributes/name");
        assert_eq!(certificate_scope("ID-CARD"), "certificates/ID-CARD");
        let before = now_ms();
        let first = s
            .request_consent(
                ZHANG,
                APP,
                vec![
                    certificate_scope("ID-CARD"),
                    attribute_scope("name"),
                    certificate_scope("ID-CARD"),
                ],
                PURPOSE,
                "  为办理个体工商户设立登记，免提交身份证明  ",
            )
            .await
            .unwrap();
        // The prefix, 13 hex characters of time, 24 random ones.
        assert!(first.id.starts_with("consent-") && first.id.len() == 45, "{}", first.id);
        assert_eq!(first.subject, ZHANG);
        assert_eq!(first.app, APP);
        assert_eq!(
            first.scopes,
            BTreeSet::from(["certificates/ID-CARD".to_owned(), "identity.attributes/name".to_owned()]),
            "{}: scopes are a set",
            b.name
        );
        assert_eq!(first.purpose, PURPOSE);
        assert_eq!(first.purpose_text, "为办理个体工商户设立登记，免提交身份证明");
        assert_eq!(first.state, ConsentState::Requested);
        assert!(first.requested_at >= before);
        assert_eq!((first.granted_at, first.expires_at, first.ended_at), (None, None, None));
        assert_eq!(s.consent(ZHANG, &first.id).await.unwrap(), first, "{}", b.name);

        tokio::time::sleep(Duration::from_millis(3)).await;
        let second = s
            .request_consent(
                ZHANG,
                OTHER_APP,
                scopes(&["identity.attributes/phone"]),
                "养老金领取资格认证",
                "",
            )
            .await
            .unwrap();
        assert_ne!(second.id, first.id);
        assert_eq!(
            s.consents_of(ZHANG).await.unwrap(),
            vec![second, first],
            "{}: newest first",
            b.name
        );
        assert!(s.consents_of(LI).await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consent_decisions_follow_the_state_machine() {
    for b in backends("consent_decisions").await {
        let s = &b.services;
        let ask = || s.request_consent(ZHANG, APP, scopes(&["certificates/ID-CARD"]), PURPOSE, "免提交身份证明");

        let granted = ask().await.unwrap();
        expect_invalid(s.grant_consent(ZHANG, &granted.id, 0).await, "not 0 ms");
        expect_invalid(
            s.grant_consent(ZHANG, &granted.id, MAX_CONSENT_MS + 1).await,
            &format!("not {} ms", MAX_CONSENT_MS + 1),
        );
        expect_invalid(s.grant_consent(ZHANG, &granted.id, -DAY).await, "one year");
        assert_eq!(
            s.consent(ZHANG, &granted.id).await.unwrap().state,
            ConsentState::Requested
        );

        // Another subject neither sees nor decides it.
        expect_not_found(s.consent(LI, &granted.id).await, &granted.id);
        expect_not_found(s.grant_consent(LI, &granted.id, DAY).await, &granted.id);
        expect_not_found(s.deny_consent(LI, &granted.id).await, &granted.id);
        expect_not_found(s.revoke_consent(LI, &granted.id).await, &granted.id);
        expect_not_found(
            s.consent(ZHANG, "consent-000000000000000000000000").await,
            "consent-0000",
        );

        let before = now_ms();
        let now_granted = s.grant_consent(ZHANG, &granted.id, DEFAULT_CONSENT_MS).await.unwrap();
        assert_eq!(now_granted.state, ConsentState::Granted, "{}", b.name);
        let at = now_granted.granted_at.unwrap();
        assert!(at >= before);
        assert_eq!(now_granted.expires_at, Some(at + DEFAULT_CONSENT_MS));
        assert_eq!(now_granted.ended_at, None);
        assert_eq!(s.consent(ZHANG, &granted.id).await.unwrap(), now_granted);
        // Another subject cannot revoke it either.
        expect_not_found(s.revoke_consent(LI, &granted.id).await, &granted.id);

        expect_conflict(
            s.grant_consent(ZHANG, &granted.id, DAY).await,
            &format!("cannot grant consent {}: it is Granted", granted.id),
        );
        expect_conflict(s.deny_consent(ZHANG, &granted.id).await, "cannot deny");
        let revoked = s.revoke_consent(ZHANG, &granted.id).await.unwrap();
        assert_eq!(revoked.state, ConsentState::Revoked, "{}", b.name);
        assert!(revoked.ended_at.is_some_and(|e| e >= at));
        assert_eq!(revoked.expires_at, now_granted.expires_at);
        expect_conflict(s.revoke_consent(ZHANG, &granted.id).await, "cannot revoke");
        expect_conflict(s.grant_consent(ZHANG, &granted.id, DAY).await, "it is Revoked");
        expect_conflict(s.deny_consent(ZHANG, &granted.id).await, "it is Revoked");
        assert_eq!(s.consent(ZHANG, &granted.id).await.unwrap(), revoked);

        let denied = ask().await.unwrap();
        let now_denied = s.deny_consent(ZHANG, &denied.id).await.unwrap();
        assert_eq!(now_denied.state, ConsentState::Denied, "{}", b.name);
        assert!(now_denied.ended_at.is_some());
        assert_eq!(now_denied.granted_at, None);
        expect_conflict(
            s.grant_consent(ZHANG, &denied.id, DAY).await,
            &format!("cannot grant consent {}: it is Denied", denied.id),
        );
        expect_conflict(s.revoke_consent(ZHANG, &denied.id).await, "cannot revoke");
        expect_conflict(s.deny_consent(ZHANG, &denied.id).await, "cannot deny");

        // A whole year is the most.
        let year = ask().await.unwrap();
        let year = s.grant_consent(ZHANG, &year.id, MAX_CONSENT_MS).await.unwrap();
        assert_eq!(year.expires_at, Some(year.granted_at.unwrap() + MAX_CONSENT_MS));

        let states: Vec<ConsentState> = s.consents_of(ZHANG).await.unwrap().iter().map(|c| c.state).collect();
        assert_eq!(
            states,
            [ConsentState::Granted, ConsentState::Denied, ConsentState::Revoked],
            "{}",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn covering_consent_names_why_a_read_is_not_covered() {
    for b in backends("consent_covering").await {
        let s = &b.services;
        let id_card = certificate_scope("ID-CARD");
        let for_read = format!("`{id_card}` for purpose `{PURPOSE}`");

        // No consent at all.
        expect_consent_required(
            s.covering_consent(ZHANG, APP, &id_card, PURPOSE).await,
            &[&for_read, "the citizen has not granted this app a consent"],
        );
        // Asked for, not yet granted.
        let asked = s
            .request_consent(ZHANG, APP, vec![id_card.clone(), attribute_scope("name")], PURPOSE, "")
            .await
            .unwrap();
        expect_consent_required(
            s.covering_consent(ZHANG, APP, &id_card, PURPOSE).await,
            &[&for_read, &format!("consent {} is requested", asked.id)],
        );
        let granted = s.grant_consent(ZHANG, &asked.id, DAY).await.unwrap();
        assert_eq!(
            s.covering_consent(ZHANG, APP, &id_card, PURPOSE).await.unwrap(),
            granted,
            "{}",
            b.name
        );
        assert_eq!(
            s.covering_consent(ZHANG, APP, &attribute_scope("name"), PURPOSE)
                .await
                .unwrap()
                .id,
            granted.id
        );

        // Another app, another subject.
        expect_consent_required(
            s.covering_consent(ZHANG, OTHER_APP, &id_card, PURPOSE).await,
            &[&for_read, "has not granted this app a consent"],
        );
        expect_consent_required(
            s.covering_consent(LI, APP, &id_card, PURPOSE).await,
            &["has not granted this app a consent"],
        );
        // A scope outside it.
        let phone = attribute_scope("phone");
        expect_consent_required(
            s.covering_consent(ZHANG, APP, &phone, PURPOSE).await,
            &[
                &format!("`{phone}` for purpose `{PURPOSE}`"),
                &format!("consent {} does not cover `{phone}`", granted.id),
            ],
        );
        // Another purpose.
        expect_consent_required(
            s.covering_consent(ZHANG, APP, &id_card, "营销推广").await,
            &[&format!(
                "consent {} was given for `{PURPOSE}`, not for `营销推广`",
                granted.id
            )],
        );

        // Revoked: the next read is refused.
        s.revoke_consent(ZHANG, &granted.id).await.unwrap();
        expect_consent_required(
            s.covering_consent(ZHANG, APP, &id_card, PURPOSE).await,
            &[&for_read, &format!("consent {} is revoked", granted.id)],
        );
        // A new grant covers again, whatever older consents say.
        tokio::time::sleep(Duration::from_millis(3)).await;
        let renewed = s
            .request_consent(ZHANG, APP, vec![id_card.clone()], PURPOSE, "")
            .await
            .unwrap();
        let renewed = s.grant_consent(ZHANG, &renewed.id, DAY).await.unwrap();
        assert_eq!(
            s.covering_consent(ZHANG, APP, &id_card, PURPOSE).await.unwrap(),
            renewed,
            "{}",
            b.name
        );
        // The newest consent's reason is the one named.
        expect_consent_required(
            s.covering_consent(ZHANG, APP, &attribute_scope("name"), PURPOSE).await,
            &[&format!("consent {} does not cover", renewed.id)],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_grant_supersedes_the_live_one_so_one_revocation_ends_access() {
    for b in backends("consent_supersede").await {
        let s = &b.services;
        let first = s
            .request_consent(ZHANG, APP, scopes(&["name"]), PURPOSE, "测试")
            .await
            .unwrap();
        s.grant_consent(ZHANG, &first.id, DAY).await.unwrap();
        let second = s
            .request_consent(ZHANG, APP, scopes(&["name"]), PURPOSE, "测试")
            .await
            .unwrap();
        s.grant_consent(ZHANG, &second.id, DAY).await.unwrap();
        let states: Vec<(String, ConsentState)> = s
            .consents_of(ZHANG)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.id, c.state))
            .collect();
        assert!(
            states.contains(&(first.id.clone(), ConsentState::Revoked)),
            "{}: {states:?}",
            b.name
        );
        assert!(
            states.contains(&(second.id.clone(), ConsentState::Granted)),
            "{}: {states:?}",
            b.name
        );
        s.revoke_consent(ZHANG, &second.id).await.unwrap();
        expect_consent_required(
            s.covering_consent(ZHANG, APP, &attribute_scope("name"), PURPOSE).await,
            &["identity.attributes/name"],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_consent_no_longer_covers() {
    for b in backends("consent_expiry").await {
        let s = &b.services;
        let id_card = certificate_scope("ID-CARD");
        let asked = s
            .request_consent(ZHANG, APP, vec![id_card.clone()], PURPOSE, "")
            .await
            .unwrap();
        let granted = s.grant_consent(ZHANG, &asked.id, 1).await.unwrap();
        assert_eq!(granted.expires_at, Some(granted.granted_at.unwrap() + 1));
        tokio::time::sleep(Duration::from_millis(10)).await;
        expect_consent_required(
            s.covering_consent(ZHANG, APP, &id_card, PURPOSE).await,
            &[&format!("consent {} is expired", asked.id)],
        );
        let stored = s.consent(ZHANG, &asked.id).await.unwrap();
        assert_eq!(stored.state_at(now_ms()), ConsentState::Expired, "{}", b.name);
        expect_conflict(s.revoke_consent(ZHANG, &asked.id).await, "it is Expired");
        expect_conflict(s.grant_consent(ZHANG, &asked.id, DAY).await, "it is Expired");
    }
}

// ---------------------------------------------------------------------------
// Certificates

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn demo_citizens_hold_two_identity_certificates_each() {
    for b in backends("demo_certificates").await {
        assert_eq!(
            b.seeded,
            Seeded {
                subjects: 2,
                certificates: 4
            },
            "{}",
            b.name
        );
        let again = b.services.seed_demo_citizens().await.unwrap();
        assert_eq!(
            again,
            Seeded {
                subjects: 2,
                certificates: 0
            },
            "{}: seeding twice changes nothing",
            b.name
        );
        let issuer = orgs::get_org(b.services.db(), PUBLIC_SECURITY_ORG).await.unwrap();
        assert_eq!(
            (issuer.name.as_str(), issuer.region.as_str()),
            (PUBLIC_SECURITY_NAME, "330100")
        );

        for (n, citizen) in CITIZENS.iter().enumerate() {
            let held = b.services.certificates_held(citizen.subject, None).await.unwrap();
            let types: Vec<&str> = held.iter().map(|c| c.type_code.as_str()).collect();
            assert_eq!(
                types,
                ["HOUSEHOLD-REGISTER", "ID-CARD"],
                "{} {}",
                b.name,
                citizen.subject
            );
            for certificate in &held {
                let id: CertificateId = certificate.id.parse().unwrap();
                assert_eq!(id.type_code, certificate.type_code);
                assert_eq!(id.issuer, PUBLIC_SECURITY_ORG);
                assert_eq!(id.serial, n as u64 + 1, "{}: serials count per issuer and type", b.name);
                assert_eq!(id.version, 1);
                assert_eq!(id.to_string(), certificate.id, "{}: the identifier round-trips", b.name);
                assert!(
                    certificate.id.starts_with(&format!(
                        "{}.{PUBLIC_SECURITY_ORG}.{:08}.01",
                        certificate.type_code,
                        n + 1
                    )),
                    "{}",
                    certificate.id
                );
                assert_eq!(certificate.issuer_code, PUBLIC_SECURITY_ORG);
                assert_eq!(certificate.issuer_name, PUBLIC_SECURITY_NAME);
                assert_eq!(certificate.holder, citizen.subject);
                assert_eq!(certificate.holder_name, citizen.name);
                assert_eq!(certificate.status, CertificateStatus::Valid);
                assert_eq!((certificate.app.as_deref(), certificate.case.as_deref()), (None, None));
                assert!(certificate.valid_from < certificate.issued_at);
                assert_eq!(b.services.certificate(&certificate.id).await.unwrap(), *certificate);
                assert_eq!(
                    b.services.certificate_status(&certificate.id).await.unwrap(),
                    CertificateStatus::Valid
                );
            }
            let (household, id_card) = (&held[0], &held[1]);
            assert_eq!(id_card.type_name, "居民身份证");
            assert_eq!(household.type_name, "居民户口簿");
            assert_eq!(id_card.valid_until, Some(id_card.valid_from + 20 * 366 * DAY));
            assert_eq!(household.valid_until, None);
            assert!(
                id_card
                    .fields
                    .contains(&("公民身份号码".to_owned(), citizen.id_number.to_owned())),
                "{:?}",
                id_card.fields
            );
            assert_eq!(household.fields[0], ("户主姓名".to_owned(), citizen.name.to_owned()));
            let only = b
                .services
                .certificates_held(citizen.subject, Some(&["ID-CARD".to_owned()]))
                .await
                .unwrap();
            assert_eq!(only, vec![id_card.clone()], "{}", b.name);
        }
        assert!(b.services.certificates_held("nobody", None).await.unwrap().is_empty());
        assert_eq!(certificate_audit_entries(&b.services).await, 4, "{}", b.name);
        let id_card = &b.services.certificates_held(ZHANG, None).await.unwrap()[1];
        assert_eq!(
            audit_actions(&b.services, &format!("certificate:{}", id_card.id)).await,
            [("system:demo".to_owned(), "certificate.issue".to_owned())],
            "{}",
            b.name
        );
        chain_intact(&b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_seal_verifies_until_a_field_changes_and_only_under_its_platform_key() {
    for b in backends("seals").await {
        let public_key = seal_key(&b.services).await;
        let held = b.services.certificates_held(ZHANG, None).await.unwrap();
        for certificate in &held {
            let sealed = b.services.sealed_certificate(&certificate.id).await.unwrap();
            sealed.verify(&public_key).unwrap();
            assert_eq!(sealed.document, certificate.document(), "{}", b.name);
            assert_eq!(sealed.document["id"], json!(certificate.id));
            assert_eq!(sealed.public_key, public_key);
            assert_eq!(sealed.algorithm, "SM2-SM3");
            assert!(
                !sealed.to_json_pretty().contains(ZHANG),
                "{}: the seal does not carry the platform subject id",
                b.name
            );
            // The exported file reads back and verifies.
            SealedDocument::from_json(&sealed.to_json_pretty())
                .unwrap()
                .verify(&public_key)
                .unwrap();
        }
        let id_card = &held[1];
        let sealed = b.services.sealed_certificate(&id_card.id).await.unwrap();

        // One field changed: the digest no longer matches.
        let mut changed = sealed.clone();
        changed.document["fields"][0][1] = json!("张四");
        assert_eq!(
            changed.verify(&public_key),
            Err(SealError::DigestMismatch),
            "{}",
            b.name
        );
        let mut extended = sealed.clone();
        extended.document["valid-until"] = json!(id_card.valid_until.unwrap() + 10 * 366 * DAY);
        assert_eq!(extended.verify(&public_key), Err(SealError::DigestMismatch));
        // Recomputing the digest does not help without the key.
        changed.sm3 = hex::encode(Sm3::digest(canonical_bytes(&changed.document)));
        assert_eq!(
            changed.verify(&public_key),
            Err(SealError::SignatureMismatch),
            "{}",
            b.name
        );

        // Another platform's key does not verify our seal, though the file
        // names ours as a hint.
        let (elsewhere, _elsewhere_db) = b.another_platform("seals_elsewhere").await;
        let foreign_key = seal_key(&elsewhere).await;
        assert_ne!(foreign_key, public_key, "{}", b.name);
        assert_eq!(
            sealed.verify(&foreign_key),
            Err(SealError::SignatureMismatch),
            "{}",
            b.name
        );
        assert!(matches!(sealed.verify("zz"), Err(SealError::Key { .. })));

        expect_not_found(
            b.services.sealed_certificate("ID-CARD.nothing").await,
            "ID-CARD.nothing",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issuing_for_a_case_is_idempotent_and_serials_count_per_issuer_and_type() {
    for b in backends("issue_serials").await {
        let s = &b.services;
        let audited = certificate_audit_entries(s).await;
        let first = s.issue_certificate(licence(ZHANG, Some("case-1"))).await.unwrap();
        let id: CertificateId = first.id.parse().unwrap();
        assert_eq!(
            (id.type_code.as_str(), id.issuer.as_str(), id.serial, id.version),
            ("BUSINESS-LICENCE", ISSUER, 1, 1),
            "{}",
            b.name
        );
        assert_eq!(first.type_name, "营业执照");
        assert_eq!(first.issuer_name, "杭州市市场监督管理局");
        assert_eq!(first.holder, ZHANG);
        assert_eq!(first.status, CertificateStatus::Valid);
        assert_eq!(first.app.as_deref(), Some(APP));
        assert_eq!(first.case.as_deref(), Some("case-1"));
        assert_eq!(s.certificate(&first.id).await.unwrap(), first, "{}", b.name);

        // A redelivered event issues again: the same certificate comes back.
        let mut redelivered = licence(ZHANG, Some("case-1"));
        redelivered.fields = vec![("名称".into(), "另一个名称".into())];
        let again = s.issue_certificate(redelivered).await.unwrap();
        assert_eq!(again, first, "{}", b.name);
        assert_eq!(
            certificate_audit_entries(s).await,
            audited + 1,
            "{}: issued once",
            b.name
        );

        let second = s.issue_certificate(licence(ZHANG, Some("case-2"))).await.unwrap();
        assert_eq!(serial_of(&second), 2, "{}", b.name);
        // Without a case every issue is a new certificate.
        let third = s.issue_certificate(licence(LI, None)).await.unwrap();
        let fourth = s.issue_certificate(licence(LI, None)).await.unwrap();
        assert_eq!((serial_of(&third), serial_of(&fourth)), (3, 4), "{}", b.name);
        // Another type of the same issuer, for the same case: its own count.
        let permit = s
            .issue_certificate(IssueRequest {
                type_code: "FOOD-PERMIT".into(),
                ..licence(ZHANG, Some("case-1"))
            })
            .await
            .unwrap();
        assert_eq!(serial_of(&permit), 1, "{}", b.name);
        assert_eq!(
            permit.type_name, "FOOD-PERMIT",
            "{}: an unknown type is named by its code",
            b.name
        );
        // Another issuer of the same type: its own count.
        let district = s
            .issue_certificate(IssueRequest {
                issuer_code: SECOND_ISSUER.into(),
                ..licence(ZHANG, Some("case-3"))
            })
            .await
            .unwrap();
        assert_eq!(serial_of(&district), 1, "{}", b.name);
        assert_eq!(district.issuer_name, "杭州市西湖区市场监督管理局");

        // Concurrent issues take distinct, consecutive serials.
        let mut tasks = Vec::new();
        for i in 0..5 {
            let services = s.clone();
            tasks.push(tokio::spawn(async move {
                services
                    .issue_certificate(licence(ZHANG, Some(&format!("race-{i}"))))
                    .await
            }));
        }
        let mut serials = Vec::new();
        for task in tasks {
            serials.push(serial_of(&task.await.unwrap().unwrap()));
        }
        serials.sort();
        assert_eq!(serials, [5, 6, 7, 8, 9], "{}", b.name);
        assert_eq!(certificate_audit_entries(s).await, audited + 11, "{}", b.name);
        assert_eq!(
            s.certificates_held(ZHANG, Some(&["BUSINESS-LICENCE".to_owned()]))
                .await
                .unwrap()
                .len(),
            8
        );
        chain_intact(&b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issuing_refuses_what_it_cannot_seal() {
    for b in backends("issue_refusals").await {
        let s = &b.services;
        let audited = certificate_audit_entries(s).await;
        expect_not_found(
            s.issue_certificate(IssueRequest {
                issuer_code: UNREGISTERED.into(),
                ..licence(ZHANG, None)
            })
            .await,
            &format!("issuing org {UNREGISTERED} is not registered"),
        );
        expect_invalid(
            s.issue_certificate(IssueRequest {
                issuer_code: "12345".into(),
                ..licence(ZHANG, None)
            })
            .await,
            "issuer",
        );
        expect_invalid(
            s.issue_certificate(IssueRequest {
                type_code: "business licence".into(),
                ..licence(ZHANG, None)
            })
            .await,
            "type code",
        );
        expect_invalid(
            s.issue_certificate(IssueRequest {
                holder_name: "  ".into(),
                ..licence(ZHANG, None)
            })
            .await,
            "holder's name",
        );
        let from = now_ms();
        expect_invalid(
            s.issue_certificate(IssueRequest {
                valid_from: from,
                valid_until: Some(from),
                ..licence(ZHANG, None)
            })
            .await,
            "valid-until must be after valid-from",
        );
        expect_invalid(
            s.issue_certificate(IssueRequest {
                fields: (0..65).map(|i| (format!("字段{i}"), "值".to_owned())).collect(),
                ..licence(ZHANG, None)
            })
            .await,
            "at most 64 fields",
        );
        expect_invalid(
            s.issue_certificate(IssueRequest {
                fields: vec![(" ".into(), "值".into())],
                ..licence(ZHANG, None)
            })
            .await,
            "needs a name",
        );
        expect_invalid(
            s.issue_certificate(IssueRequest {
                fields: vec![("备注".into(), "x".repeat(4097))],
                ..licence(ZHANG, None)
            })
            .await,
            "4096 bytes",
        );
        assert_eq!(
            certificate_audit_entries(s).await,
            audited,
            "{}: nothing issued",
            b.name
        );
        // No serial was used up by a refusal.
        let issued = s.issue_certificate(licence(ZHANG, None)).await.unwrap();
        assert_eq!(serial_of(&issued), 1, "{}", b.name);
        // 64 fields of 4096 bytes are within bounds.
        let full = s
            .issue_certificate(IssueRequest {
                fields: (0..64).map(|i| (format!("字段{i}"), "x".repeat(4096))).collect(),
                ..licence(ZHANG, None)
            })
            .await
            .unwrap();
        assert_eq!(full.fields.len(), 64);
        b.services
            .sealed_certificate(&full.id)
            .await
            .unwrap()
            .verify(&seal_key(s).await)
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn certificate_status_is_looked_up_by_a_well_formed_identifier() {
    for b in backends("certificate_status").await {
        let s = &b.services;
        let id_card = s.certificates_held(ZHANG, Some(&["ID-CARD".to_owned()])).await.unwrap()[0].clone();
        assert_eq!(
            s.certificate_status(&id_card.id).await.unwrap(),
            CertificateStatus::Valid
        );
        expect_invalid(s.certificate_status("nonsense").await, "TYPE.ISSUER.SERIAL.VERSION");
        expect_invalid(s.certificate_status("").await, "TYPE.ISSUER.SERIAL.VERSION");
        // One mistyped character is caught by the check character.
        let typo = id_card.id.replace(".00000001.", ".00000007.");
        assert_ne!(typo, id_card.id);
        expect_invalid(s.certificate_status(&typo).await, "check character");
        // An unpadded serial is not the canonical form.
        let body = format!("ID-CARD.{PUBLIC_SECURITY_ORG}.1.01");
        let unpadded = format!(
            "{body}{}",
            tongban_services::certificates::identifier::check_character(&body)
        );
        expect_invalid(s.certificate_status(&unpadded).await, &unpadded);
        expect_invalid(
            s.certificate_status(&format!("ID-CARD.{UNREGISTERED}0.00000001.01X"))
                .await,
            "issuer",
        );
        let unknown = CertificateId::new("ID-CARD", PUBLIC_SECURITY_ORG, 999, 1)
            .unwrap()
            .to_string();
        expect_not_found(s.certificate_status(&unknown).await, &unknown);
        let unknown_issuer = CertificateId::new("ID-CARD", UNREGISTERED, 1, 1).unwrap().to_string();
        expect_not_found(s.certificate_status(&unknown_issuer).await, &unknown_issuer);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_issuer_changes_a_status_always_with_a_reason() {
    for b in backends("status_changes").await {
        let s = &b.services;
        let audited = certificate_audit_entries(s).await;
        let issued = s.issue_certificate(licence(ZHANG, Some("case-1"))).await.unwrap();
        let id = issued.id.clone();

        for org in [SECOND_ISSUER, UNREGISTERED, PUBLIC_SECURITY_ORG] {
            expect_forbidden(
                s.set_certificate_status(&id, CertificateStatus::Revoked, "吊销", "someone", org)
                    .await,
                &format!("only the issuing org {ISSUER} may change the status of certificate {id}"),
            );
        }
        for reason in ["", "   ", &"理".repeat(342)] {
            expect_invalid(
                s.set_certificate_status(&id, CertificateStatus::Suspended, reason, "clerk-1", ISSUER)
                    .await,
                "a status change needs a reason of 1 to 1024 bytes",
            );
        }
        for to in [CertificateStatus::Valid, CertificateStatus::Expired] {
            expect_conflict(
                s.set_certificate_status(&id, to, "理由", "clerk-1", ISSUER).await,
                &format!("certificate {id} is valid and cannot become {}", to.as_str()),
            );
        }
        expect_not_found(
            s.set_certificate_status("ID-CARD.none", CertificateStatus::Revoked, "理由", "clerk-1", ISSUER)
                .await,
            "ID-CARD.none",
        );
        assert_eq!(
            certificate_audit_entries(s).await,
            audited + 1,
            "{}: refusals leave no entry",
            b.name
        );

        let suspended = s
            .set_certificate_status(
                &id,
                CertificateStatus::Suspended,
                "  涉嫌冒用，暂停使用 ",
                "clerk-1",
                ISSUER,
            )
            .await
            .unwrap();
        assert_eq!(suspended.status, CertificateStatus::Suspended, "{}", b.name);
        assert_eq!(s.certificate_status(&id).await.unwrap(), CertificateStatus::Suspended);
        expect_conflict(
            s.set_certificate_status(&id, CertificateStatus::Suspended, "再次暂停", "clerk-1", ISSUER)
                .await,
            "is suspended and cannot become suspended",
        );
        let resumed = s
            .set_certificate_status(&id, CertificateStatus::Valid, "核查无误，恢复使用", "clerk-2", ISSUER)
            .await
            .unwrap();
        assert_eq!(resumed.status, CertificateStatus::Valid, "{}", b.name);
        assert_eq!(resumed, issued, "{}: back to what was issued", b.name);
        let revoked = s
            .set_certificate_status(&id, CertificateStatus::Revoked, "以欺骗手段取得", "clerk-1", ISSUER)
            .await
            .unwrap();
        assert_eq!(revoked.status, CertificateStatus::Revoked);
        assert_eq!(s.certificate_status(&id).await.unwrap(), CertificateStatus::Revoked);
        for to in [
            CertificateStatus::Valid,
            CertificateStatus::Suspended,
            CertificateStatus::Revoked,
            CertificateStatus::Cancelled,
        ] {
            expect_conflict(
                s.set_certificate_status(&id, to, "理由", "clerk-1", ISSUER).await,
                &format!("is revoked and cannot become {}", to.as_str()),
            );
        }
        // The seal covers what the certificate says, not its status.
        s.sealed_certificate(&id)
            .await
            .unwrap()
            .verify(&seal_key(s).await)
            .unwrap();

        // Cancellation is final too, also from suspended.
        let other = s.issue_certificate(licence(ZHANG, Some("case-2"))).await.unwrap();
        s.set_certificate_status(&other.id, CertificateStatus::Suspended, "暂停", "clerk-1", ISSUER)
            .await
            .unwrap();
        let cancelled = s
            .set_certificate_status(
                &other.id,
                CertificateStatus::Cancelled,
                "经营者申请注销",
                "clerk-1",
                ISSUER,
            )
            .await
            .unwrap();
        assert_eq!(cancelled.status, CertificateStatus::Cancelled, "{}", b.name);
        expect_conflict(
            s.set_certificate_status(&other.id, CertificateStatus::Valid, "理由", "clerk-1", ISSUER)
                .await,
            "is cancelled and cannot become valid",
        );

        // The history of changes, each with its reason and who made it.
        let rows = sqlx::query(
            "SELECT from_status, to_status, reason, actor, actor_org FROM certificate_status_changes
             WHERE certificate_id = $1 ORDER BY at, from_status",
        )
        .bind(&id)
        .fetch_all(s.db().pool())
        .await
        .unwrap();
        let history: Vec<(String, String, String, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get(0).unwrap(),
                    r.try_get(1).unwrap(),
                    r.try_get(2).unwrap(),
                    r.try_get(3).unwrap(),
                    r.try_get(4).unwrap(),
                )
            })
            .collect();
        let row = |from: &str, to: &str, reason: &str, actor: &str| {
            (
                from.to_owned(),
                to.to_owned(),
                reason.to_owned(),
                actor.to_owned(),
                ISSUER.to_owned(),
            )
        };
        assert_eq!(history.len(), 3, "{}: {history:?}", b.name);
        assert!(history.contains(&row("valid", "suspended", "涉嫌冒用，暂停使用", "clerk-1")));
        assert!(history.contains(&row("suspended", "valid", "核查无误，恢复使用", "clerk-2")));
        assert!(history.contains(&row("valid", "revoked", "以欺骗手段取得", "clerk-1")));

        // Every issue and every change is an entry in the audit chain.
        let own = |action: &str, actor: &str| (actor.to_owned(), action.to_owned());
        assert_eq!(
            audit_actions(s, &format!("certificate:{id}")).await,
            [
                own("certificate.issue", &format!("app:{APP}@1.2.0")),
                own("certificate.suspended", "clerk-1"),
                own("certificate.valid", "clerk-2"),
                own("certificate.revoked", "clerk-1"),
            ],
            "{}",
            b.name
        );
        assert_eq!(certificate_audit_entries(s).await, audited + 2 + 3 + 2, "{}", b.name);
        chain_intact(&b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_certificate_past_its_validity_is_expired() {
    for b in backends("expiry").await {
        let s = &b.services;
        seal_key(s).await;
        // Long enough that issuing and the first read finish well before it
        // on a busy machine.
        let now = now_ms();
        let until = now + 3_000;
        let short = s
            .issue_certificate(IssueRequest {
                valid_from: now - DAY,
                valid_until: Some(until),
                ..licence(ZHANG, Some("case-short"))
            })
            .await
            .unwrap();
        assert_eq!(s.certificate_status(&short.id).await.unwrap(), CertificateStatus::Valid);
        tokio::time::sleep(Duration::from_millis((until - now_ms()).max(0) as u64 + 100)).await;
        assert_eq!(
            s.certificate_status(&short.id).await.unwrap(),
            CertificateStatus::Expired,
            "{}",
            b.name
        );
        let stored = s.certificate(&short.id).await.unwrap();
        assert_eq!(stored.status, CertificateStatus::Expired);
        assert_eq!(
            s.certificates_held(ZHANG, Some(&["BUSINESS-LICENCE".to_owned()]))
                .await
                .unwrap()[0]
                .status,
            CertificateStatus::Expired
        );
        expect_conflict(
            s.annotated_copy(ZHANG, &short.id, PURPOSE, "", now_ms() + DAY).await,
            &format!(
                "certificate {} is expired; only a valid certificate can be copied",
                short.id
            ),
        );
        expect_conflict(
            s.set_certificate_status(&short.id, CertificateStatus::Suspended, "暂停", "clerk-1", ISSUER)
                .await,
            "is expired and cannot become suspended",
        );
        // The stored status is still what the issuer set; expiry is derived.
        let raw: String = sqlx::query("SELECT status FROM certificates WHERE id = $1")
            .bind(&short.id)
            .fetch_one(s.db().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(raw, "valid", "{}", b.name);
        // The seal still verifies: it says until when the certificate held.
        let sealed = s.sealed_certificate(&short.id).await.unwrap();
        sealed.verify(&seal_key(s).await).unwrap();
        assert_eq!(sealed.document["valid-until"], json!(until));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_annotated_copy_is_sealed_for_its_holder_and_purpose() {
    for b in backends("annotated_copy").await {
        let s = &b.services;
        let public_key = seal_key(s).await;
        let id_card = s.certificates_held(ZHANG, Some(&["ID-CARD".to_owned()])).await.unwrap()[0].clone();
        let week = now_ms() + 7 * DAY;

        expect_not_found(s.annotated_copy(LI, &id_card.id, PURPOSE, "", week).await, &id_card.id);
        expect_not_found(
            s.annotated_copy(ZHANG, "ID-CARD.none", PURPOSE, "", week).await,
            "ID-CARD.none",
        );
        let within_a_year = "an annotated copy needs a purpose and an expiry within the next year";
        expect_invalid(
            s.annotated_copy(ZHANG, &id_card.id, PURPOSE, "", now_ms() + MAX_CONSENT_MS + 60_000)
                .await,
            within_a_year,
        );
        expect_invalid(
            s.annotated_copy(ZHANG, &id_card.id, PURPOSE, "", now_ms() - 1).await,
            within_a_year,
        );
        expect_invalid(
            s.annotated_copy(ZHANG, &id_card.id, "  ", "", week).await,
            within_a_year,
        );

        let before = now_ms();
        let copy = s
            .annotated_copy(ZHANG, &id_card.id, PURPOSE, "仅用于个体工商户设立登记", week)
            .await
            .unwrap();
        let after = now_ms();
        assert_eq!(copy.certificate, id_card, "{}", b.name);
        assert_eq!(copy.purpose, PURPOSE);
        assert_eq!(copy.purpose_text, "仅用于个体工商户设立登记");
        assert_eq!(copy.expires_at, week);
        copy.sealed.verify(&public_key).unwrap();
        let document = &copy.sealed.document;
        assert_eq!(document["kind"], "annotated-copy", "{}", b.name);
        assert_eq!(
            document["purpose"],
            json!({ "code": PURPOSE, "text": "仅用于个体工商户设立登记" })
        );
        assert_eq!(document["expires-at"], json!(week));
        assert_eq!(document["trust-level"], "platform-sealed");
        assert_eq!(document["certificate"], id_card.document());
        let copied_at = document["copied-at"].as_i64().unwrap();
        assert!((before..=after).contains(&copied_at), "{}", b.name);
        // Stretching the copy's expiry breaks its seal.
        let mut stretched = copy.sealed.clone();
        stretched.document["expires-at"] = json!(week + 365 * DAY);
        assert_eq!(
            stretched.verify(&public_key),
            Err(SealError::DigestMismatch),
            "{}",
            b.name
        );

        // A suspended certificate is not copied.
        s.set_certificate_status(
            &id_card.id,
            CertificateStatus::Suspended,
            "证件挂失",
            "police-1",
            PUBLIC_SECURITY_ORG,
        )
        .await
        .unwrap();
        expect_conflict(
            s.annotated_copy(ZHANG, &id_card.id, PURPOSE, "", week).await,
            "is suspended; only a valid certificate can be copied",
        );
    }
}

// ---------------------------------------------------------------------------
// Provenance

fn access(subject: &str, handle: &str, case: Option<&str>, outcome: &str) -> ProvenanceRecord {
    ProvenanceRecord {
        at: 0,
        app: APP.into(),
        app_version: "1.2.0".into(),
        subject: subject.into(),
        subject_handle: handle.into(),
        operation: "identity.attributes".into(),
        scopes: vec![attribute_scope("name"), attribute_scope("id-number-masked")],
        purpose: PURPOSE.into(),
        consent: Some("consent-1".into()),
        case: case.map(Into::into),
        outcome: outcome.into(),
    }
}

async fn record_all(s: &Services) -> Vec<StoredProvenance> {
    let zhang = s.handle_for(ZHANG, APP).await.unwrap();
    let li = s.handle_for(LI, APP).await.unwrap();
    let mut stored = Vec::new();
    for (record, between) in [
        (access(ZHANG, &zhang, Some("case-1"), "released"), true),
        (access(LI, &li, Some("case-1"), "consent-required"), false),
        (
            ProvenanceRecord {
                at: 1_700_000_000_000,
                operation: "certificates.read".into(),
                scopes: vec![certificate_scope("ID-CARD")],
                consent: None,
                ..access(ZHANG, &zhang, None, "released")
            },
            false,
        ),
    ] {
        let before = now_ms();
        let seq = s.record_provenance(record.clone()).await.unwrap();
        let mut record = record;
        if record.at == 0 {
            let at = s
                .provenance(&ProvenanceFilter::default())
                .await
                .unwrap()
                .into_iter()
                .find(|p| p.audit_seq == seq)
                .unwrap()
                .record
                .at;
            assert!((before..=now_ms()).contains(&at), "the time is filled in");
            record.at = at;
        }
        stored.push(StoredProvenance { audit_seq: seq, record });
        if between {
            // Another chained action in between: sequence numbers are the
            // chain's, not the table's.
            s.issue_certificate(licence(ZHANG, None)).await.unwrap();
        }
    }
    stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn provenance_is_listed_by_subject_and_by_case_in_order() {
    for b in backends("provenance_list").await {
        let s = &b.services;
        let all = record_all(s).await;
        let seqs: Vec<i64> = all.iter().map(|p| p.audit_seq).collect();
        assert_eq!(seqs[1], seqs[0] + 2, "{}: a certificate entry in between", b.name);
        assert_eq!(seqs[2], seqs[1] + 1);

        let filter = |subject: Option<&str>, case: Option<&str>| ProvenanceFilter {
            subject: subject.map(Into::into),
            case: case.map(Into::into),
        };
        assert_eq!(s.provenance(&filter(None, None)).await.unwrap(), all, "{}", b.name);
        assert_eq!(
            s.provenance(&filter(Some(ZHANG), None)).await.unwrap(),
            vec![all[0].clone(), all[2].clone()],
            "{}",
            b.name
        );
        assert_eq!(
            s.provenance(&filter(None, Some("case-1"))).await.unwrap(),
            vec![all[0].clone(), all[1].clone()]
        );
        assert_eq!(
            s.provenance(&filter(Some(LI), Some("case-1"))).await.unwrap(),
            vec![all[1].clone()]
        );
        assert!(
            s.provenance(&filter(Some(LI), Some("case-2")))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(s.provenance(&filter(Some("nobody"), None)).await.unwrap().is_empty());
        assert_eq!(all[2].record.at, 1_700_000_000_000, "{}: a given time is kept", b.name);

        // Each record is a proper chain entry: by the app, about the handle,
        // with the record's digest.
        let entries = audit_log::entries(s.db(), None).await.unwrap();
        for p in &all {
            let entry = entries.iter().find(|e| e.record.seq == p.audit_seq).unwrap();
            assert_eq!(entry.record.actor, format!("app:{APP}@1.2.0"));
            assert_eq!(entry.record.action, format!("provenance.{}", p.record.operation));
            assert_eq!(entry.record.subject, format!("subject:{}", p.record.subject_handle));
            assert!(
                !entry.record.subject.contains(&p.record.subject),
                "the chain holds the handle only"
            );
            assert_eq!(entry.record.before, "");
            assert_eq!(entry.record.after, audit_log::state_digest(&p.record), "{}", b.name);
        }
        assert_eq!(s.verify_provenance().await.unwrap(), Ok(3), "{}", b.name);
        chain_intact(&b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_provenance_names_a_changed_removed_or_unchained_row() {
    for b in backends("provenance_verify").await {
        let s = &b.services;
        assert_eq!(s.verify_provenance().await.unwrap(), Ok(0), "{}", b.name);
        let all = record_all(s).await;
        let (first, second) = (all[0].audit_seq, all[1].audit_seq);
        assert_eq!(s.verify_provenance().await.unwrap(), Ok(3));

        let execute = |sql: String| async move {
            sqlx::query(&sql).execute(s.db().pool()).await.unwrap();
        };

        // A changed outcome.
        execute(format!(
            "UPDATE provenance SET outcome = 'released' WHERE audit_seq = {second}"
        ))
        .await;
        assert_eq!(
            s.verify_provenance().await.unwrap(),
            Err(format!("the provenance row of audit entry {second} was changed")),
            "{}",
            b.name
        );
        execute(format!(
            "UPDATE provenance SET outcome = 'consent-required' WHERE audit_seq = {second}"
        ))
        .await;
        assert_eq!(s.verify_provenance().await.unwrap(), Ok(3), "{}: restored", b.name);
        // A changed scope list.
        execute(format!(
            "UPDATE provenance SET scopes = '[\"identity.attributes/name\"]' WHERE audit_seq = {first}"
        ))
        .await;
        assert_eq!(
            s.verify_provenance().await.unwrap(),
            Err(format!("the provenance row of audit entry {first} was changed"))
        );
        execute(format!(
            "UPDATE provenance SET scopes = '[\"identity.attributes/name\",\"identity.attributes/id-number-masked\"]' \
             WHERE audit_seq = {first}"
        ))
        .await;
        assert_eq!(s.verify_provenance().await.unwrap(), Ok(3), "{}: restored", b.name);

        // A deleted row.
        execute(format!("DELETE FROM provenance WHERE audit_seq = {first}")).await;
        assert_eq!(
            s.verify_provenance().await.unwrap(),
            Err(format!(
                "audit entry {first} records an access whose provenance row is gone"
            )),
            "{}",
            b.name
        );
        let r = &all[0].record;
        sqlx::query(
            "INSERT INTO provenance (audit_seq, at, app_id, app_version, subject_id, subject_handle, operation, scopes,
                                     purpose, consent_id, case_id, outcome)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(first)
        .bind(r.at)
        .bind(&r.app)
        .bind(&r.app_version)
        .bind(&r.subject)
        .bind(&r.subject_handle)
        .bind(&r.operation)
        .bind(serde_json::to_string(&r.scopes).unwrap())
        .bind(&r.purpose)
        .bind(&r.consent)
        .bind(&r.case)
        .bind(&r.outcome)
        .execute(s.db().pool())
        .await
        .unwrap();
        assert_eq!(s.verify_provenance().await.unwrap(), Ok(3), "{}: restored", b.name);

        // A row slipped in without a chain entry.
        execute(format!(
            "INSERT INTO provenance (audit_seq, at, app_id, app_version, subject_id, subject_handle, operation, \
             scopes, purpose, consent_id, case_id, outcome) VALUES (1000000, 1, '{APP}', '1.2.0', '{ZHANG}', \
             'ph-x', 'identity.attributes', '[]', '{PURPOSE}', NULL, NULL, 'released')"
        ))
        .await;
        assert_eq!(
            s.verify_provenance().await.unwrap(),
            Err("provenance row 1000000 has no audit entry".to_owned()),
            "{}",
            b.name
        );
        // Tampering with the provenance table leaves the chain itself intact.
        chain_intact(&b).await;
        execute("DELETE FROM provenance WHERE audit_seq = 1000000".to_owned()).await;
        assert_eq!(s.verify_provenance().await.unwrap(), Ok(3), "{}", b.name);
        assert_eq!(s.provenance(&ProvenanceFilter::default()).await.unwrap(), all);
    }
}

// ---------------------------------------------------------------------------
// Handles and subjects

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handles_are_pairwise_and_resolve_only_for_their_app() {
    for b in backends("handles").await {
        let s = &b.services;
        let zhang = s.handle_for(ZHANG, APP).await.unwrap();
        assert!(zhang.starts_with("ph-") && zhang.len() == 35, "{zhang}");
        assert!(
            zhang[3..]
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(s.handle_for(ZHANG, APP).await.unwrap(), zhang, "{}: stable", b.name);
        let elsewhere = s.handle_for(ZHANG, OTHER_APP).await.unwrap();
        let li = s.handle_for(LI, APP).await.unwrap();
        assert_ne!(elsewhere, zhang, "{}: unlinkable across apps", b.name);
        assert_ne!(li, zhang, "{}: distinct per subject", b.name);
        assert!(elsewhere.starts_with("ph-") && li.starts_with("ph-"));
        assert!(!zhang.contains(ZHANG));
        assert_eq!(
            count(s, "SELECT COUNT(*) FROM subject_handles").await,
            3,
            "{}: remembered once each",
            b.name
        );

        assert_eq!(s.resolve_handle(&zhang, APP).await.unwrap(), ZHANG, "{}", b.name);
        assert_eq!(s.resolve_handle(&li, APP).await.unwrap(), LI);
        assert_eq!(s.resolve_handle(&elsewhere, OTHER_APP).await.unwrap(), ZHANG);
        expect_not_found(s.resolve_handle(&zhang, OTHER_APP).await, &zhang);
        expect_not_found(s.resolve_handle(&elsewhere, APP).await, &elsewhere);
        expect_not_found(
            s.resolve_handle("ph-00000000000000000000000000000000", APP).await,
            "is known to this app",
        );
        expect_not_found(s.resolve_handle(ZHANG, APP).await, ZHANG);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subject_by_id_number_finds_the_person_at_the_counter() {
    for b in backends("id_number").await {
        let s = &b.services;
        let zhang = &CITIZENS[0];
        let found = s.subject_by_id_number(zhang.id_number).await.unwrap();
        assert_eq!(found.id, ZHANG, "{}", b.name);
        assert_eq!(found.name, "张三");
        assert_eq!(found.region, "330106");
        assert_eq!(
            found.attribute("id-number-masked").as_deref(),
            Some("3301**********0014")
        );
        assert_eq!(
            s.subject_by_id_number(&format!("  {} ", zhang.id_number))
                .await
                .unwrap()
                .id,
            ZHANG
        );
        assert_eq!(s.subject_by_id_number(CITIZENS[1].id_number).await.unwrap().id, LI);
        let nobody = "no person with this ID number is registered";
        expect_not_found(s.subject_by_id_number("330106199003070015").await, nobody);
        expect_not_found(s.subject_by_id_number("").await, nobody);

        // A final check character X, in either case.
        let person = |id: &str, number: &str| Subject {
            id_number: Some(number.into()),
            birth_date: Some("1992-05-10".into()),
            gender: Some("男".into()),
            ..seed::person(id, "王五", "330106")
        };
        s.upsert_subject(&person("citizen-wang-wu", "33010619920510004X"))
            .await
            .unwrap();
        for asked in ["33010619920510004X", "33010619920510004x", " 33010619920510004x\n"] {
            assert_eq!(
                s.subject_by_id_number(asked).await.unwrap().id,
                "citizen-wang-wu",
                "{}: `{}`",
                b.name,
                asked.trim()
            );
        }
        // Stored as the identity source wrote it, with a small x.
        s.upsert_subject(&person("citizen-zhao-liu", "11010519491231002x"))
            .await
            .unwrap();
        for asked in ["11010519491231002X", "11010519491231002x"] {
            assert_eq!(
                s.subject_by_id_number(asked).await.unwrap().id,
                "citizen-zhao-liu",
                "{}: `{asked}`",
                b.name
            );
        }
        expect_not_found(s.subject_by_id_number("330106199205100041").await, nobody);
    }
}

// ---------------------------------------------------------------------------
// Platform keys

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_share_the_platform_keys() {
    for b in backends("platform_keys").await {
        let one = &b.services;
        let two = b.second_node().await;
        let key = seal_key(one).await;
        assert_eq!(seal_key(&two).await, key, "{}: one seal key", b.name);
        assert_eq!(key.len(), 130, "{}: SEC1 uncompressed, hex", b.name);
        let handle = one.handle_for(ZHANG, APP).await.unwrap();
        assert_eq!(
            two.handle_for(ZHANG, APP).await.unwrap(),
            handle,
            "{}: one handle",
            b.name
        );
        assert_eq!(two.resolve_handle(&handle, APP).await.unwrap(), ZHANG);
        // What one node seals the other verifies.
        let issued = one.issue_certificate(licence(ZHANG, None)).await.unwrap();
        two.sealed_certificate(&issued.id)
            .await
            .unwrap()
            .verify(&seal_key(&two).await)
            .unwrap();
        let names: Vec<String> = sqlx::query("SELECT name FROM platform_secrets ORDER BY name")
            .fetch_all(one.db().pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get(0).unwrap())
            .collect();
        assert_eq!(names, [keys::SEAL, keys::PAIRWISE], "{}", b.name);

        // Two nodes of a new platform starting at once agree on fresh keys.
        let (_fresh, fresh_db) = b.another_platform("platform_keys_fresh").await;
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let node = Services::new(fresh_db.open().await);
            tasks.push(tokio::spawn(async move {
                let keys = node.keys().await.unwrap();
                (keys.seal.public_key_hex(), keys.pairwise.handle(ZHANG, APP))
            }));
        }
        let first = tasks.remove(0).await.unwrap();
        let second = tasks.remove(0).await.unwrap();
        assert_eq!(first, second, "{}: nodes starting at once agree", b.name);
        assert_ne!(first.0, key, "{}: another platform, another key", b.name);
        assert_ne!(first.1, handle, "{}: another platform, other handles", b.name);
    }
}
