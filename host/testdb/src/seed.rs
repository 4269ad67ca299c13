//! The orgs and citizens tests start from, registered the one way every test
//! does it. Failures panic: a test cannot run without its seed.

use tongban_registry::market::{Actor, orgs as market_orgs};
use tongban_services::Services;
use tongban_services::certificates::IssueRequest;
use tongban_services::subjects::Subject;
use tongban_store::{Database, now_ms};

/// Register each `(code, name, region)` org through the marketplace's own
/// `create_org`, as the system actor (as the demo seeds its orgs), so each
/// code is checked and the audit log records the org as it would in
/// production.
pub async fn orgs(db: &Database, orgs: &[(&str, &str, &str)]) {
    for (code, name, region) in orgs {
        market_orgs::create_org(db, &Actor::system(), code, name, region)
            .await
            .unwrap_or_else(|e| panic!("registering the test org {code} ({name}): {e}"));
    }
}

/// A person of `region` verified at substantial assurance by the tests'
/// identity source (`test`), with no other attributes. A test that needs an
/// email or an ID number sets it on the value this returns.
pub fn person(id: &str, name: &str, region: &str) -> Subject {
    Subject {
        id: id.into(),
        kind: "person".into(),
        name: name.into(),
        id_number: None,
        birth_date: None,
        gender: None,
        phone: None,
        email: None,
        address: None,
        region: region.into(),
        assurance: "substantial".into(),
        source: "test".into(),
        verified_at: now_ms(),
    }
}

/// Record each `(id, name)` as a [`person`] of `region`.
pub async fn citizens(services: &Services, region: &str, people: &[(&str, &str)]) {
    for (id, name) in people {
        services
            .upsert_subject(&person(id, name, region))
            .await
            .unwrap_or_else(|e| panic!("recording the test citizen {id} ({name}): {e}"));
    }
}

/// A citizen as the identity source and the public security bureau know
/// them: a person with a resident ID number who holds a valid resident ID
/// card (`ID-CARD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifiedCitizen {
    pub id: String,
    pub name: String,
    /// An 18-character resident ID number with a valid check character.
    pub id_number: String,
}

/// Record each citizen as a [`person`] of `region` with their ID number, and
/// issue them a resident ID card from `issuer` (an org already registered),
/// valid from a year ago for twenty years: what an app that reads identity
/// and the ID card (免提交) needs of an applicant.
pub async fn citizens_with_id_cards(services: &Services, region: &str, issuer: &str, people: &[IdentifiedCitizen]) {
    const YEAR_MS: i64 = 366 * 86_400_000;
    let now = now_ms();
    for citizen in people {
        services
            .upsert_subject(&Subject {
                id_number: Some(citizen.id_number.clone()),
                ..person(&citizen.id, &citizen.name, region)
            })
            .await
            .unwrap_or_else(|e| panic!("recording the test citizen {} ({}): {e}", citizen.id, citizen.name));
        services
            .issue_certificate(IssueRequest {
                type_code: "ID-CARD".into(),
                issuer_code: issuer.into(),
                holder: citizen.id.clone(),
                holder_name: citizen.name.clone(),
                valid_from: now - YEAR_MS,
                valid_until: Some(now + 20 * YEAR_MS),
                fields: vec![
                    ("姓名".to_owned(), citizen.name.clone()),
                    ("公民身份号码".to_owned(), citizen.id_number.clone()),
                ],
                app: None,
                case: None,
                actor: "system:test".into(),
            })
            .await
            .unwrap_or_else(|e| panic!("issuing the test citizen {}'s ID card: {e}", citizen.id));
    }
}
