//! The runtime's database: app-scoped key-value storage for the `storage`
//! capability, through sqlx on SQLite (the embedded default) or PostgreSQL.
//!
//! Queries are written once with `$N` placeholders, which both backends accept
//! through sqlx's `Any` driver; where SQL differs, [`Backend`] says so.

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
}

/// Why a write to app storage did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StorageWriteError {
    #[error("the write would exceed the app's storage quota of {quota_bytes} bytes")]
    QuotaExceeded { quota_bytes: u64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl Database {
    /// Open (and create, for SQLite) the database at a URL, and bring its schema
    /// up to date.
    pub async fn open(url: &str) -> Result<Database, sqlx::Error> {
        install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(sqlx::Error::Configuration(
                format!("unsupported database URL `{url}`: use sqlite://PATH or postgres://...").into(),
            ));
        };
        if backend == Backend::Sqlite {
            // Create the file and switch to WAL once, through the native driver,
            // because the Any driver does not expose SQLite's connect options.
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
            let pool = sqlx::SqlitePool::connect_with(options).await?;
            pool.close().await;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let db = Database { pool, backend };
        db.migrate().await?;
        Ok(db)
    }

    /// Open the embedded SQLite database in a data directory.
    pub async fn open_data_dir(dir: &Path) -> Result<Database, sqlx::Error> {
        std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        Database::open(&format!("sqlite://{}", dir.join("tongban.db").display())).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    async fn migrate(&self) -> Result<(), sqlx::Error> {
        let blob = match self.backend {
            Backend::Sqlite => "BLOB",
            Backend::Postgres => "BYTEA",
        };
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS app_kv (
                app_id TEXT NOT NULL,
                key TEXT NOT NULL,
                value {blob} NOT NULL,
                size BIGINT NOT NULL,
                PRIMARY KEY (app_id, key)
            )"
        ))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The value of an app's key.
    pub async fn kv_get(&self, app: &str, key: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        let row = sqlx::query("SELECT value FROM app_kv WHERE app_id = $1 AND key = $2")
            .bind(app)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose()
    }

    /// Set an app's key, unless the app's total (keys plus values) would then
    /// exceed `quota_bytes`. The check and the write are one statement, so a
    /// refused write changes nothing.
    pub async fn kv_set(&self, app: &str, key: &str, value: &[u8], quota_bytes: u64) -> Result<(), StorageWriteError> {
        let size = (key.len() + value.len()) as i64;
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
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StorageWriteError::QuotaExceeded { quota_bytes });
        }
        Ok(())
    }

    /// Remove an app's key.
    pub async fn kv_delete(&self, app: &str, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM app_kv WHERE app_id = $1 AND key = $2")
            .bind(app)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Up to `limit` of an app's keys with a prefix, in byte order.
    pub async fn kv_keys(&self, app: &str, prefix: &str, limit: i64) -> Result<Vec<String>, sqlx::Error> {
        let order = match self.backend {
            Backend::Sqlite => "key",
            Backend::Postgres => "key COLLATE \"C\"",
        };
        let rows = sqlx::query(&format!(
            "SELECT key FROM app_kv WHERE app_id = $1 AND substr(key, 1, length($2)) = $2 ORDER BY {order} LIMIT $3"
        ))
        .bind(app)
        .bind(prefix)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| r.try_get::<String, _>(0)).collect()
    }
}
