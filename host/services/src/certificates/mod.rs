//! E-certificates (电子证照): identifiers in the GB/T 36904 style, the
//! SM2-over-SM3 seal, and the store with issuance, holders' reads, annotated
//! copies (加注件) and status changes (LIFECYCLES.md §5).

pub mod identifier;
pub mod seal;
pub mod store;

pub use identifier::{CertificateId, IdentifierError};
pub use seal::{SealError, SealKey, SealedDocument};
pub use store::{AnnotatedCopy, Certificate, CertificateStatus, IssueRequest};
