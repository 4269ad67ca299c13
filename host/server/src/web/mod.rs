//! The web pages: server-rendered HTML (maud), Chinese first with English
//! selectable (`?lang=en`, kept in a cookie), working without JavaScript.
//! Every page is in [`router`]; each handler is thin like the API's (extract,
//! authorize, act, respond) and calls the same services.
//!
//! - [`session`]: the signed-in user from the session cookie, and the CSRF
//!   check every form post goes through.
//! - [`layout`]: the page shell (`lang`, skip link, navigation by role, error
//!   summary) and the language.
//! - [`login`]: sign in (argon2, rate-limited) and out.
//! - [`citizen`]: services of my region, consent, apply (a form rendered from
//!   the item's JSON Schema, prefilled under consent), my cases (with the
//!   correction form and the rating), wallet, consents, inbox.
//! - [`staff`]: the intake and handling queues of a clerk's or handler's org.
//! - [`counter`]: a window clerk's intake for a citizen at the counter (代办).
//! - [`operations`]: the region admin's releases (pilot, rollout, halt,
//!   rollback, yank) and the security officer's kill switch (revoke).
//! - [`audit`]: the auditor's audit log, provenance records and verification.
//! - [`market`]: the publisher's uploads and versions, the reviewer's queue and decisions.

// Page helpers return an early `Response` (a redirect, a refusal) as their
// error, the way axum rejections work; boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod audit;
pub mod citizen;
pub mod counter;
pub mod form;
pub mod layout;
pub mod login;
pub mod market;
pub mod operations;
pub mod session;
pub mod staff;

use axum::Router;
use axum::routing::{get, post};

use crate::api::AppState;

/// Every page.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(citizen::home))
        .route("/login", get(login::page_handler).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/services/{app}", get(citizen::service))
        .route("/services/{app}/consent", post(citizen::consent))
        .route("/services/{app}/apply", post(citizen::apply))
        .route("/my/cases", get(citizen::cases))
        .route("/my/cases/{id}", get(citizen::case))
        .route("/my/cases/{id}/correction", post(citizen::correct))
        .route("/my/cases/{id}/rating", post(citizen::rate))
        .route("/my/wallet", get(citizen::wallet))
        .route("/my/wallet/{id}/copy", get(citizen::copy))
        .route("/my/consents", get(citizen::consents))
        .route("/my/consents/{id}/revoke", post(citizen::revoke))
        .route("/my/inbox", get(citizen::inbox))
        .route("/work", get(staff::queues))
        .route("/work/cases/{id}", get(staff::case).post(staff::step))
        .route("/work/remediation/{id}", post(staff::resolve))
        .route("/work/counter", get(counter::start).post(counter::choose))
        .route("/work/counter/{app}", post(counter::submit))
        .route("/region", get(operations::region))
        .route("/region/{app}/{version}", post(operations::release))
        .route("/security", get(operations::security))
        .route("/security/{app}/{version}/revoke", post(operations::revoke))
        .route("/audit", get(audit::audit))
        .route("/audit/verify", post(audit::verify))
        .route("/publish", get(market::publisher_home).post(market::publish))
        .route("/publish/{app}/{version}/withdraw", post(market::withdraw))
        .route("/reviews", get(market::queue))
        .route("/reviews/{app}/{version}", get(market::submission).post(market::decide))
}
