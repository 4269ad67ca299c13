//! CPU work on untrusted package bytes: unpacking, the checks (component
//! validation and decoding) and compiling. It runs on the blocking pool, at
//! most [`PACKAGE_WORKERS`] jobs at once per process, so a flood of uploads
//! never stalls the async workers that answer every other request. A job
//! that cannot start within [`PACKAGE_WAIT`] is refused as busy (503 with
//! `Retry-After`), not queued forever.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::MarketError;
use crate::package::Package;

/// How many package jobs run at once per process.
pub const PACKAGE_WORKERS: usize = 2;
/// How long a job waits for a worker before it is refused as busy.
pub const PACKAGE_WAIT: Duration = Duration::from_secs(20);
/// The `Retry-After` a busy refusal suggests, in seconds.
pub const PACKAGE_RETRY_AFTER_SECS: u32 = 5;

static WORKERS: Semaphore = Semaphore::const_new(PACKAGE_WORKERS);

/// Run `work` on the blocking pool once a package worker is free.
/// The worker is held by the job itself, so a caller that goes away (a
/// client that disconnects) frees it only when the job is done.
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, MarketError> {
    let permit = tokio::time::timeout(PACKAGE_WAIT, WORKERS.acquire())
        .await
        .map_err(|_| {
            MarketError::Busy(format!(
                "the platform is busy checking other packages; try again in {PACKAGE_RETRY_AFTER_SECS} seconds"
            ))
        })?
        .expect("the package workers are never closed");
    tokio::task::spawn_blocking(move || {
        let _held = permit;
        work()
    })
    .await
    .map_err(|e| MarketError::Internal(format!("a package job failed: {e}")))
}

/// Compiles a component the way the serving nodes will, where a stuck or
/// huge compile hurts no one (the server compiles in a child process under
/// limits on time and memory), and keeps the result, so a rollout only loads
/// what is already compiled. Publishing refuses a version that does not
/// compile; such a version can never be approved. The registry knows nothing
/// about wasmtime: the server supplies the compiler.
pub trait ComponentCompiler: Send + Sync {
    /// Compile the package's component (or find it compiled already). Runs
    /// on the blocking pool; an error says why the component cannot be served.
    fn compile(&self, package: &Package) -> Result<(), String>;
}

/// A shared compiler.
pub type SharedCompiler = Arc<dyn ComponentCompiler>;
