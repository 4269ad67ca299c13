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

use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
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
    /// Open (and for SQLite create) the database at a URL and migrate it.
    pub async fn open(url: &str) -> Result<Database, StoreError> {
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
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
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
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Database {
            pool,
            backend,
            url: url.into(),
        })
    }

    /// Open the embedded SQLite database of a data directory.
    pub async fn open_data_dir(dir: &Path) -> Result<Database, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Config(format!("{}: {e}", dir.display())))?;
        Database::open(&format!("sqlite://{}", dir.join("tongban.db").display())).await
    }

    /// Open `--database-url` if given, else the data directory's SQLite file.
    pub async fn open_configured(database_url: Option<&str>, data_dir: &Path) -> Result<Database, StoreError> {
        match database_url {
            Some(url) => Database::open(url).await,
            None => Database::open_data_dir(data_dir).await,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
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
