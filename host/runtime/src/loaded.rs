//! A loaded app version: its manifest, its compiled component and one
//! `InstancePre` linked from exactly its grant. Cheap to share; every call
//! instantiates a fresh store from it.

use std::time::Duration;

use tongban_registry::check::import_problems;
use tongban_registry::{ComponentInfo, Manifest, Package};
use wasmtime::component::Linker;

use crate::Runtime;
use crate::bindings::ServiceAppPre;
use crate::cache::LoadPath;
use crate::capabilities::{AppCapabilities, link_granted};
use crate::error::LoadError;
use crate::store_data::CallState;
use crate::wasi::link_sandbox_wasi;

/// How loading went.
#[derive(Debug, Clone, Copy)]
pub struct LoadReport {
    pub path: LoadPath,
    pub duration: Duration,
}

/// One app version, ready to serve calls.
pub struct LoadedApp {
    pub manifest: Manifest,
    /// The form schema of each item, by item code.
    pub forms: std::sync::Arc<std::collections::BTreeMap<String, serde_json::Value>>,
    /// What each capability keeps of this version (notify: its template
    /// texts), built once at load.
    pub(crate) capabilities: AppCapabilities,
    pub digest: String,
    pub(crate) pre: ServiceAppPre<CallState>,
    pub report: LoadReport,
}

impl std::fmt::Debug for LoadedApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedApp")
            .field("app", &self.manifest.app.id)
            .field("version", &self.manifest.app.version.to_string())
            .field("digest", &self.digest)
            .finish()
    }
}

pub(crate) fn load(runtime: &Runtime, package: &Package) -> Result<LoadedApp, LoadError> {
    let manifest = package.manifest().map_err(|e| LoadError::Manifest(e.to_string()))?;
    if manifest.app.kind != tongban_registry::AppKind::ServiceApp {
        return Err(LoadError::Manifest(format!(
            "app `{}` is a {}, which this runtime does not serve yet",
            manifest.app.id,
            manifest.app.kind.world()
        )));
    }
    let info = ComponentInfo::inspect(&package.component).map_err(|e| LoadError::Component(e.to_string()))?;
    let refused: Vec<String> = import_problems(&manifest, &info)
        .into_iter()
        .map(|p| p.message)
        .collect();
    if !refused.is_empty() {
        return Err(LoadError::NotGranted(refused));
    }

    // What compiling would cost is bounded before anything compiles, also
    // for a package that never went through the marketplace (`app run`).
    let (_, too_costly) = tongban_registry::cost::component_cost(&package.component, manifest.limits.memory_mib());
    if !too_costly.is_empty() {
        return Err(LoadError::Component(too_costly.join("; ")));
    }

    let digest = package.component_digest();
    let (component, path, duration) = runtime
        .cache
        .load(
            &runtime.engine,
            &runtime.compiler,
            runtime.settings.fuel,
            &digest,
            &package.component,
        )
        .map_err(LoadError::Compile)?;

    let mut linker = Linker::<CallState>::new(&runtime.engine);
    link_sandbox_wasi(&mut linker).map_err(|e| LoadError::Link(format!("{e:#}")))?;
    link_granted(&mut linker, &manifest.granted()).map_err(|e| LoadError::Link(format!("{e:#}")))?;
    let instance_pre = linker
        .instantiate_pre(&component)
        .map_err(|e| LoadError::Link(format!("{e:#}")))?;
    let pre = ServiceAppPre::new(instance_pre).map_err(|e| LoadError::Link(format!("{e:#}")))?;
    let capabilities = AppCapabilities::load(&manifest, package)?;
    // Publishing checks that every form is in the package; a local test
    // package may leave them out, and then the host checks no schema.
    let mut forms = std::collections::BTreeMap::new();
    for item in &manifest.items {
        let Some(text) = package.file(&item.form) else {
            continue;
        };
        let schema = serde_json::from_slice(text)
            .map_err(|e| LoadError::Manifest(format!("form {} of item {} is not JSON: {e}", item.form, item.code)))?;
        forms.insert(item.code.clone(), schema);
    }
    Ok(LoadedApp {
        forms: std::sync::Arc::new(forms),
        capabilities,
        manifest,
        digest,
        pre,
        report: LoadReport { path, duration },
    })
}
