//! The exchange half of the test host: the services the manifest declares,
//! answered by the responders the test registered.

use std::collections::{BTreeMap, BTreeSet};

use tongban_registry::Manifest;

use crate::{Error, Purpose};

/// A test's stand-in for a data service: (operation, request) to answer.
pub(crate) type Responder = Box<dyn Fn(&str, &[u8]) -> Result<Vec<u8>, Error>>;

pub(crate) struct TestExchange {
    /// The declared services; `None` when the manifest grants no exchange.
    services: Option<BTreeSet<String>>,
    pub(crate) responders: BTreeMap<String, Responder>,
}

impl TestExchange {
    pub(crate) fn new(manifest: &Manifest) -> TestExchange {
        TestExchange {
            services: manifest
                .capabilities
                .exchange
                .as_ref()
                .map(|e| e.services.iter().cloned().collect()),
            responders: BTreeMap::new(),
        }
    }

    pub(crate) fn call(
        &mut self,
        service: &str,
        operation: &str,
        request: &[u8],
        _why: &Purpose,
        _case: Option<&str>,
    ) -> Result<Vec<u8>, Error> {
        let services = self
            .services
            .as_ref()
            .ok_or_else(|| Error::NotGranted("exchange".into()))?;
        if !services.contains(service) {
            return Err(Error::NotGranted(format!("exchange service `{service}`")));
        }
        let responder = self.responders.get(service).ok_or_else(|| {
            Error::Unavailable(format!(
                "no test responder for `{service}`: use TestHost::with_exchange"
            ))
        })?;
        responder(operation, request)
    }
}
