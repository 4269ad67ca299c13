//! The audit log's sealer: it links pending entries into the hash chain in
//! batches and signs each batch's head with the registry key (see
//! [`crate::audit`]). One node of a cluster seals at a time, the holder of a
//! lease that any node takes over once it runs out; two sealers can never
//! interleave regardless, because each batch is sealed in one transaction
//! that holds the chain head's row.

use sqlx::Row;
use tongban_store::{Database, now_ms};

use super::MarketError;
use crate::audit::{AuditRecord, BatchHead, seal_batch};
use crate::signing::SigningKey;

/// The most entries one batch seals, so one sealing transaction stays short.
pub const BATCH_MAX: i64 = 1000;

/// How long a sealer's lease lasts without renewal. A node renews it every
/// time it seals, several times a second, so only a node that stopped loses
/// it; the next node then seals within this time.
pub const LEASE_MS: i64 = 5_000;

/// A batch just sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBatch {
    pub batch: i64,
    pub entries: u64,
    /// When its oldest entry was appended and when it was sealed
    /// (milliseconds since the Unix epoch).
    pub oldest_at: i64,
    pub sealed_at: i64,
}

/// Take the sealer's lease for `holder`, or renew it if `holder` holds it.
/// True when `holder` may seal until `LEASE_MS` from now.
pub async fn hold_lease(db: &Database, holder: &str) -> Result<bool, MarketError> {
    let now = now_ms();
    let taken = sqlx::query(
        "UPDATE audit_sealer_lease SET holder = $1, expires_at = $2
         WHERE id = 1 AND (holder = $1 OR expires_at < $3)",
    )
    .bind(holder)
    .bind(now + LEASE_MS)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Give the lease up, so another node seals at once (at shutdown).
pub async fn release_lease(db: &Database, holder: &str) -> Result<(), MarketError> {
    sqlx::query("UPDATE audit_sealer_lease SET expires_at = 0 WHERE id = 1 AND holder = $1")
        .bind(holder)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Seal up to [`BATCH_MAX`] pending entries, oldest id first, as the next
/// batch; none when nothing is pending.
///
/// An entry whose transaction commits after a later id was sealed (its id
/// was given before, its commit came after) is sealed in a later batch: the
/// chain's order is the order of sealing, and each entry keeps its id.
pub async fn seal_next_batch(db: &Database, key: &SigningKey) -> Result<Option<SealedBatch>, MarketError> {
    let mut tx = db.pool().begin().await?;
    // Lock the head first: every other sealer waits here, and sees this
    // batch's rows once it proceeds.
    sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?;
    let (head_position, head_hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, subject, before_digest, after_digest FROM audit_log
         WHERE batch IS NULL ORDER BY seq LIMIT $1",
    )
    .bind(BATCH_MAX)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(None);
    }
    let records = rows
        .iter()
        .map(|r| {
            Ok(AuditRecord {
                seq: r.try_get(0)?,
                at: r.try_get(1)?,
                actor: r.try_get(2)?,
                action: r.try_get(3)?,
                subject: r.try_get(4)?,
                before: r.try_get(5)?,
                after: r.try_get(6)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let batch: i64 = sqlx::query("SELECT COALESCE(MAX(batch), 0) + 1 FROM audit_batches")
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    let sealed_at = now_ms();
    let (seals, head) = seal_batch(key, batch, head_position, &head_hash, &records, sealed_at);
    for (record, seal) in records.iter().zip(&seals) {
        sqlx::query(
            "UPDATE audit_log SET chain_position = $1, batch = $2, prev_hash = $3, hash = $4
             WHERE seq = $5 AND batch IS NULL",
        )
        .bind(seal.position)
        .bind(seal.batch)
        .bind(&seal.prev_hash)
        .bind(&seal.hash)
        .bind(record.seq)
        .execute(&mut *tx)
        .await?;
    }
    insert_batch(&mut tx, &head).await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(head.last_position)
        .bind(&head.head_hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(SealedBatch {
        batch,
        entries: records.len() as u64,
        oldest_at: head.oldest_at,
        sealed_at,
    }))
}

async fn insert_batch(tx: &mut sqlx::Transaction<'static, sqlx::Any>, head: &BatchHead) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_batches (batch, first_position, last_position, head_hash, oldest_at, sealed_at, signer, signature)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(head.batch)
    .bind(head.first_position)
    .bind(head.last_position)
    .bind(&head.head_hash)
    .bind(head.oldest_at)
    .bind(head.sealed_at)
    .bind(&head.signer)
    .bind(&head.signature)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Seal until nothing is pending; the batches sealed. Entries appended
/// meanwhile are sealed too, so under a steady stream of appends this
/// returns only when a batch comes back smaller than [`BATCH_MAX`].
pub async fn seal_pending(db: &Database, key: &SigningKey) -> Result<Vec<SealedBatch>, MarketError> {
    let mut sealed = Vec::new();
    while let Some(batch) = seal_next_batch(db, key).await? {
        let full = batch.entries as i64 == BATCH_MAX;
        sealed.push(batch);
        if !full {
            break;
        }
    }
    Ok(sealed)
}
