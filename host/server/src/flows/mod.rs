//! The application layer: the flows a person or a worker starts, between
//! the engines (marketplace, runtime, services) and the two front doors (the
//! JSON API in `api/` and the pages in `web/`). A flow knows neither HTTP
//! nor HTML: it takes who acts and what they asked for, does the work, and
//! answers with a domain value or a [`FlowError`]. The API maps a
//! `FlowError` to a status in `api/error.rs`, the pages in `web/error.rs`.
//!
//! - [`access`]: who may act in which role; the one set of role guards the
//!   API and the pages share.
//! - [`calls`]: the one way a hook call's environment is built, and the
//!   version that serves a subject.
//! - [`apply`]: applying (online or at a window) and resubmitting after a
//!   correction request (补正).
//! - [`consent`]: what an app asks consent for, and the citizen's decision.
//! - [`steps`]: the steps staff take on a case.
//! - [`rating`]: the applicant's rating (好差评) and the org's remediation.
//! - [`marketplace`]: publishing, review decisions and release actions, with
//!   what each does on this node afterwards.
//!
//! Invariant: nothing here imports `axum`, `maud`, `crate::api` or
//! `crate::web` (`tests/layering.rs`).

pub mod access;
pub mod apply;
pub mod calls;
pub mod consent;
pub mod error;
pub mod marketplace;
pub mod rating;
pub mod steps;

pub use error::FlowError;
