//! The app's own log (`tongban:platform/log`), granted to every app.

use crate::Level;

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::log as wit;

/// Append one line to the app log.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    wit::log(level.into(), message);
    #[cfg(not(target_arch = "wasm32"))]
    crate::testkit::with_host(|h| h.log(level, message));
}

pub fn debug(message: &str) {
    log(Level::Debug, message)
}

pub fn info(message: &str) {
    log(Level::Info, message)
}

pub fn warn(message: &str) {
    log(Level::Warn, message)
}

pub fn error(message: &str) {
    log(Level::Error, message)
}
