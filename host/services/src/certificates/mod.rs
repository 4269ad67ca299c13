//! E-certificates (电子证照): identifiers and seals. The certificate store,
//! status changes and the capability arrive with issue 4's remaining work.

pub mod identifier;
pub mod seal;

pub use identifier::{CertificateId, IdentifierError};
pub use seal::{SealError, SealKey, SealedDocument};
