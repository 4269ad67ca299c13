//! The notify half of the test host: the templates the manifest declares,
//! and every message the app sent, kept for the test's assertions.

use std::collections::BTreeSet;

use tongban_registry::Manifest;

use crate::Error;

/// A message the app sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub to: String,
    pub template: String,
    pub params: Vec<(String, String)>,
    pub case: Option<String>,
}

pub(crate) struct TestNotify {
    /// The declared template names; `None` when the manifest grants no notify.
    templates: Option<BTreeSet<String>>,
    pub(crate) sent: Vec<SentMessage>,
}

impl TestNotify {
    pub(crate) fn new(manifest: &Manifest) -> TestNotify {
        TestNotify {
            templates: manifest
                .capabilities
                .notify
                .as_ref()
                .map(|n| n.templates.keys().cloned().collect()),
            sent: Vec::new(),
        }
    }

    pub(crate) fn send(
        &mut self,
        to: &str,
        template: &str,
        params: &[(String, String)],
        case: Option<&str>,
    ) -> Result<String, Error> {
        let templates = self
            .templates
            .as_ref()
            .ok_or_else(|| Error::NotGranted("notify".into()))?;
        if !templates.contains(template) {
            return Err(Error::NotGranted(format!("notify template `{template}`")));
        }
        self.sent.push(SentMessage {
            to: to.into(),
            template: template.into(),
            params: params.to_vec(),
            case: case.map(str::to_owned),
        });
        Ok(format!("MSG-{}", self.sent.len()))
    }
}
