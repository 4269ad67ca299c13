//! The app's cases (`tongban:platform/cases`).

use crate::{CaseInfo, Error};

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::cases as wit;

/// One case of this app.
pub fn get(id: &str) -> Result<CaseInfo, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::get(id).map(Into::into).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.cases_get(id));
}

/// 接续服务: open a follow-on case, prefilled with a JSON form.
pub fn start_follow_on(from: &str, item: &str, form: &str) -> Result<String, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::start_follow_on(from, item, form).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.cases_start_follow_on(from, item, form));
}
