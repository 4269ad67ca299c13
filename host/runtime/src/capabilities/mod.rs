//! The host capabilities, one module per WIT interface, each of the same shape
//! (after Spin's factors):
//!
//! - a `*Ctx`: the per-call state, built by `prepare` from the app's grant and
//!   the call's environment. It always exists; an ungranted ctx denies every
//!   call with `not-granted`, as a second line behind linking by grant;
//! - a `*View<'a>`: the narrowest state the `Host` impl needs (its ctx and the
//!   host-call budget), and a marker type implementing `HasData` for it;
//! - `link`: adds the interface to a linker;
//! - the `Host` impl, which charges the budget and answers denials as values.
//!
//! The manifest section of each capability lives in `tongban_registry::manifest`
//! and its publish-time validation in `tongban_registry::check`, because the
//! registry must not depend on wasmtime.
//!
//! Adding a capability touches the WIT, the manifest section, one module here,
//! and one line in each of [`link_granted`] and [`CapabilityCtxs::prepare`].

pub mod cases;
pub mod certificates;
pub mod exchange;
pub mod identity;
pub mod kv;
pub mod log;
pub mod notify;
pub mod payments;
pub mod storage;

use std::collections::BTreeSet;

use tongban_registry::{Capability, Manifest};
use wasmtime::component::Linker;

use crate::bindings::types;
use crate::call::{CallEnv, CallState};
use tongban_store::Database;

/// Host services the capabilities draw on, typed; capabilities read no
/// environment variables or files themselves.
#[derive(Clone)]
pub struct HostServices {
    pub db: Database,
}

/// The per-call state of every capability.
pub struct CapabilityCtxs {
    pub identity: identity::IdentityCtx,
    pub certificates: certificates::CertificatesCtx,
    pub payments: payments::PaymentsCtx,
    pub notify: notify::NotifyCtx,
    pub cases: cases::CasesCtx,
    pub storage: storage::StorageCtx,
    pub exchange: exchange::ExchangeCtx,
    pub log: log::LogCtx,
}

impl CapabilityCtxs {
    /// Build every capability's state for one call from the grant.
    pub fn prepare(manifest: &Manifest, env: &CallEnv, services: &HostServices) -> CapabilityCtxs {
        CapabilityCtxs {
            identity: identity::IdentityCtx::prepare(manifest, env),
            certificates: certificates::CertificatesCtx::prepare(manifest, env),
            payments: payments::PaymentsCtx::prepare(manifest, env),
            notify: notify::NotifyCtx::prepare(manifest, env),
            cases: cases::CasesCtx::prepare(manifest, env),
            storage: storage::StorageCtx::prepare(manifest, env, services),
            exchange: exchange::ExchangeCtx::prepare(manifest, env),
            log: log::LogCtx::prepare(manifest, env),
        }
    }
}

/// Link exactly the granted interfaces (and the type-only `types` interface).
pub fn link_granted(linker: &mut Linker<CallState>, granted: &BTreeSet<Capability>) -> wasmtime::Result<()> {
    types::add_to_linker::<CallState, TypesOnly>(linker, |_| TypesOnly)?;
    for capability in granted {
        match capability {
            Capability::Identity => identity::link(linker)?,
            Capability::Certificates => certificates::link(linker)?,
            Capability::Payments => payments::link(linker)?,
            Capability::Notify => notify::link(linker)?,
            Capability::Cases => cases::link(linker)?,
            Capability::Storage => storage::link(linker)?,
            Capability::Exchange => exchange::link(linker)?,
            Capability::Log => log::link(linker)?,
        }
    }
    Ok(())
}

/// `tongban:platform/types` has no functions; it only needs to be present.
pub struct TypesOnly;

impl wasmtime::component::HasData for TypesOnly {
    type Data<'a> = TypesOnly;
}

impl types::Host for TypesOnly {}

/// The answer of a capability that this host does not provide yet.
pub(crate) fn not_yet(interface: &str) -> types::Error {
    types::Error::Unavailable(format!(
        "the {interface} capability is not available on this host yet; it arrives with the shared-capabilities release"
    ))
}

/// The answer to a call the grant does not cover.
pub(crate) fn not_granted(what: impl Into<String>) -> types::Error {
    types::Error::NotGranted(what.into())
}
