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
