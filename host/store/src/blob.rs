//! Content-addressed blobs: a blob is stored under `sha256/<hex digest>` and
//! is checked against that digest whenever it is read, so a tampered blob is
//! refused instead of served.
//!
//! Where blobs live is one setting, the blob URL: none (or `file:///DIR`) is a
//! local folder, `s3://BUCKET[/PREFIX]` an S3-compatible object store. S3
//! credentials and the endpoint come from the standard `AWS_*` settings
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` for MinIO, OSS and other S3-compatible services,
//! `AWS_ALLOW_HTTP=true` for an endpoint without TLS), never from the URL, so
//! secrets stay out of command lines and logs.

use std::path::Path;
use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

use crate::StoreError;

/// One stored blob, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub digest: String,
    pub size: u64,
    pub written_at_ms: i64,
}

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

    /// The blob store a blob URL names: `None` is the local folder
    /// `default_dir`; `file:///DIR` a local folder; `s3://BUCKET[/PREFIX]` an
    /// S3-compatible store configured from the process's `AWS_*` variables.
    pub fn open_configured(blob_url: Option<&str>, default_dir: &Path) -> Result<BlobStore, StoreError> {
        let aws_settings = std::env::vars().filter(|(k, _)| k.starts_with("AWS_"));
        match blob_url {
            None => BlobStore::local(default_dir),
            Some(url) => BlobStore::open_url(url, aws_settings),
        }
    }

    /// The blob store at `url` (`file:///DIR` or `s3://BUCKET[/PREFIX]`), with
    /// S3 settings given as `(name, value)` pairs named like the `AWS_*`
    /// variables (`AWS_ENDPOINT_URL`, ...; case does not matter).
    pub fn open_url(
        url: &str,
        s3_settings: impl IntoIterator<Item = (String, String)>,
    ) -> Result<BlobStore, StoreError> {
        let parsed = url::Url::parse(url).map_err(|e| StoreError::Config(format!("blob URL `{url}`: {e}")))?;
        if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some() {
            // Never echo the URL here: it may hold a secret.
            return Err(StoreError::Config(
                "the blob URL must not carry credentials or options; set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the other AWS_* variables instead".into(),
            ));
        }
        match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| StoreError::Config(format!("blob URL `{url}` is not a local path")))?;
                BlobStore::local(&dir)
            }
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| StoreError::Config(format!("blob URL `{url}` names no bucket")))?;
                let mut builder = AmazonS3Builder::new().with_bucket_name(bucket);
                for (name, value) in s3_settings {
                    match name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                        Ok(AmazonS3ConfigKey::Bucket) => {}
                        Ok(key) => builder = builder.with_config(key, value),
                        Err(_) => tracing::debug!(%name, "not an S3 setting; ignored"),
                    }
                }
                let s3 = builder
                    .build()
                    .map_err(|e| StoreError::Config(format!("blob URL `{url}`: {e}")))?;
                let prefix = parsed.path().trim_matches('/');
                let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix))
                };
                Ok(BlobStore { inner })
            }
            other => Err(StoreError::Config(format!(
                "blob URL `{url}`: unsupported scheme `{other}` (use file:///DIR or s3://BUCKET/PREFIX)"
            ))),
        }
    }

    /// Blobs in any object store (for example an S3-compatible one).
    pub fn from_object_store(inner: Arc<dyn ObjectStore>) -> BlobStore {
        BlobStore { inner }
    }

    fn path(digest: &str) -> ObjectPath {
        ObjectPath::from(format!("sha256/{digest}"))
    }

    /// Check that the store answers (a bucket that exists, credentials that
    /// work), so a misconfiguration shows at start-up, not at the first
    /// publish.
    pub async fn probe(&self) -> Result<(), StoreError> {
        self.inner
            .list_with_delimiter(Some(&ObjectPath::from("sha256")))
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Blob(format!("the blob store does not answer: {e}")))
    }

    /// Store bytes; returns their digest. Storing the same bytes twice is a no-op.
    /// The bytes are handed over, not copied.
    pub async fn put(&self, bytes: impl Into<bytes::Bytes>) -> Result<String, StoreError> {
        let bytes: bytes::Bytes = bytes.into();
        let digest = hex::encode(Sha256::digest(&bytes));
        self.inner
            .put(&Self::path(&digest), PutPayload::from(bytes))
            .await
            .map_err(|e| StoreError::Blob(e.to_string()))?;
        Ok(digest)
    }

    /// Whether a blob is stored.
    pub async fn exists(&self, digest: &str) -> Result<bool, StoreError> {
        match self.inner.head(&Self::path(digest)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(StoreError::Blob(e.to_string())),
        }
    }

    /// Remove a blob; removing a missing one is not an error.
    pub async fn delete(&self, digest: &str) -> Result<(), StoreError> {
        match self.inner.delete(&Self::path(digest)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StoreError::Blob(e.to_string())),
        }
    }

    /// Every stored blob: its digest, size and when it was last written (ms
    /// since the epoch).
    pub async fn list(&self) -> Result<Vec<StoredBlob>, StoreError> {
        use futures_util::TryStreamExt;
        let prefix = ObjectPath::from("sha256");
        let listed: Vec<object_store::ObjectMeta> = self
            .inner
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| StoreError::Blob(e.to_string()))?;
        let mut blobs: Vec<StoredBlob> = listed
            .into_iter()
            .filter_map(|meta| {
                let digest = meta.location.filename()?.to_owned();
                (digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit())).then(|| StoredBlob {
                    digest,
                    size: meta.size,
                    written_at_ms: meta.last_modified.timestamp_millis(),
                })
            })
            .collect();
        blobs.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(blobs)
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
