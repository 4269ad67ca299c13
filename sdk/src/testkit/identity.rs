//! The identity half of the test host: the attributes the manifest
//! declares, and the subject's attributes on record.

use std::collections::{BTreeMap, BTreeSet};

use tongban_registry::Manifest;

use super::served::Served;
use crate::{Attribute, Error, Purpose, Session};

pub(crate) struct TestIdentity {
    /// The declared attributes; `None` when the manifest grants no identity.
    declared: Option<BTreeSet<String>>,
    /// The subject's attributes on record, name to value.
    pub(crate) attributes: BTreeMap<String, String>,
}

impl TestIdentity {
    pub(crate) fn new(manifest: &Manifest) -> TestIdentity {
        TestIdentity {
            declared: manifest
                .capabilities
                .identity
                .as_ref()
                .map(|g| g.attributes.iter().cloned().collect()),
            attributes: BTreeMap::new(),
        }
    }

    pub(crate) fn current(&self, served: &Served) -> Result<Session, Error> {
        if self.declared.is_none() {
            return Err(Error::NotGranted("identity".into()));
        }
        Ok(served.session.clone())
    }

    pub(crate) fn attributes(&self, names: &[&str], why: &Purpose, served: &Served) -> Result<Vec<Attribute>, Error> {
        let declared = self
            .declared
            .as_ref()
            .ok_or_else(|| Error::NotGranted("identity".into()))?;
        if why.code.trim().is_empty() {
            return Err(Error::Invalid("a purpose code is required".into()));
        }
        names
            .iter()
            .map(|name| {
                if !declared.contains(*name) {
                    return Err(Error::NotGranted(format!("identity attribute `{name}`")));
                }
                served.consent(format!("identity.attributes/{name}"))?;
                let value = self
                    .attributes
                    .get(*name)
                    .ok_or_else(|| Error::NotFound(format!("attribute `{name}`")))?;
                Ok(Attribute {
                    name: (*name).into(),
                    value: value.clone(),
                    source: "testkit".into(),
                    verified_at: served.now,
                })
            })
            .collect()
    }
}
