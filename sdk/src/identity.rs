//! Who is being served (`tongban:platform/identity`).

use crate::{Attribute, Error, Purpose, Session};

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::identity as wit;

/// The session of the current hook call.
pub fn current() -> Result<Session, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::current().map(Into::into).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.identity_current());
}

/// Declared attributes, released under the subject's consent for this purpose.
pub fn attributes(names: &[&str], why: &Purpose) -> Result<Vec<Attribute>, Error> {
    #[cfg(target_arch = "wasm32")]
    {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        return wit::attributes(&names, &why.into())
            .map(|v| v.into_iter().map(Into::into).collect())
            .map_err(Into::into);
    }
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.identity_attributes(names, why));
}
