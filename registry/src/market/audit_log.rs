//! The audit log in the database: appending inside an action's transaction,
//! reading, and verifying the chain (see [`crate::audit`]).

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};
use tongban_store::{Database, now_ms};

use super::{Actor, MarketError};
use crate::audit::{AuditEntry, AuditRecord, BrokenChain, chain, verify_chain};

/// Begin a write transaction: touching the head row takes the write lock up
/// front, so appends to the chain never interleave.
pub(crate) async fn begin(db: &Database) -> Result<Transaction<'static, Any>, MarketError> {
    Ok(begin_chained(db).await?)
}

/// [`begin`] for other crates' services (provenance, certificates, cases):
/// a transaction that holds the chain's write lock.
pub async fn begin_chained(db: &Database) -> Result<Transaction<'static, Any>, sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
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

/// Append one entry inside `tx` (begun with [`begin_chained`]) for an actor
/// named by text; returns the entry's sequence number.
pub async fn append_entry(
    tx: &mut Transaction<'static, Any>,
    actor: &str,
    action: &str,
    subject: &str,
    before: &str,
    after: &str,
) -> Result<i64, sqlx::Error> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    let (seq, prev): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
    let entry = chain(
        &prev,
        AuditRecord {
            seq: seq + 1,
            at: now_ms(),
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            before: before.into(),
            after: after.into(),
        },
    );
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, subject, before_digest, after_digest, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(entry.record.seq)
    .bind(entry.record.at)
    .bind(&entry.record.actor)
    .bind(&entry.record.action)
    .bind(&entry.record.subject)
    .bind(&entry.record.before)
    .bind(&entry.record.after)
    .bind(&entry.prev_hash)
    .bind(&entry.hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(entry.record.seq)
        .bind(&entry.hash)
        .execute(&mut **tx)
        .await?;
    Ok(entry.record.seq)
}

/// Entries in sequence order, optionally only the last `limit`.
pub async fn entries(db: &Database, limit: Option<i64>) -> Result<Vec<AuditEntry>, MarketError> {
    let sql = "SELECT seq, at, actor, action, subject, before_digest, after_digest, prev_hash, hash FROM audit_log";
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

/// An entry from a row of `seq, at, actor, action, subject, before_digest,
/// after_digest, prev_hash, hash`.
fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<AuditEntry, sqlx::Error> {
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
        prev_hash: r.try_get(7)?,
        hash: r.try_get(8)?,
    })
}

/// Walk the whole chain; `Ok(n)` is the number of intact entries.
pub async fn verify(db: &Database) -> Result<Result<u64, BrokenChain>, MarketError> {
    let all = entries(db, None).await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_optional(db.pool())
        .await?
        .map(|r| -> Result<(i64, String), sqlx::Error> { Ok((r.try_get(0)?, r.try_get(1)?)) })
        .transpose()?;
    Ok(verify_chain(all, head))
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
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, subject, before_digest, after_digest, prev_hash, hash FROM audit_log
         WHERE ($1 = '' OR action = $1 OR action LIKE $2 ESCAPE '\\')
           AND ($3 = '' OR actor = $3)
           AND ($4 = '' OR subject LIKE $5 ESCAPE '\\')
           AND ($6 = 0 OR seq < $6)
         ORDER BY seq DESC LIMIT $7",
    )
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
