//! The SDK's own types for the contract's records and variants. They are the
//! same on wasm and natively, so app code never touches generated bindings.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub type Timestamp = u64;

/// Every capability answers with these; see `types.error` in the WIT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum Error {
    NotGranted(String),
    ConsentRequired(String),
    AssuranceTooLow(Assurance),
    NotFound(String),
    Invalid(String),
    Conflict(String),
    QuotaExceeded(String),
    Unavailable(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NotGranted(s) => write!(f, "not granted: {s}"),
            Error::ConsentRequired(s) => write!(f, "consent required: {s}"),
            Error::AssuranceTooLow(a) => write!(f, "assurance too low: {a:?} needed"),
            Error::NotFound(s) => write!(f, "not found: {s}"),
            Error::Invalid(s) => write!(f, "invalid: {s}"),
            Error::Conflict(s) => write!(f, "conflict: {s}"),
            Error::QuotaExceeded(s) => write!(f, "quota exceeded: {s}"),
            Error::Unavailable(s) => write!(f, "unavailable: {s}"),
        }
    }
}

impl std::error::Error for Error {}

/// How sure the platform is of who the subject is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Assurance {
    Low,
    Substantial,
    High,
}

/// Where the interaction happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Web,
    Mobile,
    Window,
    Kiosk,
    Hotline,
}

/// Why data is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purpose {
    pub code: String,
    pub text: String,
}

impl Purpose {
    pub fn new(code: impl Into<String>, text: impl Into<String>) -> Purpose {
        Purpose {
            code: code.into(),
            text: text.into(),
        }
    }
}

/// The situation a hook is called in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub item: String,
    pub locale: String,
    pub channel: Channel,
    /// The 6-digit GB/T 2260 code of the region the app serves in this call.
    pub region: String,
}

/// A problem with one form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What became of a submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum Outcome {
    Queued,
    Approved(String),
    Denied(String),
}

/// Something that happened to a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum Event {
    Accepted,
    CorrectionRequested(String),
    HandedOff(String),
    Paid(String),
    Approved(String),
    Denied(String),
    Withdrawn,
}

/// Whether the subject is a person or a legal person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubjectKind {
    Person,
    LegalPerson,
}

/// The session a hook call runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub subject: String,
    pub kind: SubjectKind,
    pub assurance: Assurance,
    pub channel: Channel,
    pub on_behalf_of: Option<String>,
    pub locale: String,
}

/// One released attribute of the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    pub value: String,
    pub source: String,
    pub verified_at: Timestamp,
}

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

/// A payment's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaymentStatus {
    Created,
    Started,
    Submitted,
    Success,
    Failed,
    Cancelled,
    Error,
}

/// A fee for a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    pub case: String,
    pub amount_fen: u64,
    pub description: String,
    pub status: PaymentStatus,
    pub refunded_fen: u64,
}

/// A case's stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Submitted,
    Accepted,
    CorrectionRequested,
    Rejected,
    Handling,
    Approved,
    Denied,
    Delivered,
    Closed,
    Withdrawn,
}

/// A case as its app sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseInfo {
    pub id: String,
    pub item: String,
    pub applicant: String,
    pub channel: Channel,
    pub stage: Stage,
    pub accepting_org: String,
    pub handling_org: String,
    pub submitted_at: Timestamp,
    pub due_at: Option<Timestamp>,
    pub form: String,
}

/// How important a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}
