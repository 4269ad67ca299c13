//! The marketplace: orgs and their namespaces and keys, publishing, review
//! with a capability diff, per-region release, the serving table and the
//! hash-chained audit log, over [`tongban_store`].
//!
//! Every action is one database transaction that also appends its audit entry,
//! so an action either happens and is on the record, or neither. Write
//! transactions start by touching the audit head row, which takes the write
//! lock up front on both backends and serializes appends to the chain.

pub mod accounts;
pub mod audit_log;
pub mod audit_seal;
pub mod catalog;
pub mod deploy;
pub mod deployment_events;
mod deployments;
mod error;
pub mod keys;
pub mod nodes;
pub mod orgs;
pub mod orphans;
pub mod package_work;
pub mod publish;
pub mod review;
pub mod serving;
pub mod sessions;
mod versions;

pub use error::MarketError;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tongban_store::{BlobStore, Database, now_ms};

use crate::release::Role;
use crate::signing::SigningKey;

/// Who is acting, as established by authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user: String,
    pub role: Role,
    /// The org of a staff member (publishers, reviewers, region admins).
    pub org: Option<String>,
    /// The region a region admin administers.
    pub region: Option<String>,
}

impl Actor {
    /// The built-in system actor, for automated steps.
    pub fn system() -> Actor {
        Actor {
            user: "system".into(),
            role: Role::System,
            org: None,
            region: None,
        }
    }

    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), MarketError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(MarketError::forbidden(format!(
                "{what} needs the role {}; {} is a {}",
                roles.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" or "),
                self.user,
                self.role
            )))
        }
    }
}

/// The registry's key, created on first use: it countersigns approvals and
/// signs the audit log's batch heads. Every node reads the same stored key.
pub async fn registry_signing_key(db: &Database) -> Result<SigningKey, MarketError> {
    let existing = sqlx::query("SELECT key_file FROM registry_keys WHERE id = 1")
        .fetch_optional(db.pool())
        .await?;
    if existing.is_none() {
        let key = SigningKey::generate();
        // Another node may win the race; the stored key is read back below.
        sqlx::query(
            "INSERT INTO registry_keys (id, key_file, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(key.to_file_text())
        .bind(now_ms())
        .execute(db.pool())
        .await?;
    }
    let row = sqlx::query("SELECT key_file FROM registry_keys WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    SigningKey::from_file_text(&row.try_get::<String, _>(0)?)
        .map_err(|e| MarketError::Internal(format!("the registry key is unreadable: {e}")))
}

/// The registry's public key (hex), if [`registry_signing_key`] has made
/// one; reading it writes nothing.
pub async fn registry_public_key(db: &Database) -> Result<Option<String>, MarketError> {
    let Some(row) = sqlx::query("SELECT key_file FROM registry_keys WHERE id = 1")
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(None);
    };
    let key = SigningKey::from_file_text(&row.try_get::<String, _>(0)?)
        .map_err(|e| MarketError::Internal(format!("the registry key is unreadable: {e}")))?;
    Ok(Some(key.public_key_hex()))
}

/// The marketplace service.
#[derive(Clone)]
pub struct Marketplace {
    pub(crate) db: Database,
    pub(crate) blobs: BlobStore,
    pub(crate) registry_key: SigningKey,
    /// Compiles every published component before the version is recorded;
    /// none for a marketplace that only checks (tests of the registry alone).
    pub(crate) compiler: Option<package_work::SharedCompiler>,
}

impl Marketplace {
    /// Open the marketplace, creating the registry's countersigning key on
    /// first use.
    pub async fn open(db: Database, blobs: BlobStore) -> Result<Marketplace, MarketError> {
        let registry_key = registry_signing_key(&db).await?;
        Ok(Marketplace {
            db,
            blobs,
            registry_key,
            compiler: None,
        })
    }

    /// Compile every published component with `compiler` before the version
    /// is recorded, refusing one that does not compile.
    pub fn with_compiler(mut self, compiler: package_work::SharedCompiler) -> Marketplace {
        self.compiler = Some(compiler);
        self
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// Seal every pending audit entry now (see [`audit_seal::seal_pending`]).
    pub async fn seal_audit_log(&self) -> Result<Vec<audit_seal::SealedBatch>, MarketError> {
        audit_seal::seal_pending(&self.db, &self.registry_key).await
    }

    /// The registry's public key, for checking countersignatures.
    pub fn registry_public_key(&self) -> String {
        self.registry_key.public_key_hex()
    }
}
