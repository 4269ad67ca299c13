//! `tongban:platform/storage`: app-scoped key-value storage, persisted in the
//! host database and bounded by the manifest's `quota-kib`. Data belongs to the
//! app id, so it survives upgrades to new versions.

use tongban_registry::{Capability, Manifest, Package};
use tongban_store::Database;
use wasmtime::component::Linker;

use super::host_capability::{CallSetup, HostCapability, HostServices, View, ViewOf, not_granted};
use super::kv::{self, StorageWriteError};
use crate::bindings::tongban::platform::storage as wit;
use crate::bindings::types;
use crate::env::CallEnv;
use crate::error::LoadError;
use crate::limits::Lifted;

/// The longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// The most keys one `keys` call returns.
pub const MAX_KEYS_PER_CALL: i64 = 1_000;

/// Per-call state.
#[derive(Debug, Clone)]
pub struct StorageCtx {
    app: String,
    quota_bytes: Option<u64>,
    db: Database,
}

impl StorageCtx {
    pub fn prepare(manifest: &Manifest, _env: &CallEnv, services: &HostServices) -> StorageCtx {
        StorageCtx {
            app: manifest.app.id.clone(),
            quota_bytes: manifest
                .capabilities
                .storage
                .as_ref()
                .map(|s| s.quota_kib as u64 * 1024),
            db: services.db.clone(),
        }
    }

    fn quota(&self) -> Result<u64, types::Error> {
        self.quota_bytes.ok_or_else(|| not_granted("storage"))
    }
}

/// The storage capability, as the registration table links it.
pub struct Storage;

impl HostCapability for Storage {
    const GRANT: Capability = Capability::Storage;
    type App = ();
    type Ctx = StorageCtx;

    fn load(_: &Manifest, _: &Package) -> Result<(), LoadError> {
        Ok(())
    }

    fn prepare(_: &(), call: &CallSetup<'_>) -> StorageCtx {
        StorageCtx::prepare(call.manifest, call.env, call.services)
    }

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> View<'_, StorageCtx>,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, ViewOf<StorageCtx>>(linker, view)
    }
}

fn check_key(key: &str) -> Result<(), types::Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(types::Error::Invalid(format!(
            "storage keys are 1 to {MAX_KEY_BYTES} bytes; this one is {}",
            key.len()
        )));
    }
    Ok(())
}

fn unavailable(e: sqlx::Error) -> types::Error {
    tracing::error!(error = %e, "app storage failed");
    types::Error::Unavailable("app storage is temporarily unavailable".into())
}

impl wit::Host for View<'_, StorageCtx> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, types::Error>> {
        self.budget.charge(key.lifted_bytes())?;
        let result = async {
            self.ctx.quota()?;
            check_key(&key)?;
            kv::get(&self.ctx.db, &self.ctx.app, &key).await.map_err(unavailable)
        };
        Ok(result.await)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), types::Error>> {
        self.budget.charge(key.lifted_bytes() + value.lifted_bytes())?;
        let result = async {
            let quota = self.ctx.quota()?;
            check_key(&key)?;
            match kv::set(&self.ctx.db, &self.ctx.app, &key, &value, quota).await {
                Ok(()) => Ok(()),
                Err(StorageWriteError::QuotaExceeded { quota_bytes }) => Err(types::Error::QuotaExceeded(format!(
                    "storage quota of {} KiB would be exceeded",
                    quota_bytes / 1024
                ))),
                Err(StorageWriteError::Database(e)) => Err(unavailable(e)),
            }
        };
        Ok(result.await)
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), types::Error>> {
        self.budget.charge(key.lifted_bytes())?;
        let result = async {
            self.ctx.quota()?;
            check_key(&key)?;
            kv::delete(&self.ctx.db, &self.ctx.app, &key).await.map_err(unavailable)
        };
        Ok(result.await)
    }

    async fn keys(&mut self, prefix: String) -> wasmtime::Result<Result<Vec<String>, types::Error>> {
        self.budget.charge(prefix.lifted_bytes())?;
        let result = async {
            self.ctx.quota()?;
            if prefix.len() > MAX_KEY_BYTES {
                return Err(types::Error::Invalid(format!(
                    "a key prefix is at most {MAX_KEY_BYTES} bytes"
                )));
            }
            kv::keys(&self.ctx.db, &self.ctx.app, &prefix, MAX_KEYS_PER_CALL)
                .await
                .map_err(unavailable)
        };
        Ok(result.await)
    }
}
