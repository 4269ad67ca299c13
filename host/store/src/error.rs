//! Errors of the store. Database errors are wrapped, never shown to clients as
//! they are; callers map them to their own envelopes.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage is misconfigured: {0}")]
    Config(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("blob store error: {0}")]
    Blob(String),
    #[error("blob {digest} is corrupt: its contents hash to {actual}")]
    CorruptBlob { digest: String, actual: String },
    #[error("blob {0} is missing")]
    MissingBlob(String),
}
