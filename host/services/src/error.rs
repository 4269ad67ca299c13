//! The one error type of the shared services. Each variant corresponds to a
//! WIT `error` case (the runtime maps them one to one) or to an HTTP status
//! (the server maps them), so a denial reaches an app or a person as a value
//! that names the problem.

/// Why a service refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The app's approved manifest does not grant this; names what was asked.
    #[error("not granted: {0}")]
    NotGranted(String),
    /// No live consent covers the read; names the missing scope or condition.
    #[error("consent required: {0}")]
    ConsentRequired(String),
    /// The person acting may not do this (wrong role or wrong org).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Nothing by that id is visible to the caller.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is malformed; says which part and why.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The request contradicts the current state (illegal transition, reused
    /// idempotency key with another body, refund over what remains).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A bound would be exceeded; names it.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// A dependency (database, SMTP) failed; the call may be retried.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl ServiceError {
    pub fn invalid(message: impl Into<String>) -> ServiceError {
        ServiceError::Invalid(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> ServiceError {
        ServiceError::NotFound(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> ServiceError {
        ServiceError::Conflict(message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> ServiceError {
        ServiceError::Forbidden(message.into())
    }

    /// The stable, machine-readable code of the error, as the API reports it.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::NotGranted(_) => "not_granted",
            ServiceError::ConsentRequired(_) => "consent_required",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Invalid(_) => "invalid",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::QuotaExceeded(_) => "quota_exceeded",
            ServiceError::Unavailable(_) => "unavailable",
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> ServiceError {
        tracing::error!(error = %e, "service database call failed");
        ServiceError::Unavailable("the platform database is temporarily unavailable".into())
    }
}

impl From<crate::consent::ConsentError> for ServiceError {
    fn from(e: crate::consent::ConsentError) -> ServiceError {
        use crate::consent::ConsentError;
        match e {
            ConsentError::Required(why) => ServiceError::ConsentRequired(why),
            ConsentError::Transition { .. } => ServiceError::Conflict(e.to_string()),
            ConsentError::Incomplete | ConsentError::Duration(_) => ServiceError::Invalid(e.to_string()),
        }
    }
}

/// A result of a service call.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// What is wrong with one input a person typed or chose, typed, so that a
/// page can name the field without reading the message. The services' own
/// checks produce these and turn them into the [`ServiceError`] they answer
/// with ([`InputProblem::into_error`]), so a flow that checks a field first
/// refuses with exactly what the service would have said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    /// The input's name as the forms and the API call it (`reason`,
    /// `to_org`, `level`, `comment`, `note`).
    pub field: &'static str,
    pub kind: InputProblemKind,
    /// The service's own words, naming the field and the bound.
    pub message: String,
}

/// The kinds of [`InputProblem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputProblemKind {
    /// Nothing was given where something is required.
    Missing,
    /// Longer than its bound.
    TooLong,
    /// Not one of the values allowed here.
    NotAllowed,
    /// It names something that is not registered.
    Unknown,
}

impl InputProblem {
    pub fn new(field: &'static str, kind: InputProblemKind, message: impl Into<String>) -> InputProblem {
        InputProblem {
            field,
            kind,
            message: message.into(),
        }
    }

    /// The refusal the service answers with: an unknown reference is not
    /// found, anything else is invalid.
    pub fn into_error(self) -> ServiceError {
        match self.kind {
            InputProblemKind::Unknown => ServiceError::NotFound(self.message),
            _ => ServiceError::Invalid(self.message),
        }
    }
}

impl std::fmt::Display for InputProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<InputProblem> for ServiceError {
    fn from(p: InputProblem) -> ServiceError {
        p.into_error()
    }
}
