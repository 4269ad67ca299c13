//! The web pages: server-rendered HTML (maud), Chinese first with English
//! selectable (`?lang=en`, kept in a cookie), working without JavaScript.
//! Every page is in [`router`]; each handler is thin like the API's (extract,
//! authorize, act, respond) and calls the same services.
//!
//! - [`session`]: the signed-in user from the session cookie, and the CSRF
//!   check every form post goes through.
//! - [`design`]: the design system, the components every page is built
//!   from, and the one stylesheet.
//! - [`layout`]: the page shell (`lang`, skip link, navigation by role, error
//!   summary); [`lang`]: the language and cookies.
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
//! - [`pay`]: the sandbox bank's hosted pay page.
//! - [`error`]: the pages' one mapping of a refusal to a status.
//! - [`verification`]: public pages for whoever is shown a certificate: its
//!   status (where its QR code points) and the check of a sealed copy.
//! - [`vocabulary`]: every state's label in each language.

// Page helpers return an early `Response` (a redirect, a refusal) as their
// error, the way axum rejections work; boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod audit;
pub mod citizen;
pub mod counter;
pub mod design;
pub mod error;
pub mod form;
pub mod lang;
pub mod layout;
pub mod login;
pub mod market;
pub mod operations;
pub mod pay;
pub mod session;
pub mod staff;
pub mod verification;
pub mod vocabulary;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::state::AppState;

/// Every page.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(citizen::services::home))
        .route("/assets/{file}", get(design::stylesheet::serve))
        .route("/login", get(login::page_handler).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/services/{app}", get(citizen::services::service))
        .route("/services/{app}/consent", post(citizen::services::consent))
        .route("/services/{app}/apply", post(citizen::services::apply))
        .route("/my/cases", get(citizen::cases::cases))
        .route("/my/cases/{id}", get(citizen::cases::case))
        .route("/my/cases/{id}/correction", post(citizen::cases::correct))
        .route("/my/cases/{id}/rating", post(citizen::rating::rate))
        .route("/my/wallet", get(citizen::wallet::wallet))
        .route("/my/wallet/{id}", get(citizen::wallet::certificate))
        .route("/my/wallet/{id}/copy", get(citizen::wallet::copy))
        .route("/check/{id}", get(verification::status))
        .route(
            "/verify",
            get(verification::verify_form)
                .post(verification::verify)
                .layer(DefaultBodyLimit::max(verification::SEALED_COPY_LIMIT)),
        )
        .route("/my/consents", get(citizen::consents::consents))
        .route("/my/consents/{id}/revoke", post(citizen::consents::revoke))
        .route("/my/inbox", get(citizen::inbox::inbox))
        .route("/pay/{id}", get(pay::show).post(pay::decide))
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
        .route(
            "/publish",
            get(market::publisher::publisher_home).post(market::publisher::publish),
        )
        .route("/publish/{app}/{version}/withdraw", post(market::publisher::withdraw))
        .route("/reviews", get(market::reviews::queue))
        .route(
            "/reviews/{app}/{version}",
            get(market::reviews::submission).post(market::reviews::decide),
        )
}
