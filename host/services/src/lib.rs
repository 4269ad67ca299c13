//! The platform's shared services, the domain logic behind the capabilities
//! apps import and the pages people use. Nothing here knows wasmtime or HTTP:
//! the runtime's capabilities and the server's routes both call in here, and
//! every refusal is a [`ServiceError`] that names the problem.
//!
//! - [`keys`]: the platform secrets every node shares.
//! - [`identity`] and [`subjects`]: pairwise handles, masked ID numbers, and
//!   the subjects (people and legal persons) with their attributes.
//! - [`consent`] and [`consents`]: the consent artefact, its state machine and
//!   its store.
//! - [`certificates`]: e-certificate (电子证照) identifiers in the GB/T 36904
//!   style, the SM2-over-SM3 seal, and the certificate store.
//! - [`provenance`]: one record per personal-data access, chained into the
//!   audit log.
//! - [`cases`]: the case state machine with roles, working-day due dates and
//!   the transactional outbox.
//! - [`payments`]: fees with a provider trait, the sandbox bank, signed
//!   callbacks applied once, refunds and reconciliation.
//! - [`notifications`]: template-only messages to an inbox and by SMTP.
//! - [`ratings`]: evaluation (好差评) of finished cases by their applicants,
//!   and the remediation items bad ratings open for the accepting org.

pub mod cases;
pub mod certificates;
pub mod consent;
pub mod consents;
pub mod demo;
pub mod error;
pub mod identity;
pub mod keys;
pub mod notifications;
pub mod payments;
pub mod provenance;
pub mod ratings;
pub mod subjects;

use std::sync::Arc;

pub use error::{ServiceError, ServiceResult};
pub use tongban_store::{Database, now_ms};

use cases::calendar::WorkCalendar;
use keys::PlatformKeys;
use notifications::SmtpSettings;
use tokio::sync::OnceCell;

/// How the services are configured; the defaults suit the embedded platform.
#[derive(Debug, Clone, Default)]
pub struct ServicesConfig {
    /// The working-day calendar for due dates.
    pub calendar: WorkCalendar,
    /// Where email goes; none keeps messages in the in-app inbox only.
    pub smtp: Option<SmtpSettings>,
}

/// A cheap, shareable handle on every shared service.
#[derive(Clone)]
pub struct Services {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    keys: OnceCell<PlatformKeys>,
    config: ServicesConfig,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

impl Services {
    /// Services over a database, with the default configuration.
    pub fn new(db: Database) -> Services {
        Services::with_config(db, ServicesConfig::default())
    }

    /// Services over a database.
    pub fn with_config(db: Database, config: ServicesConfig) -> Services {
        Services {
            inner: Arc::new(Inner {
                db,
                keys: OnceCell::new(),
                config,
            }),
        }
    }

    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    pub fn config(&self) -> &ServicesConfig {
        &self.inner.config
    }

    /// The platform keys, loaded (or created) on first use.
    pub async fn keys(&self) -> ServiceResult<&PlatformKeys> {
        self.inner
            .keys
            .get_or_try_init(|| PlatformKeys::load(&self.inner.db))
            .await
    }
}

/// A fresh identifier: a prefix and 24 random hex characters.
pub(crate) fn fresh_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    format!("{prefix}-{}", hex::encode(bytes))
}
