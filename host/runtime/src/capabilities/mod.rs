//! The host capabilities, one module per WIT interface, each of the same shape
//! (after Spin's factors): a type implementing [`HostCapability`], with
//!
//! - its per-app state (`App`), built once at load from the manifest and the
//!   package;
//! - its per-call state (`Ctx`), built by `prepare` from the grant and the
//!   call's environment. It always exists; an ungranted ctx denies every
//!   call with `not-granted`, as a second line behind linking by grant;
//! - `link`, generic over the store data: the `Host` impl runs on a
//!   [`View`] of its ctx and the host-call budget, which a projection
//!   function picks out of the store data;
//! - the `Host` impl, which charges the budget and answers denials as values.
//!
//! The registry half of each capability (its manifest section and its checks
//! at publish) is `tongban_registry::capability`'s module of the same name,
//! because the registry must not depend on wasmtime.
//!
//! `registered!` below is the one place where the capabilities are
//! registered: one line each. It generates the per-app state of every
//! capability ([`AppCapabilities`]), the per-call state ([`CapabilityCtxs`])
//! and [`link_granted`]. Adding a capability touches the WIT, its registry
//! module, one module here, one line in `registered!`, and its tests.

pub mod cases;
pub mod certificates;
pub mod exchange;
pub mod host_capability;
pub mod identity;
pub mod kv;
pub mod log;
pub mod notify;
pub mod payments;
pub mod storage;

use std::collections::BTreeSet;

use tongban_registry::{Capability, Manifest, Package};
use wasmtime::component::Linker;

use crate::bindings::types;
use crate::error::LoadError;
use crate::limits::HostCallBudget;

pub use host_capability::{CallScope, CallSetup, HostCapability, HostServices, View, ViewOf};

/// Store data that holds every capability's per-call state and the call's
/// host-call budget. The runtime's store data implements it; the
/// capabilities are linked through it and never see the rest of the store.
pub trait CapabilityData: Send + 'static {
    /// The per-call state of every capability, and the host-call budget
    /// every capability function charges first.
    fn capabilities(&mut self) -> (&mut CapabilityCtxs, &mut HostCallBudget);
}

/// Generates, from one line per capability (`field: Type`), the per-app and
/// per-call state of every capability and [`link_granted`].
macro_rules! registered {
    ($($field:ident: $capability:ty,)*) => {
        /// What every capability keeps of one loaded app version.
        pub struct AppCapabilities {
            $(pub $field: <$capability as HostCapability>::App,)*
        }

        impl AppCapabilities {
            /// Build every capability's per-app state; the first refusal
            /// refuses the load.
            pub fn load(manifest: &Manifest, package: &Package) -> Result<AppCapabilities, LoadError> {
                Ok(AppCapabilities {
                    $($field: <$capability as HostCapability>::load(manifest, package)?,)*
                })
            }
        }

        /// The per-call state of every capability.
        pub struct CapabilityCtxs {
            $(pub $field: <$capability as HostCapability>::Ctx,)*
        }

        impl CapabilityCtxs {
            /// Build every capability's state for one call from the grant.
            pub fn prepare(app: &AppCapabilities, call: &CallSetup<'_>) -> CapabilityCtxs {
                CapabilityCtxs {
                    $($field: <$capability as HostCapability>::prepare(&app.$field, call),)*
                }
            }
        }

        /// Link exactly the granted interfaces (and the type-only `types`
        /// interface).
        pub fn link_granted<T: CapabilityData>(
            linker: &mut Linker<T>,
            granted: &BTreeSet<Capability>,
        ) -> wasmtime::Result<()> {
            types::add_to_linker::<T, TypesOnly>(linker, |_| TypesOnly)?;
            $(
                if granted.contains(&<$capability as HostCapability>::GRANT) {
                    <$capability as HostCapability>::link(linker, |s| {
                        let (ctxs, budget) = s.capabilities();
                        View { ctx: &mut ctxs.$field, budget }
                    })?;
                }
            )*
            Ok(())
        }
    };
}

registered! {
    identity: identity::Identity,
    certificates: certificates::Certificates,
    payments: payments::Payments,
    notify: notify::Notify,
    cases: cases::Cases,
    storage: storage::Storage,
    exchange: exchange::Exchange,
    log: log::Log,
}

/// `tongban:platform/types` has no functions; it only needs to be present.
pub struct TypesOnly;

impl wasmtime::component::HasData for TypesOnly {
    type Data<'a> = TypesOnly;
}

impl types::Host for TypesOnly {}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every personal-data read goes through [`super::CallScope::consent_for`]:
    /// no capability module asks the consent store itself, so none can skip
    /// the purpose check. A capability that reads personal data must record
    /// provenance, and one that records a release must have asked
    /// `consent_for` first.
    #[test]
    fn personal_data_reads_go_through_one_purpose_check() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/capabilities");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name == "mod.rs" || name == "host_capability.rs" || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            assert!(
                !code.contains("covering_consent") && !code.contains("consents_of") && !code.contains(".consent("),
                "{name} asks the consent store directly; use CallScope::consent_for, which checks the purpose"
            );
            if code.contains("\"released\"") {
                assert!(
                    code.contains("consent_for("),
                    "{name} releases personal data without CallScope::consent_for"
                );
            }
            checked += 1;
        }
        assert!(checked >= 8, "read only {checked} capability modules");
    }
}
