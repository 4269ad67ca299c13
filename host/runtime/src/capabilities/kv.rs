//! The queries behind the `storage` capability: app-scoped key-value rows in
//! the `app_kv` table, on either backend.
//!
//! A row is charged what it really costs the database, so the database grows
//! by roughly what the quota says: [`charged_bytes`] counts the value, the key
//! twice (row and primary-key index), the app id twice (likewise), and
//! [`ROW_OVERHEAD_BYTES`] for the size column and the row and index headers.
//! `tests/tests/capabilities.rs` measures the growth on both backends.

use sqlx::Row;
use tongban_store::Database;

/// Why a write to app storage did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StorageWriteError {
    #[error("the write would exceed the app's storage quota of {quota_bytes} bytes")]
    QuotaExceeded { quota_bytes: u64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The value of an app's key.
pub async fn get(db: &Database, app: &str, key: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let row = sqlx::query("SELECT value FROM app_kv WHERE app_id = $1 AND key = $2")
        .bind(app)
        .bind(key)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose()
}

/// What one row costs beyond its key, value and app id, in bytes: the size
/// column and the row and index entry headers of either backend.
pub const ROW_OVERHEAD_BYTES: u64 = 64;

/// What a row of `app` under `key` with a value of `value_len` bytes is
/// charged against the quota.
pub fn charged_bytes(app: &str, key: &str, value_len: usize) -> u64 {
    value_len as u64 + 2 * key.len() as u64 + 2 * app.len() as u64 + ROW_OVERHEAD_BYTES
}

/// The bytes an app's rows are charged in all.
pub async fn used_bytes(db: &Database, app: &str) -> Result<u64, sqlx::Error> {
    let used: i64 = sqlx::query("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM app_kv WHERE app_id = $1")
        .bind(app)
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    Ok(used.max(0) as u64)
}

/// Set an app's key, unless the app's total charge ([`charged_bytes`] of
/// every row) would then exceed `quota_bytes`. The check and the write are one statement, so a
/// refused write changes nothing. On PostgreSQL the statement runs under a
/// per-app advisory lock, so two concurrent writes cannot both squeeze under
/// the quota (SQLite serializes writers already).
pub async fn set(db: &Database, app: &str, key: &str, value: &[u8], quota_bytes: u64) -> Result<(), StorageWriteError> {
    let size = charged_bytes(app, key, value.len()) as i64;
    let mut tx = db.pool().begin().await?;
    if db.backend() == tongban_store::Backend::Postgres {
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS held")
            .bind(app)
            .execute(&mut *tx)
            .await?;
    }
    let done = sqlx::query(
        "INSERT INTO app_kv (app_id, key, value, size)
         SELECT $1, $2, $3, $4
         WHERE (SELECT COALESCE(SUM(size), 0) FROM app_kv WHERE app_id = $1 AND key <> $2) + $4 <= $5
         ON CONFLICT (app_id, key) DO UPDATE SET value = excluded.value, size = excluded.size",
    )
    .bind(app)
    .bind(key)
    .bind(value.to_vec())
    .bind(size)
    .bind(quota_bytes as i64)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StorageWriteError::QuotaExceeded { quota_bytes });
    }
    tx.commit().await?;
    Ok(())
}

/// Remove an app's key.
pub async fn delete(db: &Database, app: &str, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM app_kv WHERE app_id = $1 AND key = $2")
        .bind(app)
        .bind(key)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Up to `limit` of an app's keys with a prefix, in byte order.
pub async fn keys(db: &Database, app: &str, prefix: &str, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    let order = db.byte_order("key");
    let rows = sqlx::query(&format!(
        "SELECT key FROM app_kv WHERE app_id = $1 AND substr(key, 1, length($2)) = $2 ORDER BY {order} LIMIT $3"
    ))
    .bind(app)
    .bind(prefix)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| r.try_get::<String, _>(0)).collect()
}
