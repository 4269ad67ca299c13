//! The sandboxed component runtime.
//!
//! [`Runtime`] owns the one wasmtime engine (pooling allocator, epoch
//! interruption, optional fuel), the compiled-artifact cache and the host
//! services the capabilities use. [`Runtime::load`] turns a package into a
//! [`LoadedApp`] (one `InstancePre`, linked from the manifest's grant), and
//! [`Runtime::call`] runs one hook in a fresh store under the app's limits.
//!
//! Architecture invariant: this crate knows nothing about HTTP or JSON APIs.

pub mod bindings;
pub mod cache;
pub mod call;
pub mod capabilities;
pub mod compile;
pub mod engine;
pub mod env;
pub mod error;
pub mod guest_clock;
pub mod limits;
pub mod loaded;
pub mod slots;
pub mod store_data;
pub mod wasi;

use std::path::PathBuf;

pub use cache::LoadPath;
pub use call::{AppError, CallOutcome, CallReport, CaseEvent, FieldError, Hook, HookResult, Outcome};
pub use engine::EngineSettings;
pub use env::{Assurance, CallEnv, Channel, Session, SubjectKind};
pub use error::{CallError, LimitKind, LoadError};
pub use loaded::LoadedApp;
pub use tongban_store::Database;

use capabilities::HostServices;
use tongban_registry::Package;
use wasmtime::Engine;

/// Settings of a runtime.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    pub engine: EngineSettings,
    /// Where compiled artifacts are cached.
    pub cache_dir: PathBuf,
    /// How components are compiled: the server and the CLI compile in a
    /// child process under limits; tests of the project's own fixtures may
    /// compile in process.
    pub compiler: compile::Compiler,
}

impl RuntimeSettings {
    /// Settings that keep everything under one data directory, compiling in
    /// this process.
    pub fn in_data_dir(dir: &std::path::Path) -> RuntimeSettings {
        RuntimeSettings {
            engine: EngineSettings::default(),
            cache_dir: dir.join("compiled"),
            compiler: compile::Compiler::InProcess,
        }
    }
}

/// The runtime: one engine, one cache, the host services.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) cache: cache::ArtifactCache,
    pub(crate) services: HostServices,
    pub(crate) settings: EngineSettings,
    pub(crate) compiler: compile::Compiler,
    pub(crate) slots: slots::InstanceSlots,
    _ticker: engine::EpochTicker,
}

impl Runtime {
    /// Start a runtime.
    pub fn new(settings: RuntimeSettings, db: Database) -> anyhow::Result<Runtime> {
        let engine = engine::build_engine(&settings.engine).map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let cache = cache::ArtifactCache::open(&settings.cache_dir, &engine)?;
        let ticker = engine::EpochTicker::start(&engine);
        let slots = slots::InstanceSlots::new(
            settings.engine.max_concurrent_instances,
            settings.engine.max_instances_per_app,
        );
        Ok(Runtime {
            engine,
            cache,
            slots,
            services: HostServices {
                services: tongban_services::Services::new(db.clone()),
                db,
            },
            settings: settings.engine,
            compiler: settings.compiler,
            _ticker: ticker,
        })
    }

    /// Start a runtime whose capabilities use these shared services (the
    /// server's configured ones, with its calendar and SMTP settings).
    pub fn with_services(settings: RuntimeSettings, services: tongban_services::Services) -> anyhow::Result<Runtime> {
        let mut runtime = Runtime::new(settings, services.db().clone())?;
        runtime.services.services = services;
        Ok(runtime)
    }

    /// The shared services the capabilities use.
    pub fn services(&self) -> &tongban_services::Services {
        &self.services.services
    }

    /// Load a package: check its imports against its grant, compile it (or
    /// load it from the cache) and link it.
    pub fn load(&self, package: &Package) -> Result<LoadedApp, LoadError> {
        loaded::load(self, package)
    }

    /// Run one hook of a loaded app.
    pub async fn call(&self, app: &LoadedApp, env: &CallEnv, hook: Hook) -> CallOutcome {
        call::call(self, app, env, hook).await
    }

    /// The engine, for benchmarks that compare against a bare wasmtime call.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Drop a component's compiled artifact from the cache (for measuring a
    /// cold load).
    pub fn forget_compiled(&self, digest: &str) {
        let _ = std::fs::remove_file(self.cache.path_of(digest));
    }
}
