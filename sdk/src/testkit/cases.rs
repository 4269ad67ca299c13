//! The cases half of the test host: the app's cases, and the follow-on cases
//! it opened.

use std::collections::{BTreeMap, BTreeSet};

use tongban_registry::Manifest;

use super::served::Served;
use crate::{CaseInfo, Error, Stage};

pub(crate) struct TestCases {
    /// The items follow-on cases may be opened for; `None` when the manifest
    /// grants no cases.
    follow_on: Option<BTreeSet<String>>,
    pub(crate) cases: BTreeMap<String, CaseInfo>,
    /// (from, item, form) of each follow-on case opened.
    pub(crate) follow_ons: Vec<(String, String, String)>,
}

impl TestCases {
    pub(crate) fn new(manifest: &Manifest) -> TestCases {
        TestCases {
            follow_on: manifest
                .capabilities
                .cases
                .as_ref()
                .map(|c| c.follow_on.iter().cloned().collect()),
            cases: BTreeMap::new(),
            follow_ons: Vec::new(),
        }
    }

    /// Record a case as submitted by the served subject with this form,
    /// unless the test added it already.
    pub(crate) fn record_submitted(&mut self, case: &str, item: &str, form: &str, served: &Served) {
        if self.cases.contains_key(case) {
            return;
        }
        self.cases.insert(
            case.to_owned(),
            CaseInfo {
                id: case.to_owned(),
                item: item.to_owned(),
                applicant: served.session.subject.clone(),
                channel: served.session.channel,
                stage: Stage::Submitted,
                accepting_org: String::new(),
                handling_org: String::new(),
                submitted_at: served.now,
                due_at: None,
                form: form.to_owned(),
            },
        );
    }

    pub(crate) fn get(&mut self, id: &str) -> Result<CaseInfo, Error> {
        self.follow_on
            .as_ref()
            .ok_or_else(|| Error::NotGranted("cases".into()))?;
        self.cases
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("case `{id}`")))
    }

    pub(crate) fn start_follow_on(&mut self, from: &str, item: &str, form: &str) -> Result<String, Error> {
        let allowed = self
            .follow_on
            .as_ref()
            .ok_or_else(|| Error::NotGranted("cases".into()))?;
        if !allowed.contains(item) {
            return Err(Error::NotGranted(format!("follow-on item `{item}`")));
        }
        if !self.cases.contains_key(from) {
            return Err(Error::NotFound(format!("case `{from}`")));
        }
        self.follow_ons.push((from.into(), item.into(), form.into()));
        Ok(format!("{from}-F{}", self.follow_ons.len()))
    }
}
