//! The platform's storage.
//!
//! [`Database`] is one sqlx `Any` pool over SQLite (the embedded default, a
//! WAL-mode file under the data directory) or PostgreSQL (chosen by URL). The
//! schema is migrated at open, from `migrations/sqlite` or
//! `migrations/postgres`; both hold the same tables and are additive only.
//! Queries are written once with `$N` placeholders, which both backends accept;
//! where SQL differs, [`Backend`] says so.
//!
//! On PostgreSQL, [`Database::notify`] and [`ChannelListener`] carry
//! notifications between nodes (`notify.rs`); SQLite has none.
//!
//! [`BlobStore`] keeps package blobs content-addressed in an `object_store`
//! (a local folder by default) and verifies every blob against its digest when
//! it is read back.

mod blob;
mod error;
mod notify;

pub use blob::{BlobStore, StoredBlob};
pub use error::StoreError;
pub use notify::{ChannelListener, Heard, MAX_APPLICATION_NAME_BYTES};

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Transaction};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How long the host waits on the database before it gives up: a wait past
/// either bound is an error (`unavailable` to an app, 503 with `Retry-After`
/// to a caller), well inside a hook call's wall bound, so a slow database is
/// reported as the platform's, never as the app's time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitBounds {
    /// The longest wait for a connection from the pool.
    pub acquire: std::time::Duration,
    /// The longest a statement may run or wait for a lock (PostgreSQL's
    /// `statement_timeout`, SQLite's busy timeout).
    pub statement: std::time::Duration,
}

impl Default for WaitBounds {
    fn default() -> WaitBounds {
        WaitBounds {
            acquire: std::time::Duration::from_secs(5),
            statement: std::time::Duration::from_secs(5),
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
    /// The URL it was opened with, for the connections that cannot come
    /// from the pool (a PostgreSQL listener). It may hold a password, so it
    /// is never shown (`Debug` leaves it out).
    url: std::sync::Arc<str>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Database {
    /// Open (and for SQLite create) the database at a URL and migrate it,
    /// with the default [`WaitBounds`].
    pub async fn open(url: &str) -> Result<Database, StoreError> {
        Database::open_bounded(url, WaitBounds::default()).await
    }

    /// [`Database::open`] with the host's waits on the database bounded by
    /// `bounds`.
    pub async fn open_bounded(url: &str, bounds: WaitBounds) -> Result<Database, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Config(format!(
                "unsupported database URL `{url}`: use sqlite://PATH or postgres://USER@HOST/DB"
            )));
        };
        if backend == Backend::Sqlite {
            // Create the file and switch it to WAL once, through the native
            // driver, because the Any driver does not expose SQLite's options.
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
            sqlx::SqlitePool::connect_with(options).await?.close().await;
        }
        let statement_ms = bounds.statement.as_millis().max(1);
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(bounds.acquire)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Postgres {
                        sqlx::query(&format!("SET statement_timeout = {statement_ms}"))
                            .execute(&mut *conn)
                            .await?;
                    }
                    if backend == Backend::Sqlite {
                        sqlx::query(&format!("PRAGMA busy_timeout = {statement_ms}"))
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => {
                // A migration (or the wait for another node's) may take
                // longer than a request's statement bound.
                let mut conn = pool.acquire().await?;
                sqlx::query("SET statement_timeout = 0").execute(&mut *conn).await?;
                POSTGRES_MIGRATIONS.run(&mut *conn).await?;
                sqlx::query(&format!("SET statement_timeout = {statement_ms}"))
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Ok(Database {
            pool,
            backend,
            url: url.into(),
        })
    }

    /// Open the embedded SQLite database of a data directory.
    pub async fn open_data_dir(dir: &Path) -> Result<Database, StoreError> {
        Database::open_configured_bounded(None, dir, WaitBounds::default()).await
    }

    /// Open `--database-url` if given, else the data directory's SQLite file.
    pub async fn open_configured(database_url: Option<&str>, data_dir: &Path) -> Result<Database, StoreError> {
        Database::open_configured_bounded(database_url, data_dir, WaitBounds::default()).await
    }

    /// [`Database::open_configured`] with the host's waits bounded by `bounds`.
    pub async fn open_configured_bounded(
        database_url: Option<&str>,
        data_dir: &Path,
        bounds: WaitBounds,
    ) -> Result<Database, StoreError> {
        match database_url {
            Some(url) => Database::open_bounded(url, bounds).await,
            None => {
                std::fs::create_dir_all(data_dir)
                    .map_err(|e| StoreError::Config(format!("{}: {e}", data_dir.display())))?;
                Database::open_bounded(&format!("sqlite://{}", data_dir.join("tongban.db").display()), bounds).await
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begin a transaction that will write. On SQLite it takes the one write
    /// lock before its first statement: a deferred transaction that read
    /// first fails at once with `SQLITE_BUSY` when it comes to write after
    /// another writer committed, and the busy timeout does not help it. On
    /// PostgreSQL it is a plain transaction, and rows lock as they are
    /// written.
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.begin_serialized("writer").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Begin a transaction serialised, on both backends, with every other
    /// transaction begun on the same lock (a row of `write_locks`: `market`
    /// or `writer`): the lock row is written first and held until the end.
    pub async fn begin_serialized(&self, lock: &str) -> Result<Transaction<'static, Any>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let touched = sqlx::query("UPDATE write_locks SET touched = touched + 1 WHERE name = $1")
            .bind(lock)
            .execute(&mut *tx)
            .await?;
        if touched.rows_affected() != 1 {
            return Err(sqlx::Error::Protocol(format!("there is no write lock named `{lock}`")));
        }
        Ok(tx)
    }

    /// `ORDER BY` text for a column in byte order on both backends.
    pub fn byte_order(&self, column: &str) -> String {
        match self.backend {
            Backend::Sqlite => column.to_owned(),
            Backend::Postgres => format!("{column} COLLATE \"C\""),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
