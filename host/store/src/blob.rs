//! Content-addressed blobs: a blob is stored under `sha256/<hex digest>` and
//! is checked against that digest whenever it is read, so a tampered blob is
//! refused instead of served.

use std::path::Path;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

use crate::StoreError;

/// The blob store.
#[derive(Debug, Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
}

impl BlobStore {
    /// Blobs in a local folder (created if missing).
    pub fn local(dir: &Path) -> Result<BlobStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Blob(format!("{}: {e}", dir.display())))?;
        let fs = LocalFileSystem::new_with_prefix(dir).map_err(|e| StoreError::Blob(e.to_string()))?;
        Ok(BlobStore { inner: Arc::new(fs) })
    }

    /// Blobs in any object store (for example an S3-compatible one).
    pub fn from_object_store(inner: Arc<dyn ObjectStore>) -> BlobStore {
        BlobStore { inner }
    }

    fn path(digest: &str) -> ObjectPath {
        ObjectPath::from(format!("sha256/{digest}"))
    }

    /// Store bytes; returns their digest. Storing the same bytes twice is a no-op.
    pub async fn put(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let digest = hex::encode(Sha256::digest(bytes));
        self.inner
            .put(&Self::path(&digest), PutPayload::from(bytes.to_vec()))
            .await
            .map_err(|e| StoreError::Blob(e.to_string()))?;
        Ok(digest)
    }

    /// Read a blob and verify it against its digest.
    pub async fn get(&self, digest: &str) -> Result<Vec<u8>, StoreError> {
        let result = match self.inner.get(&Self::path(digest)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Err(StoreError::MissingBlob(digest.into())),
            Err(e) => return Err(StoreError::Blob(e.to_string())),
        };
        let bytes = result.bytes().await.map_err(|e| StoreError::Blob(e.to_string()))?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != digest {
            return Err(StoreError::CorruptBlob {
                digest: digest.into(),
                actual,
            });
        }
        Ok(bytes.to_vec())
    }
}
