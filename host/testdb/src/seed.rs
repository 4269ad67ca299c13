//! The orgs and citizens tests start from, registered the one way every test
//! does it. Failures panic: a test cannot run without its seed.

use tongban_registry::market::{Actor, orgs as market_orgs};
use tongban_services::Services;
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
