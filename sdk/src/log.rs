//! The app's own log (`tongban:platform/log`), granted to every app.

use serde::{Deserialize, Serialize};

#[cfg(target_arch = "wasm32")]
use crate::guest::bindings::tongban::platform::log as wit;

/// How important a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Append one line to the app log.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    wit::log(level.into(), message);
    #[cfg(not(target_arch = "wasm32"))]
    crate::testkit::with_host(|h| h.log.log(level, message));
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

// On wasm, the generated bindings' values convert to and from the types above.

#[cfg(target_arch = "wasm32")]
impl From<Level> for wit::Level {
    fn from(l: Level) -> wit::Level {
        match l {
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
            Level::Error => wit::Level::Error,
        }
    }
}
