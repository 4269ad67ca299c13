//! The log half of the test host: every line the app logged, kept for the
//! test's assertions. Logging is granted to every app.

use crate::Level;

/// A line the app logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    pub message: String,
}

#[derive(Default)]
pub(crate) struct TestLog {
    pub(crate) lines: Vec<LogLine>,
}

impl TestLog {
    pub(crate) fn log(&mut self, level: Level, message: &str) {
        self.lines.push(LogLine {
            level,
            message: message.into(),
        });
    }
}
