//! Template-only messages (`tongban:platform/notify`).

use crate::Error;

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::notify as wit;

/// Send a declared template to a subject; returns the message id.
pub fn send(to: &str, template: &str, params: &[(String, String)], case: Option<&str>) -> Result<String, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::send(to, template, params, case).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.notify.send(to, template, params, case));
}
