//! Electronic certificates (`tongban:platform/certificates`).

use serde::{Deserialize, Serialize};

use crate::{Error, Purpose, Timestamp};

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::certificates as wit;

/// A certificate's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateStatus {
    Valid,
    Suspended,
    Revoked,
    Cancelled,
    Expired,
}

/// An electronic certificate (电子证照).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub id: String,
    pub type_code: String,
    pub type_name: String,
    pub issuer_code: String,
    pub issuer_name: String,
    pub holder: String,
    pub holder_name: String,
    pub issued_at: Timestamp,
    pub valid_from: Timestamp,
    pub valid_until: Option<Timestamp>,
    pub status: CertificateStatus,
    pub fields: Vec<(String, String)>,
}

impl Certificate {
    /// A surface field by name.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// 加注件: a copy stamped with purpose and expiry and signed by the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnotatedCopy {
    pub certificate: Certificate,
    pub why: Purpose,
    pub expires_at: Timestamp,
    pub signature: String,
}

/// The subject's certificates of these types.
pub fn held(type_codes: &[&str], why: &Purpose) -> Result<Vec<Certificate>, Error> {
    #[cfg(target_arch = "wasm32")]
    {
        let codes: Vec<String> = type_codes.iter().map(|s| s.to_string()).collect();
        return wit::held(&codes, &why.into())
            .map(|v| v.into_iter().map(Into::into).collect())
            .map_err(Into::into);
    }
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.certificates.held(type_codes, why, &h.served));
}

/// An annotated copy (加注件) of one of the subject's certificates.
pub fn copy(id: &str, why: &Purpose) -> Result<AnnotatedCopy, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::copy(id, &why.into()).map(Into::into).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.certificates.copy(id, why, &h.served));
}

/// The status of any certificate; no personal data.
pub fn verify(id: &str) -> Result<CertificateStatus, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::verify(id).map(Into::into).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.certificates.verify(id));
}

/// Issue a certificate of a registered type as the result of a case.
pub fn issue(
    case: &str,
    type_code: &str,
    valid_until: Option<Timestamp>,
    fields: &[(String, String)],
) -> Result<Certificate, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::issue(case, type_code, valid_until, fields)
        .map(Into::into)
        .map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.certificates.issue(case, type_code, valid_until, fields, &h.served));
}

/// Change the status of a certificate this app's org issued.
pub fn set_status(id: &str, status: CertificateStatus, reason: &str) -> Result<(), Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::set_status(id, status.into(), reason).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.certificates.set_status(id, status, reason));
}

// On wasm, the generated bindings' values convert to and from the types above.

#[cfg(target_arch = "wasm32")]
impl From<wit::Status> for CertificateStatus {
    fn from(s: wit::Status) -> CertificateStatus {
        match s {
            wit::Status::Valid => CertificateStatus::Valid,
            wit::Status::Suspended => CertificateStatus::Suspended,
            wit::Status::Revoked => CertificateStatus::Revoked,
            wit::Status::Cancelled => CertificateStatus::Cancelled,
            wit::Status::Expired => CertificateStatus::Expired,
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl From<CertificateStatus> for wit::Status {
    fn from(s: CertificateStatus) -> wit::Status {
        match s {
            CertificateStatus::Valid => wit::Status::Valid,
            CertificateStatus::Suspended => wit::Status::Suspended,
            CertificateStatus::Revoked => wit::Status::Revoked,
            CertificateStatus::Cancelled => wit::Status::Cancelled,
            CertificateStatus::Expired => wit::Status::Expired,
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl From<wit::Certificate> for Certificate {
    fn from(c: wit::Certificate) -> Certificate {
        Certificate {
            id: c.id,
            type_code: c.type_code,
            type_name: c.type_name,
            issuer_code: c.issuer_code,
            issuer_name: c.issuer_name,
            holder: c.holder,
            holder_name: c.holder_name,
            issued_at: c.issued_at,
            valid_from: c.valid_from,
            valid_until: c.valid_until,
            status: c.status.into(),
            fields: c.fields,
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl From<wit::AnnotatedCopy> for AnnotatedCopy {
    fn from(c: wit::AnnotatedCopy) -> AnnotatedCopy {
        AnnotatedCopy {
            certificate: c.certificate.into(),
            why: c.why.into(),
            expires_at: c.expires_at,
            signature: c.signature,
        }
    }
}
