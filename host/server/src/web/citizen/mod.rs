//! The citizen's pages, one module per area:
//!
//! - [`services`]: the services that serve me in my region, one service
//!   with its consent and its form (naming the version that serves me), and
//!   applying;
//! - [`cases`]: my cases with their timeline and fees, and the correction
//!   form while the accepting org asks for one (补正);
//! - [`rating`]: the rating of a finished case (好差评);
//! - [`wallet`]: my certificates, with a signed copy to download;
//! - [`consents`]: my consents, revocable;
//! - [`inbox`]: my messages.
//!
//! Every handler takes the [`Citizen`](super::session::Citizen) extractor,
//! so other roles are refused before it runs.

pub mod cases;
pub mod consents;
pub mod inbox;
pub mod rating;
pub mod services;
pub mod wallet;

use std::collections::BTreeMap;

use super::form;
use super::layout::Problem;

fn when(ms: i64) -> String {
    super::layout::local_time(ms)
}

/// A form's problems by field path, for the error summary: each links to
/// its field (the empty path, a problem of the whole form, to the form).
fn field_problems(errors: &BTreeMap<String, String>) -> Vec<Problem> {
    errors
        .iter()
        .map(|(field, message)| Problem {
            field_id: form::field_id(field),
            message: if field.is_empty() {
                message.clone()
            } else {
                format!("{field}: {message}")
            },
        })
        .collect()
}
