//! `tongban:platform/log`: the app's own log, granted to every app. Lines are
//! kept with the call's report and written to the host log with the app and
//! version. Bounded per line and per call; past the bound lines are dropped
//! and counted, because a chatty app should not lose its answer.

use tongban_registry::{Capability, Manifest, Package};
use wasmtime::component::Linker;

use super::host_capability::{CallSetup, HostCapability, View, ViewOf};
use crate::bindings::tongban::platform::log::{self as wit, Level};
use crate::env::CallEnv;
use crate::error::LoadError;
use crate::limits::Lifted;

/// The longest log line kept, in bytes; longer lines are cut.
pub const MAX_LINE_BYTES: usize = 4 * 1024;
/// The most log bytes kept per hook call.
pub const MAX_LOG_BYTES_PER_CALL: usize = 64 * 1024;

/// One line the app logged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    pub level: &'static str,
    pub message: String,
}

/// Per-call state.
#[derive(Debug, Default)]
pub struct LogCtx {
    app: String,
    pub lines: Vec<LogLine>,
    bytes: usize,
    pub dropped: usize,
}

impl LogCtx {
    pub fn prepare(manifest: &Manifest, _env: &CallEnv) -> LogCtx {
        LogCtx {
            app: format!("{}@{}", manifest.app.id, manifest.app.version),
            ..LogCtx::default()
        }
    }

    fn push(&mut self, level: Level, mut message: String) {
        if message.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(" …[cut]");
        }
        if self.bytes + message.len() > MAX_LOG_BYTES_PER_CALL {
            self.dropped += 1;
            return;
        }
        self.bytes += message.len();
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        tracing::info!(target: "tongban::app", app = %self.app, level, "{message}");
        self.lines.push(LogLine { level, message });
    }
}

/// The log capability, as the registration table links it.
pub struct Log;

impl HostCapability for Log {
    const GRANT: Capability = Capability::Log;
    type App = ();
    type Ctx = LogCtx;

    fn load(_: &Manifest, _: &Package) -> Result<(), LoadError> {
        Ok(())
    }

    fn prepare(_: &(), call: &CallSetup<'_>) -> LogCtx {
        LogCtx::prepare(call.manifest, call.env)
    }

    fn link<T: Send + 'static>(linker: &mut Linker<T>, view: fn(&mut T) -> View<'_, LogCtx>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, ViewOf<LogCtx>>(linker, view)
    }
}

impl wit::Host for View<'_, LogCtx> {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.budget.charge(message.lifted_bytes())?;
        self.ctx.push(level, message);
        Ok(())
    }
}
