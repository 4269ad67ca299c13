//! The platform's own secrets: the pairwise-handle key, the certificate seal
//! key and the payment callback keys. Each is generated once, by whichever node
//! asks first, and shared by every node through the `platform_secrets` table
//! (insert-if-absent, then read, so two nodes starting at once agree).
//!
//! Keeping these secrets in the database is the embedded default; a
//! deployment with an HSM or a KMS replaces this module, nothing else.

use sqlx::Row;
use tongban_store::{Database, now_ms};

use crate::certificates::seal::SealKey;
use crate::error::{ServiceError, ServiceResult};
use crate::identity::PairwiseKey;

/// The name of the pairwise-handle key.
pub const PAIRWISE: &str = "pairwise-hmac-sha256";
/// The name of the certificate seal key (SM2).
pub const SEAL: &str = "certificate-seal-sm2";

/// The secret stored under `name`, creating it with `generate` (hex text) if
/// no node has yet.
pub async fn secret(db: &Database, name: &str, generate: impl FnOnce() -> String) -> ServiceResult<String> {
    if let Some(value) = stored(db, name).await? {
        return Ok(value);
    }
    sqlx::query(
        "INSERT INTO platform_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(generate())
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    stored(db, name)
        .await?
        .ok_or_else(|| ServiceError::Unavailable(format!("platform secret `{name}` could not be stored")))
}

async fn stored(db: &Database, name: &str) -> ServiceResult<Option<String>> {
    Ok(sqlx::query("SELECT value FROM platform_secrets WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .map(|r| r.try_get::<String, _>(0))
        .transpose()?)
}

/// 32 random bytes as hex.
pub fn random_secret_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    hex::encode(bytes)
}

/// The keys every node must share.
#[derive(Clone, Debug)]
pub struct PlatformKeys {
    pub pairwise: PairwiseKey,
    pub seal: SealKey,
}

impl PlatformKeys {
    /// Load the keys, creating any that do not exist yet.
    pub async fn load(db: &Database) -> ServiceResult<PlatformKeys> {
        let pairwise_hex = secret(db, PAIRWISE, random_secret_hex).await?;
        let mut pairwise = [0u8; 32];
        hex::decode_to_slice(&pairwise_hex, &mut pairwise)
            .map_err(|_| ServiceError::Unavailable(format!("platform secret `{PAIRWISE}` is corrupt")))?;
        let seal_hex = secret(db, SEAL, || SealKey::generate().secret_hex()).await?;
        let seal = SealKey::from_secret_hex(&seal_hex)
            .map_err(|e| ServiceError::Unavailable(format!("platform secret `{SEAL}` is corrupt: {e}")))?;
        Ok(PlatformKeys {
            pairwise: PairwiseKey::from_bytes(pairwise),
            seal,
        })
    }
}
