//! The one error of the flows. Each variant says what went wrong in the
//! domain's terms; `api/error.rs` maps it to a status and the JSON envelope,
//! `web/error.rs` to a status and a page.

use tongban_registry::market::MarketError;
use tongban_runtime::{CallError, FieldError};
use tongban_services::{InputProblem, ServiceError};

/// Why a flow did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// A form's problems, each against its field (the item's JSON Schema or
    /// the app's `validate`).
    #[error("the form has {} problem(s)", .0.len())]
    Form(Vec<FieldError>),
    /// One input a person typed or chose is wrong; names the field.
    #[error("{}", .0.message)]
    Input(InputProblem),
    /// The request is missing something or malformed (not a field of a form).
    #[error("{0}")]
    BadRequest(String),
    /// The person may not do this in their role.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing by that name serves or exists for this person.
    #[error("{0}")]
    NotFound(String),
    /// The app refused the submission with its own error.
    #[error("{app} 拒绝了申请 / refused the application: {kind}: {detail}")]
    AppRefused { app: String, kind: String, detail: String },
    /// The app answered something the contract does not allow.
    #[error("the app failed: {0}")]
    AppFailed(String),
    /// A hook call failed: the app at its share of the instance slots (the
    /// call never ran), or the app's own failure.
    #[error(transparent)]
    Call(CallError),
    /// Admission control refused the application at once: as many run
    /// already, of this app or on the node, as are allowed.
    #[error(transparent)]
    Overloaded(crate::admission::Refused),
    #[error(transparent)]
    Service(ServiceError),
    #[error(transparent)]
    Market(MarketError),
}

impl From<crate::admission::Refused> for FlowError {
    fn from(e: crate::admission::Refused) -> FlowError {
        FlowError::Overloaded(e)
    }
}

impl From<ServiceError> for FlowError {
    fn from(e: ServiceError) -> FlowError {
        FlowError::Service(e)
    }
}

impl From<MarketError> for FlowError {
    fn from(e: MarketError) -> FlowError {
        FlowError::Market(e)
    }
}

impl From<InputProblem> for FlowError {
    fn from(p: InputProblem) -> FlowError {
        FlowError::Input(p)
    }
}

/// A result of a flow.
pub type FlowResult<T> = Result<T, FlowError>;
