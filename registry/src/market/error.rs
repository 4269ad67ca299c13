//! The marketplace's one error type. Each variant has a stable `code` that the
//! HTTP envelope and the CLI show; messages name the thing at fault. Use:
//!
//! - [`MarketError::Invalid`] for malformed input (a bad code, a bad manifest);
//! - [`MarketError::NotFound`] for a missing org, app, version or key;
//! - [`MarketError::Forbidden`] when the actor's role or org does not allow it;
//! - [`MarketError::Conflict`] for a state clash (a reused version, a duplicate);
//! - [`MarketError::Transition`] for a move the release state machine forbids;
//! - [`MarketError::Checks`] when a package fails the automated checks;
//! - [`MarketError::Signature`] for an unsigned or wrongly signed package;
//! - [`MarketError::Busy`] when the platform cannot take the work now (a fast
//!   refusal with a retry hint, never a wait without end);
//! - [`MarketError::Internal`] for storage failures, never detailed to clients.

use crate::check::Problem;
use crate::release::IllegalTransition;
use crate::signing::SignatureError;

#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Transition(#[from] IllegalTransition),
    #[error("the package fails {} check(s): {}", .0.len(), .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    Checks(Vec<Problem>),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("the blob store holds a corrupt copy: {0}")]
    Tampered(String),
    #[error("{0}")]
    Busy(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl MarketError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            MarketError::Invalid(_) => "invalid_input",
            MarketError::NotFound(_) => "not_found",
            MarketError::Forbidden(_) => "forbidden",
            MarketError::Conflict(_) => "conflict",
            MarketError::Transition(_) => "illegal_transition",
            MarketError::Checks(_) => "checks_failed",
            MarketError::Signature(_) => "signature_invalid",
            MarketError::Tampered(_) => "blob_tampered",
            MarketError::Busy(_) => "unavailable",
            MarketError::Internal(_) => "internal",
        }
    }

    pub fn invalid(message: impl Into<String>) -> MarketError {
        MarketError::Invalid(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> MarketError {
        MarketError::NotFound(message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> MarketError {
        MarketError::Forbidden(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> MarketError {
        MarketError::Conflict(message.into())
    }
}

impl From<sqlx::Error> for MarketError {
    fn from(e: sqlx::Error) -> MarketError {
        tracing::error!(error = %e, "marketplace storage failed");
        MarketError::Internal("storage failed".into())
    }
}

impl From<tongban_store::StoreError> for MarketError {
    fn from(e: tongban_store::StoreError) -> MarketError {
        match e {
            tongban_store::StoreError::CorruptBlob { .. } => MarketError::Tampered(e.to_string()),
            other => {
                tracing::error!(error = %other, "marketplace storage failed");
                MarketError::Internal("storage failed".into())
            }
        }
    }
}
