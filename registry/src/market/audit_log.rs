//! The audit log in the database: appending inside an action's transaction,
//! reading, and verifying the sealed chain (see [`crate::audit`]; the sealer
//! is [`super::audit_seal`]).

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};
use tongban_store::{Database, now_ms};

use super::{Actor, MarketError};
use crate::audit::{AuditEntry, AuditRecord, BatchHead, BrokenChain, ChainSummary, Seal, verify_chain};

/// Begin a registry action's transaction. The registry's actions read,
/// check and write the release state, so they are serialised with each other
/// on both backends (on the `market` write lock); no other writer waits for
/// them.
pub(crate) async fn begin(db: &Database) -> Result<Transaction<'static, Any>, MarketError> {
    Ok(db.begin_serialized("market").await?)
}

/// The digest of a state snapshot, for the before/after columns.
pub fn state_digest<T: Serialize>(state: &T) -> String {
    let json = serde_json::to_vec(state).expect("states serialize");
    hex::encode(Sha256::digest(json))
}

/// Append one entry inside `tx`.
pub(crate) async fn append(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    action: &str,
    subject: &str,
    before: &str,
    after: &str,
) -> Result<(), MarketError> {
    append_entry(tx, &actor.user, action, subject, before, after).await?;
    Ok(())
}

/// Append one entry inside `tx` for an actor named by text, and return its
/// id. The append is one insert and reads nothing of the chain, so appends
/// never wait for each other; the sealer gives the entry its place in the
/// chain after the transaction commits. If the transaction rolls back, so
/// does the entry.
pub async fn append_entry(
    tx: &mut Transaction<'static, Any>,
    actor: &str,
    action: &str,
    subject: &str,
    before: &str,
    after: &str,
) -> Result<i64, sqlx::Error> {
    // PostgreSQL numbers entries from a sequence. SQLite has one writer at a
    // time, so the next id after the largest (an index lookup) is free.
    let id = if tx.backend_name() == "PostgreSQL" {
        "DEFAULT"
    } else {
        "(SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log)"
    };
    let row = sqlx::query(&format!(
        "INSERT INTO audit_log (seq, at, actor, action, subject, before_digest, after_digest, prev_hash, hash)
         VALUES ({id}, $1, $2, $3, $4, $5, $6, '', '') RETURNING seq"
    ))
    .bind(now_ms())
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(before)
    .bind(after)
    .fetch_one(&mut **tx)
    .await?;
    row.try_get(0)
}

const ENTRY_COLUMNS: &str =
    "seq, at, actor, action, subject, before_digest, after_digest, chain_position, batch, prev_hash, hash";

/// Entries in id order, optionally only the last `limit`.
pub async fn entries(db: &Database, limit: Option<i64>) -> Result<Vec<AuditEntry>, MarketError> {
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM audit_log");
    let rows = match limit {
        Some(n) => {
            sqlx::query(&format!(
                "SELECT * FROM ({sql} ORDER BY seq DESC LIMIT $1) AS recent ORDER BY seq"
            ))
            .bind(n)
            .fetch_all(db.pool())
            .await?
        }
        None => sqlx::query(&format!("{sql} ORDER BY seq")).fetch_all(db.pool()).await?,
    };
    rows.iter()
        .map(entry_from_row)
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// An entry from a row of [`ENTRY_COLUMNS`].
fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<AuditEntry, sqlx::Error> {
    let position: Option<i64> = r.try_get(7)?;
    let batch: Option<i64> = r.try_get(8)?;
    Ok(AuditEntry {
        record: AuditRecord {
            seq: r.try_get(0)?,
            at: r.try_get(1)?,
            actor: r.try_get(2)?,
            action: r.try_get(3)?,
            subject: r.try_get(4)?,
            before: r.try_get(5)?,
            after: r.try_get(6)?,
        },
        seal: match (position, batch) {
            (Some(position), Some(batch)) => Some(Seal {
                position,
                batch,
                prev_hash: r.try_get(9)?,
                hash: r.try_get(10)?,
            }),
            _ => None,
        },
    })
}

/// The batch heads, in order.
pub async fn batches(db: &Database) -> Result<Vec<BatchHead>, MarketError> {
    let rows = sqlx::query(
        "SELECT batch, first_position, last_position, head_hash, oldest_at, sealed_at, signer, signature
         FROM audit_batches ORDER BY batch",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BatchHead {
                batch: r.try_get(0)?,
                first_position: r.try_get(1)?,
                last_position: r.try_get(2)?,
                head_hash: r.try_get(3)?,
                oldest_at: r.try_get(4)?,
                sealed_at: r.try_get(5)?,
                signer: r.try_get(6)?,
                signature: r.try_get(7)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// What [`verify`] found in an intact log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AuditVerification {
    /// Sealed entries, all checked.
    pub sealed: u64,
    /// Signed batches, all checked.
    pub batches: u64,
    /// Entries the sealer has not reached yet: not yet protected by the
    /// chain, and not counted as checked.
    pub pending: u64,
    /// When the oldest pending entry was appended (milliseconds since the
    /// Unix epoch).
    pub oldest_pending_at: Option<i64>,
}

/// Walk the sealed chain and its signed batch heads; the first broken entry
/// if there is one, otherwise what was checked and what still waits.
pub async fn verify(db: &Database) -> Result<Result<AuditVerification, BrokenChain>, MarketError> {
    let registry_key = super::registry_public_key(db).await?;
    let rows = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE batch IS NOT NULL ORDER BY chain_position"
    ))
    .fetch_all(db.pool())
    .await?;
    let sealed = rows
        .iter()
        .map(entry_from_row)
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let batches = batches(db).await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_optional(db.pool())
        .await?
        .map(|r| -> Result<(i64, String), sqlx::Error> { Ok((r.try_get(0)?, r.try_get(1)?)) })
        .transpose()?;
    let pending = sqlx::query("SELECT COUNT(*), MIN(at) FROM audit_log WHERE batch IS NULL")
        .fetch_one(db.pool())
        .await?;
    let (pending, oldest_pending_at): (i64, Option<i64>) = (pending.try_get(0)?, pending.try_get(1)?);
    Ok(
        verify_chain(sealed, &batches, head, registry_key.as_deref().unwrap_or_default()).map(
            |ChainSummary { sealed, batches }| AuditVerification {
                sealed,
                batches,
                pending: pending as u64,
                oldest_pending_at,
            },
        ),
    )
}

/// Which entries an auditor looks at. Empty texts and `None` do not filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// An action (`release.revoke`) or an action family (`release` matches
    /// every `release.*` action).
    pub action: String,
    /// Exactly this actor (`security`, `app:ID@VERSION`).
    pub actor: String,
    /// Text the entry's subject contains: an app id, `APP@VERSION`, a subject.
    pub target: String,
    /// Only entries before this sequence number (the next page, newest first).
    pub before: Option<i64>,
}

/// Escape LIKE's wildcards so user text matches literally (with `ESCAPE '\'`).
fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The newest `limit` entries that match `filter`, newest first.
pub async fn search(db: &Database, filter: &AuditFilter, limit: i64) -> Result<Vec<AuditEntry>, MarketError> {
    let rows = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log
         WHERE ($1 = '' OR action = $1 OR action LIKE $2 ESCAPE '\\')
           AND ($3 = '' OR actor = $3)
           AND ($4 = '' OR subject LIKE $5 ESCAPE '\\')
           AND ($6 = 0 OR seq < $6)
         ORDER BY seq DESC LIMIT $7"
    ))
    .bind(&filter.action)
    .bind(format!("{}.%", like_literal(&filter.action)))
    .bind(&filter.actor)
    .bind(&filter.target)
    .bind(format!("%{}%", like_literal(&filter.target)))
    .bind(filter.before.unwrap_or(0))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(entry_from_row)
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}
