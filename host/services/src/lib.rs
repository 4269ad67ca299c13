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

pub use error::{InputProblem, InputProblemKind, ServiceError, ServiceResult};
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

/// A fresh identifier: a prefix, then the time in microseconds (13 hex
/// characters, kept strictly increasing within this process, so ids sort in
/// the order they were made), then 24 random hex characters (96 bits, so an
/// id that is also a link, like a payment's, cannot be guessed). The time
/// says when the row was made, as its own timestamp column does; no counter
/// tells how many rows were made in between. Lists in time order break ties
/// by id and so come back in the order the rows were made.
pub(crate) fn fresh_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_MICROS: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let micros = LAST_MICROS
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| Some(now.max(last + 1)))
        .map(|last| now.max(last + 1))
        .unwrap_or(now);
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    format!("{prefix}-{:013x}{}", micros & 0x000f_ffff_ffff_ffff, hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    /// Ids made one after another sort in the order they were made, also
    /// within one millisecond, so a list in time order that breaks ties by id
    /// is in creation order; and two ids never share their random part.
    #[test]
    fn fresh_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..10_000).map(|_| super::fresh_id("t")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
        let random: std::collections::BTreeSet<&str> = ids.iter().map(|id| &id[15..]).collect();
        assert_eq!(random.len(), ids.len());
        assert!(ids.iter().all(|id| id.len() == "t-".len() + 13 + 24), "{}", ids[0]);
    }
}
