//! Electronic certificates (`tongban:platform/certificates`).

use crate::{AnnotatedCopy, Certificate, CertificateStatus, Error, Purpose, Timestamp};

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::certificates as wit;

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
    return crate::testkit::with_host(|h| h.certificates_held(type_codes, why));
}

/// An annotated copy (加注件) of one of the subject's certificates.
pub fn copy(id: &str, why: &Purpose) -> Result<AnnotatedCopy, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::copy(id, &why.into()).map(Into::into).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.certificates_copy(id, why));
}

/// The status of any certificate; no personal data.
pub fn verify(id: &str) -> Result<CertificateStatus, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::verify(id).map(Into::into).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.certificates_verify(id));
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
    return crate::testkit::with_host(|h| h.certificates_issue(case, type_code, valid_until, fields));
}

/// Change the status of a certificate this app's org issued.
pub fn set_status(id: &str, status: CertificateStatus, reason: &str) -> Result<(), Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::set_status(id, status.into(), reason).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.certificates_set_status(id, status, reason));
}
