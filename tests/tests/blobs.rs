//! The blob store on each backend a deployment can choose: the local folder
//! (the embedded default) and an S3-compatible store (moto's server standing
//! in for MinIO, OSS or S3), through the same `BlobStore`: round trip,
//! content addressing, a tampered object refused on read, and clear errors for
//! bad blob URLs.

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use tongban_store::{BlobStore, StoreError};
use tongban_tests::S3Sandbox;

#[tokio::test]
async fn s3_blobs_round_trip_and_refuse_a_tampered_object() {
    let Some(s3) = S3Sandbox::start("tongban-blobs") else {
        return;
    };
    let blobs = BlobStore::open_url(&s3.url("site-a"), s3.settings()).unwrap();
    blobs.probe().await.unwrap();
    let no_bucket = BlobStore::open_url("s3://no-such-bucket/x", s3.settings()).unwrap();
    let err = no_bucket.probe().await.unwrap_err().to_string();
    assert!(err.contains("does not answer"), "{err}");
    let bytes = b"a package, content-addressed".to_vec();
    let digest = blobs.put(bytes.clone()).await.unwrap();
    assert_eq!(digest.len(), 64);
    assert_eq!(
        blobs.put(bytes.clone()).await.unwrap(),
        digest,
        "the same bytes, the same address"
    );
    assert_eq!(blobs.get(&digest).await.unwrap(), bytes);
    let missing = "0".repeat(64);
    assert!(matches!(blobs.get(&missing).await, Err(StoreError::MissingBlob(d)) if d == missing));

    // Another prefix in the same bucket is another store.
    let other = BlobStore::open_url(&s3.url("site-b"), s3.settings()).unwrap();
    assert!(matches!(other.get(&digest).await, Err(StoreError::MissingBlob(_))));

    // Overwrite the object behind the platform's back: the read is refused.
    let mut raw = AmazonS3Builder::new().with_bucket_name(&s3.bucket);
    for (k, v) in s3.settings() {
        raw = raw.with_config(k.to_ascii_lowercase().parse().unwrap(), v);
    }
    let raw = raw.build().unwrap();
    raw.put(
        &ObjectPath::from(format!("site-a/sha256/{digest}")),
        PutPayload::from(b"something else".to_vec()),
    )
    .await
    .unwrap();
    let err = blobs.get(&digest).await.unwrap_err();
    assert!(matches!(err, StoreError::CorruptBlob { .. }), "{err}");
}

#[tokio::test]
async fn a_file_url_is_a_local_folder() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().join("blobs").display());
    let blobs = BlobStore::open_url(&url, []).unwrap();
    let digest = blobs.put(b"local".to_vec()).await.unwrap();
    assert!(dir.path().join("blobs/sha256").join(&digest).is_file());
    let default = BlobStore::open_configured(None, &dir.path().join("blobs")).unwrap();
    assert_eq!(default.get(&digest).await.unwrap(), b"local");
}

#[test]
fn bad_blob_urls_are_named() {
    let err = BlobStore::open_url("ftp://example/blobs", []).unwrap_err().to_string();
    assert!(err.contains("unsupported scheme `ftp`"), "{err}");
    let err = BlobStore::open_url("not a url", []).unwrap_err().to_string();
    assert!(err.contains("blob URL `not a url`"), "{err}");
    let err = BlobStore::open_url("s3:///prefix", []).unwrap_err().to_string();
    assert!(err.contains("names no bucket"), "{err}");
    let err = BlobStore::open_url("s3://key:secret@bucket/prefix", [])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("must not carry credentials") && !err.contains("secret@"),
        "{err}"
    );
}
