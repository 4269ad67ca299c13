//! The certificates half of the test host: the types the manifest lets the
//! app read and issue, the subject's certificates on record, and the
//! certificates the app issued.

use std::collections::BTreeSet;

use tongban_registry::Manifest;

use super::served::Served;
use crate::{AnnotatedCopy, Certificate, CertificateStatus, Error, Purpose, Timestamp};

pub(crate) struct TestCertificates {
    /// The readable types; `None` when the manifest grants no certificates.
    read: Option<BTreeSet<String>>,
    issue: BTreeSet<String>,
    /// The subject's certificates on record.
    pub(crate) held: Vec<Certificate>,
    /// What the app issued, in order.
    pub(crate) issued: Vec<Certificate>,
}

impl TestCertificates {
    pub(crate) fn new(manifest: &Manifest) -> TestCertificates {
        let grant = manifest.capabilities.certificates.as_ref();
        TestCertificates {
            read: grant.map(|g| g.read.iter().cloned().collect()),
            issue: grant.map(|g| g.issue.iter().cloned().collect()).unwrap_or_default(),
            held: Vec::new(),
            issued: Vec::new(),
        }
    }

    pub(crate) fn held(
        &mut self,
        type_codes: &[&str],
        _why: &Purpose,
        served: &Served,
    ) -> Result<Vec<Certificate>, Error> {
        let readable = self
            .read
            .as_ref()
            .ok_or_else(|| Error::NotGranted("certificates".into()))?;
        for code in type_codes {
            if !readable.contains(*code) {
                return Err(Error::NotGranted(format!("reading certificates of type `{code}`")));
            }
            served.consent(format!("certificates/{code}"))?;
        }
        Ok(self
            .held
            .iter()
            .filter(|c| type_codes.contains(&c.type_code.as_str()))
            .cloned()
            .collect())
    }

    pub(crate) fn copy(&mut self, id: &str, why: &Purpose, served: &Served) -> Result<AnnotatedCopy, Error> {
        let certificate = self
            .held
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("certificate `{id}`")))?;
        self.held(&[certificate.type_code.as_str()], why, served)?;
        Ok(AnnotatedCopy {
            certificate,
            why: why.clone(),
            expires_at: served.now + 86_400_000,
            signature: "testkit-unsigned".into(),
        })
    }

    pub(crate) fn verify(&mut self, id: &str) -> Result<CertificateStatus, Error> {
        if self.read.is_none() {
            return Err(Error::NotGranted("certificates".into()));
        }
        self.held
            .iter()
            .chain(&self.issued)
            .find(|c| c.id == id)
            .map(|c| c.status)
            .ok_or_else(|| Error::NotFound(format!("certificate `{id}`")))
    }

    pub(crate) fn issue(
        &mut self,
        case: &str,
        type_code: &str,
        valid_until: Option<Timestamp>,
        fields: &[(String, String)],
        served: &Served,
    ) -> Result<Certificate, Error> {
        if self.read.is_none() {
            return Err(Error::NotGranted("certificates".into()));
        }
        if !self.issue.contains(type_code) {
            return Err(Error::NotGranted(format!("issuing certificates of type `{type_code}`")));
        }
        let holder_name = fields
            .iter()
            .find(|(k, _)| k == "holder-name")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let certificate = Certificate {
            id: format!("TEST-{type_code}-{:04}", self.issued.len() + 1),
            type_code: type_code.into(),
            type_name: type_code.into(),
            issuer_code: "TESTKIT".into(),
            issuer_name: "测试发证机关 / test issuer".into(),
            holder: served.session.subject.clone(),
            holder_name,
            issued_at: served.now,
            valid_from: served.now,
            valid_until,
            status: CertificateStatus::Valid,
            fields: fields.to_vec(),
        };
        let _ = case;
        self.issued.push(certificate.clone());
        Ok(certificate)
    }

    pub(crate) fn set_status(&mut self, id: &str, status: CertificateStatus, reason: &str) -> Result<(), Error> {
        if reason.trim().is_empty() {
            return Err(Error::Invalid("a status change needs a reason".into()));
        }
        let certificate = self
            .issued
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or_else(|| Error::NotFound(format!("certificate `{id}` issued by this app")))?;
        certificate.status = status;
        Ok(())
    }
}
