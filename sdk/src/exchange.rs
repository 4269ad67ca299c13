//! Data services of other bureaus (`tongban:platform/exchange`).

use crate::{Error, Purpose};

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::exchange as wit;

/// Call an operation of a published data service.
pub fn call(
    service: &str,
    operation: &str,
    request: &[u8],
    why: &Purpose,
    case: Option<&str>,
) -> Result<Vec<u8>, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::call(service, operation, request, &why.into(), case).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.exchange.call(service, operation, request, why, case));
}
