//! App-scoped key-value storage (`tongban:platform/storage`). Needs
//! `storage = { quota-kib = N }` in the manifest.

use crate::Error;

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::storage as wit;

/// The value under a key, if any.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::get(key).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.storage.get(key));
}

/// Store a value; past the quota this is `quota-exceeded` and changes nothing.
pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::set(key, value).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.storage.set(key, value));
}

/// Remove a key.
pub fn delete(key: &str) -> Result<(), Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::delete(key).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.storage.delete(key));
}

/// The keys with a prefix, in byte order.
pub fn keys(prefix: &str) -> Result<Vec<String>, Error> {
    #[cfg(target_arch = "wasm32")]
    return wit::keys(prefix).map_err(Into::into);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testkit::with_host(|h| h.storage.keys(prefix));
}

/// Read a JSON value stored with [`set_json`].
pub fn get_json<T: serde::de::DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    match get(key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Invalid(format!("stored value under `{key}` is not the expected JSON: {e}"))),
    }
}

/// Store a value as JSON.
pub fn set_json<T: serde::Serialize>(key: &str, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::Invalid(e.to_string()))?;
    set(key, &bytes)
}
